//! `siamese-face crop IMAGE --out FILE [--size 100] [--align]`: the face crop that training
//! and verification use, written in the format the file's extension names.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use siamese_face::backend::BackendRequest;
use siamese_face::crop::{self, CropConfig, FacePick, Template};
use siamese_face::imageio;

use super::detect_cmd::{self, DetectorArgs};

/// Crop settings shared by the commands that cut face crops. Unset values come from the
/// defaults of the use (the app's crop, or the crop a backbone expects).
#[derive(Debug, Clone, Args)]
pub struct CropArgs {
    /// Side of the square crop, in pixels [default: 100; 150 for dlib-resnet].
    #[arg(long)]
    pub size: Option<u32>,
    /// Align on the five landmarks (similarity transform onto a canonical template).
    #[arg(long)]
    pub align: bool,
    /// Landmark template of aligned crops [default: arcface; dlib for dlib-resnet].
    #[arg(long, value_enum)]
    pub template: Option<TemplateArg>,
    /// Context around the face, as a fraction of its size [default: 0.2; 0 for dlib-resnet].
    #[arg(long)]
    pub margin: Option<f32>,
    /// Skip faces whose box is smaller than this many pixels.
    #[arg(long, default_value_t = 20.0, value_name = "PX")]
    pub min_crop_face: f32,
    /// Skip faces with a lower detector probability.
    #[arg(long, default_value_t = 0.9)]
    pub min_score: f32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TemplateArg {
    /// ArcFace's five-point template.
    Arcface,
    /// Where MTCNN's points fall in dlib's face chips.
    Dlib,
}

impl CropArgs {
    /// The app's default crop with the values given.
    pub fn config(&self) -> anyhow::Result<CropConfig> {
        self.config_over(CropConfig::default())
    }

    /// `base` with the values given.
    pub fn config_over(&self, base: CropConfig) -> anyhow::Result<CropConfig> {
        let cfg = CropConfig {
            size: self.size.unwrap_or(base.size),
            margin: self.margin.unwrap_or(base.margin),
            align: self.align || base.align,
            template: match self.template {
                Some(TemplateArg::Arcface) => Template::Arcface,
                Some(TemplateArg::Dlib) => Template::Dlib,
                None => base.template,
            },
            min_face_size: self.min_crop_face,
            min_score: self.min_score,
        };
        cfg.validate().map_err(anyhow::Error::msg)?;
        Ok(cfg)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PickArg {
    /// The face nearest the image centre.
    Centre,
    /// The largest face.
    Largest,
}

impl From<PickArg> for FacePick {
    fn from(p: PickArg) -> Self {
        match p {
            PickArg::Centre => FacePick::NearestCentre,
            PickArg::Largest => FacePick::Largest,
        }
    }
}

#[derive(Debug, Args)]
pub struct CropCmdArgs {
    /// Image holding the face.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// Output image; its extension chooses the format (.png, .jpg, .bmp, .tif, .webp).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Which face to crop when there are several.
    #[arg(long, value_enum, default_value = "centre")]
    pub pick: PickArg,
    #[command(flatten)]
    pub crop: CropArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
}

pub fn run(args: CropCmdArgs, request: BackendRequest) -> anyhow::Result<ExitCode> {
    let crop_cfg = args.crop.config()?;
    let det_cfg = args.detector.config()?;
    // Refused before the work, not after it.
    imageio::writable_format(&args.out)?;
    let img = imageio::load_rgb(&args.image)?;
    let detector = detect_cmd::detector(request)?;
    let detection = detector.detect(&img, &det_cfg)?;
    let Some(i) = crop::pick_face(
        &detection.faces,
        img.width(),
        img.height(),
        &crop_cfg,
        args.pick.into(),
    ) else {
        anyhow::bail!(
            "no face in {} passes the filters ({} detected; minimum size {} px, minimum probability {})",
            args.image.display(),
            detection.faces.len(),
            crop_cfg.min_face_size,
            crop_cfg.min_score
        );
    };
    let face = &detection.faces[i];
    let out = crop::crop_face(&img, face, &crop_cfg);
    imageio::save_atomic(&out, &args.out)?;
    let [x1, y1, x2, y2] = face.bbox;
    println!(
        "wrote {} ({}x{}, face {} of {}: box ({x1:.1}, {y1:.1})-({x2:.1}, {y2:.1}), score {:.4}{})",
        args.out.display(),
        crop_cfg.size,
        crop_cfg.size,
        i + 1,
        detection.faces.len(),
        face.score,
        if crop_cfg.align { ", aligned" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}
