//! Preprocessing as a use case: detect and crop every image of a dataset once into the
//! crop cache that triplets, training and evaluation read. A cancelled run keeps what it
//! did (the index is saved) and says so in its counts.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{Outcome, Report, WorkflowError, finish};
use crate::Dataset;
use crate::detect::Detector;
use crate::preprocess::{self, CropCache, PreprocessSettings, Progress};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessPlan {
    pub dataset: PathBuf,
    pub crops: PreprocessSettings,
    pub cache_root: PathBuf,
}

/// The final counts and the folder the crops are in.
pub struct Preprocessed {
    pub progress: Progress,
    pub cache_dir: PathBuf,
}

/// Crops every image of the plan's dataset; `cancel` stops early, keeping what was done.
pub fn run(
    plan: &PreprocessPlan,
    device: &Device,
    cancel: &AtomicBool,
    mut report: impl FnMut(Report<'_>),
) -> Result<Outcome<Preprocessed>, WorkflowError> {
    finish(preprocess_plan(plan, device, cancel, &mut report))
}

fn preprocess_plan(
    plan: &PreprocessPlan,
    device: &Device,
    cancel: &AtomicBool,
    report: &mut impl FnMut(Report<'_>),
) -> Result<Preprocessed, WorkflowError> {
    let dataset = Dataset::open(&plan.dataset)?;
    let dir = CropCache::dir_for(&plan.cache_root, &dataset, &plan.crops);
    let mut cache = CropCache::open(&dir, &dataset, &plan.crops)?;
    let detector = Detector::new(device)?;
    let progress = preprocess::run(&dataset, &mut cache, &detector, cancel, |p| {
        report(Report::Crops(p))
    })?;
    Ok(Preprocessed {
        progress,
        cache_dir: dir,
    })
}
