//! Inception-ResNet-v2 (Szegedy et al. 2016) laid out like timm's `inception_resnet_v2`
//! (field names = its state-dict names), so ImageNet weights in that layout load by name.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::layers::{ConvBn, ConvSpec, relu_chain};
use crate::kernels;

/// timm's BasicConv2d: convolution, BatchNorm (eps 1e-3), ReLU.
fn basic(c_in: usize, c_out: usize, k: [usize; 2], s: usize, p: [usize; 2], d: &Device) -> ConvBn {
    let spec = ConvSpec {
        kernel: k,
        stride: s,
        padding: p,
        groups: 1,
        eps: 1e-3,
    };
    ConvBn::new(c_in, c_out, spec, d)
}

fn sq(c_in: usize, c_out: usize, k: usize, s: usize, p: usize, d: &Device) -> ConvBn {
    basic(c_in, c_out, [k, k], s, [p, p], d)
}

fn one(x: &ConvBn, t: Tensor<4>) -> Tensor<4> {
    relu(x.forward(t))
}

fn max_pool() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init()
}

/// 1x1 projection back to the trunk's width, with bias (timm's `conv2d`).
fn project(c_in: usize, c_out: usize, d: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [1, 1]).init(d)
}

#[derive(Module, Debug)]
pub struct Mixed5b {
    branch0: ConvBn,
    branch1: Vec<ConvBn>,
    branch2: Vec<ConvBn>,
    branch3: Vec<ConvBn>,
    pool: AvgPool2d,
}

impl Mixed5b {
    fn new(d: &Device) -> Self {
        Mixed5b {
            branch0: sq(192, 96, 1, 1, 0, d),
            branch1: vec![sq(192, 48, 1, 1, 0, d), sq(48, 64, 5, 1, 2, d)],
            branch2: vec![
                sq(192, 64, 1, 1, 0, d),
                sq(64, 96, 3, 1, 1, d),
                sq(96, 96, 3, 1, 1, d),
            ],
            branch3: vec![sq(192, 64, 1, 1, 0, d)],
            pool: AvgPool2dConfig::new([3, 3])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_count_include_pad(false)
                .init(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                one(&self.branch0, x.clone()),
                relu_chain(&self.branch1, x.clone()),
                relu_chain(&self.branch2, x.clone()),
                relu_chain(&self.branch3, self.pool.forward(x)),
            ],
            1,
        )
    }
}

/// The residual blocks of the three stages (timm's Block35, Block17, Block8): branches
/// concatenated, projected, scaled and added to the input.
#[derive(Module, Debug)]
pub struct ResBlock {
    branch0: ConvBn,
    branch1: Vec<ConvBn>,
    branch2: Vec<ConvBn>,
    conv2d: Conv2d,
}

impl ResBlock {
    fn block35(d: &Device) -> Self {
        ResBlock {
            branch0: sq(320, 32, 1, 1, 0, d),
            branch1: vec![sq(320, 32, 1, 1, 0, d), sq(32, 32, 3, 1, 1, d)],
            branch2: vec![
                sq(320, 32, 1, 1, 0, d),
                sq(32, 48, 3, 1, 1, d),
                sq(48, 64, 3, 1, 1, d),
            ],
            conv2d: project(128, 320, d),
        }
    }

    fn block17(d: &Device) -> Self {
        ResBlock {
            branch0: sq(1088, 192, 1, 1, 0, d),
            branch1: vec![
                sq(1088, 128, 1, 1, 0, d),
                basic(128, 160, [1, 7], 1, [0, 3], d),
                basic(160, 192, [7, 1], 1, [3, 0], d),
            ],
            branch2: Vec::new(),
            conv2d: project(384, 1088, d),
        }
    }

    fn block8(d: &Device) -> Self {
        ResBlock {
            branch0: sq(2080, 192, 1, 1, 0, d),
            branch1: vec![
                sq(2080, 192, 1, 1, 0, d),
                basic(192, 224, [1, 3], 1, [0, 1], d),
                basic(224, 256, [3, 1], 1, [1, 0], d),
            ],
            branch2: Vec::new(),
            conv2d: project(448, 2080, d),
        }
    }

    fn forward(&self, x: Tensor<4>, scale: f32, activate: bool) -> Tensor<4> {
        let mut branches = vec![
            one(&self.branch0, x.clone()),
            relu_chain(&self.branch1, x.clone()),
        ];
        if !self.branch2.is_empty() {
            branches.push(relu_chain(&self.branch2, x.clone()));
        }
        let y = kernels::conv2d(&self.conv2d, Tensor::cat(branches, 1)).mul_scalar(scale) + x;
        if activate { relu(y) } else { y }
    }
}

