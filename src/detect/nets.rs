//! The three MTCNN networks (Zhang et al. 2016) as Burn modules.
//!
//! Layer names follow facenet-pytorch's state dicts so its `.pt` files map onto these
//! modules with a single rename (PyTorch's `preluN.weight` is Burn's `preluN.alpha`).

use crate::kernels::{self, conv2d, conv2d_prelu};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PRelu, PReluConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Slice, Tensor};

fn conv(c_in: usize, c_out: usize, k: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [k, k]).init(device)
}

fn prelu(n: usize, device: &Device) -> PRelu {
    PReluConfig::new().with_num_parameters(n).init(device)
}

fn pool(kernel: usize, stride: usize) -> MaxPool {
    MaxPool::new(kernel, stride)
}

/// Max pooling with ceil-mode output sizes (the nets were trained in Caffe, which rounds
/// up): on the CPU backend the project's kernel ([`kernels::max_pool_ceil`]), elsewhere
/// strided slices combined by `m + relu(x - m)` (Burn's generic pooling and its `max_pair`
/// were several times slower at MTCNN's sizes, measured with the `layer_times` test).
/// In the slices, windows always start inside the input, so the running
/// maximum `m` is always a real value and the padding (a large finite negative, never
/// -inf, so no inf - inf) contributes relu(pad - m) = 0 exactly.
#[derive(Module, Debug)]
pub struct MaxPool {
    kernel: usize,
    stride: usize,
}

const POOL_PAD: f32 = -1e30;

impl MaxPool {
    pub fn new(kernel: usize, stride: usize) -> Self {
        MaxPool { kernel, stride }
    }

    /// PyTorch's ceil-mode length: windows may overhang the end, but must start inside.
    fn out_len(&self, len: usize) -> usize {
        let out = len.saturating_sub(self.kernel).div_ceil(self.stride) + 1;
        if (out - 1) * self.stride >= len {
            out - 1
        } else {
            out
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let (oh, ow) = (self.out_len(h), self.out_len(w));
        kernels::max_pool_ceil(x, self.kernel, self.stride, [oh, ow], |x| {
            self.sliced(x, [oh, ow])
        })
    }

    /// The pooling as strided slices (on devices without the project's kernel).
    fn sliced(&self, x: Tensor<4>, [oh, ow]: [usize; 2]) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let span = |o: usize| (o - 1) * self.stride + self.kernel;
        let (ph, pw) = (span(oh), span(ow));
        let x = if ph > h || pw > w {
            x.pad(
                (0, pw.saturating_sub(w), 0, ph.saturating_sub(h)),
                PadMode::Constant(POOL_PAD),
            )
        } else {
            x
        };
        let x = self.along(x, 3, ow);
        self.along(x, 2, oh)
    }

    /// Maximum over the window along one axis.
    fn along(&self, x: Tensor<4>, dim: usize, out: usize) -> Tensor<4> {
        let span = (out - 1) * self.stride + 1;
        let tap = |i: usize| {
            let mut ranges = [Slice::full(), Slice::full(), Slice::full(), Slice::full()];
            ranges[dim] = Slice::new(i as isize, Some((i + span) as isize), self.stride as isize);
            x.clone().slice(ranges)
        };
        (1..self.kernel).fold(tap(0), |m, i| m.clone() + relu(tap(i) - m))
    }
}

/// PyTorch's R/O-Net permute (N, C, H, W) to (N, W, H, C) before flattening (the weights
/// were ported from Caffe's column-major layout), so the dense layer expects that order.
fn flatten_whc(x: Tensor<4>) -> Tensor<2> {
    x.permute([0, 3, 2, 1]).flatten(1, 3)
}

/// Proposal network: fully convolutional, run on every pyramid level.
#[derive(Module, Debug)]
pub struct PNet {
    conv1: Conv2d,
    prelu1: PRelu,
    pool1: MaxPool,
    conv2: Conv2d,
    prelu2: PRelu,
    conv3: Conv2d,
    prelu3: PRelu,
    conv4_1: Conv2d,
    conv4_2: Conv2d,
}

impl PNet {
    pub fn new(device: &Device) -> Self {
        PNet {
            conv1: conv(3, 10, 3, device),
            prelu1: prelu(10, device),
            pool1: pool(2, 2),
            conv2: conv(10, 16, 3, device),
            prelu2: prelu(16, device),
            conv3: conv(16, 32, 3, device),
            prelu3: prelu(32, device),
            conv4_1: conv(32, 2, 1, device),
            conv4_2: conv(32, 4, 1, device),
        }
    }

    /// Input (N, 3, H, W) normalised; returns (box regression (N, 4, h, w), face probability
    /// (N, h, w)) where each output cell covers a 12x12 window at stride 2.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<3>) {
        let x = self
            .pool1
            .forward(conv2d_prelu(&self.conv1, &self.prelu1, x));
        let x = conv2d_prelu(&self.conv2, &self.prelu2, x);
        let x = conv2d_prelu(&self.conv3, &self.prelu3, x);
        let prob = softmax(conv2d(&self.conv4_1, x.clone()), 1);
        let [n, _, h, w] = prob.dims();
        let face = prob.narrow(1, 1, 1).reshape([n, h, w]);
        (conv2d(&self.conv4_2, x), face)
    }
}

