//! Max pooling with ceil-mode output sizes (MTCNN's, trained in Caffe) as a Burn backend
//! extension for inference on flex: one pass over the input, where the strided-slice
//! version in `detect::nets` makes two slices, a subtraction, a ReLU and an addition per
//! window tap (with padding) and was the largest item of the detector's profile after the
//! convolutions.

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

use super::flex_io::{by_planes, f32s, output};
use super::written::written;

#[backend_extension(Flex)]
pub trait PoolKernels: Backend {
    /// The maximum of `x` (`[n, c, h, w]`, f32) over `kernel` x `kernel` windows at
    /// `stride`, `out` (`[oh, ow]`) windows per plane: each window starts inside the input
    /// and the part of it beyond the input is left out.
    fn max_pool_ceil(
        x: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        out: [usize; 2],
    ) -> FloatTensor<Self>;
}

/// One plane's sizes and the windows over it.
#[derive(Debug, Clone, Copy)]
struct Windows {
    h: usize,
    w: usize,
    ow: usize,
    kernel: usize,
    stride: usize,
}

impl PoolKernels for Flex {
    fn max_pool_ceil(x: FlexTensor, kernel: usize, stride: usize, out: [usize; 2]) -> FlexTensor {
        let [n, c, h, w] = x.shape().dims::<4>();
        let [oh, ow] = out;
        let g = Windows {
            h,
            w,
            ow,
            kernel,
            stride,
        };
        let (plane_in, plane_out) = (h * w, oh * ow);
        if n * c * plane_out == 0 || plane_in == 0 {
            return output(Vec::new(), [n, c, oh, ow]);
        }
        let src = f32s(&x);
        let fill = |y: &mut [MaybeUninit<f32>]| {
            by_planes(y, plane_out, &src, plane_in, |_, dst, s| {
                let pairs = dst
                    .chunks_exact_mut(plane_out)
                    .zip(s.chunks_exact(plane_in));
                let mut col = Vec::with_capacity(w);
                pairs.for_each(|(d, p)| pool_plane(d, p, &g, &mut col));
            })
        };
        // SAFETY: `y` and `src` split into the same number of whole planes, and
        // `pool_plane` writes every output element of its plane.
        output(unsafe { written(n * c * plane_out, fill) }, [n, c, oh, ow])
    }
}

/// The windows' maxima of one plane `src` (`h` x `w`) into `dst` (`oh` x `ow`), a row of
/// windows at a time: first the maximum down the window's rows, element by element (which
/// vectorises), into `col`, then along each window of `col`.
#[macerator::with_simd]
fn pool_plane<S: Simd>(dst: &mut [MaybeUninit<f32>], src: &[f32], g: &Windows, col: &mut Vec<f32>) {
    for (oy, row) in dst.chunks_exact_mut(g.ow).enumerate() {
        let y0 = oy * g.stride;
        let mut rows = src[y0 * g.w..(y0 + g.kernel).min(g.h) * g.w].chunks_exact(g.w);
        col.clear();
        col.extend_from_slice(rows.next().unwrap_or_default());
        for r in rows {
            col.iter_mut().zip(r).for_each(|(c, &v)| *c = max(*c, v));
        }
        match g.kernel {
            2 => along_row::<2>(row, col, g),
            3 => along_row::<3>(row, col, g),
            _ => along_row::<0>(row, col, g),
        }
    }
}

/// `row[i]` = the maximum of the window `col[i·stride..][..kernel]`, cut at the end of
/// `col`; unrolled where the window is whole and `K` is the kernel size.
#[inline(always)]
fn along_row<const K: usize>(row: &mut [MaybeUninit<f32>], col: &[f32], g: &Windows) {
    for (i, d) in row.iter_mut().enumerate() {
        let x0 = i * g.stride;
        let m = match col.get(x0..x0 + K) {
            Some(window) if K == g.kernel => (1..K).fold(window[0], |m, j| max(m, window[j])),
            _ => col[x0..(x0 + g.kernel).min(col.len())]
                .iter()
                .fold(f32::NEG_INFINITY, |m, &v| max(m, v)),
        };
        d.write(m);
    }
}

/// The larger of `a` and `b`: one instruction, where `f32::max`'s care for NaN takes several
/// (the inputs are a network's activations; a NaN among them is lost either way).
#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}
