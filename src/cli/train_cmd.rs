//! `siamese-face train --out MODEL_DIR (--triplets FILE.npy | --mine --data DIR) ...`:
//! the arguments become a training plan (the same one the Training panel builds), which
//! the library's training workflow runs; this adapter shows its progress (a bar, or one
//! JSON event per line with --json) and saves the model.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::backend::{self, BackendRequest};
use siamese_face::dataset::TrainSplit;
use siamese_face::embed::BackboneKind;
use siamese_face::embed::augment::Augment;
use siamese_face::embed::pretrained::InitWeights;
use siamese_face::embed::train::{Control, LrSchedule, Mining, TrainConfig, TrainEvent};
use siamese_face::embed::validation;
use siamese_face::model;
use siamese_face::preprocess::PreprocessSettings;
use siamese_face::triplets::Sidecar;
use siamese_face::workflow::train::{self as workflow, TrainPlan, TrainSource, ValidationPlan};
use siamese_face::workflow::{self as workflows, Outcome, Report};

use super::crop_cmd::CropArgs;
use super::detect_cmd::DetectorArgs;

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
    /// Epochs [default: 5; when resuming, the checkpoint's].
    #[arg(long)]
    pub epochs: Option<usize>,
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
    /// `--resume latest`): every setting, the data included, comes from the checkpoint,
    /// except --epochs and --max-steps.
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
            epochs: self.epochs.unwrap_or(5),
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

    /// The plan of a new run with these arguments.
    pub fn plan(&self) -> anyhow::Result<TrainPlan> {
        let config = self.config();
        // An unreadable sidecar is a file without one: the array is checked on loading.
        let sidecar = self.triplets.as_ref().and_then(|f| Sidecar::load(f).ok());
        let source = if self.mine {
            TrainSource::Mining {
                split: self
                    .view2_fold
                    .map_or(TrainSplit::DevTrain, TrainSplit::View2Fold),
                max_people: self.max_people,
            }
        } else {
            let file = self
                .triplets
                .as_deref()
                .map(super::plan_path)
                .ok_or_else(|| anyhow::anyhow!("give --triplets FILE.npy or --mine --data DIR"))?;
            TrainSource::triplets(Some(file), sidecar.as_ref())
        };
        let user = PreprocessSettings {
            detector: self.detector.config()?,
            crop: self.crop.config()?,
            pick: Default::default(),
        };
        // View 2 folds validate on the next fold of pairs.txt.
        let validation = (self.val_pairs > 0).then(|| ValidationPlan {
            list: match self.view2_fold {
                Some(_) => "pairs".into(),
                None => self.val_list.clone(),
            },
            fold: self.view2_fold.map(|k| k % 10),
            per_class: self.val_pairs,
        });
        Ok(TrainPlan {
            crops: TrainPlan::crops_for(config.backbone, &source, user),
            config,
            source,
            dataset: self
                .data
                .as_deref()
                .map(super::plan_path)
                .or(sidecar.map(|s| s.dataset)),
            validation,
            cache_root: super::plan_path(&workflows::cache_root(self.cache.clone())),
            checkpoints: Some(super::plan_path(&self.out).join("checkpoints")),
            max_steps: self.max_steps,
            resume: None,
        })
    }

    /// The plan to run: a new one, or the resumed run's own.
    fn plan_to_run(&self) -> anyhow::Result<TrainPlan> {
        let Some(resume) = &self.resume else {
            return self.plan();
        };
        let path = if resume.as_os_str() == "latest" {
            self.out.join("checkpoints")
        } else {
            resume.clone()
        };
        // Only checkpoints of older versions need the arguments.
        let mut asked = false;
        let (mut plan, note) = TrainPlan::resumed(&path, self.epochs, || {
            asked = true;
            self.plan().ok()
        })?;
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        if !asked && (self.triplets.is_some() || self.mine || self.data.is_some()) {
            eprintln!(
                "note: a resumed run trains on the data of its checkpoint; --triplets, --mine and --data given now are not used"
            );
        }
        plan.max_steps = self.max_steps;
        Ok(plan)
    }
}

fn bar_style(template: &str) -> ProgressStyle {
    // The templates are this file's own constants.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

pub fn run(args: TrainArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let quiet = args.json || !std::io::stderr().is_terminal();
    let plan = args.plan_to_run()?;
    let selection = backend::select(request)?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    let mut shown = Shown::default();
    let control = Control::default();
    let outcome = workflow::run(&plan, None, &selection.device, &control, |r| {
        shown.report(&bar, r, args.json, quiet)
    })?;
    bar.finish_and_clear();
    let Outcome::Done(trained) = outcome else {
        anyhow::bail!("cancelled");
    };
    model::save(&trained.net, &trained.meta, &args.out)?;
    let summary = &trained.summary;
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

/// What the terminal shows of a run: a bar per preparation stage, then one for the steps.
#[derive(Default)]
struct Shown {
    stage: String,
    last_val: String,
}

impl Shown {
    fn report(&mut self, bar: &ProgressBar, r: Report<'_>, json: bool, quiet: bool) {
        match r {
            Report::Progress { stage, done, total } => {
                if self.stage != stage {
                    self.stage = stage.to_string();
                    bar.set_style(bar_style(&format!(
                        "{{bar:40}} {{pos}}/{{len}} {stage}  eta {{eta}}"
                    )));
                }
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            Report::Note(line) if !quiet => bar.println(line),
            Report::Note(_) | Report::Crops(_) => {}
            Report::Train(e) => {
                if json {
                    // Events are plain data; serialising them cannot fail.
                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                }
                self.event(bar, e, quiet);
            }
        }
    }

    fn event(&mut self, bar: &ProgressBar, e: &TrainEvent, quiet: bool) {
        match e {
            TrainEvent::Started {
                steps,
                initial_weights,
                ..
            } => {
                bar.set_style(bar_style("{bar:40} step {pos}/{len}  eta {eta}  {msg}"));
                bar.set_length(*steps as u64);
                if !quiet {
                    bar.println(format!("initial weights: {initial_weights}"));
                }
            }
            TrainEvent::Step {
                epoch,
                step,
                loss,
                active,
                triplets_per_s,
                ..
            } => {
                bar.set_position(*step as u64);
                bar.set_message(format!(
                    "epoch {epoch}  loss {loss:.4}  active {:.0}%  {triplets_per_s:.0} triplets/s{}",
                    active * 100.0,
                    self.last_val
                ));
            }
            TrainEvent::Features { done, total } => {
                bar.set_message(format!("backbone features {done}/{total}"));
            }
            TrainEvent::Validation { accuracy, .. } => {
                self.last_val = format!("  val acc {accuracy:.3}");
            }
            _ => {}
        }
    }
}
