//! `siamese-face triplets --data DIR --count N --out FILE.npy [--seed S]`: anchor /
//! positive / negative face crops from the training identities, saved as the seed's .npy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::Dataset;
use siamese_face::backend::BackendRequest;
use siamese_face::preprocess::{self, CropCache, PreprocessSettings};
use siamese_face::triplets::{self, Sidecar};

use super::crop_cmd::CropArgs;
use super::detect_cmd::{self, DetectorArgs};

#[derive(Debug, Args)]
pub struct TripletsArgs {
    /// Dataset folder (LFW: triplets come from peopleDevTrain identities only).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Number of triplets.
    #[arg(long, default_value_t = triplets::DEFAULT_COUNT)]
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

pub fn run(args: TripletsArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    let settings = PreprocessSettings {
        detector: args.detector.config()?,
        crop: args.crop.config()?,
        pick: Default::default(),
    };
    let dataset = Dataset::open(&args.data)?;
    let identities = match dataset.dev_split() {
        Ok(split) => split.train,
        Err(e) => {
            eprintln!(
                "note: {e}; drawing from all {} people of the dataset",
                dataset.people.len()
            );
            dataset.people.iter().map(|p| p.name.clone()).collect()
        }
    };
    let sources = triplets::draw(&dataset, &identities, args.count, args.seed)?;
    let root = args.cache.unwrap_or_else(preprocess::default_cache_root);
    let mut cache = CropCache::open(
        &CropCache::dir_for(&root, &dataset, &settings),
        &dataset,
        &settings,
    )?;
    let detector = detect_cmd::detector(request)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} face crops  eta {eta}")
            .expect("a valid template"),
    );
    let cancel = AtomicBool::new(false);
    let (array, fallbacks) = triplets::crops(
        &dataset,
        &sources,
        &mut cache,
        &detector,
        &cancel,
        super::follow(&bar),
    )?;
    bar.finish_and_clear();
    array.save(&args.out)?;
    Sidecar {
        dataset: dataset.root.clone(),
        seed: args.seed,
        crops: settings.key(),
        fallback_crops: fallbacks.clone(),
        triplets: sources,
    }
    .save(&args.out)?;
    println!(
        "wrote {} triplets of {}x{} crops to {} (+ {}); {} image(s) without a usable face were centre-cropped",
        array.len(),
        array.size(),
        array.size(),
        args.out.display(),
        triplets::sidecar_path(&args.out).display(),
        fallbacks.len()
    );
    Ok(ExitCode::SUCCESS)
}
