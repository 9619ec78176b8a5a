//! Evaluation as a use case: a model (or one model per View 2 fold) over a pair list of a
//! dataset, giving the scored pairs and the report that `siamese-face eval` prints and the
//! Evaluate panel draws.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{Outcome, Report, WorkflowError, finish};
use crate::Dataset;
use crate::dataset::PairList;
use crate::evaluate::{self, Scores};
use crate::verify::Verifier;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPlan {
    pub dataset: PathBuf,
    /// A pair list of the dataset by name (pairsDevTest, pairs, ...) or a file path.
    pub pairs: String,
    pub models: Models,
    /// Only the first N matched and N mismatched pairs.
    pub sample: Option<usize>,
    /// Also run the k-fold protocol with the list's own folds (k must match them).
    pub folds: Option<usize>,
    /// Threshold for the accuracy (default: the model's).
    pub threshold: Option<f32>,
    pub cache_root: PathBuf,
}

/// Which model scores which pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Models {
    /// One model folder for every pair.
    One { dir: PathBuf },
    /// `dir/fold-01` ... : each fold's pairs scored by the model that never saw that fold's
    /// people, at that model's threshold.
    PerFold { dir: PathBuf },
}

/// A finished evaluation.
pub struct Evaluation {
    /// The pairs as evaluated (sampled when the plan says so).
    pub list: PairList,
    /// Per model: its scores and its own threshold (one entry unless per fold).
    pub scores: Vec<(Scores, f32)>,
    pub report: evaluate::Report,
    /// The model folder, for storing a chosen threshold (single-model evaluations).
    pub model_dir: Option<PathBuf>,
}

/// Scores the plan's pairs; `cancel` stops while images are cropped and embedded.
pub fn run(
    plan: &EvalPlan,
    device: &Device,
    cancel: &AtomicBool,
    mut report: impl FnMut(Report<'_>),
) -> Result<Outcome<Evaluation>, WorkflowError> {
    finish(evaluate_plan(plan, device, cancel, &mut report))
}

/// The plan's pair list: a list of the dataset by that name, else a file.
pub fn pair_list(dataset: &Dataset, pairs: &str) -> Result<PairList, WorkflowError> {
    if let Some(entry) = dataset.pair_list(pairs) {
        return Ok(entry.list.clone());
    }
    let path = Path::new(pairs);
    if !path.is_file() {
        let names: Vec<&str> = dataset
            .pair_lists
            .iter()
            .map(|e| e.list.name.as_str())
            .collect();
        return Err(WorkflowError::Plan(format!(
            "{pairs} is neither a pair list of {} ({}) nor a file",
            dataset.root.display(),
            names.join(", ")
        )));
    }
    Ok(PairList::load(path)?.0)
}

/// The plan's pair list, sampled as asked, once its folds can serve the k-fold protocol
/// when that is asked for.
fn pairs_to_score(plan: &EvalPlan, dataset: &Dataset) -> Result<PairList, WorkflowError> {
    let list = pair_list(dataset, &plan.pairs)?;
    if let Some(k) = plan.folds.filter(|k| *k != list.folds) {
        return Err(WorkflowError::Plan(format!(
            "{} has {} fold(s), not {k}",
            list.name, list.folds
        )));
    }
    let list = match plan.sample {
        Some(n) => evaluate::sample(&list, n),
        None => list,
    };
    match plan.folds.and_then(|_| evaluate::folds_problem(&list)) {
        Some(problem) => Err(WorkflowError::Plan(problem)),
        None => Ok(list),
    }
}

fn evaluate_plan(
    plan: &EvalPlan,
    device: &Device,
    cancel: &AtomicBool,
    report: &mut impl FnMut(Report<'_>),
) -> Result<Evaluation, WorkflowError> {
    let dataset = Dataset::open(&plan.dataset)?;
    let list = pairs_to_score(plan, &dataset)?;
    let mut score = |verifier: &Verifier, list: &PairList| {
        evaluate::score_pairs(
            &dataset,
            list,
            verifier,
            &plan.cache_root,
            cancel,
            |done, total| {
                report(Report::Progress {
                    stage: "images",
                    done,
                    total,
                })
            },
        )
    };
    let (scores, r, model_dir) = match &plan.models {
        Models::One { dir } => {
            let verifier = Verifier::load(dir, device)?;
            let scores = score(&verifier, &list)?;
            let threshold = plan.threshold.unwrap_or_else(|| verifier.threshold());
            let mut r = evaluate::report(&scores, threshold, plan.folds.is_some());
            r.seen_people = evaluate::seen_people(&list, &verifier.meta.data.identities);
            (vec![(scores, verifier.threshold())], r, Some(dir.clone()))
        }
        Models::PerFold { dir } => {
            let mut folds = Vec::new();
            let mut seen = 0;
            for k in 0..list.folds {
                let verifier = Verifier::load(&dir.join(format!("fold-{:02}", k + 1)), device)?;
                let fold = PairList {
                    pairs: list.pairs.iter().filter(|p| p.fold == k).cloned().collect(),
                    ..list.clone()
                };
                seen += evaluate::seen_people(&fold, &verifier.meta.data.identities);
                folds.push((score(&verifier, &fold)?, verifier.threshold()));
            }
            let mut r = evaluate::report_per_fold(&folds);
            r.seen_people = seen;
            (folds, r, None)
        }
    };
    if r.seen_people > 0 {
        report(Report::Note(&format!(
            "warning: the model trained on {} of these pairs' people: this is not a test on unseen people",
            r.seen_people
        )));
    }
    if r.unscored_pairs > 0 {
        report(Report::Note(&format!(
            "warning: {} pair(s) had an image without an embedding and were not scored",
            r.unscored_pairs
        )));
    }
    Ok(Evaluation {
        list,
        scores,
        report: r,
        model_dir,
    })
}
