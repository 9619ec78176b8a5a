//! `siamese-face train --out MODEL_DIR (--triplets FILE.npy | --mine --data DIR) ...`:
//! trains the embedding network with triplet loss, with a progress bar on a terminal (or
//! one JSON event per line with --json), checkpoints and resume.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::Dataset;
use siamese_face::backend::{self, BackendRequest};
use siamese_face::dataset::TrainSplit;
use siamese_face::detect::Detector;
use siamese_face::embed::augment::Augment;
use siamese_face::embed::checkpoint;
use siamese_face::embed::pretrained::InitWeights;
use siamese_face::embed::train::{
    self, Control, LrSchedule, Mining, ModelMeta, TrainConfig, TrainData, TrainEvent, TrainJob,
};
use siamese_face::embed::validation::{self, ValidationSet};
use siamese_face::embed::{BackboneKind, mining};
use siamese_face::preprocess::{self, CropCache, PreprocessSettings};
use siamese_face::triplets::{Sidecar, TripletArray};

use super::crop_cmd::CropArgs;
use super::detect_cmd::{self, DetectorArgs};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder for the trained model (model.bpk + model.json) and its checkpoints/.
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    /// Train on these triplets (.npy of shape (N, 3, S, S, 3), from `siamese-face triplets`).
    #[arg(long, value_name = "FILE.npy", conflicts_with = "mine")]
    pub triplets: Option<PathBuf>,
    /// Train with online semi-hard mining over the training identities of --data.
    #[arg(long, requires = "data")]
    pub mine: bool,
    /// Dataset folder: identities to mine (LFW: peopleDevTrain) and validation pairs.
    /// With --triplets it defaults to the dataset named in the triplets' sidecar.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "small-cnn", value_parser = parse_backbone,
          value_name = "small-cnn|mobilenetv2|vgg19|inception-resnet-v2|dlib-resnet")]
    pub backbone: BackboneKind,
    /// Initial backbone weights from a PyTorch state dict (torchvision layout; timm's for
    /// inception-resnet-v2) instead of the built-in ones (MobileNetV2) or random ones.
    #[arg(long, value_name = "FILE.pth", conflicts_with = "random_init")]
    pub weights: Option<PathBuf>,
    /// Start from random weights even where ImageNet weights are built in.
    #[arg(long)]
    pub random_init: bool,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Triplets per step (or images per step with --mine).
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value = "cosine", value_parser = ["constant", "cosine"])]
    pub schedule: String,
    /// Steps of linear learning-rate warm-up.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Triplet-loss margin on squared distances between unit embeddings (0..4).
    #[arg(long, default_value_t = 0.5)]
    pub triplet_margin: f32,
    /// Epochs with the backbone frozen (only the dense block learns).
    #[arg(long, default_value_t = 0)]
    pub freeze_epochs: usize,
    /// No augmentation (flip, crop jitter, colour jitter).
    #[arg(long)]
    pub no_augment: bool,
    /// Largest crop shift in pixels.
    #[arg(long, default_value_t = 4)]
    pub jitter: u32,
    /// Largest relative brightness/contrast/saturation change.
    #[arg(long, default_value_t = 0.2)]
    pub colour: f32,
    /// Images of each person in a mining batch.
    #[arg(long, default_value_t = 4)]
    pub images_per_person: usize,
    /// Mine among at most this many people (for quick runs).
    #[arg(long, value_name = "N")]
    pub max_people: Option<usize>,
    /// Validation pairs per class (matched / mismatched) from --val-list; 0 for none.
    #[arg(long, default_value_t = validation::DEFAULT_PER_CLASS)]
    pub val_pairs: usize,
    #[arg(long, default_value = validation::DEFAULT_LIST)]
    pub val_list: String,
    /// Train for fold K (1..10) of LFW View 2: mine the people of the other nine folds of
    /// people.txt and validate on the next fold's pairs (K = 10: fold 1), whose people are
    /// held out too; instead of peopleDevTrain and --val-list.
    #[arg(long, value_name = "K")]
    pub view2_fold: Option<usize>,
    /// Embed each face as the average of the crop's and its mirror image's embeddings (in
    /// validation and in the saved model): twice the compute, usually a little more accurate.
    #[arg(long)]
    pub flip_average: bool,
    /// While the backbone is frozen, still train its last stage (dlib-resnet: the last
    /// downsampling unit and the descriptor layer).
    #[arg(long)]
    pub train_last_stage: bool,
    /// Validate every N steps as well as after each epoch.
    #[arg(long, default_value_t = 0)]
    pub validate_every: usize,
    /// Checkpoint every N steps (0: only when stopped).
    #[arg(long, default_value_t = 200)]
    pub checkpoint_every: usize,
    /// Continue from a checkpoint folder (or the newest in MODEL_DIR/checkpoints with
    /// `--resume latest`); the other settings come from the checkpoint, except --epochs.
    #[arg(long, value_name = "DIR|latest")]
    pub resume: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop after this step of the run (the schedule still spans all --epochs), saving the
    /// model and a checkpoint: reproduces a run that was stopped there.
    #[arg(long, value_name = "STEP")]
    pub max_steps: Option<usize>,
    /// Crop cache root (default: $SIAMESE_FACE_CACHE, else ~/.cache/siamese-face).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// One JSON event per line on stdout instead of a progress bar.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub crop: CropArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
}

