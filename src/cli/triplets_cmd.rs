//! `siamese-face triplets --data DIR --count N --out FILE.npy [--seed S]`: anchor /
//! positive / negative face crops from the training identities, saved as the seed's .npy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::backend::{self, BackendRequest};
use siamese_face::preprocess::PreprocessSettings;
use siamese_face::triplets::{DEFAULT_COUNT, sidecar_path};
use siamese_face::workflow::triplets::{self, Generated, TripletsPlan};
use siamese_face::workflow::{self, Outcome, Report};

use super::crop_cmd::CropArgs;
use super::detect_cmd::DetectorArgs;

#[derive(Debug, Args)]
pub struct TripletsArgs {
    /// Dataset folder (LFW: triplets come from peopleDevTrain identities only).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Number of triplets.
    #[arg(long, default_value_t = DEFAULT_COUNT)]
    pub count: usize,
    /// Output .npy (uint8, shape (N, 3, S, S, 3)); a .json sidecar is written beside it.
    #[arg(long, value_name = "FILE.npy")]
    pub out: PathBuf,
    /// Random seed: the same seed gives the same triplets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Crop cache root (default: $SIAMESE_FACE_CACHE, else ~/.cache/siamese-face).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    pub crop: CropArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
}

impl TripletsArgs {
    pub fn plan(&self) -> anyhow::Result<TripletsPlan> {
        Ok(TripletsPlan {
            dataset: super::plan_path(&self.data),
            count: self.count,
            seed: self.seed,
            crops: PreprocessSettings {
                detector: self.detector.config()?,
                crop: self.crop.config()?,
                pick: Default::default(),
            },
            cache_root: super::plan_path(&workflow::cache_root(self.cache.clone())),
        })
    }
}

pub fn run(args: TripletsArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let plan = args.plan()?;
    let selection = backend::select(request)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} face crops  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let cancel = AtomicBool::new(false);
    let outcome = triplets::run(&plan, &selection.device, &cancel, |r| match r {
        Report::Progress { done, total, .. } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        Report::Note(line) => bar.println(line),
        Report::Train(_) | Report::Crops(_) => {}
    })?;
    bar.finish_and_clear();
    let Outcome::Done(Generated { array, sidecar }) = outcome else {
        anyhow::bail!("cancelled");
    };
    array.save(&args.out)?;
    sidecar.save(&args.out)?;
    println!(
        "wrote {} triplets of {}x{} crops to {} (+ {}); {} image(s) without a usable face were centre-cropped",
        array.len(),
        array.size(),
        array.size(),
        args.out.display(),
        sidecar_path(&args.out).display(),
        sidecar.fallback_crops.len()
    );
    Ok(ExitCode::SUCCESS)
}
