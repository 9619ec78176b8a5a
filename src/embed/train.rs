//! Training the embedding network on a fixed set of triplets with triplet loss and Adam,
//! reporting typed events, stoppable at any step, and saving the model with its metadata.
//!
//! (Online semi-hard mining, augmentation, validation accuracy, checkpoints/resume and the
//! other backbones are still to come with the rest of the training issue.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{EMBEDDING_DIM, SmallCnn, triplet_loss};
use crate::triplets::TripletArray;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub margin: f32,
    /// Seeds the batch order (the weights' initialisation is Burn's own).
    pub seed: u64,
}

impl TrainConfig {
    /// Steps per epoch over `triplets` (the last batch may be smaller).
    pub fn steps_per_epoch(&self, triplets: usize) -> usize {
        triplets.div_ceil(self.batch_size.clamp(1, triplets.max(1)))
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 5,
            batch_size: 32,
            learning_rate: 1e-3,
            margin: 0.5,
            seed: 0,
        }
    }
}

/// What the trainer reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f32,
        /// Fraction of the batch's triplets still violating the margin.
        active: f32,
        triplets_per_s: f64,
    },
    Epoch {
        epoch: usize,
        mean_loss: f32,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no triplets to train on")]
    Empty,
    #[error("the loss became {value} at step {step}: lower the learning rate")]
    NotFinite { step: usize, value: f32 },
    #[error("model {path}: {message}")]
    Model { path: String, message: String },
}

/// How training ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    pub steps: usize,
    pub stopped: bool,
    pub final_loss: f32,
    pub seconds: f64,
}

/// One batch of crops (anchor, positive or negative of the given triplets) as a normalised
/// (B, 3, S, S) tensor.
fn batch(data: &TripletArray, rows: &[usize], which: usize, device: &Device) -> Tensor<4> {
    let s = data.size();
    let plane = s * s;
    let mut out = vec![0f32; rows.len() * 3 * plane];
    for (&r, dst) in rows.iter().zip(out.chunks_exact_mut(3 * plane)) {
        let crop = data.0.index_axis(ndarray::Axis(0), r);
        let crop = crop.index_axis(ndarray::Axis(0), which);
        for ((y, x, c), v) in crop.indexed_iter() {
            dst[c * plane + y * s + x] = *v as f32 / 127.5 - 1.0;
        }
    }
    Tensor::from_data(TensorData::new(out, [rows.len(), 3, s, s]), device)
}

/// Trains a fresh small CNN on `data`. Stops early (keeping what was learnt) when `stop` is
/// set; a non-finite loss ends training with an error.
pub fn train(
    data: &TripletArray,
    cfg: &TrainConfig,
    device: &Device,
    stop: &AtomicBool,
    mut on_event: impl FnMut(&TrainEvent),
) -> Result<(SmallCnn, TrainSummary), TrainError> {
    if data.is_empty() {
        return Err(TrainError::Empty);
    }
    let device = device.clone().autodiff();
    let mut net = SmallCnn::new(&device);
    let mut optim = AdamConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let bs = cfg.batch_size.clamp(1, data.len());
    let steps_per_epoch = cfg.steps_per_epoch(data.len());
    let start = Instant::now();
    let (mut step, mut final_loss, mut stopped) = (0, f32::NAN, false);
    'epochs: for epoch in 1..=cfg.epochs {
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for (i, rows) in order.chunks(bs).enumerate() {
            if stop.load(Ordering::Relaxed) {
                stopped = true;
                break 'epochs;
            }
            let t0 = Instant::now();
            let [a, p, n] = [0, 1, 2].map(|k| net.forward(batch(data, rows, k, &device)));
            let (loss, active) = triplet_loss(a, p, n, cfg.margin);
            let value: f32 = loss.clone().into_scalar();
            step += 1;
            if !value.is_finite() {
                return Err(TrainError::NotFinite { step, value });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(cfg.learning_rate, net, grads);
            final_loss = value;
            sum += value;
            on_event(&TrainEvent::Step {
                epoch,
                step: i + 1,
                steps: steps_per_epoch,
                loss: value,
                active: active.into_scalar(),
                triplets_per_s: rows.len() as f64 / t0.elapsed().as_secs_f64(),
            });
        }
        on_event(&TrainEvent::Epoch {
            epoch,
            mean_loss: sum / steps_per_epoch as f32,
        });
    }
    let summary = TrainSummary {
        steps: step,
        stopped,
        final_loss,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((net.valid(), summary))
}

/// What is stored beside the weights (`model.json` next to `model.bpk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub backbone: String,
    pub input_size: usize,
    /// How crops are turned into inputs.
    pub normalisation: String,
    pub embedding_dim: usize,
    pub train: TrainConfig,
    pub triplets: usize,
    /// The verification threshold (cosine similarity), once one has been chosen.
    pub threshold: Option<f32>,
}

impl ModelMeta {
    /// Metadata of a small CNN trained with `train` on `triplets` crops of `input_size`.
    pub fn small_cnn(train: TrainConfig, input_size: usize, triplets: usize) -> ModelMeta {
        ModelMeta {
            backbone: "small-cnn".into(),
            input_size,
            normalisation: "x / 127.5 - 1 (RGB)".into(),
            embedding_dim: EMBEDDING_DIM,
            train,
            triplets,
            threshold: None,
        }
    }
}

/// Writes `model.bpk` and `model.json` into `dir` (each atomically).
pub fn save_model(net: &SmallCnn, meta: &ModelMeta, dir: &Path) -> Result<(), TrainError> {
    let err = |e: &dyn std::fmt::Display| TrainError::Model {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    let tmp = dir.join("model.bpk.tmp");
    let mut store = BurnpackStore::from_file(&tmp)
        .auto_extension(false)
        .overwrite(true);
    net.save_into(&mut store).map_err(|e| err(&e))?;
    std::fs::rename(&tmp, dir.join("model.bpk")).map_err(|e| err(&e))?;
    let json = serde_json::to_vec_pretty(meta).expect("metadata serialises");
    crate::imageio::write_atomic(&dir.join("model.json"), &json).map_err(|e| err(&e))
}

/// Reads a model saved by [`save_model`]; a file of another architecture is refused.
pub fn load_model(dir: &Path, device: &Device) -> Result<(SmallCnn, ModelMeta), TrainError> {
    let err = |message: String| TrainError::Model {
        path: dir.display().to_string(),
        message,
    };
    let meta: ModelMeta = serde_json::from_slice(
        &std::fs::read(dir.join("model.json")).map_err(|e| err(format!("model.json: {e}")))?,
    )
    .map_err(|e| err(format!("model.json is not model metadata: {e}")))?;
    if meta.backbone != "small-cnn" || meta.embedding_dim != EMBEDDING_DIM {
        return Err(err(format!(
            "backbone {} with {}-d embeddings is not supported by this build",
            meta.backbone, meta.embedding_dim
        )));
    }
    let mut net = SmallCnn::new(device);
    let mut store = BurnpackStore::from_file(dir.join("model.bpk")).auto_extension(false);
    net.load_from(&mut store).map_err(|e| {
        err(format!(
            "model.bpk does not fit a {} network: {e}",
            meta.backbone
        ))
    })?;
    Ok((net, meta))
}
