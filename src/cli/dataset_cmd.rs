//! `siamese-face dataset info <DIR> [--json]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use siamese_face::Dataset;
use siamese_face::dataset::DatasetSummary;

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Layout, counts and the validation of every protocol list in a dataset folder.
    Info {
        /// Dataset folder: official LFW, Kaggle lfw-dataset, or <person>/<image> folders.
        dir: PathBuf,
        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: DatasetCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DatasetCommand::Info { dir, json } => {
            let spinner = ProgressBar::new_spinner()
                .with_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}")?)
                .with_message(format!("scanning {}", dir.display()));
            spinner.enable_steady_tick(Duration::from_millis(100));
            let dataset = Dataset::open(&dir);
            spinner.finish_and_clear();
            let summary = dataset
                .with_context(|| format!("cannot open dataset {}", dir.display()))?
                .summary();
            if json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                print!("{}", render_text(&summary));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn render_text(s: &DatasetSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "Dataset  {}  (layout: {})", s.root, s.layout);
    let _ = writeln!(out, "Images   {}", s.image_root);
    let _ = writeln!(
        out,
        "         {} images of {} people, {} people with 2+ images",
        s.images, s.people, s.people_with_2plus
    );
    if !s.pair_lists.is_empty() {
        let _ = writeln!(out, "\nPair lists");
        for (name, l) in &s.pair_lists {
            let status = if l.missing_files == 0 && l.malformed_lines == 0 {
                "ok".to_owned()
            } else {
                format!(
                    "{} missing files, {} malformed lines",
                    l.missing_files, l.malformed_lines
                )
            };
            let _ = writeln!(
                out,
                "  {name:<16} {:>5} matched {:>5} mismatched {:>3} folds   {status}",
                l.matched, l.mismatched, l.folds
            );
            for example in l.missing_examples.iter().chain(&l.malformed_examples) {
                let _ = writeln!(out, "      {example}");
            }
            for w in &l.warnings {
                let _ = writeln!(out, "      warning: {w}");
            }
        }
    }
    if !s.people_lists.is_empty() {
        let _ = writeln!(out, "\nPeople lists");
        for (name, l) in &s.people_lists {
            let _ = writeln!(
                out,
                "  {name:<16} {:>5} people {:>3} folds   {} not in the dataset",
                l.people, l.folds, l.missing_people
            );
            for w in &l.warnings {
                let _ = writeln!(out, "      warning: {w}");
            }
        }
    }
    for w in &s.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
