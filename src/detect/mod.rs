//! MTCNN face detection (P-Net -> R-Net -> O-Net cascade), a faithful port of
//! facenet-pytorch 2.6.0's `detect_face` onto Burn: same pyramid, thresholds, resampling,
//! suppression and box arithmetic (in f32, like the reference), checked against its outputs
//! by `tests/mtcnn_reference.rs`.

pub mod nets;
mod nms;
mod resample;
pub mod weights;

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use nets::MtcnnNets;
use nms::{Corners, nms_iou, nms_min};
use resample::{Region, Resampler};
pub use weights::WeightsError;

/// The largest first pyramid level, in pixels. Bigger images start the pyramid at a coarser
/// scale (the smallest findable face grows accordingly), which bounds P-Net's memory: a
/// 12000x12000 photo would otherwise need ~2 GB for its first convolution alone.
pub const MAX_PYRAMID_PIXELS: usize = 4_000_000;

/// R-Net/O-Net candidates per forward pass.
const STAGE_BATCH: usize = 512;

/// The detector's tunable settings; the defaults are MTCNN's published ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorConfig {
    /// Smallest face side, in pixels, that the pyramid looks for.
    pub min_face_size: f32,
    /// Face-probability thresholds of P-Net, R-Net and O-Net.
    pub thresholds: [f32; 3],
    /// Scale step between pyramid levels.
    pub factor: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            min_face_size: 20.0,
            thresholds: [0.6, 0.7, 0.7],
            factor: 0.709,
        }
    }
}

impl DetectorConfig {
    pub fn validate(&self) -> Result<(), DetectError> {
        let bad = |m: String| Err(DetectError::InvalidConfig(m));
        if !(self.min_face_size >= 4.0 && self.min_face_size.is_finite()) {
            return bad(format!(
                "minimum face size must be at least 4 px, got {}",
                self.min_face_size
            ));
        }
        if let Some(t) = self.thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
            return bad(format!("thresholds must lie in 0..1, got {t}"));
        }
        if !(0.3..=0.95).contains(&self.factor) {
            return bad(format!(
                "pyramid factor must lie in 0.3..0.95, got {}",
                self.factor
            ));
        }
        Ok(())
    }
}

/// One detected face, in pixel coordinates of the input image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Face {
    /// `[x1, y1, x2, y2]`.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// O-Net's face probability.
    pub score: f32,
    /// Left eye, right eye, nose, left and right mouth corners (as seen in the image).
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    pub fn width(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }

    pub fn height(&self) -> f32 {
        self.bbox[3] - self.bbox[1]
    }

    pub fn centre(&self) -> [f32; 2] {
        [
            (self.bbox[0] + self.bbox[2]) / 2.0,
            (self.bbox[1] + self.bbox[3]) / 2.0,
        ]
    }

    /// Intersection over union with another face's box.
    pub fn iou(&self, other: &Face) -> f32 {
        let (a, b) = (&self.bbox, &other.bbox);
        let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
        let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        let inter = w * h;
        let union = self.width() * self.height() + other.width() * other.height() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// The faces found in one image, largest first (as facenet-pytorch's `select_largest`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub width: u32,
    pub height: u32,
    pub faces: Vec<Face>,
    /// The smallest face size actually searched: larger than the configured one when the
    /// image exceeded [`MAX_PYRAMID_PIXELS`].
    pub min_face_size_used: f32,
    /// The faces were found on the photo set in a black border ([`Detector::detect_or_pad`]):
    /// it is cropped close to the face.
    pub padded: bool,
}

/// The border [`Detector::detect_or_pad`] sets a photo in, as a fraction of its longer side
/// on every side: enough for a face that fills the frame to get the context MTCNN's later
/// stages look at (its forehead and chin may be outside the photo).
pub const CROP_PHOTO_BORDER: f32 = 0.4;

/// Whether a face box runs out of a `width` x `height` photo by more than a tenth of its
/// side: the photo cuts the face.
fn leaves_frame(b: [f32; 4], width: u32, height: u32) -> bool {
    let side = (b[2] - b[0]).max(b[3] - b[1]);
    let out = (-b[0])
        .max(-b[1])
        .max(b[2] - width as f32)
        .max(b[3] - height as f32);
    out > 0.1 * side
}

/// Whether at least half of a box lies inside a `width` x `height` photo (a face found in
/// the border alone is not one of the photo's).
fn overlaps(b: [f32; 4], width: u32, height: u32) -> bool {
    let inside_w = (b[2].min(width as f32) - b[0].max(0.0)).max(0.0);
    let inside_h = (b[3].min(height as f32) - b[1].max(0.0)).max(0.0);
    inside_w * inside_h >= 0.5 * (b[2] - b[0]) * (b[3] - b[1])
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("invalid detector settings: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("reading a network output failed: {0}")]
    Tensor(String),
}

/// A candidate box travelling through the cascade.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    corners: Corners,
    score: f32,
    reg: [f32; 4],
}

