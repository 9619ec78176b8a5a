//! `siamese-face compare A B`, `eval --data DIR --pairs LIST` and `embed IMAGE...`: face
//! verification with a trained model (the shipped default one unless --model is given).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray_npy::WriteNpyExt;
use siamese_face::backend::{self, BackendRequest};
use siamese_face::dataset::PairList;
use siamese_face::evaluate;
use siamese_face::verify::{self, Verifier};
use siamese_face::{Dataset, imageio, preprocess};

#[derive(Debug, Args)]
pub struct ModelArg {
    /// Model folder (model.bpk + model.json); default: the shipped model
    /// (weights/default-model, or $SIAMESE_FACE_MODEL).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

impl ModelArg {
    fn load(&self, request: BackendRequest) -> anyhow::Result<Verifier> {
        let dir = self.model.clone().unwrap_or_else(verify::default_model_dir);
        let selection = backend::select(request)?;
        Ok(Verifier::load(&dir, &selection.device)?)
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub a: PathBuf,
    pub b: PathBuf,
    #[command(flatten)]
    pub model: ModelArg,
    /// Cosine-similarity threshold (default: the model's).
    #[arg(long)]
    pub threshold: Option<f32>,
    #[arg(long)]
    pub json: bool,
}

pub fn compare(args: CompareArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let verifier = args.model.load(request)?;
    let mut faces = Vec::new();
    for path in [&args.a, &args.b] {
        let img = imageio::load_rgb(path)?;
        faces.push(verifier.face(&img, &path.display().to_string())?);
    }
    let e = verifier.embed(&[&faces[0].crop, &faces[1].crop]);
    let threshold = args.threshold.unwrap_or_else(|| verifier.threshold());
    let v = verify::verdict(verify::cosine(&e[0], &e[1]), threshold);
    if args.json {
        let face = |p: &Path, f: &verify::FaceCrop| serde_json::json!({"path": p, "box": f.face.bbox, "score": f.face.score, "faces_found": f.faces_found});
        let out = serde_json::json!({
            "similarity": v.similarity,
            "threshold": v.threshold,
            "same": v.same,
            "faces": [face(&args.a, &faces[0]), face(&args.b, &faces[1])],
        });
        println!("{out}");
    } else {
        for (p, f) in [(&args.a, &faces[0]), (&args.b, &faces[1])] {
            if f.faces_found > 1 {
                eprintln!(
                    "note: {} has {} faces; the largest is used",
                    p.display(),
                    f.faces_found
                );
            }
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
    #[arg(long)]
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
    #[arg(long)]
    pub json: bool,
}

pub fn eval(args: EvalArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let dataset = Dataset::open(&args.data)?;
    let list = match dataset.pair_list(&args.pairs) {
        Some(entry) => entry.list.clone(),
        None => {
            let path = Path::new(&args.pairs);
            anyhow::ensure!(
                path.is_file(),
                "{} is neither a pair list of {} ({}) nor a file",
                args.pairs,
                dataset.root.display(),
                dataset
                    .pair_lists
                    .iter()
                    .map(|e| e.list.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            PairList::load(path)?.0
        }
    };
    if let Some(k) = args.folds {
        anyhow::ensure!(
            k == list.folds,
            "{} has {} fold(s), not {k}",
            list.name,
            list.folds
        );
    }
    let list = match args.sample {
        Some(n) => evaluate::sample(&list, n),
        None => list,
    };
    let root = args.cache.unwrap_or_else(preprocess::default_cache_root);
    let bar = if args.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  eta {eta}")
            .expect("a valid template"),
    );
    let t0 = std::time::Instant::now();
    let score = |verifier: &Verifier, list: &PairList| {
        evaluate::score_pairs(
            &dataset,
            list,
            verifier,
            &root,
            &AtomicBool::new(false),
            super::follow(&bar),
        )
    };
    let r = match &args.fold_models {
        None => {
            let verifier = args.model.load(request)?;
            let scores = score(&verifier, &list)?;
            let threshold = args.threshold.unwrap_or_else(|| verifier.threshold());
            let mut r = evaluate::report(&scores, threshold, args.folds.is_some());
            r.seen_people = evaluate::seen_people(&list, &verifier.meta.data.identities);
            if args.save_threshold {
                siamese_face::embed::train::set_threshold(&verifier.dir, r.best_threshold)?;
                eprintln!(
                    "stored threshold {:.3} (best on {}) in {}",
                    r.best_threshold,
                    list.name,
                    verifier.dir.join("model.json").display()
                );
            }
            r
        }
        Some(dir) => {
            let selection = backend::select(request)?;
            let mut folds = Vec::new();
            let mut seen = 0;
            for k in 0..list.folds {
                let model = dir.join(format!("fold-{:02}", k + 1));
                let verifier = Verifier::load(&model, &selection.device)?;
                let fold = PairList {
                    pairs: list.pairs.iter().filter(|p| p.fold == k).cloned().collect(),
                    ..list.clone()
                };
                seen += evaluate::seen_people(&fold, &verifier.meta.data.identities);
                folds.push((score(&verifier, &fold)?, verifier.threshold()));
            }
            let mut r = evaluate::report_per_fold(&folds);
            r.seen_people = seen;
            r
        }
    };
    bar.finish_and_clear();
    if r.seen_people > 0 {
        eprintln!(
            "warning: the model trained on {} of these pairs' people: this is not a test on unseen people",
            r.seen_people
        );
    }
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{}: {} pairs, accuracy {:.4} at threshold {:.3} (best on these pairs {:.4} at {:.3}), AUC {:.4}, TAR {:.3} at FAR 1e-2, {:.3} at 1e-3{}; {} fallback crop(s), {} pair(s) missing; {:.0} s",
            list.name,
            r.pairs,
            r.accuracy,
            r.threshold,
            r.best_accuracy,
            r.best_threshold,
            r.auc,
            r.tar_at_far["1e-2"],
            r.tar_at_far["1e-3"],
            match (r.fold_accuracy_mean, r.fold_accuracy_std) {
                (Some(m), Some(s)) => format!(", {}-fold accuracy {m:.4} +- {s:.4}", list.folds),
                _ => String::new(),
            },
            r.fallback_crops,
            r.missing_pairs,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
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
                eprintln!("error: {e:#}");
                if args.npy.is_none() {
                    println!(
                        "{}",
                        serde_json::json!({"path": path, "error": format!("{e:#}")})
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
