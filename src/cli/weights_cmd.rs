//! `siamese-face weights ...`: developer commands that convert upstream weight files into
//! the burnpacks committed under `weights/` (run by scripts/fetch_weights.sh).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use siamese_face::detect::weights;

#[derive(Debug, Subcommand)]
pub enum WeightsCommand {
    /// Convert facenet-pytorch's pnet.pt, rnet.pt and onet.pt into one burnpack.
    ImportMtcnn {
        /// Folder holding pnet.pt, rnet.pt and onet.pt (facenet_pytorch/data in the wheel).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Output burnpack.
        #[arg(long, value_name = "FILE", default_value = "weights/mtcnn.bpk")]
        out: PathBuf,
    },
}

pub fn run(cmd: WeightsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WeightsCommand::ImportMtcnn { from, out } => {
            // Conversion is pure data movement: the CPU backend is always available.
            let device = burn::tensor::Device::flex();
            let nets = weights::import_pytorch(&from, &device)?;
            weights::save_burnpack(&nets, &out)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
