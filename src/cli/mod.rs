//! The command line: a thin layer over the library, for scripts, tests and benchmarks.

mod backend_cmd;
mod bench_cmd;
mod cluster_cmd;
pub(crate) mod crop_cmd;
mod dataset_cmd;
pub(crate) mod detect_cmd;
pub(crate) mod identify_cmd;
mod manage_cmd;
pub(crate) mod people_cmd;
pub(crate) mod preprocess_cmd;
pub(crate) mod train_cmd;
pub(crate) mod triplets_cmd;
pub(crate) mod verify_cmd;
mod weights_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use siamese_face::backend::{BACKEND_ENV, BackendRequest};

#[derive(Debug, Parser)]
#[command(
    name = "siamese-face",
    version,
    about = "Face recognition with a Siamese network trained by triplet loss.",
    long_about = "Face recognition with a Siamese network trained by triplet loss.\n\n\
                  Without a subcommand the desktop app opens; each subcommand runs headless."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Compute backend: auto (wgpu on a hardware GPU, else CPU), wgpu or cpu.
    #[arg(long, global = true, value_name = "auto|wgpu|cpu", env = BACKEND_ENV)]
    pub backend: Option<BackendRequest>,
    /// Dataset folder the app opens at start (instead of the last one used).
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// Photo the app opens on its Detection page at start.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Two photos the app opens side by side on its Compare page at start.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub compare: Option<Vec<PathBuf>>,
    /// Photo the app names the faces of on its People page at start.
    #[arg(long, value_name = "FILE")]
    pub identify: Option<PathBuf>,
}

impl GlobalArgs {
    pub fn backend_request(&self) -> BackendRequest {
        self.backend.unwrap_or_default()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect a dataset folder.
    #[command(subcommand)]
    Dataset(dataset_cmd::DatasetCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench_cmd::BenchCommand),
    /// Show the graphics adapters found and the compute backend that would be used.
    Backend {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Find faces (MTCNN): boxes, probabilities and five landmarks per face.
    Detect(detect_cmd::DetectArgs),
    /// Cut the face crop used for training and verification out of an image.
    Crop(crop_cmd::CropCmdArgs),
    /// Detect and crop every image of a dataset once, into the crop cache.
    Preprocess(preprocess_cmd::PreprocessArgs),
    /// Draw anchor/positive/negative triplets of face crops and save them as .npy.
    Triplets(triplets_cmd::TripletsArgs),
    /// Train the embedding network with triplet loss (fixed triplets or online mining).
    Train(Box<train_cmd::TrainArgs>),
    /// Compare the faces of two photos: cosine similarity and a same/different verdict.
    Compare(verify_cmd::CompareArgs),
    /// Verification accuracy, ROC/AUC, TAR@FAR (and k-fold) over a pair list.
    Eval(verify_cmd::EvalArgs),
    /// Print face embeddings (JSON lines, or a .npy).
    Embed(verify_cmd::EmbedArgs),
    /// The face index: enrol people, index photo folders, identify and search faces.
    People(people_cmd::PeopleArgs),
    /// Name the faces of photos after the people in KNOWN_DIR (as face_recognition does):
    /// prints `path,name,similarity` per face.
    Identify(identify_cmd::KnownArgs),
    /// Convert upstream weight files (developer command; see scripts/fetch_weights.sh).
    #[command(subcommand, hide = true)]
    Weights(weights_cmd::WeightsCommand),
}

pub(crate) use siamese_face::workflow::plan_path;

pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // wgpu and naga are chatty at info level while probing adapters.
    let default = format!("{level},wgpu_core=warn,wgpu_hal=error,naga=warn");
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format_timestamp(None)
        .init();
}

pub fn run(command: Command, global: &GlobalArgs) -> ExitCode {
    let result = match command {
        Command::Dataset(cmd) => dataset_cmd::run(cmd),
        Command::Bench(cmd) => bench_cmd::run(cmd, global.backend_request()),
        Command::Backend { json } => backend_cmd::run(global.backend_request(), json),
        Command::Detect(args) => detect_cmd::run(args, global.backend_request()),
        Command::Crop(args) => crop_cmd::run(args, global.backend_request()),
        Command::Preprocess(args) => preprocess_cmd::run(args, global.backend_request()),
        Command::Triplets(args) => triplets_cmd::run(args, global.backend_request()),
        Command::Train(args) => train_cmd::run(*args, global.backend_request()),
        Command::Weights(cmd) => weights_cmd::run(cmd),
        Command::Compare(args) => verify_cmd::compare(args, global.backend_request()),
        Command::Eval(args) => verify_cmd::eval(args, global.backend_request()),
        Command::Embed(args) => verify_cmd::embed(args, global.backend_request()),
        Command::People(args) => people_cmd::run(args, global.backend_request()),
        Command::Identify(args) => identify_cmd::known(args, global.backend_request()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error with its causes, each cause added only when the message does not already say
/// it (the library's messages name their source, so `{:#}` printed OS errors twice).
pub fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_threshold_is_a_cosine_similarity() {
        use super::verify_cmd::parse_threshold;
        assert_eq!(parse_threshold("0.914"), Ok(0.914));
        assert_eq!(parse_threshold("-1"), Ok(-1.0));
        for bad in ["NaN", "1.5", "-5", "inf", "x"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let missing = std::path::Path::new("/no-such-folder/photo.jpg");
        let open = siamese_face::imageio::load_rgb(missing).unwrap_err();
        let text = describe(&anyhow::Error::new(open));
        assert_eq!(text.matches("os error 2)").count(), 1, "{text}");
        // Context that does not say its cause still gets it.
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let text = describe(&anyhow::Error::new(io).context("reading the list"));
        assert_eq!(text, "reading the list: no such file");
    }
}
