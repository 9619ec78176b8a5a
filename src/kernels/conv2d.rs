//! 2-D convolution and both of its gradients as one matrix product per image and group, on
//! f32 slices in NCHW order: the forward is `W · im2col(x)`, the input gradient
//! `col2im(Wᵀ · dy)` and the weight gradient `Σₙ dy · im2col(x)ᵀ`.
//!
//! Why not Burn's own: flex (0.22) computes the weight gradient as a second convolution with
//! the output gradient as its kernel (im2col repeated per tap, a matrix product only a few
//! columns wide) and the input gradient as a transposed convolution with a scalar col2im;
//! here each is one wide product per image (depthwise layers go to [`depthwise`]). The
//! column matrix is built a band of output rows at a time, small enough to stay in the
//! core's L2 cache between being written and being multiplied. Images are spread over the threads, each with
//! its own column buffer; a single image spreads its products over them instead.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

use super::depthwise;
use super::im2col::{Geometry, col2im, im2col};
use super::matmul::{Dst, View, matmul};
use super::written::written;

/// How one call spreads over the threads.
#[derive(Clone, Copy)]
enum Spread {
    /// One image per task, each product on one thread.
    Images,
    /// One image at a time, each product on all threads (batches smaller than the pool).
    Products,
}

impl Spread {
    fn of(g: &Geometry) -> Spread {
        if g.batch >= rayon::current_num_threads().max(2) {
            Spread::Images
        } else {
            Spread::Products
        }
    }

    fn gemm(self) -> Parallelism {
        match self {
            Spread::Images => Parallelism::None,
            Spread::Products => Parallelism::Rayon(0),
        }
    }
}

/// Runs `task(image index, that image's output chunk)` for every image.
fn per_image<T: Send, F>(out: &mut [T], chunk: usize, spread: Spread, task: F)
where
    F: Fn(usize, &mut [T]) + Sync,
{
    if chunk == 0 {
        return;
    }
    match spread {
        Spread::Images => out
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(n, o)| task(n, o)),
        Spread::Products => out
            .chunks_mut(chunk)
            .enumerate()
            .for_each(|(n, o)| task(n, o)),
    }
}

thread_local! {
    /// Each thread's column-matrix buffer, kept between calls so it is allocated once.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer, taken out of the cell for the duration (so a
/// nested use on the same thread gets an empty one instead of a borrow error).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    let mut scratch = SCRATCH.take();
    let result = f(&mut scratch);
    SCRATCH.set(scratch);
    result
}

/// Column-matrix elements per band: 256 Ki floats (1 MiB, half a core's L2 here; measured:
/// 2^14 59.8, 2^16 65.5, 2^18 67, 2^20 66.5 small-CNN triplets/s).
const BAND_ELEMS: usize = 1 << 18;

/// The bands of output rows, each with a column matrix of at most [`BAND_ELEMS`] (at least
/// one row); a pointwise convolution is one band, as it needs no column matrix.
fn bands(g: &Geometry) -> impl Iterator<Item = Range<usize>> {
    let rows = if g.is_pointwise() {
        g.oh.max(1)
    } else {
        (BAND_ELEMS / (g.col_rows() * g.ow).max(1)).clamp(1, g.oh.max(1))
    };
    let oh = g.oh;
    (0..oh).step_by(rows).map(move |r| r..(r + rows).min(oh))
}

/// The column matrix of output rows `rows` of one group of one image: the channels
/// themselves for a pointwise convolution, else `im2col` into `scratch`.
fn columns<'a>(
    g: &Geometry,
    channels: &'a [f32],
    rows: Range<usize>,
    scratch: &'a mut Vec<f32>,
) -> &'a [f32] {
    if g.is_pointwise() {
        return channels;
    }
    let col = grown(scratch, g.col_rows() * rows.len() * g.ow);
    im2col(g, channels, rows, col);
    col
}

/// The first `len` elements of `scratch`, grown if needed but never shrunk, so that its
/// contents are zeroed only once (every user overwrites what it takes).
fn grown(scratch: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if scratch.len() < len {
        scratch.resize(len, 0.0);
    }
    &mut scratch[..len]
}

