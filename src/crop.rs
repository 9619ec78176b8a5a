//! Face crops for the embedding network: the box with a margin, or a landmark alignment
//! (similarity transform of the five MTCNN points onto a canonical template), resampled to
//! a square RGB image. Both go through one affine warp so they share sampling and borders.

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::detect::Face;

/// The five-point template of ArcFace/InsightFace for a 112x112 crop (eyes, nose tip,
/// mouth corners): the de-facto standard for aligned face crops.
const TEMPLATE_112: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// Where the five landmarks go in an aligned crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Template {
    /// ArcFace's 112x112 template, scaled to the crop and shrunk by the margin.
    #[default]
    Arcface,
    /// Where MTCNN's points fall in dlib's 150x150 face chips (`get_face_chip`, padding
    /// 0.25), the input dlib's face ResNet was trained on; measured on LFW DevTrain images
    /// by `scripts/dlib_reference.py template` (its `mapped` means).
    Dlib,
}

impl Template {
    /// The template in a `size` x `size` crop with `margin`.
    fn points(self, size: u32, margin: f32) -> [[f32; 2]; 5] {
        let (t, side) = match self {
            Template::Arcface => (TEMPLATE_112, 112.0),
            Template::Dlib => (TEMPLATE_DLIB_150, 150.0),
        };
        let size = size as f32;
        t.map(|p| p.map(|v| size * (0.5 + (v / side - 0.5) / (1.0 + margin))))
    }
}

/// MTCNN's five points in dlib's 150x150 chips: their mean over 997 LFW DevTrain images,
/// MTCNN run on the whole image and its points mapped into the chip by dlib's own chip
/// transform (running MTCNN on the tight chips themselves puts the eyes ~10 px too high).
const TEMPLATE_DLIB_150: [[f32; 2]; 5] = [
    [47.89, 46.15],
    [102.26, 46.05],
    [74.81, 77.92],
    [50.71, 105.49],
    [99.10, 105.40],
];

/// How crops are cut, and which detections are good enough to crop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropConfig {
    /// Side of the square output, in pixels.
    pub size: u32,
    /// Context added around the face, as a fraction of its size (0.2 = 10% on each side).
    pub margin: f32,
    /// Align on the landmarks instead of cropping the box.
    pub align: bool,
    /// The landmark template of an aligned crop.
    #[serde(default)]
    pub template: Template,
    /// Faces whose box side (the larger one) is smaller than this, in pixels, are skipped.
    pub min_face_size: f32,
    /// Faces with a lower detector probability are skipped.
    pub min_score: f32,
}

impl Default for CropConfig {
    fn default() -> Self {
        CropConfig {
            size: 100,
            margin: 0.2,
            align: false,
            template: Template::Arcface,
            min_face_size: 20.0,
            min_score: 0.9,
        }
    }
}

impl CropConfig {
    /// dlib's face chips: 150 px, aligned on the dlib template, no extra margin.
    pub const DLIB: CropConfig = CropConfig {
        size: 150,
        margin: 0.0,
        align: true,
        template: Template::Dlib,
        min_face_size: 20.0,
        min_score: 0.9,
    };

    pub fn validate(&self) -> Result<(), String> {
        if !(16..=1024).contains(&self.size) {
            return Err(format!(
                "crop size must lie in 16..1024 px, got {}",
                self.size
            ));
        }
        if !(0.0..=2.0).contains(&self.margin) {
            return Err(format!("margin must lie in 0..2, got {}", self.margin));
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(format!(
                "minimum score must lie in 0..1, got {}",
                self.min_score
            ));
        }
        Ok(())
    }

    /// Whether a detection passes the size and probability filters.
    pub fn accepts(&self, face: &Face) -> bool {
        face.score >= self.min_score && face.width().max(face.height()) >= self.min_face_size
    }

    /// A short stable name for these settings (used to key caches).
    pub fn key(&self) -> String {
        let how = match (self.align, self.template) {
            (false, _) => "box",
            (true, Template::Arcface) => "aligned",
            (true, Template::Dlib) => "aligned-dlib",
        };
        format!(
            "crop{}-m{:.2}-{how}-min{}-p{:.2}",
            self.size, self.margin, self.min_face_size, self.min_score
        )
    }
}

/// Which face to keep when an image holds several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FacePick {
    /// Nearest the image centre: LFW images are centred on the named person.
    #[default]
    NearestCentre,
    /// The largest box.
    Largest,
}

