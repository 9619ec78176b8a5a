//! One entry point per use case, shared by the CLI and the GUI.
//!
//! Each workflow is a plain, serde-able plan (what the user asked for, settings resolved)
//! that the CLI's arguments and the GUI's settings both turn into, and a `run` function that
//! carries it out with a [`Report`] sink and a cancel switch, returning a typed
//! [`Outcome`]. The adapters only build plans, show reports and present outcomes, so a use
//! case behaves the same from either side.

pub mod evaluate;
pub mod people;
pub mod preprocess;
pub mod train;
pub mod triplets;
pub mod verify;

use std::path::PathBuf;

use crate::dataset::DatasetError;
use crate::detect::DetectError;
use crate::embed::checkpoint::CheckpointError;
use crate::embed::train::{TrainError, TrainEvent};
use crate::evaluate::EvalError;
use crate::model::ModelError;
use crate::preprocess::PreprocessError;
use crate::triplets::TripletError;
use crate::verify::VerifyError;

/// How a workflow ended when it did not fail.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    /// The user cancelled before there was anything to return.
    Cancelled,
}

/// What a running workflow tells its adapter (a progress bar and stderr, or a panel).
#[derive(Debug, Clone, Copy)]
pub enum Report<'a> {
    /// `done` of `total` items of a preparation stage ("face crops of the mining pool").
    Progress {
        stage: &'a str,
        done: usize,
        total: usize,
    },
    /// The counts of a dataset's preprocessing so far.
    Crops(&'a crate::preprocess::Progress),
    /// A line worth showing once (a fallback taken, a setting explained).
    Note(&'a str),
    /// An event of the training loop.
    Train(&'a TrainEvent),
}

/// Why a workflow failed: the library's own errors, and plans that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Crops(#[from] PreprocessError),
    #[error(transparent)]
    Triplets(#[from] TripletError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Image(#[from] crate::imageio::ImageLoadError),
    #[error(transparent)]
    Index(#[from] crate::face_index::IndexError),
    #[error("{0}")]
    Plan(String),
}

impl WorkflowError {
    /// Whether this is a cancel reported as an error by a lower layer.
    fn is_cancel(&self) -> bool {
        matches!(
            self,
            WorkflowError::Crops(PreprocessError::Cancelled)
                | WorkflowError::Triplets(TripletError::Crops(PreprocessError::Cancelled))
                | WorkflowError::Eval(EvalError::Cache(PreprocessError::Cancelled))
        )
    }
}

/// A workflow's result with lower layers' cancels turned into [`Outcome::Cancelled`].
fn finish<T>(result: Result<T, WorkflowError>) -> Result<Outcome<T>, WorkflowError> {
    match result {
        Ok(t) => Ok(Outcome::Done(t)),
        Err(e) if e.is_cancel() => Ok(Outcome::Cancelled),
        Err(e) => Err(e),
    }
}

/// `path` as a plan stores it: absolute (a resumed run may start in another folder), and
/// for paths that exist, with links resolved as the app's dataset page shows them. The face
/// index names its photos the same way.
pub fn plan_path(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Where crops, embeddings and runs are cached unless a plan names a folder:
/// `$SIAMESE_FACE_CACHE`, else `~/.cache/siamese-face`.
pub fn cache_root(chosen: Option<PathBuf>) -> PathBuf {
    chosen.unwrap_or_else(crate::preprocess::default_cache_root)
}
