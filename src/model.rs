//! A trained model on disk: `model.bpk` (the weights, a burnpack) and `model.json` (a
//! [`ModelMeta`]: architecture, input, crop, training settings, threshold). Saving and
//! loading live here, outside the trainer, so verification, evaluation and the app read a
//! model without knowing how it was trained.

use std::path::Path;

use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::embed::config::TrainConfig;
use crate::embed::data::DataSummary;
use crate::embed::events::TrainSummary;
use crate::embed::validation::Validation;
use crate::embed::{BackboneKind, EMBEDDING_DIM, EmbeddingNet, Normalisation};

/// A model folder that cannot be read or written, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("model {path}: {message}")]
pub struct ModelError {
    pub path: String,
    pub message: String,
}

fn error(dir: &Path, message: impl std::fmt::Display) -> ModelError {
    ModelError {
        path: dir.display().to_string(),
        message: message.to_string(),
    }
}

/// What is stored beside the weights (`model.json` next to `model.bpk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub backbone: BackboneKind,
    pub input_size: usize,
    /// How crops become inputs: (rgb / 255 - mean) / std.
    pub normalisation: Normalisation,
    pub embedding_dim: usize,
    /// How embeddings were compared in training and are compared in verification.
    pub distance: String,
    pub train: TrainConfig,
    pub data: DataSummary,
    pub initial_weights: String,
    pub steps: usize,
    /// The last validation of the run, if any.
    pub validation: Option<Validation>,
    /// The verification threshold (cosine similarity), once one has been chosen.
    pub threshold: Option<f32>,
    /// Average each face's embedding with its mirror image's (see [`TrainConfig`]).
    #[serde(default)]
    pub flip_average: bool,
}

impl ModelMeta {
    /// Metadata for a model trained by `job`'s settings, ending as `summary` says. The
    /// threshold starts as the validation's best one.
    pub fn new(cfg: &TrainConfig, data: DataSummary, summary: &TrainSummary) -> ModelMeta {
        ModelMeta {
            backbone: cfg.backbone,
            input_size: data.crop_size,
            normalisation: cfg.backbone.normalisation(),
            embedding_dim: EMBEDDING_DIM,
            distance: "trained on squared Euclidean distance between unit embeddings; verified by cosine similarity (= 1 - d/2)".into(),
            train: cfg.clone(),
            data,
            initial_weights: summary.initial_weights.clone(),
            steps: summary.steps,
            validation: summary.validation,
            threshold: summary.validation.map(|v| v.threshold),
            flip_average: cfg.flip_average,
        }
    }
}

/// Writes `model.bpk` and `model.json` into `dir` (each atomically).
pub fn save(net: &EmbeddingNet, meta: &ModelMeta, dir: &Path) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| error(dir, e))?;
    crate::embedded::save_burnpack(net, &dir.join("model.bpk"), &[]).map_err(|e| error(dir, e))?;
    write_meta(dir, meta)
}

fn write_meta(dir: &Path, meta: &ModelMeta) -> Result<(), ModelError> {
    let json = serde_json::to_vec_pretty(meta).map_err(|e| error(dir, e))?;
    crate::imageio::write_atomic(&dir.join("model.json"), &json).map_err(|e| error(dir, e))
}

/// Reads `model.json` of the model folder `dir`.
pub fn read_meta(dir: &Path) -> Result<ModelMeta, ModelError> {
    let bytes = std::fs::read(dir.join("model.json"))
        .map_err(|e| error(dir, format!("model.json: {e}")))?;
    let meta: ModelMeta = serde_json::from_slice(&bytes).map_err(|e| {
        error(
            dir,
            format!("model.json is not model metadata of this version: {e}"),
        )
    })?;
    check(&meta).map_err(|m| error(dir, format!("model.json: {m}")))?;
    Ok(meta)
}

/// The largest input side a model may declare (the backbones take 32-299 px).
const MAX_INPUT: usize = 1024;

