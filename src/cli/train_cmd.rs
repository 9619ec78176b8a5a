//! `siamese-face train --triplets FILE.npy --out MODEL_DIR`: trains the small CNN embedding
//! network with triplet loss, with a progress bar (or one JSON event per line with --json).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::backend::{self, BackendRequest};
use siamese_face::embed::train::{self, ModelMeta, TrainConfig, TrainEvent};
use siamese_face::triplets::TripletArray;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Triplets (.npy of shape (N, 3, S, S, 3)), e.g. from `siamese-face triplets`.
    #[arg(long, value_name = "FILE.npy")]
    pub triplets: PathBuf,
    /// Folder for the trained model (model.bpk + model.json).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Triplets per step.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Triplet-loss margin on squared distances between unit embeddings (0..4).
    #[arg(long, default_value_t = 0.5)]
    pub margin: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// One JSON event per line on stdout instead of a progress bar.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: TrainArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let data = TripletArray::load(&args.triplets)?;
    let selection = backend::select(request)?;
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch,
        learning_rate: args.lr,
        margin: args.margin,
        seed: args.seed,
    };
    let steps = cfg.epochs * cfg.steps_per_epoch(data.len());
    let bar = if args.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(steps as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} step {pos}/{len}  eta {eta}  {msg}")
            .expect("a valid template"),
    );
    let stop = AtomicBool::new(false);
    let (net, summary) = train::train(&data, &cfg, &selection.device, &stop, |e| {
        if args.json {
            println!("{}", serde_json::to_string(e).expect("events serialise"));
        }
        if let TrainEvent::Step {
            epoch,
            loss,
            active,
            triplets_per_s,
            ..
        } = e
        {
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}  loss {loss:.4}  active {:.0}%  {triplets_per_s:.0} triplets/s",
                active * 100.0
            ));
        }
    })?;
    bar.finish_and_clear();
    let meta = ModelMeta::small_cnn(cfg, data.size(), data.len());
    train::save_model(&net, &meta, &args.out)?;
    if args.json {
        let done = serde_json::json!({"event": "done", "summary": summary, "model": args.out});
        println!("{done}");
    } else {
        println!(
            "trained {} steps in {:.0} s on {} (final loss {:.4}); model in {}",
            summary.steps,
            summary.seconds,
            selection.label(),
            summary.final_loss,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