/// MTCNN with its pretrained weights on one device.
#[derive(Debug)]
pub struct Detector {
    nets: MtcnnNets,
    device: Device,
}

impl Detector {
    /// The detector with the weights compiled into the program.
    pub fn new(device: &Device) -> Result<Detector, DetectError> {
        Ok(Detector::from_nets(weights::load_embedded(device)?, device))
    }

    pub fn from_nets(nets: MtcnnNets, device: &Device) -> Detector {
        Detector {
            nets,
            device: device.clone(),
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Finds the faces in `img`.
    pub fn detect(&self, img: &RgbImage, cfg: &DetectorConfig) -> Result<Detection, DetectError> {
        cfg.validate()?;
        let mut detection = Detection {
            width: img.width(),
            height: img.height(),
            faces: Vec::new(),
            min_face_size_used: cfg.min_face_size,
            padded: false,
        };
        if img.width() == 0 || img.height() == 0 {
            return Ok(detection);
        }
        let (scales, min_face) = pyramid(img.width() as usize, img.height() as usize, cfg);
        detection.min_face_size_used = min_face;
        let img = Resampler::new(img);
        let boxes = self.proposals(&img, &scales, cfg.thresholds[0])?;
        if boxes.is_empty() {
            return Ok(detection);
        }
        let boxes = self.refine(&img, boxes, cfg.thresholds[1])?;
        if boxes.is_empty() {
            return Ok(detection);
        }
        detection.faces = self.output(&img, boxes, cfg.thresholds[2])?;
        Ok(detection)
    }

    /// Like [`Detector::detect`], and when no face there passes `accepts`, or one runs out
    /// of the frame, once more on the photo set in a black border ([`CROP_PHOTO_BORDER`]).
    /// A photo already cropped to the face (an avatar, an ID photo, a picture cut in an
    /// editor) often has no face MTCNN accepts as it is, or one whose landmarks are far off
    /// (on LFW faces cut above the eyebrows the eyes came out 20 px too high, and the
    /// aligned crop with them); with the border, O-Net sees the whole face. Faces found
    /// that way are returned in the photo's own coordinates, with `padded` set. A photo
    /// with no face at all still has none.
    pub fn detect_or_pad(
        &self,
        img: &RgbImage,
        cfg: &DetectorConfig,
        accepts: impl Fn(&Face) -> bool,
    ) -> Result<Detection, DetectError> {
        let detection = self.detect(img, cfg)?;
        let (w, h) = (img.width(), img.height());
        let found = detection.faces.iter().any(&accepts);
        let cut = detection
            .faces
            .iter()
            .any(|f| accepts(f) && leaves_frame(f.bbox, w, h));
        if (found && !cut) || w == 0 || h == 0 {
            return Ok(detection);
        }
        let border = (CROP_PHOTO_BORDER * img.width().max(img.height()) as f32).round() as u32;
        let mut canvas = RgbImage::new(img.width() + 2 * border, img.height() + 2 * border);
        image::imageops::replace(&mut canvas, img, i64::from(border), i64::from(border));
        let mut padded = self.detect(&canvas, cfg)?;
        let shift = border as f32;
        for face in &mut padded.faces {
            face.bbox = [0, 1, 2, 3].map(|i| face.bbox[i] - shift);
            face.landmarks = face.landmarks.map(|[x, y]| [x - shift, y - shift]);
        }
        padded
            .faces
            .retain(|f| accepts(f) && overlaps(f.bbox, img.width(), img.height()));
        if padded.faces.is_empty() {
            return Ok(detection);
        }
        Ok(Detection {
            width: img.width(),
            height: img.height(),
            padded: true,
            ..padded
        })
    }

    /// Stage one: P-Net over the pyramid, suppressed across scales, with its regression
    /// applied (widths without the +1, as the reference) and squared.
    fn proposals(
        &self,
        img: &Resampler<'_>,
        scales: &[f64],
        threshold: f32,
    ) -> Result<Vec<Candidate>, DetectError> {
        // The levels run side by side: each is too small to keep every core busy on its
        // own (the first is about half the pixels, the rest the other half). The boxes
        // keep the levels' order, so the suppression sees them as a sequential run would.
        let levels: Vec<Vec<Candidate>> = scales
            .par_iter()
            .map(|&scale| self.stage_one(img, scale, threshold))
            .collect::<Result<_, _>>()?;
        let boxes = suppress(levels.concat(), 0.7)
            .into_iter()
            .map(|c| {
                let [x1, y1, x2, y2] = c.corners;
                let (bw, bh) = (x2 - x1, y2 - y1);
                let corners = [
                    x1 + c.reg[0] * bw,
                    y1 + c.reg[1] * bh,
                    x2 + c.reg[2] * bw,
                    y2 + c.reg[3] * bh,
                ];
                Candidate {
                    corners: square(corners),
                    ..c
                }
            })
            .collect();
        Ok(boxes)
    }

    /// Stage two: R-Net on 24x24 crops, suppressed, regressed and squared.
    fn refine(
        &self,
        img: &Resampler<'_>,
        boxes: Vec<Candidate>,
        threshold: f32,
    ) -> Result<Vec<Candidate>, DetectError> {
        let (boxes, input) = crops(img, boxes, 24);
        let mut kept = Vec::new();
        for (chunk_boxes, chunk) in boxes
            .chunks(STAGE_BATCH)
            .zip(input.chunks(STAGE_BATCH * 3 * 24 * 24))
        {
            let (reg, prob) = self.nets.rnet.forward(self.tensor(chunk, 24));
            let (reg, prob) = (read(reg)?, read(prob)?);
            for (i, c) in chunk_boxes.iter().enumerate() {
                if prob[i] > threshold {
                    kept.push(Candidate {
                        corners: c.corners,
                        score: prob[i],
                        reg: [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]],
                    });
                }
            }
        }
        Ok(suppress(kept, 0.7)
            .into_iter()
            .map(|c| Candidate {
                corners: square(regress(c.corners, c.reg)),
                ..c
            })
            .collect())
    }

    /// Stage three: O-Net on 48x48 crops, with landmarks; the final "Min" suppression, and
    /// the faces largest first.
    fn output(
        &self,
        img: &Resampler<'_>,
        boxes: Vec<Candidate>,
        threshold: f32,
    ) -> Result<Vec<Face>, DetectError> {
        let (boxes, input) = crops(img, boxes, 48);
        let mut faces = Vec::new();
        for (chunk_boxes, chunk) in boxes
            .chunks(STAGE_BATCH)
            .zip(input.chunks(STAGE_BATCH * 3 * 48 * 48))
        {
            let (reg, marks, prob) = self.nets.onet.forward(self.tensor(chunk, 48));
            let (reg, marks, prob) = (read(reg)?, read(marks)?, read(prob)?);
            for (i, c) in chunk_boxes.iter().enumerate() {
                if prob[i] <= threshold {
                    continue;
                }
                let [x1, y1, x2, y2] = c.corners;
                let (bw, bh) = (x2 - x1 + 1.0, y2 - y1 + 1.0);
                let p = &marks[i * 10..i * 10 + 10];
                let landmarks =
                    std::array::from_fn(|k| [bw * p[k] + x1 - 1.0, bh * p[k + 5] + y1 - 1.0]);
                let reg = [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]];
                faces.push(Face {
                    bbox: regress(c.corners, reg),
                    score: prob[i],
                    landmarks,
                });
            }
        }
        let corners: Vec<Corners> = faces.iter().map(|f| f.bbox).collect();
        let scores: Vec<f32> = faces.iter().map(|f| f.score).collect();
        let mut faces: Vec<Face> = nms_min(&corners, &scores, 0.7)
            .into_iter()
            .map(|i| faces[i].clone())
            .collect();
        faces.sort_by(|a, b| (b.width() * b.height()).total_cmp(&(a.width() * a.height())));
        Ok(faces)
    }

