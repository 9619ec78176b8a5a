//! Training as a use case: a [`TrainPlan`] (network settings, what to learn from, the
//! dataset, validation, how crops are cut) that `siamese-face train` and the Training
//! panel both build, and [`run`], which prepares the data, runs the trainer and returns the
//! trained network with the metadata its model folder gets. A plan is stored in every
//! checkpoint, so [`TrainPlan::resumed`] continues a run from the checkpoint alone.

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{Outcome, Report, WorkflowError, finish};
use crate::Dataset;
use crate::crop::CropConfig;
use crate::dataset::TrainSplit;
use crate::detect::Detector;
use crate::embed::train::{self, Control, TrainConfig, TrainData, TrainJob, TrainSummary};
use crate::embed::validation::{self, ValidationSet};
use crate::embed::{BackboneKind, EmbeddingNet, checkpoint, mining};
use crate::model::ModelMeta;
use crate::preprocess::{CropCache, PreprocessSettings};
use crate::triplets::{Sidecar, TripletArray};

/// Everything a training run needs, resolved: the same settings give the same plan from
/// the CLI and from the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainPlan {
    pub config: TrainConfig,
    pub source: TrainSource,
    /// The dataset mined and validated on (with fixed triplets: validation only).
    pub dataset: Option<PathBuf>,
    /// `None`: no validation.
    pub validation: Option<ValidationPlan>,
    /// How mining and validation crops are cut: the triplets' own settings when they are
    /// known, else the backbone's crop under the user's changes ([`crop_over_backbone`]).
    pub crops: PreprocessSettings,
    pub cache_root: PathBuf,
    /// Folder for checkpoints (`None`: none are written).
    pub checkpoints: Option<PathBuf>,
    /// Stop after this step of the run (the schedule still spans all epochs).
    pub max_steps: Option<usize>,
    /// Continue from this checkpoint folder.
    pub resume: Option<PathBuf>,
}

/// What the network learns from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainSource {
    /// Fixed triplets: a `.npy` file, or (no file) the array the app holds in memory.
    /// `crops` is how they were cut, as their sidecar records it (`None`: not recorded).
    Triplets {
        file: Option<PathBuf>,
        crops: Option<PreprocessSettings>,
    },
    /// Online semi-hard mining over the people of `split` (at most `max_people`).
    Mining {
        split: TrainSplit,
        max_people: Option<usize>,
    },
}

impl TrainSource {
    /// Fixed triplets from `file` (or memory), with the crop settings `sidecar` records.
    pub fn triplets(file: Option<PathBuf>, sidecar: Option<&Sidecar>) -> TrainSource {
        TrainSource::Triplets {
            file,
            crops: sidecar.and_then(Sidecar::settings),
        }
    }
}

/// Validation after each epoch on a slice of one of the dataset's pair lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationPlan {
    pub list: String,
    /// Only the pairs of this (0-based) fold of the list.
    pub fold: Option<usize>,
    /// Matched and mismatched pairs each.
    pub per_class: usize,
}

impl Default for ValidationPlan {
    /// The first 100 + 100 pairs of pairsDevTrain.
    fn default() -> Self {
        ValidationPlan {
            list: validation::DEFAULT_LIST.into(),
            fold: None,
            per_class: validation::DEFAULT_PER_CLASS,
        }
    }
}

/// The crop a backbone trains on with the user's changes: each field the user set away
/// from the app's default crop wins, the others come from the backbone's own crop (dlib's
/// aligned 150 px chips), and the face filters are always the user's.
pub fn crop_over_backbone(backbone: BackboneKind, user: CropConfig) -> CropConfig {
    let (app, own) = (CropConfig::default(), backbone.crop());
    CropConfig {
        size: if user.size != app.size {
            user.size
        } else {
            own.size
        },
        margin: if user.margin != app.margin {
            user.margin
        } else {
            own.margin
        },
        align: user.align || own.align,
        template: if user.template != app.template {
            user.template
        } else {
            own.template
        },
        ..user
    }
}

