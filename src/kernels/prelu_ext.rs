//! A bias and a per-channel PReLU in one pass, as a Burn backend extension for inference on
//! flex: what follows each of MTCNN's convolutions, where Burn adds the bias in one pass and
//! runs the PReLU as a comparison, a product and a masked select.

// `#[macerator::with_simd]` compiles a function once per instruction set, picked at run
// time, through its `S: Simd` parameter; these bodies are plain loops that the compiler
// vectorises under that set's features, so they never name `S` themselves.
#![allow(clippy::extra_unused_type_parameters)]

use std::mem::MaybeUninit;

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use macerator::Simd;

use super::flex_io::{by_planes, f32s, output_like};
use super::written::written;

#[backend_extension(Flex)]
pub trait PReluKernels: Backend {
    /// `v = x + bias[c]`, then `v` where `v > 0`, else `alpha[c] · v`, for `x` of shape
    /// `[n, c, ...]` (f32) and `bias`, `alpha` of `c` values each.
    fn bias_prelu(
        x: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        alpha: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl PReluKernels for Flex {
    fn bias_prelu(x: FlexTensor, bias: FlexTensor, alpha: FlexTensor) -> FlexTensor {
        let dims = x.shape().dims::<4>();
        let plane = dims[2] * dims[3];
        let (src, bias, alpha) = (f32s(&x), f32s(&bias), f32s(&alpha));
        if src.is_empty() {
            return output_like(Vec::new(), &x);
        }
        let fill = |y: &mut [MaybeUninit<f32>]| {
            by_planes(y, plane, &src, plane, |first, dst, s| {
                bias_prelu_planes(dst, s, Channels::new(plane, first, &bias, &alpha))
            })
        };
        // SAFETY: `y` and `src` split into the same whole planes, each written whole.
        output_like(unsafe { written(src.len(), fill) }, &x)
    }
}

/// Where a run of planes starts among the channels, and each channel's bias and slope.
#[derive(Clone, Copy)]
struct Channels<'a> {
    plane: usize,
    /// Index of the run's first plane (in `[n, c]` order).
    first: usize,
    bias: &'a [f32],
    alpha: &'a [f32],
}

impl<'a> Channels<'a> {
    fn new(plane: usize, first: usize, bias: &'a [f32], alpha: &'a [f32]) -> Self {
        Channels {
            plane,
            first,
            bias,
            alpha,
        }
    }
}

/// The bias and PReLU over consecutive whole planes (one instruction-set dispatch for all).
#[macerator::with_simd]
fn bias_prelu_planes<'a, S: Simd>(out: &mut [MaybeUninit<f32>], src: &[f32], ch: Channels<'a>) {
    let pairs = out
        .chunks_exact_mut(ch.plane)
        .zip(src.chunks_exact(ch.plane));
    for (k, (o, s)) in pairs.enumerate() {
        let c = (ch.first + k) % ch.bias.len();
        let (bias, alpha) = (ch.bias[c], ch.alpha[c]);
        for (o, &x) in o.iter_mut().zip(s) {
            let v = x + bias;
            o.write(if v > 0.0 { v } else { alpha * v });
        }
    }
}
