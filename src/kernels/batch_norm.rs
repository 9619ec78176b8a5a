//! Batch normalisation in training mode, fused: the forward reads the input twice (channel
//! statistics in one pass, then the normalised output) and the backward twice (two sums per
//! channel in one pass, then the input gradient), on f32 slices in `[batch, channels, pixels]` order. Burn 0.22
//! decomposes both into ~25 tensor operations with layout copies on flex.

// `#[macerator::with_simd]` compiles a function once per instruction set, picked at run
// time, through its `S: Simd` parameter; these bodies are plain loops that the compiler
// vectorises under that set's features, so they never name `S` themselves.
#![allow(clippy::extra_unused_type_parameters)]

use std::mem::MaybeUninit;

use macerator::Simd;
use rayon::prelude::*;

use super::written::written;

/// Sizes of one batch normalisation: `batch` images of `channels` planes of `pixels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planes {
    pub batch: usize,
    pub channels: usize,
    pub pixels: usize,
}

impl Planes {
    /// Values per channel, over which the statistics are taken.
    fn per_channel(&self) -> usize {
        self.batch * self.pixels
    }

    /// The planes of channel `c`, one per image.
    fn channel<'a>(&self, data: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        (0..self.batch).map(move |n| &data[(n * self.channels + c) * self.pixels..][..self.pixels])
    }
}

/// The output with the batch's statistics, and those statistics (mean and biased variance).
pub struct Normalised {
    pub output: Vec<f32>,
    pub mean: Vec<f32>,
    pub variance: Vec<f32>,
}

