//! Area ("adaptive average pooling") resampling of an RGB region into a normalised CHW
//! buffer: exactly what facenet-pytorch does with `interpolate(mode="area")`, so the
//! networks see the same inputs as in the reference implementation.

use image::RgbImage;

/// MTCNN's input normalisation: (x - 127.5) / 128.
pub fn normalise(v: f32) -> f32 {
    (v - 127.5) * 0.0078125
}

/// Source window `[start, end)` of output cell `i` when `len_in` pixels become `len_out`
/// (PyTorch's adaptive pooling bounds: floor(i*in/out) .. ceil((i+1)*in/out)).
fn window(i: usize, len_in: usize, len_out: usize) -> (usize, usize) {
    let start = i * len_in / len_out;
    let end = ((i + 1) * len_in).div_ceil(len_out);
    (start, end)
}

/// A rectangle of pixels, `x0..x1` by `y0..y1`, inside the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Region {
    pub fn full(img: &RgbImage) -> Region {
        Region {
            x0: 0,
            y0: 0,
            x1: img.width(),
            y1: img.height(),
        }
    }

    pub fn width(&self) -> usize {
        (self.x1 - self.x0) as usize
    }

    pub fn height(&self) -> usize {
        (self.y1 - self.y0) as usize
    }
}

/// Images of at most this many pixels get a summed-area table (at most 48 MB, and sums of
/// 255s that fit u32).
const TABLE_PIXELS: usize = 4_000_000;

/// An image ready for area resampling. MTCNN resamples the same photo many times (each
/// pyramid level, then every candidate box twice); with the photo's summed-area table each
/// output cell costs four look-ups per channel however many pixels it covers, where the
/// two passes of [`area_resize_to`] go over every pixel of the region each time. Both give
/// the same integer sums, so the same results.
pub struct Resampler<'a> {
    img: &'a RgbImage,
    /// `(h + 1) x (w + 1) x 3`: the per-channel sum of the pixels above and left of each
    /// corner; `None` for images over [`TABLE_PIXELS`].
    table: Option<Vec<u32>>,
}

impl<'a> Resampler<'a> {
    pub fn new(img: &'a RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let table = (w * h <= TABLE_PIXELS).then(|| {
            let stride = (w + 1) * 3;
            let mut t = vec![0u32; (h + 1) * stride];
            for (y, row) in img.as_raw().chunks_exact(w * 3).enumerate() {
                let mut run = [0u32; 3];
                for (x, px) in row.chunks_exact(3).enumerate() {
                    for c in 0..3 {
                        run[c] += u32::from(px[c]);
                        let at = (y + 1) * stride + (x + 1) * 3 + c;
                        t[at] = t[at - stride] + run[c];
                    }
                }
            }
            t
        });
        Resampler { img, table }
    }

    pub fn width(&self) -> u32 {
        self.img.width()
    }

    pub fn height(&self) -> u32 {
        self.img.height()
    }

    /// The whole image as a region.
    pub fn whole(&self) -> Region {
        Region::full(self.img)
    }

    /// [`area_resize_to`] of the image, from the table when there is one.
    pub fn resize_to(&self, region: Region, out_h: usize, out_w: usize, dst: &mut [f32]) {
        let Some(t) = &self.table else {
            return area_resize_to(self.img, region, out_h, out_w, dst);
        };
        let (rw, rh) = (region.width(), region.height());
        assert!(rw > 0 && rh > 0 && out_h > 0 && out_w > 0, "empty resample");
        let plane = out_h * out_w;
        assert_eq!(dst.len(), 3 * plane, "resample buffer of the wrong size");
        let stride = (self.img.width() as usize + 1) * 3;
        let (x0, y0) = (region.x0 as usize, region.y0 as usize);
        let x_windows: Vec<(usize, usize)> = (0..out_w)
            .map(|i| window(i, rw, out_w))
            .map(|(s, e)| (x0 + s, x0 + e))
            .collect();
        for oy in 0..out_h {
            let (ys, ye) = window(oy, rh, out_h);
            let (top, bottom) = (&t[(y0 + ys) * stride..], &t[(y0 + ye) * stride..]);
            for (ox, &(xs, xe)) in x_windows.iter().enumerate() {
                let count = ((ye - ys) * (xe - xs)) as f32;
                for c in 0..3 {
                    let (l, r) = (xs * 3 + c, xe * 3 + c);
                    // Both differences are sums of pixels, so neither underflows.
                    let sum = (bottom[r] - top[r]) - (bottom[l] - top[l]);
                    dst[c * plane + oy * out_w + ox] = normalise(sum as f32 / count);
                }
            }
        }
    }
}