/// The index of the face to use among those `cfg` accepts, or `None` when none passes.
pub fn pick_face(
    faces: &[Face],
    width: u32,
    height: u32,
    cfg: &CropConfig,
    pick: FacePick,
) -> Option<usize> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let candidates = faces.iter().enumerate().filter(|(_, f)| cfg.accepts(f));
    match pick {
        FacePick::NearestCentre => candidates
            .map(|(i, f)| {
                let [x, y] = f.centre();
                (i, (x - cx).powi(2) + (y - cy).powi(2))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i),
        FacePick::Largest => candidates
            .map(|(i, f)| (i, f.width() * f.height()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i),
    }
}

/// An affine map from output pixel coordinates to source coordinates:
/// `src = [a*u + b*v + c, d*u + e*v + f]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [f32; 6]);

impl Affine {
    pub fn apply(&self, u: f32, v: f32) -> [f32; 2] {
        let m = &self.0;
        [m[0] * u + m[1] * v + m[2], m[3] * u + m[4] * v + m[5]]
    }
}

/// Crops `face` from `img` as `cfg` says (box with margin, or aligned on its landmarks).
pub fn crop_face(img: &RgbImage, face: &Face, cfg: &CropConfig) -> RgbImage {
    let map = if cfg.align {
        alignment(&face.landmarks, &cfg.template.points(cfg.size, cfg.margin))
    } else {
        box_map(face.bbox, cfg.size, cfg.margin)
    };
    warp(img, &map, cfg.size)
}

/// The central square of the image, for images where no face was found (LFW's
/// deep-funneled images are roughly aligned, the face filling about the middle 45%).
pub fn centre_crop(img: &RgbImage, size: u32, margin: f32) -> RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let side = 0.45 * w.min(h);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let b = [
        cx - side / 2.0,
        cy - side / 2.0,
        cx + side / 2.0,
        cy + side / 2.0,
    ];
    warp(img, &box_map(b, size, margin), size)
}

/// Square crop centred on the box, its side the box's larger side plus the margin.
fn box_map(b: [f32; 4], size: u32, margin: f32) -> Affine {
    let side = (b[2] - b[0]).max(b[3] - b[1]) * (1.0 + margin);
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let s = side / size as f32;
    Affine([s, 0.0, cx - side / 2.0, 0.0, s, cy - side / 2.0])
}