    /// P-Net on one pyramid level: candidate windows above `threshold`, suppressed at 0.5.
    fn stage_one(
        &self,
        img: &Resampler<'_>,
        scale: f64,
        threshold: f32,
    ) -> Result<Vec<Candidate>, DetectError> {
        let hs = (img.height() as f64 * scale + 1.0) as usize;
        let ws = (img.width() as f64 * scale + 1.0) as usize;
        let mut input = vec![0.0; 3 * hs * ws];
        img.resize_to(img.whole(), hs, ws, &mut input);
        let x = Tensor::<4>::from_data(TensorData::new(input, [1, 3, hs, ws]), &self.device);
        let (reg, prob) = self.nets.pnet.forward(x);
        let [_, _, oh, ow] = reg.dims();
        let (reg, prob) = (read(reg)?, read(prob)?);
        let plane = oh * ow;
        let scale = scale as f32;
        let mut out = Vec::new();
        for y in 0..oh {
            for x in 0..ow {
                let i = y * ow + x;
                if prob[i] >= threshold {
                    // Each P-Net cell is a 12x12 window at stride 2 in the scaled image.
                    let (fx, fy) = (x as f32, y as f32);
                    out.push(Candidate {
                        corners: [
                            ((2.0 * fx + 1.0) / scale).floor(),
                            ((2.0 * fy + 1.0) / scale).floor(),
                            ((2.0 * fx + 12.0) / scale).floor(),
                            ((2.0 * fy + 12.0) / scale).floor(),
                        ],
                        score: prob[i],
                        reg: std::array::from_fn(|c| reg[c * plane + i]),
                    });
                }
            }
        }
        Ok(suppress(out, 0.5))
    }