impl TrainPlan {
    /// The crops a plan with `source` cuts for mining and validation, given the user's
    /// settings (see [`TrainPlan::crops`]).
    pub fn crops_for(
        backbone: BackboneKind,
        source: &TrainSource,
        user: PreprocessSettings,
    ) -> PreprocessSettings {
        match source {
            TrainSource::Triplets {
                crops: Some(known), ..
            } => *known,
            _ => PreprocessSettings {
                crop: crop_over_backbone(backbone, user.crop),
                ..user
            },
        }
    }

    /// The plan of the run that wrote the checkpoint at `path` (a `step-N` folder, or a
    /// folder of them: the newest), continuing it: every setting comes from the checkpoint
    /// except `epochs` when given. Checkpoints are written on beside it. A checkpoint of an
    /// older version holds no plan; only then is `fallback` asked for the caller's current
    /// settings, which are used with the checkpoint's network settings, and a note says so.
    pub fn resumed(
        path: &std::path::Path,
        epochs: Option<usize>,
        fallback: impl FnOnce() -> Option<TrainPlan>,
    ) -> Result<(TrainPlan, Option<String>), WorkflowError> {
        let (ck, state, skipped) = checkpoint::read_state(path)?;
        let (mut plan, note) = match state.plan {
            Some(v) => (
                serde_json::from_value::<TrainPlan>(v).map_err(|e| {
                    WorkflowError::Plan(format!(
                        "{}: the run's settings are unreadable ({e})",
                        ck.display()
                    ))
                })?,
                None,
            ),
            None => {
                let plan = fallback().ok_or_else(|| {
                    WorkflowError::Plan(format!(
                        "{} was written by an older version that did not record the run's data; give them again",
                        ck.display()
                    ))
                })?;
                let note = format!(
                    "{} records no data settings (older version): using the ones given now",
                    ck.display()
                );
                (plan, Some(note))
            }
        };
        plan.config = TrainConfig {
            epochs: epochs.unwrap_or(state.config.epochs),
            ..state.config
        };
        plan.checkpoints = ck.parent().map(PathBuf::from);
        plan.resume = Some(ck);
        let notes: Vec<String> = skipped.into_iter().chain(note).collect();
        Ok((plan, (!notes.is_empty()).then(|| notes.join("; "))))
    }

    /// The crop verification must cut for the trained model (stored in model.json):
    /// the crops trained on, when known.
    pub fn model_crop(&self) -> Option<CropConfig> {
        match &self.source {
            TrainSource::Triplets { crops, .. } => crops.map(|c| c.crop),
            TrainSource::Mining { .. } => Some(self.crops.crop),
        }
    }
}

/// A finished (or stopped) run: the network and the metadata to save it with.
pub struct Trained {
    pub net: EmbeddingNet,
    pub meta: ModelMeta,
    pub summary: TrainSummary,
}

/// How many photos online mining over `split` crops with at most `max_people` people (the
/// count behind a quick start's time estimate; held-out validation people not subtracted).
pub fn mining_photos(
    dataset: &Dataset,
    split: TrainSplit,
    max_people: Option<usize>,
) -> Result<usize, WorkflowError> {
    let (identities, _, _) = dataset.training_people(split)?;
    Ok(dataset
        .images_by_person(&identities, 2)
        .into_iter()
        .take(max_people.unwrap_or(usize::MAX))
        .map(|(_, images)| images.len())
        .sum())
}

