//! Training checkpoints: the network (burnpack, parameter ids included so the optimizer
//! state matches), Adam's state and the trainer's position and history, written every K
//! steps into `<dir>/step-NNNNNN/` atomically (a temporary folder renamed into place).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::OptimizerRecord;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::EmbeddingNet;
use super::config::TrainConfig;
use super::data::DataSummary;
use super::events::TrainEvent;

/// How many checkpoints to keep; older ones are removed after a new one is written.
pub const KEEP: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {message}")]
    Io { path: PathBuf, message: String },
}

fn err(path: &Path, e: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The trainer's state beside the weights (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps completed; training resumes with step `step + 1`.
    pub step: usize,
    pub config: TrainConfig,
    pub data: DataSummary,
    pub initial_weights: String,
    /// The step, epoch and validation events so far, replayed on resume (plots, bars).
    pub history: Vec<TrainEvent>,
    /// The caller's description of the whole run (the training workflow's plan: data,
    /// dataset, validation, crops), opaque to the trainer, so that a resume needs nothing
    /// but the checkpoint. Absent in checkpoints of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
}

/// A checkpoint read back.
pub struct Checkpoint {
    pub net: EmbeddingNet,
    pub optimizer: OptimizerRecord,
    pub state: CheckpointState,
    pub path: PathBuf,
}

/// Writes a checkpoint under `dir` and prunes old ones; returns its folder.
pub fn save(
    dir: &Path,
    net: &EmbeddingNet,
    optimizer: OptimizerRecord,
    state: &CheckpointState,
) -> Result<PathBuf, CheckpointError> {
    let name = format!("step-{:06}", state.step);
    let tmp = dir.join(format!(".{name}.tmp"));
    let final_dir = dir.join(&name);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| err(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| err(&tmp, e))?;
    let mut store = BurnpackStore::from_file(tmp.join("model.bpk"))
        .auto_extension(false)
        .overwrite(true);
    // `valid()` folds the latest BatchNorm statistics update (Burn keeps it pending per
    // thread) into the saved values; parameter ids are kept.
    net.valid()
        .save_into(&mut store)
        .map_err(|e| err(&tmp, e))?;
    let bytes = optimizer.into_bytes().map_err(|e| err(&tmp, e))?;
    std::fs::write(tmp.join("optimizer.bpk"), &bytes[..]).map_err(|e| err(&tmp, e))?;
    let json = serde_json::to_vec(state).expect("checkpoint state serialises");
    std::fs::write(tmp.join("state.json"), json).map_err(|e| err(&tmp, e))?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| err(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| err(&final_dir, e))?;
    for old in list(dir).into_iter().rev().skip(KEEP) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(final_dir)
}

/// The checkpoints in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step-"))
                && p.join("state.json").is_file()
        })
        .collect();
    found.sort();
    found
}

/// The newest checkpoint in `dir`.
pub fn latest(dir: &Path) -> Option<PathBuf> {
    list(dir).pop()
}

/// The checkpoint folder `path` names (itself, or the newest checkpoint in a folder of
/// them) and its state, without the weights.
pub fn read_state(path: &Path) -> Result<(PathBuf, CheckpointState), CheckpointError> {
    let path = if path.join("state.json").is_file() {
        path.to_path_buf()
    } else {
        latest(path).ok_or_else(|| err(path, "no checkpoint here (no state.json)"))?
    };
    let state: CheckpointState =
        serde_json::from_slice(&std::fs::read(path.join("state.json")).map_err(|e| err(&path, e))?)
            .map_err(|e| err(&path, format!("state.json is not a checkpoint state: {e}")))?;
    Ok((path, state))
}

/// Reads a checkpoint folder (or the newest checkpoint in a folder of them) onto `device`
/// (an autodiff device, to continue training).
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint, CheckpointError> {
    let (path, state) = read_state(path)?;
    let mut net = EmbeddingNet::new(state.config.backbone, device);
    let mut store = BurnpackStore::from_file(path.join("model.bpk")).auto_extension(false);
    net.load_from(&mut store)
        .map_err(|e| err(&path, format!("model.bpk does not load: {e}")))?;
    let bytes = std::fs::read(path.join("optimizer.bpk")).map_err(|e| err(&path, e))?;
    let optimizer = OptimizerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| err(&path, format!("optimizer.bpk does not load: {e}")))?;
    Ok(Checkpoint {
        net,
        optimizer,
        state,
        path,
    })
}