/// The convolution of `x` (`[batch, c_in, h, w]`) with `weight` (`[c_out, c_in / groups, kh,
/// kw]`), no bias: `[batch, c_out, oh, ow]`.
pub fn forward(g: &Geometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    if g.is_depthwise() {
        return depthwise::forward(g, x, weight);
    }
    let (k, p, hw) = (g.col_rows(), g.out_pixels(), g.in_pixels());
    let (cin, cout) = (g.c_in_group(), g.c_out_group());
    let spread = Spread::of(g);
    let len = g.batch * g.c_out * p;
    let fill = |out: &mut [MaybeUninit<f32>]| {
        per_image(out, g.c_out * p, spread, |n, out| {
            let image = &x[n * g.c_in * hw..][..g.c_in * hw];
            with_scratch(|scratch| {
                for grp in 0..g.groups {
                    let channels = &image[grp * cin * hw..][..cin * hw];
                    let w = View::rows(&weight[grp * cout * k..][..cout * k], cout, k);
                    for rows in bands(g) {
                        let (q0, q) = (rows.start * g.ow, rows.len() * g.ow);
                        let cols = View::rows(columns(g, channels, rows, scratch), k, q);
                        let dst = Dst::uninit(&mut out[grp * cout * p + q0..]);
                        matmul(dst, p, w, cols, false, spread.gemm());
                    }
                }
            });
        })
    };
    // SAFETY: every image's every group's bands of rows cover its whole output, and each
    // product writes all of its part.
    unsafe { written(len, fill) }
}

/// The gradient with respect to the input, given the output gradient `dy`.
pub fn input_grad(g: &Geometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    if g.is_depthwise() {
        return depthwise::input_grad(g, weight, dy);
    }
    let (k, p, hw) = (g.col_rows(), g.out_pixels(), g.in_pixels());
    let (cin, cout) = (g.c_in_group(), g.c_out_group());
    let spread = Spread::of(g);
    let mut dx = vec![0.0; g.batch * g.c_in * hw];
    per_image(&mut dx, g.c_in * hw, spread, |n, out| {
        let grad = &dy[n * g.c_out * p..][..g.c_out * p];
        with_scratch(|scratch| {
            for grp in 0..g.groups {
                let w_t = View::transposed(&weight[grp * cout * k..][..cout * k], cout, k);
                let dxg = &mut out[grp * cin * hw..][..cin * hw];
                for rows in bands(g) {
                    let (q0, q) = (rows.start * g.ow, rows.len() * g.ow);
                    let dyg = View::strided(&grad[grp * cout * p + q0..], cout, q, p);
                    if g.is_pointwise() {
                        matmul(Dst::init(dxg), hw, w_t, dyg, false, spread.gemm());
                    } else {
                        let dcol = grown(scratch, k * q);
                        matmul(Dst::init(dcol), q, w_t, dyg, false, spread.gemm());
                        col2im(g, dcol, rows, dxg);
                    }
                }
            }
        });
    });
    dx
}

/// The gradient with respect to the weight, given the input `x` and the output gradient
/// `dy`. The images are cut into one fixed run per thread; each run sums its products into
/// its own copy and the copies are added in order, so the result is the same on every call
/// (a training run reproduces its losses).
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if g.is_depthwise() {
        return depthwise::weight_grad(g, x, dy);
    }
    let size = g.c_out * g.col_rows();
    let run = |images: Range<usize>, par: Parallelism| {
        let mut dw = vec![0.0; size];
        with_scratch(|scratch| {
            for n in images {
                add_image_weight_grad(g, x, dy, n, &mut dw, scratch, par);
            }
        });
        dw
    };
    match Spread::of(g) {
        Spread::Products => run(0..g.batch, Parallelism::Rayon(0)),
        Spread::Images => {
            let per_run = g.batch.div_ceil(rayon::current_num_threads());
            let starts: Vec<usize> = (0..g.batch).step_by(per_run.max(1)).collect();
            let partials: Vec<Vec<f32>> = starts
                .into_par_iter()
                .map(|s| run(s..(s + per_run).min(g.batch), Parallelism::None))
                .collect();
            let mut parts = partials.into_iter();
            let mut dw = parts.next().unwrap_or_else(|| vec![0.0; size]);
            for part in parts {
                dw.iter_mut().zip(&part).for_each(|(a, b)| *a += b);
            }
            dw
        }
    }
}

/// `dw += dyₙ · im2col(xₙ)ᵀ` for image `n`, group by group and band by band.
fn add_image_weight_grad(
    g: &Geometry,
    x: &[f32],
    dy: &[f32],
    n: usize,
    dw: &mut [f32],
    scratch: &mut Vec<f32>,
    par: Parallelism,
) {
    let (k, p, hw) = (g.col_rows(), g.out_pixels(), g.in_pixels());
    let (cin, cout) = (g.c_in_group(), g.c_out_group());
    let image = &x[n * g.c_in * hw..][..g.c_in * hw];
    let grad = &dy[n * g.c_out * p..][..g.c_out * p];
    for grp in 0..g.groups {
        let channels = &image[grp * cin * hw..][..cin * hw];
        let dst = &mut dw[grp * cout * k..][..cout * k];
        for rows in bands(g) {
            let (q0, q) = (rows.start * g.ow, rows.len() * g.ow);
            let dyg = View::strided(&grad[grp * cout * p + q0..], cout, q, p);
            let cols = View::transposed(columns(g, channels, rows, scratch), k, q);
            matmul(Dst::init(dst), k, dyg, cols, true, par);
        }
    }
}
