//! Face verification with a trained model: detect the face in each photo, crop it as the
//! model's training crops were cut, embed it, and compare embeddings by cosine similarity
//! against a threshold.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use image::RgbImage;
use serde::Serialize;

use crate::crop::{self, CropConfig};
use crate::detect::{DetectError, Detector, DetectorConfig, Face};
use crate::embed::{EMBEDDING_DIM, EmbeddingNet};
use crate::model::{self, ModelError, ModelMeta};

/// Used when a model has no chosen threshold yet.
pub const FALLBACK_THRESHOLD: f32 = 0.5;

/// Where the shipped default model lives (inside the source tree, so `cargo run` finds it;
/// `SIAMESE_FACE_MODEL` overrides it).
pub fn default_model_dir() -> PathBuf {
    std::env::var_os("SIAMESE_FACE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/default-model"))
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("no model at {0}: train one (siamese-face train) and pass --model DIR")]
    NoModel(PathBuf),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("{0}: no face found")]
    NoFace(String),
}

/// The face used from one photo.
#[derive(Debug, Clone)]
pub struct FaceCrop {
    pub face: Face,
    /// How many faces passed the filters (the largest is used).
    pub faces_found: usize,
    pub crop: RgbImage,
    /// The photo is cropped close to the face: it was found on a padded canvas.
    pub close_crop: bool,
}

/// A loaded model with the detector and crop settings that go with it.
pub struct Verifier {
    net: EmbeddingNet,
    pub meta: ModelMeta,
    pub dir: PathBuf,
    detector: Detector,
    pub crop: CropConfig,
    device: Device,
}

impl Verifier {
    pub fn load(dir: &Path, device: &Device) -> Result<Verifier, VerifyError> {
        if !dir.join("model.json").is_file() {
            return Err(VerifyError::NoModel(dir.to_path_buf()));
        }
        let device = device.clone().without_autodiff();
        let (net, meta) = model::load(dir, &device)?;
        let crop = meta.data.crop.unwrap_or(CropConfig {
            size: meta.input_size as u32,
            ..CropConfig::default()
        });
        Ok(Verifier {
            net: net.valid(),
            meta,
            dir: dir.to_path_buf(),
            detector: Detector::new(&device)?,
            crop,
            device,
        })
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The model's stored threshold, or [`FALLBACK_THRESHOLD`].
    pub fn threshold(&self) -> f32 {
        self.meta.threshold.unwrap_or(FALLBACK_THRESHOLD)
    }

    /// Every face in `img` that passes the crop filters, largest first (found on a padded
    /// canvas when the photo is cropped close to the face: [`Detector::detect_or_pad`]).
    pub fn faces(&self, img: &RgbImage) -> Result<Vec<Face>, VerifyError> {
        Ok(self.detect(img)?.0)
    }

    /// [`Verifier::faces`], and whether they were found on a padded canvas.
    pub fn detect(&self, img: &RgbImage) -> Result<(Vec<Face>, bool), VerifyError> {
        let detection = self
            .detector
            .detect_or_pad(img, &DetectorConfig::default(), |f| self.crop.accepts(f))?;
        let mut faces: Vec<Face> = detection
            .faces
            .into_iter()
            .filter(|f| self.crop.accepts(f))
            .collect();
        faces.sort_by(|a, b| (b.width() * b.height()).total_cmp(&(a.width() * a.height())));
        Ok((faces, detection.padded))
    }

    /// The largest face of `img`, cropped for the model; `name` labels the error.
    pub fn face(&self, img: &RgbImage, name: &str) -> Result<FaceCrop, VerifyError> {
        // `faces` is already filtered and sorted largest first.
        let (faces, padded) = self.detect(img)?;
        let face = faces
            .first()
            .ok_or_else(|| VerifyError::NoFace(name.to_string()))?;
        Ok(FaceCrop {
            crop: crop::crop_face(img, face, &self.crop),
            face: face.clone(),
            faces_found: faces.len(),
            close_crop: padded,
        })
    }

    /// A crop of `face` in `img` (for a face picked by the user among several).
    pub fn crop_of(&self, img: &RgbImage, face: &Face) -> RgbImage {
        crop::crop_face(img, face, &self.crop)
    }

    /// Unit embeddings of crops (any number; batched).
    pub fn embed(&self, crops: &[&RgbImage]) -> Vec<Vec<f32>> {
        let size = self.meta.input_size as u32;
        // Crops of another size (a user's file) are resized to the model's input.
        let resized: Vec<RgbImage> = crops
            .iter()
            .filter(|c| c.dimensions() != (size, size))
            .map(|c| image::imageops::resize(*c, size, size, image::imageops::FilterType::Triangle))
            .collect();
        let mut others = resized.iter();
        let refs: Vec<&RgbImage> = crops
            .iter()
            .map(|c| {
                if c.dimensions() == (size, size) {
                    *c
                } else {
                    others.next().expect("one resized crop per odd-sized one")
                }
            })
            .collect();
        let values = crate::embed::embed_crops(
            &self.net,
            &refs,
            &self.meta.normalisation,
            self.meta.flip_average,
            &self.device,
        );
        values
            .chunks_exact(EMBEDDING_DIM)
            .map(<[f32]>::to_vec)
            .collect()
    }
}

/// Cosine similarity of two embeddings (unit vectors: their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The verdict of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Verdict {
    pub similarity: f32,
    pub threshold: f32,
    pub same: bool,
}

pub fn verdict(similarity: f32, threshold: f32) -> Verdict {
    Verdict {
        similarity,
        threshold,
        same: similarity >= threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_hand_computed_vectors() {
        assert!((cosine(&[1.0, 0.0], &[0.0, 1.0])).abs() < 1e-7);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[3.0, 4.0], &[4.0, 3.0]) - 24.0 / 25.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn the_verdict_is_same_at_or_above_the_threshold() {
        assert!(verdict(0.5, 0.5).same);
        assert!(!verdict(0.49, 0.5).same);
        assert!(verdict(-0.1, -0.2).same);
    }
}
