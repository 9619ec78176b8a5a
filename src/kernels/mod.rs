//! The project's own CPU kernels, plugged into Burn through its backend-extension API (no
//! copy of Burn's code): a 2-D convolution whose forward, input gradient and weight gradient
//! are each one wide matrix product per image (the `gemm` crate Burn's flex backend uses).
//! Burn 0.22's flex backend runs the two gradients through generic decompositions that were
//! ~54 % of all convolution time in training (README, "Speed").
//!
//! The same for batch normalisation: training mode fused into two passes forward and two
//! backward, where Burn 0.22 records ~25 tensor operations. For MTCNN, which only infers:
//! a convolution's bias and PReLU in one pass, and ceil-mode max pooling in one pass.
//!
//! [`conv2d`], [`batch_norm`], [`clamp`], [`conv2d_prelu`] and [`max_pool_ceil`] are what the
//! layers call: on the flex device (the inference kernels without autodiff only) they run
//! these kernels, on any other device (wgpu) Burn's own operations, so the parameters and
//! saved weights stay those of Burn's `Conv2d`, `BatchNorm` and `PRelu` modules.

mod batch_norm;
mod clamp_ext;
mod conv2d;
mod conv_ext;
mod depthwise;
mod flex_io;
mod im2col;
mod matmul;
mod norm_ext;
mod pool_ext;
mod prelu_ext;
mod written;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PRelu, PaddingConfig2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};

use clamp_ext::ClampKernels;
use conv_ext::ConvKernels;
use norm_ext::NormKernels;
use pool_ext::PoolKernels;
use prelu_ext::PReluKernels;

/// `conv.forward(x)`, on the flex CPU backend through the project's kernels.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(options) = conv_options(conv).filter(|_| on_cpu_kernels(&x)) else {
        return conv.forward(x);
    };
    let y = conv2d_no_bias(x, conv.weight.val(), options);
    match &conv.bias {
        Some(bias) => {
            let c = bias.dims()[0];
            y + bias.val().reshape([1, c, 1, 1])
        }
        None => y,
    }
}

/// The convolution's options for the kernels; `None` for `Same` padding, which depends on
/// the input size in ways Burn keeps private (Burn's own convolution runs it).
fn conv_options(conv: &Conv2d) -> Option<ConvOptions<2>> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => return None,
    };
    Some(ConvOptions::new_with_padding(
        conv.stride,
        padding,
        conv.dilation,
        conv.groups,
    ))
}

/// `prelu.forward(conv.forward(x))`; in inference on the flex CPU backend the convolution's
/// bias and the PReLU are one pass after the convolution (MTCNN's layers).
pub fn conv2d_prelu(conv: &Conv2d, prelu: &PRelu, x: Tensor<4>) -> Tensor<4> {
    let c = conv.weight.dims()[0];
    let alpha = prelu.alpha.val();
    // One shared slope, or one per output channel (anything else is Burn's to refuse).
    let slopes = alpha.dims()[0];
    let options = conv_options(conv).filter(|_| on_inference_kernels(&x));
    let Some(options) = options.filter(|_| slopes == 1 || slopes == c) else {
        return prelu.forward(conv2d(conv, x));
    };
    let y = conv2d_no_bias(x, conv.weight.val(), options);
    let device = y.device();
    let bias = conv
        .bias
        .as_ref()
        .map_or_else(|| Tensor::zeros([c], &device), |b| b.val());
    let alpha = if slopes == c {
        alpha
    } else {
        alpha.expand([c])
    };
    Tensor::from_dispatch(<Dispatch as PReluKernels>::bias_prelu(
        y.into_dispatch(),
        bias.into_dispatch(),
        alpha.into_dispatch(),
    ))
}

/// Max pooling of `x` over `kernel` x `kernel` windows at `stride` into `out` (`[oh, ow]`)
/// windows per plane, each starting inside the input, its part beyond the input left out
/// (Caffe's ceil mode); in inference on the flex CPU backend by the project's kernel, else
/// by `elsewhere`.
pub fn max_pool_ceil(
    x: Tensor<4>,
    kernel: usize,
    stride: usize,
    out: [usize; 2],
    elsewhere: impl FnOnce(Tensor<4>) -> Tensor<4>,
) -> Tensor<4> {
    if !on_inference_kernels(&x) {
        return elsewhere(x);
    }
    Tensor::from_dispatch(<Dispatch as PoolKernels>::max_pool_ceil(
        x.into_dispatch(),
        kernel,
        stride,
        out,
    ))
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

/// Whether `x` lives on the flex device as f32 without autodiff, where the project's
/// inference-only kernels apply.
fn on_inference_kernels(x: &Tensor<4>) -> bool {
    on_cpu_kernels(x) && !x.device().is_autodiff()
}

/// Whether `x` lives on the flex device as f32, where the project's kernels apply.
fn on_cpu_kernels(x: &Tensor<4>) -> bool {
    enabled()
        && x.dtype() == DType::F32
        && matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_))
}