/// The similarity transform taking the landmarks onto the template points `dst` (in crop
/// pixels), returned inverted: output pixel -> source pixel.
pub fn alignment(landmarks: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Affine {
    let [a, b, tx, ty] = similarity(landmarks, dst);
    // Forward: q = [[a, -b], [b, a]] p + t. Inverse: p = M^-1 (q - t).
    let det = a * a + b * b;
    let (ia, ib) = (a / det, b / det);
    // M^-1 = [[ia, ib], [-ib, ia]]
    Affine([ia, ib, -(ia * tx + ib * ty), -ib, ia, -(-ib * tx + ia * ty)])
}

/// Least-squares similarity (rotation, uniform scale, translation; no reflection) taking
/// `src` points onto `dst`: returns `[a, b, tx, ty]` with `q = [[a, -b], [b, a]] p + t`
/// (Umeyama's solution, which in 2-D has this closed form).
pub fn similarity(src: &[[f32; 2]], dst: &[[f32; 2]]) -> [f32; 4] {
    let n = src.len() as f32;
    let mean = |pts: &[[f32; 2]]| {
        let s = pts
            .iter()
            .fold([0.0f32; 2], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
        [s[0] / n, s[1] / n]
    };
    let (ps, qs) = (mean(src), mean(dst));
    let (mut dot, mut cross, mut norm) = (0.0f32, 0.0f32, 0.0f32);
    for (p, q) in src.iter().zip(dst) {
        let (px, py) = (p[0] - ps[0], p[1] - ps[1]);
        let (qx, qy) = (q[0] - qs[0], q[1] - qs[1]);
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
        norm += px * px + py * py;
    }
    if norm <= f32::EPSILON {
        // Degenerate landmarks (all in one place): translate only.
        return [1.0, 0.0, qs[0] - ps[0], qs[1] - ps[1]];
    }
    let (a, b) = (dot / norm, cross / norm);
    [
        a,
        b,
        qs[0] - (a * ps[0] - b * ps[1]),
        qs[1] - (b * ps[0] + a * ps[1]),
    ]
}

/// Resamples `img` through `map` into a `size` x `size` image: bilinear, supersampled when
/// the map shrinks (so large faces do not alias), black outside the image.
pub fn warp(img: &RgbImage, map: &Affine, size: u32) -> RgbImage {
    let m = &map.0;
    // Source pixels per output pixel, along the longer axis of the map.
    let scale = (m[0] * m[0] + m[3] * m[3])
        .sqrt()
        .max((m[1] * m[1] + m[4] * m[4]).sqrt());
    let k = (scale.ceil() as u32).clamp(1, 8);
    let (w, h) = (img.width() as i64, img.height() as i64);
    let px = |x: i64, y: i64| -> [f32; 3] {
        if x < 0 || y < 0 || x >= w || y >= h {
            [0.0; 3]
        } else {
            img.get_pixel(x as u32, y as u32).0.map(f32::from)
        }
    };
    let mut out = RgbImage::new(size, size);
    let inv_k = 1.0 / k as f32;
    for (u, v, pixel) in out.enumerate_pixels_mut() {
        let mut acc = [0.0f32; 3];
        for sy in 0..k {
            for sx in 0..k {
                let ou = u as f32 + (sx as f32 + 0.5) * inv_k;
                let ov = v as f32 + (sy as f32 + 0.5) * inv_k;
                // Continuous source position -> pixel-centre coordinates.
                let [x, y] = map.apply(ou, ov);
                let (x, y) = (x - 0.5, y - 0.5);
                let (x0, y0) = (x.floor(), y.floor());
                let (fx, fy) = (x - x0, y - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let (p00, p10, p01, p11) = (
                    px(x0, y0),
                    px(x0 + 1, y0),
                    px(x0, y0 + 1),
                    px(x0 + 1, y0 + 1),
                );
                for c in 0..3 {
                    let top = p00[c] + (p10[c] - p00[c]) * fx;
                    let bottom = p01[c] + (p11[c] - p01[c]) * fx;
                    acc[c] += top + (bottom - top) * fy;
                }
            }
        }
        let n = (k * k) as f32;
        *pixel = Rgb(acc.map(|a| (a / n).round().clamp(0.0, 255.0) as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(bbox: [f32; 4], score: f32) -> Face {
        Face {
            bbox,
            score,
            landmarks: [[0.0; 2]; 5],
        }
    }

    #[test]
    fn similarity_recovers_a_known_transform() {
        // q = 2 * R(30deg) p + (5, -3)
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let (a, b) = (2.0 * c, 2.0 * s);
        let src = [
            [0.0, 0.0],
            [10.0, 0.0],
            [0.0, 10.0],
            [7.0, 3.0],
            [-4.0, 8.0],
        ];
        let dst: Vec<[f32; 2]> = src
            .iter()
            .map(|p| [a * p[0] - b * p[1] + 5.0, b * p[0] + a * p[1] - 3.0])
            .collect();
        let got = similarity(&src, &dst);
        for (g, e) in got.iter().zip([a, b, 5.0, -3.0]) {
            assert!((g - e).abs() < 1e-4, "{got:?}");
        }
    }

    #[test]
    fn alignment_maps_template_points_back_onto_the_landmarks() {
        // Landmarks that are the template itself, shifted and scaled by 3.
        let lm = TEMPLATE_112.map(|p| [3.0 * p[0] + 40.0, 3.0 * p[1] + 10.0]);
        let map = alignment(&lm, &Template::Arcface.points(112, 0.0));
        for (t, l) in TEMPLATE_112.iter().zip(&lm) {
            let p = map.apply(t[0], t[1]);
            assert!((p[0] - l[0]).abs() < 1e-2 && (p[1] - l[1]).abs() < 1e-2);
        }
    }

    #[test]
    fn templates_scale_to_the_crop_and_the_margin() {
        // The dlib template is in 150 px chip pixels already.
        for (p, t) in Template::Dlib
            .points(150, 0.0)
            .iter()
            .zip(TEMPLATE_DLIB_150)
        {
            assert!((p[0] - t[0]).abs() < 1e-4 && (p[1] - t[1]).abs() < 1e-4);
        }
        let t = Template::Arcface.points(224, 0.0);
        assert!((t[0][0] - 2.0 * TEMPLATE_112[0][0]).abs() < 1e-4);
        // A margin pulls the points towards the centre.
        let m = Template::Dlib.points(150, 0.5);
        assert!((m[0][0] - 75.0).abs() < (TEMPLATE_DLIB_150[0][0] - 75.0).abs());
        assert_ne!(
            CropConfig::DLIB.key(),
            CropConfig {
                template: Template::Arcface,
                ..CropConfig::DLIB
            }
            .key()
        );
    }

    #[test]
    fn box_crop_of_a_uniform_region_is_uniform_and_outside_is_black() {
        let mut img = RgbImage::from_pixel(200, 200, Rgb([0, 0, 0]));
        for y in 50..150 {
            for x in 50..150 {
                img.put_pixel(x, y, Rgb([200, 100, 50]));
            }
        }
        let f = face([50.0, 50.0, 150.0, 150.0], 0.99);
        let cfg = CropConfig::default();
        let crop = crop_face(&img, &f, &cfg);
        assert_eq!(crop.dimensions(), (100, 100));
        assert_eq!(crop.get_pixel(50, 50).0, [200, 100, 50]);
        // The 20% margin is outside the square: black.
        assert_eq!(crop.get_pixel(2, 2).0, [0, 0, 0]);
        // A box near the image corner pads with black rather than failing.
        let corner = crop_face(&img, &face([-30.0, -30.0, 20.0, 20.0], 0.99), &cfg);
        assert_eq!(corner.get_pixel(0, 0).0, [0, 0, 0]);
    }

    #[test]
    fn filters_and_picks_faces() {
        let cfg = CropConfig::default();
        let faces = [
            face([0.0, 0.0, 60.0, 60.0], 0.99),     // large, off-centre
            face([80.0, 80.0, 120.0, 120.0], 0.98), // centred
            face([95.0, 95.0, 105.0, 105.0], 0.99), // too small
            face([90.0, 90.0, 130.0, 130.0], 0.5),  // improbable
        ];
        assert_eq!(
            pick_face(&faces, 200, 200, &cfg, FacePick::NearestCentre),
            Some(1)
        );
        assert_eq!(
            pick_face(&faces, 200, 200, &cfg, FacePick::Largest),
            Some(0)
        );
        assert_eq!(
            pick_face(&faces[2..], 200, 200, &cfg, FacePick::Largest),
            None
        );
    }
}