/// Resamples `region` of `img` to `out_h` x `out_w` and writes it, normalised, in CHW
/// order to `dst` (`3 · out_h · out_w` values).
///
/// Sums are taken in integers (first along rows, then columns) and divided once, which is
/// exact where PyTorch's float sum of integer pixels is exact, so results match it.
fn area_resize_to(img: &RgbImage, region: Region, out_h: usize, out_w: usize, dst: &mut [f32]) {
    let (rw, rh) = (region.width(), region.height());
    assert!(rw > 0 && rh > 0 && out_h > 0 && out_w > 0, "empty resample");
    let raw = img.as_raw();
    let stride = img.width() as usize * 3;
    let x_windows: Vec<(usize, usize)> = (0..out_w).map(|i| window(i, rw, out_w)).collect();
    // Horizontal pass: for each source row of the region, per-channel sums over each
    // output column's window. Layout [row][out_x][channel].
    let mut rows = vec![0u32; rh * out_w * 3];
    for y in 0..rh {
        let src = &raw[(region.y0 as usize + y) * stride + region.x0 as usize * 3..];
        let dst = &mut rows[y * out_w * 3..(y + 1) * out_w * 3];
        for (ox, &(xs, xe)) in x_windows.iter().enumerate() {
            let mut acc = [0u32; 3];
            for px in src[xs * 3..xe * 3].chunks_exact(3) {
                acc[0] += px[0] as u32;
                acc[1] += px[1] as u32;
                acc[2] += px[2] as u32;
            }
            dst[ox * 3..ox * 3 + 3].copy_from_slice(&acc);
        }
    }
    let plane = out_h * out_w;
    assert_eq!(dst.len(), 3 * plane, "resample buffer of the wrong size");
    for oy in 0..out_h {
        let (ys, ye) = window(oy, rh, out_h);
        for (ox, &(xs, xe)) in x_windows.iter().enumerate() {
            // u64: a window of a very large image can exceed u32 (16.8M pixels of 255).
            let mut acc = [0u64; 3];
            for y in ys..ye {
                let r = &rows[(y * out_w + ox) * 3..(y * out_w + ox) * 3 + 3];
                acc[0] += r[0] as u64;
                acc[1] += r[1] as u64;
                acc[2] += r[2] as u64;
            }
            let count = ((ye - ys) * (xe - xs)) as f32;
            for c in 0..3 {
                dst[c * plane + oy * out_w + ox] = normalise(acc[c] as f32 / count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_input_like_adaptive_pooling() {
        // 5 -> 3: PyTorch's adaptive_avg_pool1d bins are [0,2) [1,4) [3,5).
        let w: Vec<_> = (0..3).map(|i| window(i, 5, 3)).collect();
        assert_eq!(w, vec![(0, 2), (1, 4), (3, 5)]);
        // Upsampling 2 -> 4 repeats pixels.
        let w: Vec<_> = (0..4).map(|i| window(i, 2, 4)).collect();
        assert_eq!(w, vec![(0, 1), (0, 1), (1, 2), (1, 2)]);
    }

    #[test]
    fn area_resize_averages_blocks() {
        // 4x2 image, left half 0, right half 200 (red channel), resized to 2x1.
        let mut img = RgbImage::new(4, 2);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([if x >= 2 { 200 } else { 0 }, 10, 20]);
        }
        let mut out = vec![0.0; 6];
        area_resize_to(&img, Region::full(&img), 1, 2, &mut out);
        assert_eq!(out.len(), 6);
        assert_eq!(out[0], normalise(0.0));
        assert_eq!(out[1], normalise(200.0));
        assert_eq!(out[2], normalise(10.0));
        assert_eq!(out[5], normalise(20.0));
    }

    #[test]
    fn the_summed_area_table_gives_the_two_pass_results() {
        let mut img = RgbImage::new(37, 23);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let v = (x * 7 + y * 13) as u8;
            *p = image::Rgb([v, v.wrapping_mul(3), 255 - v]);
        }
        let table = Resampler::new(&img);
        assert!(table.table.is_some());
        let regions = [
            Region::full(&img),
            Region {
                x0: 3,
                y0: 5,
                x1: 30,
                y1: 21,
            },
            Region {
                x0: 36,
                y0: 0,
                x1: 37,
                y1: 1,
            },
        ];
        for region in regions {
            for (oh, ow) in [(12, 12), (24, 24), (5, 9), (40, 50)] {
                let (mut a, mut b) = (vec![0.0; 3 * oh * ow], vec![0.0; 3 * oh * ow]);
                area_resize_to(&img, region, oh, ow, &mut a);
                table.resize_to(region, oh, ow, &mut b);
                assert_eq!(a, b, "{region:?} to {oh}x{ow}");
            }
        }
    }

    #[test]
    fn region_offsets_are_respected() {
        let mut img = RgbImage::new(3, 3);
        img.put_pixel(2, 1, image::Rgb([255, 0, 0]));
        let mut out = vec![0.0; 12];
        let region = Region {
            x0: 2,
            y0: 1,
            x1: 3,
            y1: 2,
        };
        area_resize_to(&img, region, 2, 2, &mut out);
        assert!(out[..4].iter().all(|&v| v == normalise(255.0)));
    }
}
