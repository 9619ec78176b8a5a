//! `siamese-face detect IMAGE... [--json]`: MTCNN faces per image, one line per image.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use siamese_face::backend::{self, BackendRequest};
use siamese_face::detect::{Detector, DetectorConfig, Face};
use siamese_face::imageio;

/// Detector settings shared by every command that detects faces.
#[derive(Debug, Clone, Args)]
pub struct DetectorArgs {
    /// Smallest face side searched for, in pixels.
    #[arg(long, default_value_t = 20.0, value_name = "PX")]
    pub min_face_size: f32,
    /// P-Net, R-Net and O-Net probability thresholds.
    #[arg(long, value_delimiter = ',', default_values_t = [0.6, 0.7, 0.7], value_name = "P,R,O")]
    pub thresholds: Vec<f32>,
    /// Scale step between image-pyramid levels.
    #[arg(long, default_value_t = 0.709)]
    pub factor: f32,
}

impl DetectorArgs {
    pub fn config(&self) -> anyhow::Result<DetectorConfig> {
        let [p, r, o] = self.thresholds[..] else {
            anyhow::bail!("--thresholds takes three values, e.g. 0.6,0.7,0.7");
        };
        let cfg = DetectorConfig {
            min_face_size: self.min_face_size,
            thresholds: [p, r, o],
            factor: self.factor,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Images to search.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// One JSON object per image per line instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub detector: DetectorArgs,
}

/// One image's result, fields in the documented order.
#[derive(serde::Serialize)]
struct Line<'a> {
    path: &'a str,
    width: u32,
    height: u32,
    faces: &'a [Face],
    /// Found with a border added: the photo is cropped close to the face.
    close_crop: bool,
}

/// A detector on the requested backend (wgpu on a hardware GPU, else the CPU).
pub fn detector(request: BackendRequest) -> anyhow::Result<Detector> {
    let selection = backend::select(request)?;
    log::info!("detecting on {}", selection.label());
    Ok(Detector::new(&selection.device)?)
}

pub fn run(args: DetectArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let cfg = args.detector.config()?;
    let detector = detector(request)?;
    let mut failed = false;
    let stdout = std::io::stdout();
    for path in &args.images {
        let shown = path.display().to_string();
        let result = imageio::load_rgb(path)
            .map_err(anyhow::Error::from)
            .and_then(|img| Ok(detector.detect_or_pad(&img, &cfg, |_| true)?));
        let mut out = stdout.lock();
        match result {
            Ok(d) => {
                if args.json {
                    let line = Line {
                        path: &shown,
                        width: d.width,
                        height: d.height,
                        faces: &d.faces,
                        close_crop: d.padded,
                    };
                    writeln!(out, "{}", serde_json::to_string(&line)?)?;
                } else {
                    writeln!(
                        out,
                        "{shown}: {}x{}, {} face(s)",
                        d.width,
                        d.height,
                        d.faces.len()
                    )?;
                    for f in &d.faces {
                        let [x1, y1, x2, y2] = f.bbox;
                        writeln!(
                            out,
                            "  box ({x1:.1}, {y1:.1})-({x2:.1}, {y2:.1})  score {:.4}",
                            f.score
                        )?;
                    }
                }
            }
            Err(e) => {
                failed = true;
                if args.json {
                    let value = serde_json::json!({"path": shown, "error": super::describe(&e)});
                    writeln!(out, "{value}")?;
                } else {
                    writeln!(out, "{shown}: error: {}", super::describe(&e))?;
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
