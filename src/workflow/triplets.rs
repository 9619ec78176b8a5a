//! Triplet generation as a use case: draw anchor / positive / negative images from the
//! dataset's training people (LFW: peopleDevTrain, else everyone), crop them through the
//! crop cache, and return the array with the sidecar that records how it was made.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{Outcome, Report, WorkflowError, finish};
use crate::Dataset;
use crate::dataset::TrainSplit;
use crate::detect::Detector;
use crate::preprocess::{CropCache, PreprocessSettings};
use crate::triplets::{self, RecordedCrops, Sidecar, TripletArray};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripletsPlan {
    pub dataset: PathBuf,
    pub count: usize,
    /// The same seed gives the same triplets.
    pub seed: u64,
    pub crops: PreprocessSettings,
    pub cache_root: PathBuf,
}

/// Generated triplets and the sidecar to save beside them.
pub struct Generated {
    pub array: TripletArray,
    pub sidecar: Sidecar,
}

/// Draws and crops the plan's triplets; `cancel` stops the cropping.
pub fn run(
    plan: &TripletsPlan,
    device: &Device,
    cancel: &AtomicBool,
    mut report: impl FnMut(Report<'_>),
) -> Result<Outcome<Generated>, WorkflowError> {
    finish(generate(plan, device, cancel, &mut report))
}

fn generate(
    plan: &TripletsPlan,
    device: &Device,
    cancel: &AtomicBool,
    report: &mut impl FnMut(Report<'_>),
) -> Result<Generated, WorkflowError> {
    if plan.count == 0 {
        return Err(WorkflowError::Plan(
            "the triplet count must be at least 1".into(),
        ));
    }
    let dataset = Dataset::open(&plan.dataset)?;
    let (identities, _, note) = dataset.training_people(TrainSplit::DevTrain)?;
    if let Some(note) = note {
        report(Report::Note(&format!("note: {note}")));
    }
    let sources = triplets::draw(&dataset, &identities, plan.count, plan.seed)?;
    let mut cache = CropCache::open(
        &CropCache::dir_for(&plan.cache_root, &dataset, &plan.crops),
        &dataset,
        &plan.crops,
    )?;
    let detector = Detector::new(device)?;
    let made = triplets::crops(
        &dataset,
        &sources,
        &mut cache,
        &detector,
        cancel,
        |done, total| {
            report(Report::Progress {
                stage: "face crops",
                done,
                total,
            })
        },
    )?;
    let sidecar = Sidecar {
        dataset: dataset.root.clone(),
        seed: plan.seed,
        crops: RecordedCrops::Settings(plan.crops),
        fallback_crops: made.fallbacks,
        triplets: made.sources,
    };
    Ok(Generated {
        array: made.array,
        sidecar,
    })
}
