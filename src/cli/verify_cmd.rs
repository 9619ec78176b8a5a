//! `siamese-face compare A B`, `eval --data DIR --pairs LIST` and `embed IMAGE...`: face
//! verification with a trained model (the shipped default one unless --model is given).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray_npy::WriteNpyExt;
use siamese_face::backend::{self, BackendRequest};
use siamese_face::verify::{self, Verifier};
use siamese_face::workflow::evaluate::{self, EvalPlan, Models};
use siamese_face::workflow::verify::{Faces, photo_faces};
use siamese_face::workflow::{self, Outcome, Report};
use siamese_face::{imageio, model};

#[derive(Debug, Args)]
pub struct ModelArg {
    /// Model folder (model.bpk + model.json); default: the shipped model
    /// (weights/default-model, or $SIAMESE_FACE_MODEL).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

impl ModelArg {
    /// The model folder: the one given, else the shipped model.
    pub fn dir(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(verify::default_model_dir)
    }

    fn load(&self, request: BackendRequest) -> anyhow::Result<Verifier> {
        let selection = backend::select(request)?;
        Ok(Verifier::load(&self.dir(), &selection.device)?)
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub a: PathBuf,
    pub b: PathBuf,
    #[command(flatten)]
    pub model: ModelArg,
    /// Cosine-similarity threshold (default: the model's).
    #[arg(long, value_parser = parse_threshold)]
    pub threshold: Option<f32>,
    #[arg(long)]
    pub json: bool,
}

pub fn compare(args: CompareArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let verifier = args.model.load(request)?;
    let a = photo_faces(&verifier, &args.a, Faces::Largest)?;
    let b = photo_faces(&verifier, &args.b, Faces::Largest)?;
    // A model trained without validation pairs has no threshold: a verdict at an arbitrary
    // one would be confidently wrong, so there is none unless one is given.
    let threshold = args.threshold.or(verifier.meta.threshold);
    let v = workflow::verify::verdict(&a, 0, &b, 0, threshold.unwrap_or(0.0))
        .ok_or_else(|| anyhow::anyhow!("no embedding was made"))?;
    if args.json {
        let out = workflow::verify::comparison_json(
            (&a, 0),
            (&b, 0),
            threshold,
            &verifier.meta,
            &verifier.crop,
        );
        println!("{}", out.unwrap_or_default());
    } else if threshold.is_none() {
        println!("cosine similarity {:.3}; no verdict", v.similarity);
        eprintln!(
            "note: {} has no threshold (it was trained without validation pairs): choose one with \
             `siamese-face eval --model DIR --pairs pairsDevTrain --save-threshold`, or pass --threshold",
            args.model.dir().display()
        );
    } else {
        for p in [&a, &b].into_iter().filter(|p| p.faces.len() > 1) {
            eprintln!(
                "note: {} has {} faces; the largest is used",
                p.path.display(),
                p.faces.len()
            );
        }
        for p in [&a, &b].into_iter().filter(|p| p.close_crop) {
            eprintln!(
                "note: {} is cropped close to the face; it was found with a border added around the photo",
                p.path.display()
            );
        }
        println!(
            "{}: cosine similarity {:.3} {} threshold {:.3}",
            if v.same {
                "SAME person"
            } else {
                "DIFFERENT people"
            },
            v.similarity,
            if v.same { ">=" } else { "<" },
            v.threshold
        );
        match &verifier.meta.calibration {
            Some(c) => println!("  {}", c.reading(v.threshold).unwrap_or_default()),
            None => eprintln!(
                "note: no error rates for this threshold: the model has no calibration (`eval --pairs pairsDevTrain --save-threshold` stores one)"
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Dataset folder.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// A pair list: a name found in the dataset (pairs, pairsDevTrain, pairsDevTest, ...)
    /// or a file path.
    #[arg(long, value_name = "LIST")]
    pub pairs: String,
    #[command(flatten)]
    pub model: ModelArg,
    /// Also run the k-fold protocol (threshold chosen on k-1 folds, accuracy on the other);
    /// the folds are the list's own (View 2: 10).
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// Only the first N matched and N mismatched pairs (the seed's evaluation: 100).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Threshold for `accuracy` (default: the model's).
    #[arg(long, value_parser = parse_threshold)]
    pub threshold: Option<f32>,
    /// Store the threshold that is best on these pairs as the model's threshold (in its
    /// model.json): for choosing it on training pairs, e.g. pairsDevTrain.
    #[arg(long, conflicts_with_all = ["fold_models", "threshold"])]
    pub save_threshold: bool,
    /// Per-fold models (`DIR/fold-01` ... one per fold, from `train --view2-fold K`): each
    /// fold's pairs are scored by the model that never saw that fold's people, at that
    /// model's threshold.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["model", "threshold"])]
    pub fold_models: Option<PathBuf>,
    /// Crop cache root (default: $SIAMESE_FACE_CACHE, else ~/.cache/siamese-face).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Also write every scored pair (a, b, same, fold, similarity, said_same at the
    /// threshold) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

impl EvalArgs {
    pub fn plan(&self) -> EvalPlan {
        EvalPlan {
            dataset: super::plan_path(&self.data),
            pairs: self.pairs.clone(),
            models: match &self.fold_models {
                Some(dir) => Models::PerFold {
                    dir: super::plan_path(dir),
                },
                None => Models::One {
                    dir: super::plan_path(&self.model.dir()),
                },
            },
            sample: self.sample,
            folds: self.folds,
            threshold: self.threshold,
            cache_root: super::plan_path(&workflow::cache_root(self.cache.clone())),
        }
    }
}

pub fn eval(args: EvalArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let plan = args.plan();
    let selection = backend::select(request)?;
    let bar = if args.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t0 = std::time::Instant::now();
    let cancel = AtomicBool::new(false);
    let outcome = evaluate::run(&plan, &selection.device, &cancel, |r| match r {
        Report::Progress { done, total, .. } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        // Warnings go to stderr even with --json.
        Report::Note(line) => bar.suspend(|| eprintln!("{line}")),
        Report::Train(_) | Report::Crops(_) => {}
    })?;
    bar.finish_and_clear();
    let Outcome::Done(evaluation) = outcome else {
        anyhow::bail!("cancelled");
    };
    let r = &evaluation.report;
    write_outputs(&args, &evaluation)?;
    if args.json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        println!(
            "{}: {} pairs, accuracy {:.4} at threshold {:.3} (best on these pairs {:.4} at {}), AUC {:.4}, TAR {:.3} at FAR 1e-2, {:.3} at 1e-3{}; {} fallback crop(s), {} pair(s) missing, {} unscored; {:.0} s",
            evaluation.list.name,
            r.pairs,
            r.accuracy,
            r.threshold,
            r.best_accuracy,
            r.best_threshold,
            r.auc,
            r.tar_at_far["1e-2"],
            r.tar_at_far["1e-3"],
            match (r.fold_accuracy_mean, r.fold_accuracy_std) {
                (Some(m), Some(s)) =>
                    format!(", {}-fold accuracy {m:.4} +- {s:.4}", evaluation.list.folds),
                _ => String::new(),
            },
            r.fallback_crops,
            r.missing_pairs,
            r.unscored_pairs,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `eval` writes besides its report: the scored pairs (`--csv`) and the threshold
/// (`--save-threshold`).
fn write_outputs(args: &EvalArgs, evaluation: &evaluate::Evaluation) -> anyhow::Result<()> {
    let r = &evaluation.report;
    if let Some(csv) = &args.csv {
        let parts: Vec<_> = evaluation
            .scores
            .iter()
            .map(|(s, t)| (s, args.threshold.unwrap_or(*t)))
            .collect();
        let text = siamese_face::evaluate::scores_csv(&parts);
        imageio::write_atomic(csv, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {e}", csv.display()))?;
    }
    if args.save_threshold
        && let Some(dir) = &evaluation.model_dir
    {
        // The pairs' similarities go with it, to read error rates at any threshold later.
        let saved = match evaluation.scores.as_slice() {
            [(scores, _)] => {
                let calibration = model::Calibration::new(&evaluation.list.name, &scores.scored());
                model::set_calibrated_threshold(dir, r.best_threshold, calibration)?
            }
            _ => model::set_threshold(dir, Some(r.best_threshold))?,
        };
        eprintln!(
            "stored threshold {} (best on {}; it was {}) and the pairs' similarities in {}",
            r.best_threshold,
            evaluation.list.name,
            saved
                .previous
                .map_or("not set".to_owned(), |t| format!("{t:.3}")),
            saved.dir.join("model.json").display()
        );
        if saved.dir != *dir {
            eprintln!(
                "note: {} is shipped with the program and never changed; use the copy with --model {}",
                dir.display(),
                saved.dir.display()
            );
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArg,
    /// Write the embeddings as a float32 .npy of shape (N, 128) instead of JSON lines.
    #[arg(long, value_name = "OUT.npy")]
    pub npy: Option<PathBuf>,
}

pub fn embed(args: EmbedArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let verifier = args.model.load(request)?;
    let mut rows = Vec::new();
    let mut failed = false;
    for path in &args.images {
        let face = imageio::load_rgb(path)
            .map_err(anyhow::Error::from)
            .and_then(|img| Ok(verifier.face(&img, &path.display().to_string())?));
        match face {
            Ok(f) => {
                let e = verifier.embed(&[&f.crop]).remove(0);
                if args.npy.is_none() {
                    println!("{}", serde_json::json!({"path": path, "embedding": e}));
                }
                rows.push(e);
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {}", super::describe(&e));
                if args.npy.is_none() {
                    println!(
                        "{}",
                        serde_json::json!({"path": path, "error": super::describe(&e)})
                    );
                }
            }
        }
    }
    if let Some(out) = &args.npy {
        anyhow::ensure!(!failed, "not writing {}: some images failed", out.display());
        let flat: Vec<f32> = rows.concat();
        let array =
            ndarray::Array2::from_shape_vec((rows.len(), rows.first().map_or(0, Vec::len)), flat)?;
        let mut bytes = Vec::new();
        array.write_npy(&mut bytes)?;
        imageio::write_atomic(out, &bytes)?;
        eprintln!("wrote {} embeddings to {}", rows.len(), out.display());
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A `--threshold`: a cosine similarity, -1..1 (NaN would call a photo different from
/// itself).
pub(crate) fn parse_threshold(s: &str) -> Result<f32, String> {
    let t: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if (-1.0..=1.0).contains(&t) {
        Ok(t)
    } else {
        Err(format!("{s} is not a cosine similarity (-1..1)"))
    }
}
