//! `siamese-face preprocess --data DIR`: detect and crop every image of a dataset once,
//! into the crop cache that training and evaluation read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::backend::{self, BackendRequest};
use siamese_face::preprocess::PreprocessSettings;
use siamese_face::workflow::preprocess::{self, PreprocessPlan, Preprocessed};
use siamese_face::workflow::{self, Outcome, Report};

use super::crop_cmd::{CropArgs, PickArg};
use super::detect_cmd::DetectorArgs;

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

impl PreprocessArgs {
    pub fn plan(&self) -> anyhow::Result<PreprocessPlan> {
        Ok(PreprocessPlan {
            dataset: super::plan_path(&self.data),
            crops: PreprocessSettings {
                detector: self.detector.config()?,
                crop: self.crop.config()?,
                pick: self.pick.into(),
            },
            cache_root: super::plan_path(&workflow::cache_root(self.cache.clone())),
        })
    }
}

pub fn run(args: PreprocessArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let plan = args.plan()?;
    let selection = backend::select(request)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Ctrl-C ends the process; the index saved every few seconds lets a re-run resume.
    let cancel = AtomicBool::new(false);
    let outcome = preprocess::run(&plan, &selection.device, &cancel, |r| match r {
        Report::Crops(p) => {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            if p.done % 50 == 0 {
                bar.set_message(format!(
                    "cropped {} / no face {} / errors {}",
                    p.cropped, p.no_face, p.errors
                ));
            }
        }
        Report::Note(line) => bar.println(line),
        Report::Progress { .. } | Report::Train(_) => {}
    })?;
    bar.finish_and_clear();
    let Outcome::Done(Preprocessed {
        progress,
        cache_dir,
    }) = outcome
    else {
        anyhow::bail!("cancelled");
    };
    if args.json {
        let value = serde_json::json!({
            "cache": cache_dir,
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
        println!("crops in {}", cache_dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
