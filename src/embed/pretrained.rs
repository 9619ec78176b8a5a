//! Initial backbone weights: torchvision's ImageNet MobileNetV2 (converted once by
//! scripts/fetch_weights.sh into `weights/mobilenetv2.bpk` and compiled in), or a
//! user-supplied PyTorch file for any backbone (torchvision layout for MobileNetV2 and VGG19,
//! timm's for Inception-ResNet-v2).

use std::path::{Path, PathBuf};

use burn::store::{BurnpackStore, ModuleSnapshot, PytorchStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{Backbone, BackboneKind, DlibResNet, MobileNetV2};

static MOBILENETV2_BPK: &[u8] = crate::embed_aligned!("../../weights/mobilenetv2.bpk");
static DLIB_RESNET_BPK: &[u8] = crate::embed_aligned!("../../weights/dlib_resnet.bpk");

/// Where a new network's backbone weights come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InitWeights {
    /// ImageNet weights where the app ships them (MobileNetV2), else random.
    #[default]
    Default,
    Random,
    /// A PyTorch state dict (`.pth` / `.pt`) in torchvision's (or timm's) layout.
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("the weights compiled into this program do not load: {0}")]
    Embedded(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// A backbone of `kind` initialised as `init` says, and a description of where its weights
/// came from (for the log and the model's metadata).
pub fn backbone(
    kind: BackboneKind,
    init: &InitWeights,
    device: &Device,
) -> Result<(Backbone, String), PretrainedError> {
    match (init, kind) {
        (InitWeights::Default, BackboneKind::MobileNetV2) => {
            let mut net = MobileNetV2::new(device);
            load_static(&mut net, MOBILENETV2_BPK)?;
            let what = "ImageNet (torchvision mobilenet_v2-b0353104.pth, built in)".to_string();
            Ok((Backbone::MobileNetV2(net), what))
        }
        (InitWeights::Default, BackboneKind::DlibResnet) => {
            let mut net = DlibResNet::new(device);
            load_static(&mut net, DLIB_RESNET_BPK)?;
            let what =
                "faces (dlib_face_recognition_resnet_model_v1 via @vladmandic/face-api, built in)"
                    .to_string();
            Ok((Backbone::DlibResNet(net), what))
        }
        (InitWeights::Default | InitWeights::Random, _) => {
            Ok((Backbone::new(kind, device), "random initialisation".into()))
        }
        (InitWeights::File(path), _) => {
            let backbone = from_pytorch(kind, path, device)?;
            Ok((backbone, format!("{} (user file)", path.display())))
        }
    }
}

/// Reads a PyTorch state dict into a backbone of `kind`. The classifier's tensors are
/// ignored; a file that leaves any backbone tensor unset (another architecture) is refused.
pub fn from_pytorch(
    kind: BackboneKind,
    path: &Path,
    device: &Device,
) -> Result<Backbone, PretrainedError> {
    let err = |message: String| PretrainedError::File {
        path: path.display().to_string(),
        message,
    };
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    // Mismatches come back in the result (validate(false)) so they can be reported briefly.
    let mut store = PytorchStore::from_file(path)
        .allow_partial(true)
        .validate(false);
    if kind == BackboneKind::MobileNetV2 {
        // torchvision's indices are already contiguous; the key map relies on them as-is.
        store = store.map_indices_contiguous(false);
        for (from, to) in MobileNetV2::torchvision_key_map() {
            store = store.with_key_remapping(from, to);
        }
    }
    let mut backbone = Backbone::new(kind, device);
    let result = match &mut backbone {
        Backbone::SmallCnn(m) => m.load_from(&mut store),
        Backbone::MobileNetV2(m) => m.load_from(&mut store),
        Backbone::Vgg19(m) => m.load_from(&mut store),
        Backbone::InceptionResNetV2(m) => m.load_from(&mut store),
        Backbone::DlibResNet(_) => {
            return Err(err(
                "dlib-resnet weights do not come as PyTorch files; it starts from its built-in face weights".into(),
            ));
        }
    }
    .map_err(|e| {
        let e = e.to_string();
        err(format!(
            "not a readable PyTorch file: {}",
            e.lines().next().unwrap_or_default()
        ))
    })?;
    if !result.errors.is_empty() {
        return Err(err(format!(
            "does not fit a {kind} backbone: {}",
            result.errors[0]
        )));
    }
    if !result.missing.is_empty() || result.applied.is_empty() {
        let names: Vec<&str> = result
            .missing
            .iter()
            .take(3)
            .map(|(p, _)| p.as_str())
            .collect();
        return Err(err(format!(
            "does not hold a {kind} backbone ({} of its tensors missing, e.g. {})",
            result.missing.len(),
            names.join(", ")
        )));
    }
    Ok(backbone)
}

/// Converts torchvision's `mobilenet_v2-b0353104.pth` into the burnpack compiled into the
/// program (written atomically).
pub fn convert_mobilenet_v2(pth: &Path, out: &Path) -> Result<(), PretrainedError> {
    let device = Device::flex();
    let Backbone::MobileNetV2(net) = from_pytorch(BackboneKind::MobileNetV2, pth, &device)? else {
        unreachable!("asked for MobileNetV2")
    };
    let metadata = [
        ("model", "MobileNetV2 features (ImageNet)"),
        ("source", "torchvision mobilenet_v2-b0353104.pth"),
        ("license", "BSD-3-Clause (torchvision)"),
    ];
    crate::embedded::save_burnpack(&net, out, &metadata).map_err(|message| PretrainedError::Write {
        path: out.display().to_string(),
        message,
    })
}

/// Loads one of the burnpacks compiled into the program; every tensor must be there.
fn load_static<M: ModuleSnapshot>(
    net: &mut M,
    bytes: &'static [u8],
) -> Result<(), PretrainedError> {
    let mut store = BurnpackStore::from_static(bytes);
    let result = net
        .load_from(&mut store)
        .map_err(|e| PretrainedError::Embedded(e.to_string()))?;
    if !result.missing.is_empty() {
        return Err(PretrainedError::Embedded(format!(
            "{} tensors missing",
            result.missing.len()
        )));
    }
    Ok(())
}

/// Converts face-api's TF.js port of dlib's face ResNet into the burnpack compiled into the
/// program (written atomically).
pub fn convert_face_api(manifest: &Path, out: &Path) -> Result<(), PretrainedError> {
    let device = Device::flex();
    let net =
        DlibResNet::from_face_api(manifest, &device).map_err(|message| PretrainedError::File {
            path: manifest.display().to_string(),
            message,
        })?;
    let metadata = [
        (
            "model",
            "dlib_face_recognition_resnet_model_v1 (affine layers folded)",
        ),
        (
            "source",
            "npm @vladmandic/face-api model/face_recognition_model (TF.js port, uint8-quantised)",
        ),
        ("license", "MIT (face-api), CC0 (dlib model weights)"),
    ];
    crate::embedded::save_burnpack(&net, out, &metadata).map_err(|message| PretrainedError::Write {
        path: out.display().to_string(),
        message,
    })
}
