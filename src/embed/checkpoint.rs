//! Training checkpoints: the network (burnpack, parameter ids included so the optimizer
//! state matches), Adam's state and the trainer's position and history, written every K
//! steps into `<dir>/step-NNNNNN/` atomically (a temporary folder renamed into place).

use std::collections::BTreeMap;
use std::io::Write;
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
    /// Size and content hash of each file beside `state.json`, filled in by [`save`] and
    /// checked before the checkpoint is trusted (a truncated copy is skipped, not loaded).
    /// Empty in checkpoints of older versions, which are trusted as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, FileCheck>,
}

/// What a checkpoint file must be when it is read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheck {
    pub bytes: u64,
    /// xxh3-128 of the content, hex.
    pub xxh3: String,
}

impl FileCheck {
    fn of(bytes: &[u8]) -> FileCheck {
        FileCheck {
            bytes: bytes.len() as u64,
            xxh3: format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes)),
        }
    }
}

/// A checkpoint read back.
pub struct Checkpoint {
    pub net: EmbeddingNet,
    pub optimizer: OptimizerRecord,
    pub state: CheckpointState,
    pub path: PathBuf,
}

/// Writes a checkpoint under `dir` and prunes old ones; returns its folder. The files are
/// written into a temporary folder, flushed to disk, and the folder renamed into place, so a
/// crash leaves either the whole checkpoint or none; on failure (a full disk) the temporary
/// folder is removed and the older checkpoints are left as they were.
pub fn save(
    dir: &Path,
    net: &EmbeddingNet,
    optimizer: OptimizerRecord,
    state: &CheckpointState,
) -> Result<PathBuf, CheckpointError> {
    let name = format!("step-{:06}", state.step);
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = write_folder(&tmp, net, optimizer, state);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let final_dir = dir.join(&name);
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| err(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| err(&final_dir, e))?;
    sync_dir(dir).map_err(|e| err(dir, e))?;
    for old in list(dir).into_iter().rev().skip(KEEP) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(final_dir)
}

/// The checkpoint's files in `tmp` (created afresh), each flushed to disk; state.json last,
/// recording the others' sizes and hashes.
fn write_folder(
    tmp: &Path,
    net: &EmbeddingNet,
    optimizer: OptimizerRecord,
    state: &CheckpointState,
) -> Result<(), CheckpointError> {
    let e = |e: std::io::Error| err(tmp, e);
    if tmp.exists() {
        std::fs::remove_dir_all(tmp).map_err(e)?;
    }
    std::fs::create_dir_all(tmp).map_err(e)?;
    let mut store = BurnpackStore::from_file(tmp.join("model.bpk"))
        .auto_extension(false)
        .overwrite(true);
    // `valid()` folds the latest BatchNorm statistics update (Burn keeps it pending per
    // thread) into the saved values; parameter ids are kept.
    net.valid().save_into(&mut store).map_err(|e| err(tmp, e))?;
    let model = std::fs::read(tmp.join("model.bpk")).map_err(e)?;
    std::fs::File::open(tmp.join("model.bpk"))
        .and_then(|f| f.sync_all())
        .map_err(e)?;
    let optimizer = optimizer.into_bytes().map_err(|e| err(tmp, e))?;
    write_synced(&tmp.join("optimizer.bpk"), &optimizer[..]).map_err(e)?;
    let mut state = state.clone();
    state.files = BTreeMap::from([
        ("model.bpk".to_owned(), FileCheck::of(&model)),
        ("optimizer.bpk".to_owned(), FileCheck::of(&optimizer[..])),
    ]);
    let json = serde_json::to_vec(&state).map_err(|e| err(tmp, e))?;
    write_synced(&tmp.join("state.json"), &json).map_err(e)?;
    sync_dir(tmp).map_err(e)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Flushes a folder's entries (a rename into it) to disk; a no-op where folders cannot be
/// opened as files.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
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

/// The checkpoint folder `path` names and its state, without the weights: `path` itself,
/// or in a folder of checkpoints the newest intact one. A damaged newer one (unreadable
/// state, a weight file truncated or changed) is passed over and named in the notes
/// returned; a damaged checkpoint named directly is an error.
pub fn read_state(path: &Path) -> Result<(PathBuf, CheckpointState, Vec<String>), CheckpointError> {
    if path.join("state.json").is_file() {
        return Ok((path.to_path_buf(), read_intact(path)?, Vec::new()));
    }
    let mut skipped = Vec::new();
    for ck in list(path).into_iter().rev() {
        match read_intact(&ck) {
            Ok(state) => return Ok((ck, state, skipped)),
            Err(e) => skipped.push(format!("skipped a damaged checkpoint: {e}")),
        }
    }
    let message = match skipped.is_empty() {
        true => "no checkpoint here (no state.json)".to_owned(),
        false => format!("no intact checkpoint here ({})", skipped.join("; ")),
    };
    Err(err(path, message))
}

/// A checkpoint's state, once its files are what the state says they are.
fn read_intact(path: &Path) -> Result<CheckpointState, CheckpointError> {
    let state: CheckpointState =
        serde_json::from_slice(&std::fs::read(path.join("state.json")).map_err(|e| err(path, e))?)
            .map_err(|e| err(path, format!("state.json is not a checkpoint state: {e}")))?;
    for (name, expected) in &state.files {
        let bytes =
            std::fs::read(path.join(name)).map_err(|e| err(path, format!("{name}: {e}")))?;
        let found = FileCheck::of(&bytes);
        if found != *expected {
            return Err(err(
                path,
                format!(
                    "{name} is {} bytes with another content than the {} bytes written (truncated or changed)",
                    found.bytes, expected.bytes
                ),
            ));
        }
    }
    Ok(state)
}

/// Reads a checkpoint folder (or the newest checkpoint in a folder of them) onto `device`
/// (an autodiff device, to continue training).
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint, CheckpointError> {
    let (path, state, _) = read_state(path)?;
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
