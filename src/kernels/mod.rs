//! The project's own CPU kernels, plugged into Burn through its backend-extension API (no
//! copy of Burn's code): a 2-D convolution whose forward, input gradient and weight gradient
//! are each one wide matrix product per image (the `gemm` crate Burn's flex backend uses).
//! Burn 0.22's flex backend runs the two gradients through generic decompositions that were
//! ~54 % of all convolution time in training (README, "Speed").
//!
//! The same for batch normalisation: training mode fused into two passes forward and two
//! backward, where Burn 0.22 records ~25 tensor operations.
//!
//! [`conv2d`] and [`batch_norm`] are what the layers call: on the flex device (with or without autodiff) it runs
//! these kernels, on any other device (wgpu) Burn's own convolution, so the parameters and
//! saved weights stay those of Burn's `Conv2d` and `BatchNorm` modules.

mod batch_norm;
mod clamp_ext;
mod conv2d;
mod conv_ext;
mod depthwise;
mod flex_io;
mod im2col;
mod matmul;
mod norm_ext;
mod written;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};

use clamp_ext::ClampKernels;
use conv_ext::ConvKernels;
use norm_ext::NormKernels;

/// `conv.forward(x)`, on the flex CPU backend through the project's kernels.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    // `Same` padding depends on the input size in ways Burn keeps private: Burn's own then.
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => return conv.forward(x),
    };
    if !on_cpu_kernels(&x) {
        return conv.forward(x);
    }
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    let y = conv2d_no_bias(x, conv.weight.val(), options);
    match &conv.bias {
        Some(bias) => {
            let c = bias.dims()[0];
            y + bias.val().reshape([1, c, 1, 1])
        }
        None => y,
    }
}

/// `bn.forward(x)`, on the flex CPU backend through the project's kernels: in training mode
/// the fused batch normalisation (its running statistics updated exactly as Burn's module
/// does), in inference mode one scale and one shift per channel.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    if !on_cpu_kernels(&x) {
        return bn.forward(x);
    }
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return batch_norm_inference(bn, x);
    }
    let device = x.device();
    let (y, mean, variance) = <Dispatch as NormKernels>::batch_norm_train_fused(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    let (mean, variance) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(variance),
    );
    let keep = 1.0 - bn.momentum;
    let running_mean = bn
        .running_mean
        .value_sync()
        .to_device(&device)
        .mul_scalar(keep)
        + mean.detach().mul_scalar(bn.momentum);
    let running_var = bn
        .running_var
        .value_sync()
        .to_device(&device)
        .mul_scalar(keep)
        + variance.detach().mul_scalar(bn.momentum);
    bn.running_mean.update(running_mean.detach());
    bn.running_var.update(running_var.detach());
    Tensor::from_dispatch(y)
}

/// Inference-mode batch normalisation as `x · scale + shift`: two passes over the
/// activations where Burn's decomposition makes five.
fn batch_norm_inference(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    let c = x.dims()[1];
    let mean = bn.running_mean.value().to_device(&device);
    let var = bn.running_var.value().to_device(&device);
    let scale = bn.gamma.val() / (var + bn.epsilon).sqrt();
    let shift = bn.beta.val() - mean * scale.clone();
    x * scale.reshape([1, c, 1, 1]) + shift.reshape([1, c, 1, 1])
}

/// `x.clamp(lo, hi)` (ReLU6 with 0 and 6), one pass each way on the flex CPU backend.
pub fn clamp(x: Tensor<4>, lo: f32, hi: f32) -> Tensor<4> {
    if !on_cpu_kernels(&x) {
        return x.clamp(lo, hi);
    }
    Tensor::from_dispatch(<Dispatch as ClampKernels>::clamp_fused(
        x.into_dispatch(),
        lo,
        hi,
    ))
}

/// The convolution without bias, through the extension (flex tensors only).
fn conv2d_no_bias(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvKernels>::conv2d_no_bias(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ))
}

/// Environment variable that, set to `burn`, sends every convolution to Burn's own
/// implementation: the "before" of the README's measurements, and a way around a kernel
/// should one ever misbehave.
pub const KERNELS_ENV: &str = "SIAMESE_FACE_KERNELS";

/// Whether the project's kernels are on (they are unless [`KERNELS_ENV`] says `burn`).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var(KERNELS_ENV).map_or(true, |v| !v.trim().eq_ignore_ascii_case("burn"))
    })
}

/// Whether `x` lives on the flex device as f32, where the project's kernels apply.
fn on_cpu_kernels(x: &Tensor<4>) -> bool {
    enabled()
        && x.dtype() == DType::F32
        && matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_))
}
