//! A small fully convolutional backbone trained from scratch: the CPU user's choice.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::layers::{ConvBn, ConvSpec, relu_chain};

/// Four stages, each a 3x3 convolution then a stride-2 3x3 convolution (instead of pooling,
/// which is slow on the CPU backend), every one with BatchNorm and ReLU. Batch
/// normalisation keeps the embeddings of different faces apart from the first step;
/// without it they start nearly identical and the loss sits at the margin.
#[derive(Module, Debug)]
pub struct SmallCnn {
    layers: Vec<ConvBn>,
}

impl SmallCnn {
    /// Channel widths of the four stages; each stage halves the resolution.
    pub const WIDTHS: [usize; 4] = [16, 32, 64, 128];
    pub const CHANNELS: usize = 128;

    pub fn new(device: &Device) -> Self {
        let mut layers = Vec::new();
        let mut c_in = 3;
        for w in Self::WIDTHS {
            layers.push(ConvBn::new(c_in, w, ConvSpec::square(3, 1, 1), device));
            layers.push(ConvBn::new(w, w, ConvSpec::square(3, 2, 1), device));
            c_in = w;
        }
        SmallCnn { layers }
    }

    /// (N, 3, S, S) -> (N, 128, S/16, S/16).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu_chain(&self.layers, x)
    }
}