    fn tensor(&self, data: &[f32], side: usize) -> Tensor<4> {
        let n = data.len() / (3 * side * side);
        Tensor::from_data(
            TensorData::new(data.to_vec(), [n, 3, side, side]),
            &self.device,
        )
    }
}

fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, DetectError> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| DetectError::Tensor(format!("{e:?}")))
}

/// torchvision-style NMS over candidates, best first.
fn suppress(c: Vec<Candidate>, threshold: f32) -> Vec<Candidate> {
    let corners: Vec<Corners> = c.iter().map(|c| c.corners).collect();
    let scores: Vec<f32> = c.iter().map(|c| c.score).collect();
    nms_iou(&corners, &scores, threshold)
        .into_iter()
        .map(|i| c[i])
        .collect()
}

/// Box regression with pixel-inclusive widths (R-Net and O-Net stages).
fn regress(b: Corners, reg: [f32; 4]) -> Corners {
    let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
    [
        b[0] + reg[0] * w,
        b[1] + reg[1] * h,
        b[2] + reg[2] * w,
        b[3] + reg[3] * h,
    ]
}

/// Grows a box to a square around its centre (the reference's `rerec`).
fn square(b: Corners) -> Corners {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let l = w.max(h);
    let x1 = b[0] + w * 0.5 - l * 0.5;
    let y1 = b[1] + h * 0.5 - l * 0.5;
    [x1, y1, x1 + l, y1 + l]
}

/// Crops each box (truncated to whole pixels and clipped to the image, as the reference's
/// `pad`) and resamples it to `side` x `side`. Boxes lying wholly outside the image are
/// dropped, and the returned candidates line up with the crops.
fn crops(img: &Resampler<'_>, boxes: Vec<Candidate>, side: usize) -> (Vec<Candidate>, Vec<f32>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let region = |c: &Candidate| {
        let [x, y, ex, ey] = c.corners.map(|v| v.trunc() as i64);
        let (x, y, ex, ey) = (x.max(1), y.max(1), ex.min(w), ey.min(h));
        (ey > y - 1 && ex > x - 1).then(|| Region {
            x0: (x - 1) as u32,
            y0: (y - 1) as u32,
            x1: ex as u32,
            y1: ey as u32,
        })
    };
    let kept: Vec<(Candidate, Region)> = boxes
        .into_iter()
        .filter_map(|c| region(&c).map(|r| (c, r)))
        .collect();
    // Hundreds of boxes, each resampled on its own: spread over the threads, in order.
    let mut data = vec![0.0; kept.len() * 3 * side * side];
    data.par_chunks_mut(3 * side * side)
        .zip(&kept)
        .for_each(|(out, (_, r))| img.resize_to(*r, side, side, out));
    (kept.into_iter().map(|(c, _)| c).collect(), data)
}

/// The pyramid's scales for a `w` x `h` image, in f64 as the reference computes them in
/// Python floats, and the smallest face they find: the configured one, or larger when the
/// image is so big that its first level would exceed [`MAX_PYRAMID_PIXELS`].
fn pyramid(w: usize, h: usize, cfg: &DetectorConfig) -> (Vec<f64>, f32) {
    let mut m = 12.0 / cfg.min_face_size as f64;
    let mut min_face = cfg.min_face_size;
    let pixels = (w * h) as f64;
    if pixels * m * m > MAX_PYRAMID_PIXELS as f64 {
        m = (MAX_PYRAMID_PIXELS as f64 / pixels).sqrt();
        min_face = (12.0 / m) as f32;
    }
    let mut scales = Vec::new();
    let mut minl = w.min(h) as f64 * m;
    let mut scale = m;
    while minl >= 12.0 {
        scales.push(scale);
        scale *= cfg.factor as f64;
        minl *= cfg.factor as f64;
    }
    (scales, min_face)
}

#[cfg(test)]
mod tests;