/// Gradients of [`forward`] with respect to the input, `gamma` and `beta`.
pub struct NormGrads {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// The two sums one pass over a channel takes.
#[derive(Clone, Copy)]
enum Sums {
    /// `Σ (x - k)` and `Σ (x - k)²` of one tensor (the forward's statistics).
    Shifted { k: f32 },
    /// `Σ d` and `Σ (x - mu) · d` of the input and the output gradient (the backward's).
    Gradient { mu: f32 },
}

/// Both sums of `sums` over one plane, in eight f32 lanes each (vector adds once the CPU's
/// instruction set is enabled), totalled in f64.
#[macerator::with_simd]
fn plane_sums<S: Simd>(sums: Sums, x: &[f32], d: &[f32]) -> (f64, f64) {
    let (mut s0, mut s1) = ([0f32; 8], [0f32; 8]);
    let (cx, cd) = (x.chunks_exact(8), d.chunks_exact(8));
    let tail = cx.remainder().iter().zip(cd.remainder());
    let (mut t0, mut t1) = (0f64, 0f64);
    let pair = |x: f32, d: f32| match sums {
        Sums::Shifted { k } => (x - k, (x - k) * (x - k)),
        Sums::Gradient { mu } => (d, (x - mu) * d),
    };
    for (&x, &d) in tail {
        let (u, v) = pair(x, d);
        (t0, t1) = (t0 + f64::from(u), t1 + f64::from(v));
    }
    for (xa, da) in cx.zip(cd) {
        for j in 0..8 {
            let (u, v) = pair(xa[j], da[j]);
            s0[j] += u;
            s1[j] += v;
        }
    }
    let total = |s: [f32; 8]| s.iter().map(|&l| f64::from(l)).sum::<f64>();
    (total(s0) + t0, total(s1) + t1)
}

/// Both sums of `sums` over channel `c` (`d` is ignored by [`Sums::Shifted`]).
fn channel_sums(p: &Planes, sums: Sums, (x, d): (&[f32], &[f32]), c: usize) -> (f64, f64) {
    p.channel(x, c)
        .zip(p.channel(d, c))
        .map(|(x, d)| plane_sums(sums, x, d))
        .fold((0.0, 0.0), |(u, v), (du, dv)| (u + du, v + dv))
}

/// `out = src · a + b`.
#[macerator::with_simd]
fn scale_shift<S: Simd>(out: &mut [MaybeUninit<f32>], src: &[f32], a: f32, b: f32) {
    for (o, &v) in out.iter_mut().zip(src) {
        o.write(v * a + b);
    }
}

/// `out = kd · dy + kx · x + offset`, the input gradient with its per-channel constants.
#[macerator::with_simd]
fn affine2<S: Simd>(out: &mut [MaybeUninit<f32>], x: &[f32], dy: &[f32], k: (f32, f32, f32)) {
    let (kd, kx, offset) = k;
    for ((o, &xv), &d) in out.iter_mut().zip(x).zip(dy) {
        o.write(kd * d + kx * xv + offset);
    }
}

/// Batch normalisation with the batch's own statistics (training mode).
pub fn forward(p: &Planes, x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64) -> Normalised {
    let m = p.per_channel().max(1) as f64;
    let (mean, variance): (Vec<f32>, Vec<f32>) = (0..p.channels)
        .into_par_iter()
        .map(|c| {
            // One pass: sums of x - k and (x - k)² about the channel's first value k, which
            // keeps the difference of squares from cancelling when the mean is far from 0.
            let k = p
                .channel(x, c)
                .next()
                .and_then(|plane| plane.first())
                .copied()
                .unwrap_or(0.0);
            let (s1, s2) = channel_sums(p, Sums::Shifted { k }, (x, x), c);
            let (shifted_mean, mean_sq) = (s1 / m, s2 / m);
            let var = (mean_sq - shifted_mean * shifted_mean).max(0.0);
            ((shifted_mean + f64::from(k)) as f32, var as f32)
        })
        .unzip();
    let (scale, shift) = affine(&mean, &variance, gamma, beta, epsilon);
    let fill = |output: &mut [MaybeUninit<f32>]| {
        apply(p, output, |i, out| {
            let c = i % p.channels;
            let (a, b, src) = (scale[c], shift[c], &x[i * p.pixels..][..p.pixels]);
            scale_shift(out, src, a, b);
        })
    };
    // SAFETY: `apply` hands out every plane of the output, and `scale_shift` writes all of it.
    let output = unsafe { written(x.len(), fill) };
    Normalised {
        output,
        mean,
        variance,
    }
}

/// Per-channel `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale`.
fn affine(
    mean: &[f32],
    variance: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> (Vec<f32>, Vec<f32>) {
    (0..mean.len())
        .map(|c| {
            let inv_std = 1.0 / (f64::from(variance[c]) + epsilon).sqrt();
            let scale = f64::from(gamma[c]) * inv_std;
            (
                scale as f32,
                (f64::from(beta[c]) - f64::from(mean[c]) * scale) as f32,
            )
        })
        .unzip()
}

/// Runs `f(plane index, plane)` over the planes of `out`, in parallel.
fn apply<T: Send>(p: &Planes, out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync) {
    if p.pixels == 0 {
        return;
    }
    out.par_chunks_mut(p.pixels)
        .enumerate()
        .for_each(|(i, plane)| f(i, plane));
}

/// The gradients of [`forward`], given its input, `gamma`, the statistics it returned and the
/// output gradient `dy`.
pub fn backward(
    p: &Planes,
    x: &[f32],
    gamma: &[f32],
    stats: (&[f32], &[f32]),
    epsilon: f64,
    dy: &[f32],
) -> NormGrads {
    let (mean, variance) = stats;
    let inv_std: Vec<f32> = variance
        .iter()
        .map(|&v| (1.0 / (f64::from(v) + epsilon).sqrt()) as f32)
        .collect();
    // dbeta = Σ dy; dgamma = Σ dy · x̂, with x̂ = (x - mean) · inv_std.
    let (beta_grad, gamma_grad): (Vec<f32>, Vec<f32>) = (0..p.channels)
        .into_par_iter()
        .map(|c| {
            let mu = mean[c];
            let (sum_dy, sum_dy_xc) = channel_sums(p, Sums::Gradient { mu }, (x, dy), c);
            (sum_dy as f32, (sum_dy_xc * f64::from(inv_std[c])) as f32)
        })
        .unzip();
    // dx = gamma · inv_std · (dy - mean(dy) - x̂ · mean(dy · x̂)).
    let m = p.per_channel().max(1) as f32;
    let fill = |x_grad: &mut [MaybeUninit<f32>]| {
        apply(p, x_grad, |i, out| {
            let c = i % p.channels;
            let (xs, ds) = (
                &x[i * p.pixels..][..p.pixels],
                &dy[i * p.pixels..][..p.pixels],
            );
            // dx = k · (d - mean_dy - (x - mu) · slope) = k·d - k·slope·x + offset
            let (k, mean_dy, mu) = (gamma[c] * inv_std[c], beta_grad[c] / m, mean[c]);
            let slope = inv_std[c] * gamma_grad[c] / m;
            let (kd, kx, offset) = (k, -k * slope, k * (mu * slope - mean_dy));
            affine2(out, xs, ds, (kd, kx, offset));
        })
    };
    // SAFETY: `apply` hands out every plane, and `affine2` writes all of it.
    let x_grad = unsafe { written(x.len(), fill) };
    NormGrads {
        x: x_grad,
        gamma: gamma_grad,
        beta: beta_grad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_has_zero_mean_and_unit_variance_per_channel() {
        let p = Planes {
            batch: 3,
            channels: 2,
            pixels: 5,
        };
        let x: Vec<f32> = (0..30)
            .map(|i| (i as f32 * 0.7).sin() * 4.0 + 2.0)
            .collect();
        let out = forward(&p, &x, &[1.0, 1.0], &[0.0, 0.0], 0.0);
        for c in 0..2 {
            let values: Vec<f32> = p.channel(&out.output, c).flatten().copied().collect();
            let mean = values.iter().sum::<f32>() / 15.0;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 15.0;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
                "{mean} {var}"
            );
        }
    }
}