/// Refinement network: 24x24 candidates.
#[derive(Module, Debug)]
pub struct RNet {
    conv1: Conv2d,
    prelu1: PRelu,
    pool1: MaxPool,
    conv2: Conv2d,
    prelu2: PRelu,
    pool2: MaxPool,
    conv3: Conv2d,
    prelu3: PRelu,
    dense4: Linear,
    prelu4: PRelu,
    dense5_1: Linear,
    dense5_2: Linear,
}

impl RNet {
    pub fn new(device: &Device) -> Self {
        RNet {
            conv1: conv(3, 28, 3, device),
            prelu1: prelu(28, device),
            pool1: pool(3, 2),
            conv2: conv(28, 48, 3, device),
            prelu2: prelu(48, device),
            pool2: pool(3, 2),
            conv3: conv(48, 64, 2, device),
            prelu3: prelu(64, device),
            dense4: LinearConfig::new(576, 128).init(device),
            prelu4: prelu(128, device),
            dense5_1: LinearConfig::new(128, 2).init(device),
            dense5_2: LinearConfig::new(128, 4).init(device),
        }
    }

    /// Input (N, 3, 24, 24); returns (box regression (N, 4), face probability (N)).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<1>) {
        let x = self
            .pool1
            .forward(conv2d_prelu(&self.conv1, &self.prelu1, x));
        let x = self
            .pool2
            .forward(conv2d_prelu(&self.conv2, &self.prelu2, x));
        let x = conv2d_prelu(&self.conv3, &self.prelu3, x);
        let x = self.prelu4.forward(self.dense4.forward(flatten_whc(x)));
        let prob = softmax(self.dense5_1.forward(x.clone()), 1);
        let n = prob.dims()[0];
        (self.dense5_2.forward(x), prob.narrow(1, 1, 1).reshape([n]))
    }
}

/// Output network: 48x48 candidates, adds the five facial landmarks.
#[derive(Module, Debug)]
pub struct ONet {
    conv1: Conv2d,
    prelu1: PRelu,
    pool1: MaxPool,
    conv2: Conv2d,
    prelu2: PRelu,
    pool2: MaxPool,
    conv3: Conv2d,
    prelu3: PRelu,
    pool3: MaxPool,
    conv4: Conv2d,
    prelu4: PRelu,
    dense5: Linear,
    prelu5: PRelu,
    dense6_1: Linear,
    dense6_2: Linear,
    dense6_3: Linear,
}

impl ONet {
    pub fn new(device: &Device) -> Self {
        ONet {
            conv1: conv(3, 32, 3, device),
            prelu1: prelu(32, device),
            pool1: pool(3, 2),
            conv2: conv(32, 64, 3, device),
            prelu2: prelu(64, device),
            pool2: pool(3, 2),
            conv3: conv(64, 64, 3, device),
            prelu3: prelu(64, device),
            pool3: pool(2, 2),
            conv4: conv(64, 128, 2, device),
            prelu4: prelu(128, device),
            dense5: LinearConfig::new(1152, 256).init(device),
            prelu5: prelu(256, device),
            dense6_1: LinearConfig::new(256, 2).init(device),
            dense6_2: LinearConfig::new(256, 4).init(device),
            dense6_3: LinearConfig::new(256, 10).init(device),
        }
    }

    /// Input (N, 3, 48, 48); returns (box regression (N, 4), landmarks (N, 10) as five x
    /// then five y, relative to the box, face probability (N)).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>, Tensor<1>) {
        let x = self
            .pool1
            .forward(conv2d_prelu(&self.conv1, &self.prelu1, x));
        let x = self
            .pool2
            .forward(conv2d_prelu(&self.conv2, &self.prelu2, x));
        let x = self
            .pool3
            .forward(conv2d_prelu(&self.conv3, &self.prelu3, x));
        let x = conv2d_prelu(&self.conv4, &self.prelu4, x);
        let x = self.prelu5.forward(self.dense5.forward(flatten_whc(x)));
        let prob = softmax(self.dense6_1.forward(x.clone()), 1);
        let n = prob.dims()[0];
        (
            self.dense6_2.forward(x.clone()),
            self.dense6_3.forward(x),
            prob.narrow(1, 1, 1).reshape([n]),
        )
    }
}

/// The three networks together: the unit that is stored in `weights/mtcnn.bpk`.
#[derive(Module, Debug)]
pub struct MtcnnNets {
    pub pnet: PNet,
    pub rnet: RNet,
    pub onet: ONet,
}

impl MtcnnNets {
    /// Randomly initialised networks (to be loaded with weights).
    pub fn new(device: &Device) -> Self {
        MtcnnNets {
            pnet: PNet::new(device),
            rnet: RNet::new(device),
            onet: ONet::new(device),
        }
    }
}
