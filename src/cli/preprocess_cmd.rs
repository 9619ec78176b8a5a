//! `siamese-face preprocess --data DIR`: detect and crop every image of a dataset once,
//! into the crop cache that training and evaluation read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::Dataset;
use siamese_face::backend::BackendRequest;
use siamese_face::preprocess::{self, CropCache, PreprocessSettings};

use super::crop_cmd::{CropArgs, PickArg};
use super::detect_cmd::{self, DetectorArgs};

#[derive(Debug, Args)]
pub struct PreprocessArgs {
    /// Dataset folder.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Cache root (default: $SIAMESE_FACE_CACHE, else ~/.cache/siamese-face).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Which face to keep when an image holds several (LFW: the centred one).
    #[arg(long, value_enum, default_value = "centre")]
    pub pick: PickArg,
    /// Print the final counts as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub crop: CropArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
}

pub fn run(args: PreprocessArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let settings = PreprocessSettings {
        detector: args.detector.config()?,
        crop: args.crop.config()?,
        pick: args.pick.into(),
    };
    let dataset = Dataset::open(&args.data)?;
    let root = args.cache.unwrap_or_else(preprocess::default_cache_root);
    let dir = CropCache::dir_for(&root, &dataset, &settings);
    let mut cache = CropCache::open(&dir, &dataset, &settings)?;
    let detector = detect_cmd::detector(request)?;
    let bar = ProgressBar::new(dataset.image_count() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  eta {eta}  {msg}")
            .expect("a valid template"),
    );
    // Ctrl-C ends the process; the index saved every few seconds lets a re-run resume.
    let cancel = AtomicBool::new(false);
    let progress = preprocess::run(&dataset, &mut cache, &detector, &cancel, |p| {
        bar.set_position(p.done as u64);
        if p.done % 50 == 0 {
            bar.set_message(format!(
                "cropped {} / no face {} / errors {}",
                p.cropped, p.no_face, p.errors
            ));
        }
    })?;
    bar.finish_and_clear();
    if args.json {
        let value = serde_json::json!({
            "cache": cache.dir(),
            "progress": progress,
        });
        println!("{value}");
    } else {
        println!(
            "{} images: {} cropped ({} from an earlier run, {} chosen among several faces), {} without a usable face, {} errors",
            progress.total,
            progress.cropped,
            progress.cached,
            progress.several_faces,
            progress.no_face,
            progress.errors
        );
        println!("crops in {}", cache.dir().display());
    }
    Ok(ExitCode::SUCCESS)
}
