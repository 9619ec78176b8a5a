//! The geometry of a 2-D convolution over NCHW tensors, and the two layout changes that turn
//! it into matrix products: `im2col` (one image's receptive fields as the columns of a
//! matrix) and its adjoint `col2im` (those columns added back onto the image).

// `#[macerator::with_simd]` compiles a function once per instruction set, picked at run
// time, through its `S: Simd` parameter; these bodies are plain loops that the compiler
// vectorises under that set's features, so they never name `S` themselves.
#![allow(clippy::extra_unused_type_parameters)]

use std::ops::Range;

use burn::tensor::ops::ConvOptions;
use macerator::Simd;

/// Sizes of one convolution: input `[batch, c_in, h, w]`, weight `[c_out, c_in / groups,
/// kh, kw]`, output `[batch, c_out, oh, ow]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    /// Padding before the first row and column; padding after them only shortens the output.
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    /// The geometry of `x` convolved with `weight` under `options`, or `None` where the
    /// shapes do not fit together (the caller then leaves the checks to Burn).
    pub fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
        let [batch, c_in, h, w] = x;
        let [c_out, c_in_group, kh, kw] = weight;
        let groups = options.groups;
        // No input channel means products with nothing to sum: left to Burn.
        if groups == 0 || c_in_group == 0 || c_in != c_in_group * groups || c_out % groups != 0 {
            return None;
        }
        let out = |size: usize, k: usize, i: usize| {
            let (before, after) = options.padding[i];
            let span = options.dilation[i] * (k.checked_sub(1)?) + 1;
            let padded = size + before + after;
            padded
                .checked_sub(span)
                .map(|room| room / options.stride[i] + 1)
        };
        Some(Geometry {
            batch,
            c_in,
            h,
            w,
            c_out,
            kh,
            kw,
            stride: options.stride,
            pad: [options.padding[0].0, options.padding[1].0],
            dilation: options.dilation,
            groups,
            oh: out(h, kh, 0)?,
            ow: out(w, kw, 1)?,
        })
    }

    pub fn c_in_group(&self) -> usize {
        self.c_in / self.groups
    }

    pub fn c_out_group(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of one group's column matrix: input channels of the group x kernel taps.
    pub fn col_rows(&self) -> usize {
        self.c_in_group() * self.kh * self.kw
    }

    /// Output pixels per image (the column matrix's width).
    pub fn out_pixels(&self) -> usize {
        self.oh * self.ow
    }

    pub fn in_pixels(&self) -> usize {
        self.h * self.w
    }

    /// One input and one output channel per group.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.c_in_group() == 1 && self.c_out_group() == 1
    }

    /// A 1x1 kernel with stride 1 and no padding: the image already is its column matrix.
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && self.oh == self.h
            && self.ow == self.w
    }

    /// The output columns `lo..hi` whose input column `ox * stride - pad + tap * dilation`
    /// lies inside the image, for kernel column `tap` (a range, since the mapping is
    /// monotonic), and `x0`, the input column that `lo` reads.
    #[inline(always)]
    pub(super) fn valid_cols(&self, tap: usize) -> (usize, usize, usize) {
        let offset = tap * self.dilation[1];
        let (lo, hi) = valid_range(self.ow, self.w, self.stride[1], self.pad[1], offset);
        (
            lo,
            hi,
            (lo * self.stride[1] + offset).saturating_sub(self.pad[1]),
        )
    }

    /// The input row read by output row `oy` at kernel row `tap`, if inside the image.
    #[inline(always)]
    pub(super) fn input_row(&self, oy: usize, tap: usize) -> Option<usize> {
        (oy * self.stride[0] + tap * self.dilation[0])
            .checked_sub(self.pad[0])
            .filter(|&iy| iy < self.h)
    }
}

