//! Building blocks shared by the backbones.

use crate::kernels;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// Convolution without bias followed by batch normalisation (`conv` / `bn`, the names
/// torchvision's and timm's state dicts use once their Sequential indices are mapped).
#[derive(Module, Debug)]
pub struct ConvBn {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// Shape of a [`ConvBn`]: kernel, stride, padding (height, width) and groups.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    pub kernel: [usize; 2],
    pub stride: usize,
    pub padding: [usize; 2],
    pub groups: usize,
    pub eps: f64,
}

impl ConvSpec {
    /// A square `k`x`k` kernel with stride `s` and padding `p`, BatchNorm epsilon 1e-5.
    pub fn square(k: usize, s: usize, p: usize) -> ConvSpec {
        ConvSpec {
            kernel: [k, k],
            stride: s,
            padding: [p, p],
            groups: 1,
            eps: 1e-5,
        }
    }

    pub fn groups(self, groups: usize) -> ConvSpec {
        ConvSpec { groups, ..self }
    }
}

impl ConvBn {
    pub fn new(c_in: usize, c_out: usize, spec: ConvSpec, device: &Device) -> ConvBn {
        let [ph, pw] = spec.padding;
        ConvBn {
            conv: Conv2dConfig::new([c_in, c_out], spec.kernel)
                .with_stride([spec.stride, spec.stride])
                .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
                .with_groups(spec.groups)
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(c_out)
                .with_epsilon(spec.eps)
                .init(device),
        }
    }

    /// Convolution and normalisation, no activation.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        kernels::batch_norm(&self.bn, kernels::conv2d(&self.conv, x))
    }
}

/// A chain of [`ConvBn`] layers, each followed by ReLU.
pub fn relu_chain(layers: &[ConvBn], x: Tensor<4>) -> Tensor<4> {
    layers
        .iter()
        .fold(x, |x, l| burn::tensor::activation::relu(l.forward(x)))
}

/// ReLU6 (MobileNetV2's activation).
pub fn relu6(x: Tensor<4>) -> Tensor<4> {
    kernels::clamp(x, 0.0, 6.0)
}
