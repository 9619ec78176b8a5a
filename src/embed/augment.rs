//! Training-time augmentation of face crops: horizontal flip, a small random shift (crop
//! jitter) and colour jitter (brightness, contrast, saturation), on the HWC RGB bytes.

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Mirror half of the crops left-right.
    pub flip: bool,
    /// Largest shift in pixels, each axis (edges are repeated).
    pub jitter: u32,
    /// Largest relative change of brightness, contrast and saturation (0.2 = +-20%).
    pub colour: f32,
}

impl Augment {
    pub const NONE: Augment = Augment {
        flip: false,
        jitter: 0,
        colour: 0.0,
    };

    pub fn is_none(&self) -> bool {
        !self.flip && self.jitter == 0 && self.colour == 0.0
    }

    /// Writes an augmented copy of the square HWC RGB crop `src` into `dst`.
    pub fn apply(&self, src: &[u8], dst: &mut [u8], rng: &mut impl Rng) {
        let s = ((src.len() / 3) as f64).sqrt() as usize;
        debug_assert_eq!(s * s * 3, src.len());
        let j = self.jitter as i64;
        let flip = self.flip && rng.random_bool(0.5);
        let (dx, dy) = if j > 0 {
            (rng.random_range(-j..=j), rng.random_range(-j..=j))
        } else {
            (0, 0)
        };
        let c = self.colour.clamp(0.0, 0.9);
        let mut factor = || {
            if c > 0.0 {
                rng.random_range(1.0 - c..=1.0 + c)
            } else {
                1.0
            }
        };
        let (brightness, contrast, saturation) = (factor(), factor(), factor());
        let last = s as i64 - 1;
        for y in 0..s {
            let sy = (y as i64 + dy).clamp(0, last) as usize;
            for x in 0..s {
                let fx = if flip { last - x as i64 } else { x as i64 };
                let sx = (fx + dx).clamp(0, last) as usize;
                let i = (sy * s + sx) * 3;
                let o = (y * s + x) * 3;
                dst[o..o + 3].copy_from_slice(&src[i..i + 3]);
            }
        }
        if c > 0.0 {
            colour_jitter(dst, brightness, contrast, saturation);
        }
    }
}

impl Default for Augment {
    fn default() -> Self {
        Augment {
            flip: true,
            jitter: 4,
            colour: 0.2,
        }
    }
}

/// Scales brightness, then contrast around the mean grey level, then saturation around
/// each pixel's grey level (the order torchvision's ColorJitter uses when not shuffled).
fn colour_jitter(px: &mut [u8], brightness: f32, contrast: f32, saturation: f32) {
    let grey = |p: &[f32]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    let mut v: Vec<f32> = px.iter().map(|&b| b as f32 * brightness).collect();
    let mean = v.chunks_exact(3).map(grey).sum::<f32>() / (v.len() / 3).max(1) as f32;
    for p in v.chunks_exact_mut(3) {
        for c in p.iter_mut() {
            *c = (*c - mean) * contrast + mean;
        }
        let g = grey(p);
        for c in p.iter_mut() {
            *c = g + (*c - g) * saturation;
        }
    }
    for (b, f) in px.iter_mut().zip(v) {
        *b = f.round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ramp(s: usize) -> Vec<u8> {
        (0..s * s)
            .flat_map(|i| [(i % s) as u8 * 10, (i / s) as u8 * 10, 100])
            .collect()
    }

    #[test]
    fn none_is_the_identity() {
        let src = ramp(8);
        let mut dst = vec![0; src.len()];
        Augment::NONE.apply(&src, &mut dst, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(src, dst);
    }

    #[test]
    fn flip_mirrors_rows() {
        let src = ramp(8);
        let aug = Augment {
            flip: true,
            ..Augment::NONE
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut flipped = 0;
        for _ in 0..20 {
            let mut dst = vec![0; src.len()];
            aug.apply(&src, &mut dst, &mut rng);
            if dst != src {
                flipped += 1;
                // Pixel (x=0, y=3) comes from (x=7, y=3).
                assert_eq!(
                    &dst[(3 * 8) * 3..(3 * 8) * 3 + 3],
                    &src[(3 * 8 + 7) * 3..(3 * 8 + 7) * 3 + 3]
                );
            }
        }
        assert!((5..=15).contains(&flipped), "{flipped} of 20 flipped");
    }

    #[test]
    fn jitter_shifts_by_at_most_the_limit() {
        let src = ramp(16);
        let aug = Augment {
            jitter: 2,
            ..Augment::NONE
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let mut dst = vec![0; src.len()];
            aug.apply(&src, &mut dst, &mut rng);
            // The centre pixel's red channel encodes its source column: within 2 of 8.
            let o = (8 * 16 + 8) * 3;
            let (sx, sy) = (dst[o] / 10, dst[o + 1] / 10);
            assert!(
                (6..=10).contains(&sx) && (6..=10).contains(&sy),
                "{sx},{sy}"
            );
        }
    }

    #[test]
    fn colour_jitter_stays_in_range_and_is_seeded() {
        let src = ramp(8);
        let aug = Augment {
            colour: 0.5,
            ..Augment::NONE
        };
        let run = |seed| {
            let mut dst = vec![0; src.len()];
            aug.apply(&src, &mut dst, &mut ChaCha8Rng::seed_from_u64(seed));
            dst
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), src);
    }
}
