//! `people cluster`: the index's unknown faces grouped into likely people.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use siamese_face::face_index::cluster::{ClusterSettings, DEFAULT_THRESHOLD, Method};
use siamese_face::workflow::people::{FaceFilter, Recogniser};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    /// Chinese whispers, as dlib's face clustering (robust to a few look-alikes).
    ChineseWhispers,
    /// Connected components: single-linkage cut at the threshold.
    Components,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FacesArg {
    /// Every face no person holds.
    All,
    /// Each photo's largest face only.
    Largest,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Cosine similarity two faces need to be linked.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    pub threshold: f32,
    /// Smaller groups stay unknown.
    #[arg(long, default_value_t = 2)]
    pub min_size: usize,
    #[arg(long, value_enum, default_value = "chinese-whispers")]
    pub method: MethodArg,
    #[arg(long, value_enum, default_value = "all")]
    pub faces: FacesArg,
    /// The groups as JSON (every face: id, photo, box).
    #[arg(long)]
    pub json: bool,
    /// Show the stored groups (the last grouping, with the faces indexed since that
    /// joined them) instead of grouping again.
    #[arg(long, conflicts_with_all = ["threshold", "method", "faces"])]
    pub stored: bool,
}

pub fn cluster(rec: &mut Recogniser, args: &ClusterArgs) -> anyhow::Result<ExitCode> {
    if !(-1.0..=1.0).contains(&args.threshold) {
        anyhow::bail!(
            "--threshold {} is not a cosine similarity (-1..1)",
            args.threshold
        );
    }
    let settings = ClusterSettings {
        threshold: args.threshold,
        min_size: args.min_size,
        method: match args.method {
            MethodArg::ChineseWhispers => Method::ChineseWhispers,
            MethodArg::Components => Method::Components,
        },
    };
    let filter = match args.faces {
        FacesArg::All => FaceFilter::All,
        FacesArg::Largest => FaceFilter::Largest,
    };
    let g = if args.stored {
        rec.stored_grouping(args.min_size)?.ok_or_else(|| {
            anyhow::anyhow!("the unknown faces were never grouped: run `people cluster` first")
        })?
    } else {
        rec.group_unknown(&settings, filter)?
    };
    if args.json {
        println!("{}", serde_json::to_string(&g)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} group(s) among {} unknown face(s), {} left ungrouped ({:.1} s)",
        g.groups.len(),
        g.faces,
        g.ungrouped,
        g.seconds
    );
    for (i, group) in g.groups.iter().enumerate() {
        let photos: Vec<&str> = group.iter().take(3).map(|f| f.photo.as_str()).collect();
        let more = group.len().saturating_sub(photos.len());
        println!(
            "group {}: {} face(s): {}{}",
            i + 1,
            group.len(),
            photos.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