/// Why a model.json's values cannot work, naming the field: they would panic the network,
/// take forever, or give verdicts that mean nothing.
fn check(meta: &ModelMeta) -> Result<(), String> {
    let min = meta.backbone.min_input();
    if !(min..=MAX_INPUT).contains(&meta.input_size) {
        return Err(format!(
            "input_size {} is outside {min}..{MAX_INPUT} px ({} needs at least {min})",
            meta.input_size, meta.backbone
        ));
    }
    let n = &meta.normalisation;
    if n.mean.iter().any(|m| !m.is_finite()) || n.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(format!(
            "normalisation needs finite means and positive finite stds (mean {:?}, std {:?})",
            n.mean, n.std
        ));
    }
    if let Some(t) = meta.threshold
        && !(-1.0..=1.0).contains(&t)
    {
        return Err(format!("threshold {t} is not a cosine similarity (-1..1)"));
    }
    if let Some(crop) = &meta.data.crop {
        crop.validate().map_err(|e| format!("data.crop: {e}"))?;
    }
    Ok(())
}

/// Reads a model saved by [`save`]; a file of another architecture is refused.
pub fn load(dir: &Path, device: &Device) -> Result<(EmbeddingNet, ModelMeta), ModelError> {
    let err = |message: String| error(dir, message);
    let meta = read_meta(dir)?;
    if meta.embedding_dim != EMBEDDING_DIM {
        return Err(err(format!(
            "{}-d embeddings are not supported by this build",
            meta.embedding_dim
        )));
    }
    let mut net = EmbeddingNet::new(meta.backbone, device);
    let mut store = BurnpackStore::from_file(dir.join("model.bpk")).auto_extension(false);
    let result = net.load_from(&mut store).map_err(|e| {
        err(format!(
            "model.bpk does not fit a {} network: {e}",
            meta.backbone
        ))
    })?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(err(format!(
            "model.bpk does not fit a {} network ({} tensors missing, {} errors)",
            meta.backbone,
            result.missing.len(),
            result.errors.len()
        )));
    }
    Ok((net, meta))
}

/// What identifies a model's embeddings: a hash of its weights and of every model.json
/// field that changes an embedding (backbone, input size, normalisation, mirror averaging,
/// crop). A face index keys its embeddings by it, so it notices another model.
pub fn model_id(dir: &Path) -> Result<String, ModelError> {
    let meta = read_meta(dir)?;
    let weights =
        std::fs::read(dir.join("model.bpk")).map_err(|e| error(dir, format!("model.bpk: {e}")))?;
    let fields = serde_json::json!({
        "backbone": meta.backbone,
        "input_size": meta.input_size,
        "normalisation": meta.normalisation,
        "flip_average": meta.flip_average,
        "crop": meta.data.crop,
    });
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&weights);
    hasher.update(fields.to_string().as_bytes());
    Ok(format!("{}-{:032x}", meta.backbone, hasher.digest128()))
}

/// Stores `threshold` as the model's verification threshold (model.json, atomically).
pub fn set_threshold(dir: &Path, threshold: f32) -> Result<(), ModelError> {
    let mut meta = read_meta(dir)?;
    meta.threshold = Some(threshold);
    write_meta(dir, &meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> serde_json::Value {
        let dir = crate::verify::default_model_dir();
        serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap()
    }

    type Edit = fn(&mut serde_json::Value);

    /// The shipped model.json with `edit` applied, read back: the error, if any.
    fn read_edited(edit: impl FnOnce(&mut serde_json::Value)) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let mut meta = shipped();
        edit(&mut meta);
        std::fs::write(dir.path().join("model.json"), meta.to_string()).unwrap();
        read_meta(dir.path()).err().map(|e| e.to_string())
    }

    #[test]
    fn values_that_cannot_work_are_refused_naming_the_field() {
        assert_eq!(read_edited(|_| {}), None);
        let cases: [(&str, Edit); 7] = [
            ("input_size", |m| m["input_size"] = 1.into()),
            ("input_size", |m| m["input_size"] = 20000.into()),
            ("normalisation", |m| {
                m["normalisation"]["std"][1] = 0.0.into()
            }),
            ("threshold", |m| m["threshold"] = 1e30.into()),
            ("threshold", |m| m["threshold"] = (-5.0).into()),
            ("data.crop", |m| m["data"]["crop"]["margin"] = 1e30.into()),
            ("data.crop", |m| m["data"]["crop"]["size"] = 0.into()),
        ];
        for (field, edit) in cases {
            let e = read_edited(edit).unwrap_or_else(|| panic!("{field} accepted"));
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
