//! Depthwise convolution (one input and one output channel per group: MobileNetV2's 3x3
//! layers) computed directly, each kernel tap a scaled add of one shifted row. As matrix
//! products it would be one product per channel only a single row tall, behind an im2col
//! nine times the image's size.

// `#[macerator::with_simd]` compiles a function once per instruction set, picked at run
// time, through its `S: Simd` parameter; these bodies are plain loops that the compiler
// vectorises under that set's features, so they never name `S` themselves.
#![allow(clippy::extra_unused_type_parameters)]

use rayon::prelude::*;

use macerator::Simd;

use super::im2col::Geometry;

/// The pairs (output row, input row) where kernel row `ky` falls inside the image.
#[inline(always)]
fn rows(g: &Geometry, ky: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    (0..g.oh).filter_map(move |oy| g.input_row(oy, ky).map(|iy| (oy, iy)))
}

/// `dst[j] += tap · src[j · stride]`: contiguous (and vectorised) for stride 1.
#[inline(always)]
fn gather_axpy(dst: &mut [f32], tap: f32, src: &[f32], stride: usize) {
    if stride == 1 {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d += tap * s);
    } else {
        let src = src.iter().step_by(stride);
        dst.iter_mut().zip(src).for_each(|(d, s)| *d += tap * s);
    }
}

/// `dst[j · stride] += tap · src[j]`, the adjoint of [`gather_axpy`].
#[inline(always)]
fn scatter_axpy(dst: &mut [f32], tap: f32, src: &[f32], stride: usize) {
    if stride == 1 {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d += tap * s);
    } else {
        let dst = dst.iter_mut().step_by(stride);
        dst.zip(src).for_each(|(d, s)| *d += tap * s);
    }
}

/// `Σ d[j] · src[j · stride]`, in eight lanes for stride 1 so that it vectorises.
#[inline(always)]
fn gather_dot(d: &[f32], src: &[f32], stride: usize) -> f32 {
    if stride != 1 {
        return d
            .iter()
            .zip(src.iter().step_by(stride))
            .map(|(a, b)| a * b)
            .sum();
    }
    let src = &src[..d.len()];
    let mut lanes = [0f32; 8];
    let (dc, sc) = (d.chunks_exact(8), src.chunks_exact(8));
    let tail: f32 = dc
        .remainder()
        .iter()
        .zip(sc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in dc.zip(sc) {
        for j in 0..8 {
            lanes[j] += a[j] * b[j];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The forward: `[batch, c, oh, ow]`.
pub fn forward(g: &Geometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let (hw, p, taps) = (g.in_pixels(), g.out_pixels(), g.kh * g.kw);
    let mut y = vec![0.0; g.batch * g.c_out * p];
    if p == 0 {
        return y;
    }
    y.par_chunks_mut(p).enumerate().for_each(|(i, out)| {
        let (image, w) = (&x[i * hw..][..hw], &weight[(i % g.c_out) * taps..][..taps]);
        forward_plane(g, image, w, out);
    });
    y
}

/// One output plane: every tap a scaled add of shifted input rows.
#[macerator::with_simd]
fn forward_plane<S: Simd>(g: &Geometry, image: &[f32], w: &[f32], out: &mut [f32]) {
    for ky in 0..g.kh {
        for kx in 0..g.kw {
            let (tap, (lo, hi, x0)) = (w[ky * g.kw + kx], g.valid_cols(kx));
            for (oy, iy) in rows(g, ky) {
                let src = &image[iy * g.w..][..g.w];
                let dst = &mut out[oy * g.ow..][lo..hi];
                gather_axpy(dst, tap, &src[x0..], g.stride[1]);
            }
        }
    }
}

/// The gradient with respect to the input.
pub fn input_grad(g: &Geometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let (hw, p, taps) = (g.in_pixels(), g.out_pixels(), g.kh * g.kw);
    let mut dx = vec![0.0; g.batch * g.c_in * hw];
    if hw == 0 {
        return dx;
    }
    dx.par_chunks_mut(hw).enumerate().for_each(|(i, out)| {
        let (grad, w) = (&dy[i * p..][..p], &weight[(i % g.c_out) * taps..][..taps]);
        input_grad_plane(g, grad, w, out);
    });
    dx
}

/// One input plane's gradient: the adjoint of [`forward_plane`].
#[macerator::with_simd]
fn input_grad_plane<S: Simd>(g: &Geometry, grad: &[f32], w: &[f32], out: &mut [f32]) {
    for ky in 0..g.kh {
        for kx in 0..g.kw {
            let (tap, (lo, hi, x0)) = (w[ky * g.kw + kx], g.valid_cols(kx));
            for (oy, iy) in rows(g, ky) {
                let src = &grad[oy * g.ow..][lo..hi];
                let dst = &mut out[iy * g.w..][..g.w];
                scatter_axpy(&mut dst[x0..], tap, src, g.stride[1]);
            }
        }
    }
}

/// The gradient with respect to the weight: each channel's taps summed over its images in
/// order, so the result is the same on every call.
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let per_channel: Vec<Vec<f32>> = (0..g.c_out)
        .into_par_iter()
        .map(|c| channel_taps(g, x, dy, c))
        .collect();
    per_channel.concat()
}

/// The weight gradient of channel `c`'s taps, over all images.
#[macerator::with_simd]
fn channel_taps<S: Simd>(g: &Geometry, x: &[f32], dy: &[f32], c: usize) -> Vec<f32> {
    let (hw, p) = (g.in_pixels(), g.out_pixels());
    let mut taps = vec![0.0f32; g.kh * g.kw];
    for n in 0..g.batch {
        let i = n * g.c_out + c;
        let (image, grad) = (&x[i * hw..][..hw], &dy[i * p..][..p]);
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let (lo, hi, x0) = g.valid_cols(kx);
                let mut sum = 0.0f32;
                for (oy, iy) in rows(g, ky) {
                    let src = &image[iy * g.w..][..g.w];
                    let d = &grad[oy * g.ow..][lo..hi];
                    sum += gather_dot(d, &src[x0..], g.stride[1]);
                }
                taps[ky * g.kw + kx] += sum;
            }
        }
    }
    taps
}