/// Output positions `o` in `0..out` with `0 <= o * stride + offset - pad < size`.
fn valid_range(
    out: usize,
    size: usize,
    stride: usize,
    pad: usize,
    offset: usize,
) -> (usize, usize) {
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(out);
    let hi = if size + pad > offset {
        ((size + pad - offset - 1) / stride + 1).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// Fills `col` (`col_rows` x (`out_rows.len()` x `ow`), row-major) with the receptive fields
/// of output rows `out_rows` of one group of one image: `image` holds that group's
/// `c_in_group` channels, `h * w` each.
pub fn im2col(g: &Geometry, image: &[f32], out_rows: Range<usize>, col: &mut [f32]) {
    let width = out_rows.len() * g.ow;
    if width == 0 {
        return;
    }
    fill_rows(g, image, out_rows, col.chunks_exact_mut(width));
}

#[macerator::with_simd]
fn fill_rows<'a, S: Simd>(
    g: &Geometry,
    image: &[f32],
    out_rows: Range<usize>,
    mut rows: std::slice::ChunksExactMut<'a, f32>,
) {
    // With stride 2 across, each tap reads every other column: split the rows the band
    // reads into their even and odd columns once, and every tap's row becomes a plain copy.
    let split = (g.stride[1] == 2).then(|| band_input_rows(g, &out_rows));
    let mut buf = Vec::new();
    for channel in image.chunks_exact(g.in_pixels()).take(g.c_in_group()) {
        let source = match split.clone() {
            Some(input_rows) => {
                split_columns(channel, g.w, input_rows.clone(), &mut buf);
                Source {
                    rows: &buf,
                    first: input_rows.start,
                    split: true,
                }
            }
            None => Source {
                rows: channel,
                first: 0,
                split: false,
            },
        };
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let Some(row) = rows.next() else { return };
                fill_row(g, &source, (ky, kx), out_rows.start, row);
            }
        }
    }
}

/// Where [`fill_row`] reads one channel's input rows: from row `first` on, each either as
/// it is or with its even columns first and its odd ones after them (`split`).
struct Source<'a> {
    rows: &'a [f32],
    first: usize,
    split: bool,
}

/// The input rows that output rows `out_rows` read (clipped to the image).
fn band_input_rows(g: &Geometry, out_rows: &Range<usize>) -> Range<usize> {
    let lo = (out_rows.start * g.stride[0])
        .saturating_sub(g.pad[0])
        .min(g.h);
    let last = out_rows.end.saturating_sub(1);
    let reach = last * g.stride[0] + (g.kh - 1) * g.dilation[0] + 1;
    lo..reach.saturating_sub(g.pad[0]).min(g.h).max(lo)
}

/// Rows `rows` of `channel` (`w` wide), each rewritten as its even columns, then its odd ones.
fn split_columns(channel: &[f32], w: usize, rows: Range<usize>, buf: &mut Vec<f32>) {
    buf.clear();
    for iy in rows {
        let row = &channel[iy * w..][..w];
        buf.extend(row.iter().step_by(2));
        buf.extend(row.iter().skip(1).step_by(2));
    }
}

/// One row of the column matrix: kernel tap (`ky`, `kx`) of one channel at every output pixel
/// of the band starting at output row `first`.
#[inline(always)]
fn fill_row(
    g: &Geometry,
    source: &Source,
    (ky, kx): (usize, usize),
    first: usize,
    row: &mut [f32],
) {
    let (lo, hi, x0) = g.valid_cols(kx);
    let sx = g.stride[1];
    // In a split row, columns x0, x0 + 2, ... are consecutive, in the half of x0's parity.
    let start = if x0.is_multiple_of(2) {
        x0 / 2
    } else {
        g.w.div_ceil(2) + x0 / 2
    };
    for (i, out) in row.chunks_exact_mut(g.ow).enumerate() {
        let Some(iy) = g.input_row(first + i, ky) else {
            out.fill(0.0);
            continue;
        };
        let src = &source.rows[(iy - source.first) * g.w..][..g.w];
        out[..lo].fill(0.0);
        out[hi..].fill(0.0);
        let dst = &mut out[lo..hi];
        if source.split {
            dst.copy_from_slice(&src[start..start + dst.len()]);
        } else if sx == 1 {
            dst.copy_from_slice(&src[x0..x0 + dst.len()]);
        } else {
            dst.iter_mut()
                .zip(src[x0..].iter().step_by(sx))
                .for_each(|(d, s)| *d = *s);
        }
    }
}

/// Adds the column matrix `col` of output rows `out_rows` back onto one group's channels of
/// one image (`image`, which the caller zeroes first): the adjoint of [`im2col`], as the
/// input gradient needs it.
pub fn col2im(g: &Geometry, col: &[f32], out_rows: Range<usize>, image: &mut [f32]) {
    let width = out_rows.len() * g.ow;
    if width == 0 {
        return;
    }
    add_rows(g, col.chunks_exact(width), out_rows.start, image);
}

