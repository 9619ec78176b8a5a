//! VGG19 (Simonyan & Zisserman 2014), the convolutional part of torchvision's `vgg19`.

use crate::kernels::conv2d;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct Vgg19 {
    /// The 16 3x3 convolutions; torchvision's `features.{0,2,5,...}` map here by order.
    features: Vec<Conv2d>,
    pool: MaxPool2d,
}

impl Vgg19 {
    pub const CHANNELS: usize = 512;
    /// Convolutions per stage; a 2x2 max pool closes each stage.
    const STAGES: [(usize, usize); 5] = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)];
    /// Smallest input whose last stage is not empty.
    pub const MIN_INPUT: usize = 32;

    pub fn new(device: &Device) -> Self {
        let mut features = Vec::new();
        let mut c_in = 3;
        for (c, n) in Self::STAGES {
            for _ in 0..n {
                features.push(
                    Conv2dConfig::new([c_in, c], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(device),
                );
                c_in = c;
            }
        }
        Vgg19 {
            features,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    /// (N, 3, S, S) -> (N, 512, S/32, S/32).
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        let mut convs = self.features.iter();
        for (_, n) in Self::STAGES {
            for conv in convs.by_ref().take(n) {
                x = relu(conv2d(conv, x));
            }
            x = self.pool.forward(x);
        }
        x
    }
}