#[derive(Module, Debug)]
pub struct Mixed6a {
    branch0: ConvBn,
    branch1: Vec<ConvBn>,
    pool: MaxPool2d,
}

#[derive(Module, Debug)]
pub struct Mixed7a {
    branch0: Vec<ConvBn>,
    branch1: Vec<ConvBn>,
    branch2: Vec<ConvBn>,
    pool: MaxPool2d,
}

#[derive(Module, Debug)]
pub struct InceptionResNetV2 {
    conv2d_1a: ConvBn,
    conv2d_2a: ConvBn,
    conv2d_2b: ConvBn,
    conv2d_3b: ConvBn,
    conv2d_4a: ConvBn,
    pool: MaxPool2d,
    mixed_5b: Mixed5b,
    repeat: Vec<ResBlock>,
    mixed_6a: Mixed6a,
    repeat_1: Vec<ResBlock>,
    mixed_7a: Mixed7a,
    repeat_2: Vec<ResBlock>,
    block8: ResBlock,
    conv2d_7b: ConvBn,
}

impl InceptionResNetV2 {
    pub const CHANNELS: usize = 1536;
    /// Smallest input the unpadded stride-2 stages accept (as in Keras).
    pub const MIN_INPUT: usize = 75;

    pub fn new(d: &Device) -> Self {
        InceptionResNetV2 {
            conv2d_1a: sq(3, 32, 3, 2, 0, d),
            conv2d_2a: sq(32, 32, 3, 1, 0, d),
            conv2d_2b: sq(32, 64, 3, 1, 1, d),
            conv2d_3b: sq(64, 80, 1, 1, 0, d),
            conv2d_4a: sq(80, 192, 3, 1, 0, d),
            pool: max_pool(),
            mixed_5b: Mixed5b::new(d),
            repeat: (0..10).map(|_| ResBlock::block35(d)).collect(),
            mixed_6a: Mixed6a {
                branch0: sq(320, 384, 3, 2, 0, d),
                branch1: vec![
                    sq(320, 256, 1, 1, 0, d),
                    sq(256, 256, 3, 1, 1, d),
                    sq(256, 384, 3, 2, 0, d),
                ],
                pool: max_pool(),
            },
            repeat_1: (0..20).map(|_| ResBlock::block17(d)).collect(),
            mixed_7a: Mixed7a {
                branch0: vec![sq(1088, 256, 1, 1, 0, d), sq(256, 384, 3, 2, 0, d)],
                branch1: vec![sq(1088, 256, 1, 1, 0, d), sq(256, 288, 3, 2, 0, d)],
                branch2: vec![
                    sq(1088, 256, 1, 1, 0, d),
                    sq(256, 288, 3, 1, 1, d),
                    sq(288, 320, 3, 2, 0, d),
                ],
                pool: max_pool(),
            },
            repeat_2: (0..9).map(|_| ResBlock::block8(d)).collect(),
            block8: ResBlock::block8(d),
            conv2d_7b: sq(2080, 1536, 1, 1, 0, d),
        }
    }

    /// (N, 3, S, S) -> (N, 1536, h, w); S = 100 gives 1x1.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = one(&self.conv2d_1a, x);
        let x = one(&self.conv2d_2a, x);
        let x = self.pool.forward(one(&self.conv2d_2b, x));
        let x = one(&self.conv2d_3b, x);
        let x = self.pool.forward(one(&self.conv2d_4a, x));
        let x = self.mixed_5b.forward(x);
        let x = self.repeat.iter().fold(x, |x, b| b.forward(x, 0.17, true));
        let m = &self.mixed_6a;
        let x = Tensor::cat(
            vec![
                one(&m.branch0, x.clone()),
                relu_chain(&m.branch1, x.clone()),
                m.pool.forward(x),
            ],
            1,
        );
        let x = self
            .repeat_1
            .iter()
            .fold(x, |x, b| b.forward(x, 0.10, true));
        let m = &self.mixed_7a;
        let x = Tensor::cat(
            vec![
                relu_chain(&m.branch0, x.clone()),
                relu_chain(&m.branch1, x.clone()),
                relu_chain(&m.branch2, x.clone()),
                m.pool.forward(x),
            ],
            1,
        );
        let x = self
            .repeat_2
            .iter()
            .fold(x, |x, b| b.forward(x, 0.20, true));
        let x = self.block8.forward(x, 1.0, false);
        one(&self.conv2d_7b, x)
    }
}