#[macerator::with_simd]
fn add_rows<'a, S: Simd>(
    g: &Geometry,
    mut rows: std::slice::ChunksExact<'a, f32>,
    first: usize,
    image: &mut [f32],
) {
    for channel in image.chunks_exact_mut(g.in_pixels()).take(g.c_in_group()) {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let Some(row) = rows.next() else { return };
                add_row(g, row, (ky, kx), first, channel);
            }
        }
    }
}

#[inline(always)]
fn add_row(g: &Geometry, row: &[f32], (ky, kx): (usize, usize), first: usize, channel: &mut [f32]) {
    let (lo, hi, x0) = g.valid_cols(kx);
    let sx = g.stride[1];
    for (i, out) in row.chunks_exact(g.ow).enumerate() {
        let Some(iy) = g.input_row(first + i, ky) else {
            continue;
        };
        let dst = &mut channel[iy * g.w..(iy + 1) * g.w];
        let src = &out[lo..hi];
        if sx == 1 {
            dst[x0..].iter_mut().zip(src).for_each(|(d, s)| *d += s);
        } else {
            dst[x0..]
                .iter_mut()
                .step_by(sx)
                .zip(src)
                .for_each(|(d, s)| *d += s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(h: usize, w: usize, k: usize, stride: usize, pad: usize) -> Geometry {
        let options = ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1);
        Geometry::new([1, 1, h, w], [1, 1, k, k], &options).unwrap()
    }

    /// The column matrix read straight from its definition.
    fn naive_im2col(g: &Geometry, image: &[f32]) -> Vec<f32> {
        let mut col = Vec::new();
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let iy = (oy * g.stride[0] + ky) as isize - g.pad[0] as isize;
                        let ix = (ox * g.stride[1] + kx) as isize - g.pad[1] as isize;
                        let inside = iy >= 0 && ix >= 0 && iy < g.h as isize && ix < g.w as isize;
                        col.push(if inside {
                            image[iy as usize * g.w + ix as usize]
                        } else {
                            0.0
                        });
                    }
                }
            }
        }
        col
    }

    #[test]
    fn im2col_matches_its_definition_for_strides_and_padding() {
        for (h, w, k, s, p) in [
            (5, 7, 3, 1, 1),
            (6, 5, 3, 2, 1),
            (7, 7, 7, 2, 0),
            (4, 9, 3, 3, 2),
        ] {
            let g = geometry(h, w, k, s, p);
            let image: Vec<f32> = (0..h * w).map(|i| i as f32 + 1.0).collect();
            let mut col = vec![f32::NAN; g.col_rows() * g.out_pixels()];
            im2col(&g, &image, 0..g.oh, &mut col);
            assert_eq!(col, naive_im2col(&g, &image), "{h}x{w} k{k} s{s} p{p}");
        }
    }

    #[test]
    fn a_band_of_output_rows_is_that_slice_of_the_whole_column_matrix() {
        let g = geometry(9, 6, 3, 2, 1);
        let image: Vec<f32> = (0..54).map(|i| i as f32 * 0.5).collect();
        let mut whole = vec![0.0; g.col_rows() * g.out_pixels()];
        im2col(&g, &image, 0..g.oh, &mut whole);
        let mut band = vec![f32::NAN; g.col_rows() * 2 * g.ow];
        im2col(&g, &image, 1..3, &mut band);
        for (r, row) in band.chunks(2 * g.ow).enumerate() {
            let start = r * g.out_pixels() + g.ow;
            assert_eq!(row, &whole[start..start + 2 * g.ow], "tap row {r}");
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for any x and c.
        let g = geometry(6, 5, 3, 2, 1);
        let x: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin()).collect();
        let c: Vec<f32> = (0..g.col_rows() * g.out_pixels())
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let mut col = vec![0.0; c.len()];
        im2col(&g, &x, 0..g.oh, &mut col);
        let mut back = vec![0.0; x.len()];
        col2im(&g, &c, 0..g.oh, &mut back);
        let lhs: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
    }

    #[test]
    fn shapes_that_do_not_fit_have_no_geometry() {
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 2);
        assert!(Geometry::new([1, 3, 5, 5], [4, 1, 3, 3], &options).is_none());
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert!(Geometry::new([1, 1, 2, 2], [1, 1, 3, 3], &options).is_none());
    }
}
