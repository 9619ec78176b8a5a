//! A trained model on disk: `model.bpk` (the weights, a burnpack) and `model.json` (a
//! [`ModelMeta`]: architecture, input, crop, training settings, threshold). Saving and
//! loading live here, outside the trainer, so verification, evaluation and the app read a
//! model without knowing how it was trained.

use std::path::{Path, PathBuf};

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
    /// The similarities of labelled pairs, to read error rates at any threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// The similarities this model gives the pairs of a labelled list (say LFW pairsDevTrain),
/// so that any threshold can be read as the error rates it had there: the calibrated
/// reading beside a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The pair list the similarities come from.
    pub pairs: String,
    /// The same-person pairs' similarities, ascending.
    pub same: Vec<f32>,
    /// The different-people pairs' similarities, ascending.
    pub different: Vec<f32>,
}

impl Calibration {
    /// From scored pairs of the list `pairs` (4 decimals kept: enough for rates over a
    /// few thousand pairs, and model.json stays readable).
    pub fn new(pairs: &str, scored: &[crate::metrics::Scored]) -> Calibration {
        let sorted = |same: bool| {
            let mut v: Vec<f32> = scored
                .iter()
                .filter(|p| p.same == same && p.score.is_finite())
                .map(|p| (p.score * 1e4).round() / 1e4)
                .collect();
            v.sort_by(f32::total_cmp);
            v
        };
        Calibration {
            pairs: pairs.to_string(),
            same: sorted(true),
            different: sorted(false),
        }
    }

    /// The share of different-people pairs scoring at or above `threshold` (accepted as
    /// one person): the false-accept rate there. None without such pairs.
    pub fn false_accept_rate(&self, threshold: f32) -> Option<f64> {
        let below = self.different.partition_point(|&s| s < threshold);
        rate(self.different.len() - below, self.different.len())
    }

    /// The share of same-person pairs scoring below `threshold`: the false-reject rate.
    pub fn false_reject_rate(&self, threshold: f32) -> Option<f64> {
        let below = self.same.partition_point(|&s| s < threshold);
        rate(below, self.same.len())
    }

    /// The reading of `threshold` in words: "on pairsDevTrain, 0.4 % of different people
    /// scored at or above 0.914 (false accepts) and 1.8 % of same-person pairs below it".
    pub fn reading(&self, threshold: f32) -> Option<String> {
        let far = self.false_accept_rate(threshold)?;
        let frr = self.false_reject_rate(threshold)?;
        Some(format!(
            "on {}, {} of {} different-people pairs scored at or above {threshold} (false \
             accepts, {:.1} %) and {} of {} same-person pairs below it ({:.1} %)",
            self.pairs,
            (far * self.different.len() as f64).round(),
            self.different.len(),
            100.0 * far,
            (frr * self.same.len() as f64).round(),
            self.same.len(),
            100.0 * frr
        ))
    }
}

fn rate(count: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| count as f64 / of as f64)
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
            calibration: None,
        }
    }
}

/// Writes `model.bpk` and `model.json` into `dir` (each atomically).
pub fn save(net: &EmbeddingNet, meta: &ModelMeta, dir: &Path) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| error(dir, e))?;
    crate::embedded::save_burnpack(net, &dir.join("model.bpk"), &[]).map_err(|e| error(dir, e))?;
    write_meta(dir, meta)
}

/// Saves a model into a new folder `parent/name` (`name-2`, `name-3`, ... when taken), so
/// a save never mixes its files with another model's; returns the folder.
pub fn save_new(
    net: &EmbeddingNet,
    meta: &ModelMeta,
    parent: &Path,
    name: &str,
) -> Result<PathBuf, ModelError> {
    let dir = (1..)
        .map(|n| match n {
            1 => parent.join(name),
            n => parent.join(format!("{name}-{n}")),
        })
        .find(|d| !d.exists())
        .unwrap_or_else(|| parent.join(name));
    save(net, meta, &dir)?;
    Ok(dir)
}