fn parse_backbone(s: &str) -> Result<BackboneKind, String> {
    s.parse()
}

impl TrainArgs {
    fn config(&self) -> TrainConfig {
        TrainConfig {
            backbone: self.backbone,
            init: match (&self.weights, self.random_init) {
                (Some(p), _) => InitWeights::File(p.clone()),
                (None, true) => InitWeights::Random,
                (None, false) => InitWeights::Default,
            },
            epochs: self.epochs,
            batch_size: self.batch,
            learning_rate: self.lr,
            schedule: if self.schedule == "constant" {
                LrSchedule::Constant
            } else {
                LrSchedule::Cosine
            },
            warmup_steps: self.warmup,
            margin: self.triplet_margin,
            freeze_backbone_epochs: self.freeze_epochs,
            augment: if self.no_augment {
                Augment::NONE
            } else {
                Augment {
                    flip: true,
                    jitter: self.jitter,
                    colour: self.colour,
                }
            },
            mining: self.mine.then_some(Mining {
                images_per_person: self.images_per_person,
            }),
            checkpoint_every: self.checkpoint_every,
            validate_every: self.validate_every,
            seed: self.seed,
            flip_average: self.flip_average,
            train_last_stage: self.train_last_stage,
        }
    }
}

/// The dataset's crop cache and a detector for images not yet cropped.
struct Crops {
    dataset: Dataset,
    cache: CropCache,
    detector: Detector,
}

fn open_crops(args: &TrainArgs, data: &Path, request: BackendRequest) -> anyhow::Result<Crops> {
    let settings = PreprocessSettings {
        detector: args.detector.config()?,
        crop: args.crop.config_over(args.backbone.crop())?,
        pick: Default::default(),
    };
    let dataset = Dataset::open(data)?;
    let root = args
        .cache
        .clone()
        .unwrap_or_else(preprocess::default_cache_root);
    let cache = CropCache::open(
        &CropCache::dir_for(&root, &dataset, &settings),
        &dataset,
        &settings,
    )?;
    Ok(Crops {
        dataset,
        cache,
        detector: detect_cmd::detector(request)?,
    })
}

fn crop_bar(what: &'static str, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what}  eta {{eta}}"))
            .expect("a valid template"),
    );
    bar
}

