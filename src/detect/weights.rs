//! MTCNN weights: imported once from facenet-pytorch's `.pt` files (scripts/fetch_weights.sh)
//! into one Burn burnpack, `weights/mtcnn.bpk`, which is compiled into the binary so the
//! detector works wherever the executable is copied.

use std::path::Path;

use burn::store::{BurnpackStore, ModuleSnapshot, PytorchStore};
use burn::tensor::Device;

use super::nets::MtcnnNets;

static MTCNN_BPK: &[u8] = crate::embed_aligned!("../../weights/mtcnn.bpk");

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read MTCNN weights from {path}: {message}")]
    Import { path: String, message: String },
    #[error("the MTCNN weights compiled into this program do not load: {0}")]
    Embedded(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// The networks with the weights compiled into the binary.
pub fn load_embedded(device: &Device) -> Result<MtcnnNets, WeightsError> {
    let mut nets = MtcnnNets::new(device);
    let mut store = BurnpackStore::from_static(MTCNN_BPK);
    nets.load_from(&mut store)
        .map_err(|e| WeightsError::Embedded(e.to_string()))?;
    Ok(nets)
}

/// Reads facenet-pytorch's `pnet.pt`, `rnet.pt` and `onet.pt` (legacy `torch.save` state
/// dicts). Every tensor must match a parameter of ours in name and shape, or this fails.
pub fn import_pytorch(dir: &Path, device: &Device) -> Result<MtcnnNets, WeightsError> {
    let mut nets = MtcnnNets::new(device);
    let load = |name: &str| {
        let path = dir.join(name);
        let store = PytorchStore::from_file(&path)
            // PyTorch's PReLU parameter is `weight`; Burn's is `alpha`.
            .with_key_remapping(r"^(prelu[0-9_]*)\.weight$", "$1.alpha");
        (path, store)
    };
    let err = |path: &Path, e: &dyn std::fmt::Display| WeightsError::Import {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let (path, mut store) = load("pnet.pt");
    nets.pnet
        .load_from(&mut store)
        .map_err(|e| err(&path, &e))?;
    let (path, mut store) = load("rnet.pt");
    nets.rnet
        .load_from(&mut store)
        .map_err(|e| err(&path, &e))?;
    let (path, mut store) = load("onet.pt");
    nets.onet
        .load_from(&mut store)
        .map_err(|e| err(&path, &e))?;
    Ok(nets)
}

/// Writes the networks as a burnpack, atomically (temporary file, then rename).
pub fn save_burnpack(nets: &MtcnnNets, out: &Path) -> Result<(), WeightsError> {
    let metadata = [
        ("model", "MTCNN P/R/O-Net"),
        (
            "source",
            "facenet-pytorch 2.6.0 facenet_pytorch/data/{pnet,rnet,onet}.pt",
        ),
        ("license", "MIT (facenet-pytorch)"),
    ];
    crate::embedded::save_burnpack(nets, out, &metadata).map_err(|message| WeightsError::Write {
        path: out.display().to_string(),
        message,
    })
}