/// Runs `plan`: crops the validation pairs and the mining pool (or loads the triplets;
/// `in_memory` is the app's array when the plan names no file), then trains. Setting
/// `control.stop` while crops are prepared cancels; during training it stops the run,
/// which still returns what was learnt.
pub fn run(
    plan: &TrainPlan,
    in_memory: Option<Arc<TripletArray>>,
    device: &Device,
    control: &Control,
    mut report: impl FnMut(Report<'_>),
) -> Result<Outcome<Trained>, WorkflowError> {
    finish(run_plan(plan, in_memory, device, control, &mut report))
}

/// The dataset's crop cache under the plan's settings, and a detector for new images.
struct Crops {
    dataset: Dataset,
    cache: CropCache,
    detector: Detector,
}

fn run_plan(
    plan: &TrainPlan,
    in_memory: Option<Arc<TripletArray>>,
    device: &Device,
    control: &Control,
    report: &mut impl FnMut(Report<'_>),
) -> Result<Trained, WorkflowError> {
    let resume = match &plan.resume {
        Some(p) => Some(checkpoint::load(p, &device.clone().autodiff())?),
        None => None,
    };
    let mut crops = open_crops(plan, device)?;
    let val = validation_set(plan, crops.as_mut(), control, report)?;
    let (data, source) = training_data(
        plan,
        in_memory,
        crops.as_mut(),
        val.as_ref(),
        control,
        report,
    )?;
    explain(plan, val.as_ref(), report);
    let start = resume.as_ref().map_or(0, |ck| ck.state.step);
    // Resuming at or past max_steps trains nothing and returns the checkpoint's network;
    // max_steps 0 returns the initial network (e.g. a face-pretrained backbone with its
    // residual head at zero).
    let stop_at = |step: usize| plan.max_steps.is_some_and(|max| step >= max);
    if stop_at(start) {
        control
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let job = TrainJob {
        data: &data,
        data_source: source.clone(),
        config: plan.config.clone(),
        validation: val.as_ref(),
        checkpoints: plan.checkpoints.clone(),
        resume,
        initial: None,
        plan: serde_json::to_value(plan).ok(),
    };
    let (net, summary) = train::train(job, device, control, |e| {
        if let train::TrainEvent::Step { step, .. } = e
            && stop_at(*step)
        {
            control
                .stop
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        report(Report::Train(e));
    })?;
    let meta = model_meta(plan, &data, &source, &summary);
    Ok(Trained { net, meta, summary })
}

fn open_crops(plan: &TrainPlan, device: &Device) -> Result<Option<Crops>, WorkflowError> {
    let mining = matches!(plan.source, TrainSource::Mining { .. });
    let Some(dir) = plan
        .dataset
        .as_ref()
        .filter(|_| mining || plan.validation.is_some())
    else {
        return Ok(None);
    };
    let dataset = Dataset::open(dir)?;
    let cache = CropCache::open(
        &CropCache::dir_for(&plan.cache_root, &dataset, &plan.crops),
        &dataset,
        &plan.crops,
    )?;
    Ok(Some(Crops {
        dataset,
        cache,
        detector: Detector::new(device)?,
    }))
}

fn validation_set(
    plan: &TrainPlan,
    crops: Option<&mut Crops>,
    control: &Control,
    report: &mut impl FnMut(Report<'_>),
) -> Result<Option<ValidationSet>, WorkflowError> {
    let (Some(v), Some(c)) = (plan.validation.as_ref().filter(|v| v.per_class > 0), crops) else {
        return Ok(None);
    };
    if c.dataset.pair_list(&v.list).is_none() {
        // Only a list the user named must exist; the default one is skipped with a note.
        if v.list != validation::DEFAULT_LIST {
            return Err(WorkflowError::Plan(format!(
                "the dataset at {} has no pair list {}",
                c.dataset.root.display(),
                v.list
            )));
        }
        report(Report::Note(&format!(
            "no validation: it needs a dataset with {} ({} has none)",
            v.list,
            c.dataset.root.display()
        )));
        return Ok(None);
    }
    let set = ValidationSet::from_pair_list_fold(
        &c.dataset,
        &v.list,
        v.fold,
        v.per_class,
        &mut c.cache,
        &c.detector,
        &control.stop,
        |done, total| {
            report(Report::Progress {
                stage: "face crops of the validation pairs",
                done,
                total,
            })
        },
    )?;
    Ok(Some(set))
}

/// The training data and what it is, in words (stored with the model).
fn training_data(
    plan: &TrainPlan,
    in_memory: Option<Arc<TripletArray>>,
    crops: Option<&mut Crops>,
    val: Option<&ValidationSet>,
    control: &Control,
    report: &mut impl FnMut(Report<'_>),
) -> Result<(TrainData, String), WorkflowError> {
    let (split, max_people) = match &plan.source {
        TrainSource::Triplets { file, .. } => return triplet_data(file.as_ref(), in_memory),
        TrainSource::Mining { split, max_people } => (*split, *max_people),
    };
    let c = crops.ok_or_else(|| WorkflowError::Plan("online mining needs a dataset".into()))?;
    let (mut identities, split, note) = c.dataset.training_people(split)?;
    if let Some(note) = note {
        report(Report::Note(&format!("note: {note}")));
    }
    // The validation pairs' people are held out, so the threshold chosen on them is one
    // for people the network has not seen.
    if let Some(v) = val {
        identities.retain(|p| !v.people.contains(p));
    }
    let pool = mining::identity_pool(
        &c.dataset,
        &identities,
        max_people,
        &mut c.cache,
        &c.detector,
        &control.stop,
        |done, total| {
            report(Report::Progress {
                stage: "face crops of the mining pool",
                done,
                total,
            })
        },
    )?;
    let source = format!(
        "online semi-hard mining ({split}): {} images of {} training people of {}{}",
        pool.crops.len(),
        pool.people.len(),
        c.dataset.root.display(),
        val.map_or(String::new(), |v| format!(
            " (the {} people of the validation pairs held out)",
            v.people.len()
        ))
    );
    Ok((TrainData::Identities(pool), source))
}

fn triplet_data(
    file: Option<&PathBuf>,
    in_memory: Option<Arc<TripletArray>>,
) -> Result<(TrainData, String), WorkflowError> {
    let (array, from) = match (in_memory, file) {
        (Some(a), file) => (a, file.map_or("memory".into(), |f| f.display().to_string())),
        (None, Some(f)) => (Arc::new(TripletArray::load(f)?), f.display().to_string()),
        (None, None) => {
            return Err(WorkflowError::Plan(
                "no triplets: generate or load them first".into(),
            ));
        }
    };
    let source = format!("{} triplets from {from}", array.len());
    Ok((TrainData::Triplets(array), source))
}

/// Notes on what the run will do that the settings alone do not show.
fn explain(plan: &TrainPlan, val: Option<&ValidationSet>, report: &mut impl FnMut(Report<'_>)) {
    let cfg = &plan.config;
    match val {
        Some(v) => report(Report::Note(&format!("validation: {}", v.name))),
        None if plan.validation.is_none() => report(Report::Note("validation: off")),
        None if plan.dataset.is_none() => {
            report(Report::Note("validation: none (no dataset given)"))
        }
        None => {}
    }
    if cfg.freeze_backbone_epochs >= cfg.epochs
        && (cfg.augment.jitter > 0 || cfg.augment.colour > 0.0)
    {
        report(Report::Note(
            "note: the backbone stays frozen, so each crop's features are computed once; only flip augmentation applies",
        ));
    }
    if plan.model_crop().is_none() {
        report(Report::Note(
            "note: the triplets record no crop settings (an older sidecar, or made elsewhere); verification will cut default box crops at their size",
        ));
    }
}

fn model_meta(
    plan: &TrainPlan,
    data: &TrainData,
    source: &str,
    summary: &TrainSummary,
) -> ModelMeta {
    let mut described = data.summary(source);
    if summary.steps == 0 {
        // An untrained network has seen nobody.
        described.identities.clear();
        described.source = format!("no training steps: the initial network (prepared on {source})");
    }
    described.crop = plan.model_crop();
    ModelMeta::new(&plan.config, described, summary)
}

#[cfg(test)]
mod tests;