/// A folder name for a trained model: its backbone and steps.
pub fn folder_name(meta: &ModelMeta) -> String {
    format!("{}-{}-steps", meta.backbone, meta.steps)
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

/// Stores `threshold` (or none) as the model's verification threshold (model.json,
/// atomically). A model shipped with the program ([`is_shipped`]) is not written: the change
/// goes into the user's copy of it ([`user_copy_dir`], made on first use), which is then the
/// model to use.
pub fn set_threshold(dir: &Path, threshold: Option<f32>) -> Result<ThresholdSaved, ModelError> {
    set_threshold_with_copies(dir, threshold, None, &user_models_root())
}

/// [`set_threshold`], also storing the similarities it was chosen on (replacing the
/// model's calibration).
pub fn set_calibrated_threshold(
    dir: &Path,
    threshold: f32,
    calibration: Calibration,
) -> Result<ThresholdSaved, ModelError> {
    set_threshold_with_copies(dir, Some(threshold), Some(calibration), &user_models_root())
}

/// [`set_threshold`] with the user copies under `copies`; a calibration given replaces
/// the model's.
fn set_threshold_with_copies(
    dir: &Path,
    threshold: Option<f32>,
    calibration: Option<Calibration>,
    copies: &Path,
) -> Result<ThresholdSaved, ModelError> {
    let mut meta = read_meta(dir)?;
    let previous = meta.threshold;
    meta.threshold = threshold;
    if calibration.is_some() {
        meta.calibration = calibration;
    }
    check(&meta).map_err(|m| error(dir, m))?;
    let target = if is_shipped(dir) {
        let copy = copies.join(dir.file_name().unwrap_or_default());
        if !copy.join("model.bpk").is_file() {
            std::fs::create_dir_all(&copy).map_err(|e| error(&copy, e))?;
            let bytes = std::fs::read(dir.join("model.bpk"))
                .map_err(|e| error(dir, format!("model.bpk: {e}")))?;
            crate::imageio::write_atomic(&copy.join("model.bpk"), &bytes)
                .map_err(|e| error(&copy, e))?;
        }
        copy
    } else {
        dir.to_path_buf()
    };
    write_meta(&target, &meta)?;
    Ok(ThresholdSaved {
        dir: target,
        previous,
    })
}

/// Where [`set_threshold`] wrote, and the threshold the model had before (to undo).
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdSaved {
    /// The model folder written: the one given, or the user copy of a shipped model.
    pub dir: PathBuf,
    pub previous: Option<f32>,
}

/// Whether `dir` is one of the models shipped in the program's `weights/` folder, which
/// are never written (an update would overwrite the user's change, and a read-only
/// install could not take it).
pub fn is_shipped(dir: &Path) -> bool {
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
    match (dir.canonicalize(), weights.canonicalize()) {
        (Ok(dir), Ok(weights)) => dir.starts_with(weights),
        _ => false,
    }
}

/// The user's own copy of a shipped model: `<user models>/<its folder name>`.
pub fn user_copy_dir(shipped: &Path) -> PathBuf {
    user_models_root().join(shipped.file_name().unwrap_or_default())
}

/// Where the user's copies of shipped models go: `$SIAMESE_FACE_MODELS`, else the XDG data
/// folder (`~/.local/share/siamese-face/models`).
pub fn user_models_root() -> PathBuf {
    std::env::var_os("SIAMESE_FACE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .unwrap_or_else(std::env::temp_dir)
                .join("siamese-face/models")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_reads_error_rates_at_any_threshold() {
        use crate::metrics::Scored;
        let scored: Vec<Scored> = [(0.95, true), (0.90, true), (0.80, true), (0.85, false)]
            .into_iter()
            .chain([(0.70, false), (0.60, false), (0.5, false)])
            .map(|(score, same)| Scored { score, same })
            .collect();
        let c = Calibration::new("pairsDevTrain", &scored);
        assert_eq!(c.same, vec![0.8, 0.9, 0.95]);
        assert_eq!(c.false_accept_rate(0.85), Some(0.25));
        assert_eq!(c.false_accept_rate(0.86), Some(0.0));
        assert_eq!(c.false_reject_rate(0.86), Some(1.0 / 3.0));
        assert_eq!(c.false_reject_rate(0.5), Some(0.0));
        let none = Calibration::new("x", &[]);
        assert_eq!(none.false_accept_rate(0.5), None);
    }

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

    #[test]
    fn a_shipped_model_is_never_written_its_user_copy_is() {
        let shipped = crate::verify::default_model_dir();
        assert!(is_shipped(&shipped));
        let before = std::fs::read(shipped.join("model.json")).unwrap();
        let copies = tempfile::tempdir().unwrap();
        let saved = set_threshold_with_copies(&shipped, Some(0.93), None, copies.path()).unwrap();
        assert_eq!(saved.dir, copies.path().join("default-model"));
        assert_eq!(saved.previous, read_meta(&shipped).unwrap().threshold);
        assert_eq!(std::fs::read(shipped.join("model.json")).unwrap(), before);
        assert_eq!(read_meta(&saved.dir).unwrap().threshold, Some(0.93));
        assert_eq!(
            std::fs::read(saved.dir.join("model.bpk")).unwrap(),
            std::fs::read(shipped.join("model.bpk")).unwrap()
        );
        // The copy is an ordinary model: written in place, and undone.
        let again = set_threshold_with_copies(&saved.dir, None, None, copies.path()).unwrap();
        assert_eq!(
            (again.dir.clone(), again.previous),
            (saved.dir.clone(), Some(0.93))
        );
        assert_eq!(read_meta(&saved.dir).unwrap().threshold, None);
        assert!(!is_shipped(&saved.dir));
        // A threshold that is not a cosine is refused before anything is written.
        assert!(set_threshold_with_copies(&saved.dir, Some(2.0), None, copies.path()).is_err());
    }
}
