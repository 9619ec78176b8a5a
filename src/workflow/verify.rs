//! Verification as a use case: the faces of a photo cut and embedded for a model, and the
//! verdict on two of them. `siamese-face compare` takes each photo's largest face; the
//! Compare panel embeds every face so that picking another one is instant.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::WorkflowError;
use crate::crop::CropConfig;
use crate::detect::Face;
use crate::imageio;
use crate::model::ModelMeta;
use crate::verify::{self, Verdict, Verifier, VerifyError};

/// Which faces of a photo to embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faces {
    /// The largest only (the one compared unless the user picks another).
    Largest,
    All,
}

/// A photo's accepted faces, largest first, with the crops and embeddings made of them
/// (`crops` and `embeddings` cover the first face only with [`Faces::Largest`]).
pub struct PhotoFaces {
    pub path: PathBuf,
    pub image: RgbImage,
    pub faces: Vec<Face>,
    pub crops: Vec<RgbImage>,
    pub embeddings: Vec<Vec<f32>>,
    /// The photo is cropped close to the face (found on a padded canvas).
    pub close_crop: bool,
}

/// Reads `path` and detects, cuts and embeds its faces for `verifier`'s model; a photo
/// without a face the model's crop filters accept is an error naming it.
pub fn photo_faces(
    verifier: &Verifier,
    path: &Path,
    which: Faces,
) -> Result<PhotoFaces, WorkflowError> {
    let image = imageio::load_rgb(path)?;
    let (faces, close_crop) = verifier.detect(&image)?;
    if faces.is_empty() {
        return Err(VerifyError::NoFace(path.display().to_string()).into());
    }
    let n = match which {
        Faces::Largest => 1,
        Faces::All => faces.len(),
    };
    let crops: Vec<RgbImage> = faces[..n]
        .iter()
        .map(|f| verifier.crop_of(&image, f))
        .collect();
    let embeddings = verifier.embed(&crops.iter().collect::<Vec<_>>());
    Ok(PhotoFaces {
        path: path.to_path_buf(),
        image,
        faces,
        crops,
        embeddings,
        close_crop,
    })
}

/// The verdict on face `i` of `a` against face `j` of `b` (faces that were embedded).
pub fn verdict(
    a: &PhotoFaces,
    i: usize,
    b: &PhotoFaces,
    j: usize,
    threshold: f32,
) -> Option<Verdict> {
    let (ea, eb) = (a.embeddings.get(i)?, b.embeddings.get(j)?);
    Some(verify::verdict(verify::cosine(ea, eb), threshold))
}

/// The comparison of face `i` of `a` with face `j` of `b` as JSON (`compare --json`, the
/// Compare page's Save result): the similarity; the verdict at `threshold` (null without
/// one); the error rates the model's calibration reads at that threshold; each face used.
pub fn comparison_json(
    (a, i): (&PhotoFaces, usize),
    (b, j): (&PhotoFaces, usize),
    threshold: Option<f32>,
    meta: &ModelMeta,
    crop: &CropConfig,
) -> Option<serde_json::Value> {
    let v = verdict(a, i, b, j, threshold.unwrap_or(0.0))?;
    let face = |p: &PhotoFaces, k: usize| {
        serde_json::json!({
            "path": p.path,
            "face": k,
            "box": p.faces[k].bbox,
            "score": p.faces[k].score,
            "faces_found": p.faces.len(),
            "close_crop": p.close_crop,
        })
    };
    let rates = match (threshold, &meta.calibration) {
        (Some(t), Some(c)) => serde_json::json!({
            "pairs": c.pairs,
            "false_accept_rate": c.false_accept_rate(t),
            "false_reject_rate": c.false_reject_rate(t),
        }),
        _ => serde_json::Value::Null,
    };
    Some(serde_json::json!({
        "similarity": v.similarity,
        "threshold": threshold,
        "same": threshold.map(|_| v.same),
        "error_rates": rates,
        "faces": [face(a, i), face(b, j)],
        "crop": crop,
    }))
}