pub fn run(args: TrainArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let quiet = args.json || !std::io::stderr().is_terminal();
    let resume = match &args.resume {
        None => None,
        Some(p) if p.as_os_str() == "latest" => Some(args.out.join("checkpoints")),
        Some(p) => Some(p.clone()),
    };
    let selection = backend::select(request)?;
    let checkpoint = match &resume {
        Some(p) => Some(checkpoint::load(p, &selection.device.clone().autodiff())?),
        None => None,
    };
    let cfg = match &checkpoint {
        Some(ck) => TrainConfig {
            epochs: args.epochs,
            ..ck.state.config.clone()
        },
        None => args.config(),
    };
    let cancel = Default::default();
    // The training data.
    let sidecar = args.triplets.as_deref().and_then(|t| Sidecar::load(t).ok());
    let data_dir = args.data.clone().or(sidecar.map(|s| s.dataset));
    let mut crops = match &data_dir {
        Some(d) => Some(open_crops(&args, d, request)?),
        None => None,
    };
    // View 2 folds validate on the next fold of pairs.txt.
    let (val_list, val_fold) = match args.view2_fold {
        Some(k) => ("pairs", Some(k % 10)),
        None => (args.val_list.as_str(), None),
    };
    let has_list = |c: &Crops| c.dataset.pair_list(val_list).is_some();
    if let Some(c) = crops.as_ref().filter(|c| !has_list(c)) {
        // Only an explicitly named list must exist; LFW's default is just skipped elsewhere.
        anyhow::ensure!(
            val_list == validation::DEFAULT_LIST,
            "the dataset at {} has no pair list {val_list}",
            c.dataset.root.display(),
        );
    }
    let val = match crops.as_mut() {
        Some(c) if args.val_pairs > 0 && has_list(c) => {
            let bar = crop_bar("face crops (validation pairs)", quiet);
            let v = ValidationSet::from_pair_list_fold(
                &c.dataset,
                val_list,
                val_fold,
                args.val_pairs,
                &mut c.cache,
                &c.detector,
                &cancel,
                super::follow(&bar),
            )?;
            bar.finish_and_clear();
            Some(v)
        }
        _ => None,
    };
    let (data, source) = if cfg.mining.is_some() {
        let c = crops.as_mut().expect("--mine requires --data");
        let mut split = match args.view2_fold {
            Some(k) => TrainSplit::View2Fold(k),
            None => TrainSplit::DevTrain,
        };
        let mut identities = match c.dataset.train_split(split) {
            Ok(s) => s.train,
            Err(e) if args.view2_fold.is_none() => {
                eprintln!("note: {e}; mining all {} people", c.dataset.people.len());
                split = TrainSplit::All;
                c.dataset.train_split(split)?.train
            }
            Err(e) => return Err(e.into()),
        };
        // The validation pairs' people are held out, so the threshold chosen on them is
        // one for people the network has not seen.
        if let Some(v) = &val {
            identities.retain(|p| !v.people.contains(p));
        }
        let bar = crop_bar("face crops (mining pool)", quiet);
        let pool = mining::identity_pool(
            &c.dataset,
            &identities,
            args.max_people,
            &mut c.cache,
            &c.detector,
            &cancel,
            super::follow(&bar),
        )?;
        bar.finish_and_clear();
        let source = format!(
            "online semi-hard mining ({split}): {} images of {} training people of {}{}",
            pool.crops.len(),
            pool.people.len(),
            c.dataset.root.display(),
            val.as_ref().map_or(String::new(), |v| format!(
                " (the {} people of the validation pairs held out)",
                v.people.len()
            ))
        );
        (TrainData::Identities(pool), source)
    } else {
        let path = args
            .triplets
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("give --triplets FILE.npy or --mine --data DIR"))?;
        let array = TripletArray::load(path)?;
        let source = format!("{} triplets from {}", array.len(), path.display());
        (TrainData::Triplets(std::sync::Arc::new(array)), source)
    };
    if !quiet {
        match &val {
            Some(v) => eprintln!("validation: {}", v.name),
            None => eprintln!("validation: none (no dataset with {} given)", args.val_list),
        }
        if cfg.freeze_backbone_epochs >= cfg.epochs
            && (cfg.augment.jitter > 0 || cfg.augment.colour > 0.0)
        {
            eprintln!(
                "note: the backbone stays frozen, so each crop's features are computed once; only flip augmentation applies"
            );
        }
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(cfg.total_steps(&data) as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} step {pos}/{len}  eta {eta}  {msg}")
            .expect("a valid template"),
    );
    let control = Control::default();
    // Resuming at or past --max-steps trains nothing and saves the checkpoint's model;
    // --max-steps 0 saves the initial network (a baseline: e.g. a face-pretrained backbone
    // with its residual head at zero).
    let start = checkpoint.as_ref().map_or(0, |ck| ck.state.step);
    if args.max_steps.is_some_and(|max| start >= max) {
        control
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let job = TrainJob {
        data: &data,
        data_source: source.clone(),
        config: cfg.clone(),
        validation: val.as_ref(),
        checkpoints: Some(args.out.join("checkpoints")),
        resume: checkpoint,
    };
    let mut last_val = String::new();
    let (net, summary) = train::train(job, &selection.device, &control, |e| {
        if args.json {
            println!("{}", serde_json::to_string(e).expect("events serialise"));
        }
        match e {
            TrainEvent::Step {
                epoch,
                step,
                loss,
                active,
                triplets_per_s,
                ..
            } => {
                if args.max_steps.is_some_and(|m| *step >= m) {
                    control
                        .stop
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                bar.set_position(*step as u64);
                bar.set_message(format!(
                    "epoch {epoch}  loss {loss:.4}  active {:.0}%  {triplets_per_s:.0} triplets/s{last_val}",
                    active * 100.0
                ));
            }
            TrainEvent::Features { done, total } => {
                bar.set_message(format!("backbone features {done}/{total}"));
            }
            TrainEvent::Validation { accuracy, .. } => {
                last_val = format!("  val acc {accuracy:.3}");
            }
            TrainEvent::Started {
                initial_weights, ..
            } if !quiet => bar.println(format!("{}: {initial_weights}", cfg.backbone)),
            _ => {}
        }
    })?;
    bar.finish_and_clear();
    let mut data_summary = data.summary(&source);
    if summary.steps == 0 {
        // An untrained network has seen nobody.
        data_summary.identities.clear();
        data_summary.source =
            format!("no training steps: the initial network (prepared on {source})");
    }
    if cfg.mining.is_some() {
        data_summary.crop = crops.as_ref().map(|c| c.cache.settings().crop);
    }
    let meta = ModelMeta::new(&cfg, data_summary, &summary);
    train::save_model(&net, &meta, &args.out)?;
    if args.json {
        let done = serde_json::json!({"event": "done", "summary": summary, "model": args.out});
        println!("{done}");
    } else {
        let val = summary
            .validation
            .map(|v| {
                format!(
                    ", validation accuracy {:.3} at cosine {:.3}",
                    v.accuracy, v.threshold
                )
            })
            .unwrap_or_default();
        println!(
            "trained {} steps in {:.0} s on {} (final loss {:.4}{val}); model in {}",
            summary.steps,
            summary.seconds,
            selection.label(),
            summary.final_loss,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
