//! The embedding network: a CNN backbone and a dense block mapping a face crop to an
//! L2-normalised 128-d vector, and the triplet loss it is trained with.
//!
//! So far the backbone is a small CNN trained from scratch (the CPU user's choice);
//! MobileNetV2 with ImageNet weights, VGG19 and Inception-ResNet-v2 come with the rest of
//! the training issue.

pub mod train;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

/// Output size of every backbone's dense block.
pub const EMBEDDING_DIM: usize = 128;

/// A small fully convolutional backbone (stride-2 convolutions instead of pooling, which is
/// slow on the CPU backend), global average pooling, then the dense block.
#[derive(Module, Debug)]
pub struct SmallCnn {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    pool: AdaptiveAvgPool2d,
    dense1: Linear,
    dense2: Linear,
}

impl SmallCnn {
    /// Channel widths of the four stages; each stage halves the resolution.
    const WIDTHS: [usize; 4] = [16, 32, 64, 128];

    pub fn new(device: &Device) -> Self {
        // Batch normalisation keeps the embeddings of different faces apart from the first
        // step; without it they start nearly identical and the loss sits at the margin.
        let conv = |c_in: usize, c_out: usize, stride: usize| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device)
        };
        let (mut convs, mut norms) = (Vec::new(), Vec::new());
        let mut c_in = 3;
        for w in Self::WIDTHS {
            for (from, stride) in [(c_in, 1), (w, 2)] {
                convs.push(conv(from, w, stride));
                norms.push(BatchNormConfig::new(w).init(device));
            }
            c_in = w;
        }
        let last = Self::WIDTHS[3];
        SmallCnn {
            convs,
            norms,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dense1: LinearConfig::new(last, 256).init(device),
            dense2: LinearConfig::new(256, EMBEDDING_DIM).init(device),
        }
    }

    /// (N, 3, S, S) normalised crops -> (N, 128) unit vectors.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .convs
            .iter()
            .zip(&self.norms)
            .fold(x, |x, (conv, norm)| relu(norm.forward(conv.forward(x))));
        let x = self.pool.forward(x).flatten::<2>(1, 3);
        let x = self.dense2.forward(relu(self.dense1.forward(x)));
        l2_normalise(x)
    }
}

/// Scales each row to unit length (rows of zeros stay zero).
pub fn l2_normalise(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// Crops (HWC RGB, all the same size) as a normalised (N, 3, S, S) tensor in -1..1.
pub fn crops_to_tensor(crops: &[&RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = crops.first().map_or((0, 0), |c| c.dimensions());
    let (w, h) = (w as usize, h as usize);
    let plane = w * h;
    let mut data = vec![0f32; crops.len() * 3 * plane];
    for (img, dst) in crops.iter().zip(data.chunks_exact_mut(3 * plane)) {
        assert_eq!(
            img.dimensions(),
            (w as u32, h as u32),
            "crops differ in size"
        );
        for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                dst[c * plane + i] = px[c] as f32 / 127.5 - 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [crops.len(), 3, h, w]), device)
}

/// Triplet loss on unit embeddings with squared Euclidean distances:
/// mean(max(0, |a - p|^2 - |a - n|^2 + margin)). With unit vectors |u - v|^2 = 2 - 2 cos,
/// so distances lie in 0..4 and a margin of 0.2-0.5 is typical. Also returns the fraction
/// of triplets still violating the margin ("active"), the usual progress signal.
pub fn triplet_loss(
    a: Tensor<2>,
    p: Tensor<2>,
    n: Tensor<2>,
    margin: f32,
) -> (Tensor<1>, Tensor<1>) {
    let d_ap = (a.clone() - p).powi_scalar(2).sum_dim(1);
    let d_an = (a - n).powi_scalar(2).sum_dim(1);
    let violation = d_ap - d_an + margin;
    let active = violation.clone().greater_elem(0.0).float().mean();
    (relu(violation).mean(), active)
}

#[cfg(test)]
mod tests;
