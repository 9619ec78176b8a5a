//! Training the embedding network with triplet loss and Adam, on a fixed triplet set or with
//! online semi-hard mining, in the caller's thread (the app runs it in a worker): typed
//! events, pause / stop at any step, periodic validation, atomic checkpoints and resume,
//! and the final model saved with its metadata.
//!
//! Everything random is a function of (seed, step): the batch order of an epoch, the mined
//! batch and the augmentation of a step. A run resumed from a checkpoint therefore sees
//! exactly the batches the uninterrupted run would have seen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Int, Tensor, TensorData};
use image::RgbImage;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::augment::Augment;
use super::checkpoint::{self, Checkpoint, CheckpointState};
use super::mining;
use super::pretrained::{self, InitWeights};
use super::validation::{Validation, ValidationSet};
use super::{BackboneKind, EMBEDDING_DIM, EmbeddingNet, Normalisation, triplet_loss};
use crate::triplets::TripletArray;

/// Learning-rate schedule over the whole run (after the warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    Constant,
    /// Cosine decay to 1% of the initial rate at the last step.
    Cosine,
}

/// Online mining settings: each step embeds `batch_size` images, `images_per_person` of
/// each of `batch_size / images_per_person` people, and uses every anchor-positive pair
/// with its semi-hard negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mining {
    pub images_per_person: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub backbone: BackboneKind,
    pub init: InitWeights,
    pub epochs: usize,
    /// Triplets per step (fixed triplets) or images per step (mining).
    pub batch_size: usize,
    pub learning_rate: f64,
    pub schedule: LrSchedule,
    /// Steps of linear warm-up from ~0 to the learning rate.
    pub warmup_steps: usize,
    /// Triplet-loss margin on squared distances between unit embeddings (0..4).
    pub margin: f32,
    /// Epochs during which the backbone is a fixed feature extractor (only the dense block
    /// learns), for fine-tuning a pretrained backbone.
    pub freeze_backbone_epochs: usize,
    pub augment: Augment,
    /// `None`: train on the fixed triplets.
    pub mining: Option<Mining>,
    /// Write a checkpoint every this many steps (0: only when stopped).
    pub checkpoint_every: usize,
    /// Validate every this many steps (0: at the end of each epoch only).
    pub validate_every: usize,
    /// Seeds batch order, mining, augmentation and the random initial weights.
    pub seed: u64,
    /// Embed each face as the average of the crop's and its mirror image's embeddings, in
    /// validation and in the saved model's verification.
    #[serde(default)]
    pub flip_average: bool,
    /// While the backbone is frozen, still train its last stage (backbones that have one:
    /// [`BackboneKind::has_last_stage`]).
    #[serde(default)]
    pub train_last_stage: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            backbone: BackboneKind::SmallCnn,
            init: InitWeights::Default,
            epochs: 5,
            batch_size: 32,
            learning_rate: 1e-3,
            schedule: LrSchedule::Cosine,
            warmup_steps: 20,
            margin: 0.5,
            freeze_backbone_epochs: 0,
            augment: Augment::default(),
            mining: None,
            checkpoint_every: 200,
            validate_every: 0,
            seed: 0,
            flip_average: false,
            train_last_stage: false,
        }
    }
}

impl TrainConfig {
    /// Steps per epoch over `data` (the last batch may be smaller).
    pub fn steps_per_epoch(&self, data: &TrainData) -> usize {
        let n = data.len();
        n.div_ceil(self.batch_size.clamp(1, n.max(1)))
    }

    pub fn total_steps(&self, data: &TrainData) -> usize {
        self.epochs * self.steps_per_epoch(data)
    }

    /// The learning rate of 0-based `step` of `total`.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let warm = if self.warmup_steps > 0 {
            ((step + 1) as f64 / self.warmup_steps as f64).min(1.0)
        } else {
            1.0
        };
        let decay = match self.schedule {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => {
                let t = step as f64 / total.saturating_sub(1).max(1) as f64;
                0.01 + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
        };
        self.learning_rate * warm * decay
    }

    fn check(&self, data: &TrainData) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.batch_size == 0 || self.epochs == 0 {
            return bad("batch size and epochs must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!(
                "learning rate {} must be positive",
                self.learning_rate
            ));
        }
        if self.train_last_stage && !self.backbone.has_last_stage() {
            return bad(format!(
                "{} has no separately trainable last stage",
                self.backbone
            ));
        }
        let min = self.backbone.min_input();
        if data.crop_size() < min {
            return bad(format!(
                "{} needs crops of at least {min} px; these are {} px",
                self.backbone,
                data.crop_size()
            ));
        }
        match (self.mining, data) {
            (Some(m), TrainData::Identities(_)) if m.images_per_person < 2 => {
                bad("mining needs at least 2 images per person".into())
            }
            (Some(m), TrainData::Identities(_)) if self.batch_size < 2 * m.images_per_person => {
                bad("a mining batch must hold at least two people".into())
            }
            (Some(_), TrainData::Triplets(_)) => {
                bad("online mining needs identities (a dataset), not a triplet file".into())
            }
            (None, TrainData::Identities(_)) => {
                bad("training on identities needs mining settings".into())
            }
            _ => Ok(()),
        }
    }
}

/// Face crops grouped by person, the material of online mining.
#[derive(Debug, Clone)]
pub struct IdentityPool {
    pub crops: Vec<RgbImage>,
    /// Per person, indices into `crops`.
    pub people: Vec<Vec<usize>>,
    /// Per person, the name.
    pub names: Vec<String>,
    /// Images that fell back to a centre crop.
    pub fallbacks: usize,
}

/// What training learns from.
#[derive(Debug, Clone)]
pub enum TrainData {
    Triplets(Arc<TripletArray>),
    Identities(IdentityPool),
}

impl TrainData {
    /// Triplets, or images of the pool.
    pub fn len(&self) -> usize {
        match self {
            TrainData::Triplets(t) => t.len(),
            TrainData::Identities(p) => p.crops.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn crop_size(&self) -> usize {
        match self {
            TrainData::Triplets(t) => t.size(),
            TrainData::Identities(p) => p.crops.first().map_or(0, |c| c.width() as usize),
        }
    }

    pub fn summary(&self, source: &str) -> DataSummary {
        DataSummary {
            source: source.to_string(),
            triplets: match self {
                TrainData::Triplets(t) => Some(t.len()),
                TrainData::Identities(_) => None,
            },
            images: match self {
                TrainData::Triplets(t) => 3 * t.len(),
                TrainData::Identities(p) => p.crops.len(),
            },
            people: match self {
                TrainData::Triplets(_) => None,
                TrainData::Identities(p) => Some(p.people.len()),
            },
            crop_size: self.crop_size(),
            crop: None,
            identities: match self {
                TrainData::Triplets(_) => Vec::new(),
                TrainData::Identities(p) => p.names.clone(),
            },
        }
    }
}

/// What a model was trained on (stored in checkpoints and `model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// In words: the triplet file, or the dataset and split mined.
    pub source: String,
    pub triplets: Option<usize>,
    pub images: usize,
    pub people: Option<usize>,
    pub crop_size: usize,
    /// How the training crops were cut (verification cuts faces the same way); older
    /// models without it used the default crop at `crop_size`.
    #[serde(default)]
    pub crop: Option<crate::crop::CropConfig>,
    /// The identities trained on (mining), so that an evaluation can check that it tests
    /// on people the model has not seen; empty when unknown (a triplet file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
}

/// What the trainer reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    Started {
        /// Steps of the whole run and the first step this call runs (1-based).
        steps: usize,
        first_step: usize,
        steps_per_epoch: usize,
        initial_weights: String,
    },
    Step {
        epoch: usize,
        /// 1-based step of the whole run.
        step: usize,
        steps: usize,
        loss: f32,
        /// Fraction of the step's triplets still violating the margin.
        active: f32,
        learning_rate: f64,
        /// Whether the backbone was frozen for this step.
        frozen: bool,
        triplets_per_s: f64,
        images_per_s: f64,
    },
    /// Backbone features being computed once for a run whose backbone stays frozen.
    Features {
        done: usize,
        total: usize,
    },
    Epoch {
        epoch: usize,
        mean_loss: f32,
    },
    Validation {
        epoch: usize,
        step: usize,
        accuracy: f64,
        threshold: f32,
    },
    Checkpoint {
        step: usize,
        path: PathBuf,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no training data")]
    Empty,
    #[error("{0}")]
    Config(String),
    #[error("the loss became {value} at step {step}: training stopped; lower the learning rate")]
    NotFinite { step: usize, value: f32 },
    #[error(transparent)]
    Weights(#[from] pretrained::PretrainedError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("{0}")]
    Resume(String),
    #[error("model {path}: {message}")]
    Model { path: String, message: String },
}

/// How training ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    /// Steps completed in the whole run (including those before a resume).
    pub steps: usize,
    pub stopped: bool,
    pub final_loss: f32,
    /// Seconds of this call.
    pub seconds: f64,
    pub validation: Option<Validation>,
    pub initial_weights: String,
}

/// Stop and pause switches shared with the caller's thread.
#[derive(Debug, Default)]
pub struct Control {
    pub stop: AtomicBool,
    pub pause: AtomicBool,
}

/// Everything a run needs besides the control switches and the event sink.
pub struct TrainJob<'a> {
    pub data: &'a TrainData,
    /// What the data is, in words (stored with the model).
    pub data_source: String,
    pub config: TrainConfig,
    pub validation: Option<&'a ValidationSet>,
    /// Folder for checkpoints (`None`: none are written).
    pub checkpoints: Option<PathBuf>,
    /// Continue from this checkpoint (its configuration must match `config` apart from the
    /// number of epochs).
    pub resume: Option<Checkpoint>,
}

/// The crops a step trains on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchPlan {
    /// Rows of the triplet array.
    Triplets(Vec<usize>),
    /// Crops of the pool and their identity labels.
    Mined {
        crops: Vec<usize>,
        labels: Vec<usize>,
    },
}

const ORDER_STREAM: u64 = 0x5eed_0001;
const MINING_STREAM: u64 = 0x5eed_0002;
const AUGMENT_STREAM: u64 = 0x5eed_0003;

/// A generator for one purpose and one index (epoch or step), independent of all others.
fn rng_for(seed: u64, purpose: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ purpose.rotate_left(17));
    rng.set_stream(index as u64);
    rng
}

/// The batch of 0-based `step`: a function of the configuration, the data and the step only.
pub fn batch_for_step(cfg: &TrainConfig, data: &TrainData, step: usize) -> BatchPlan {
    let bs = cfg.batch_size.clamp(1, data.len().max(1));
    match data {
        TrainData::Triplets(t) => {
            let per_epoch = cfg.steps_per_epoch(data);
            let (epoch, i) = (step / per_epoch, step % per_epoch);
            let mut order: Vec<usize> = (0..t.len()).collect();
            order.shuffle(&mut rng_for(cfg.seed, ORDER_STREAM, epoch));
            let end = ((i + 1) * bs).min(order.len());
            BatchPlan::Triplets(order[i * bs..end].to_vec())
        }
        TrainData::Identities(pool) => {
            let k = cfg.mining.map_or(2, |m| m.images_per_person).max(2);
            let mut rng = rng_for(cfg.seed, MINING_STREAM, step);
            let (crops, labels) = mining::sample_batch(&pool.people, bs / k, k, &mut rng);
            BatchPlan::Mined { crops, labels }
        }
    }
}

/// Augments and normalises crops (HWC bytes) into a (B, 3, S, S) tensor.
fn to_tensor<'c>(
    crops: impl ExactSizeIterator<Item = &'c [u8]>,
    size: usize,
    augment: &Augment,
    norm: &Normalisation,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Tensor<4> {
    let n = crops.len();
    let plane = size * size;
    let mut out = vec![0f32; n * 3 * plane];
    let mut scratch = vec![0u8; 3 * plane];
    for (src, dst) in crops.zip(out.chunks_exact_mut(3 * plane)) {
        if augment.is_none() {
            norm.write_chw(src, dst);
        } else {
            augment.apply(src, &mut scratch, rng);
            norm.write_chw(&scratch, dst);
        }
    }
    Tensor::from_data(TensorData::new(out, [n, 3, size, size]), device)
}

/// Crop `i` of the data as HWC bytes: row `i / 3`, member `i % 3` of a triplet array, or
/// crop `i` of an identity pool.
fn crop_bytes(data: &TrainData, i: usize) -> &[u8] {
    match data {
        TrainData::Triplets(t) => t.crop_bytes(i / 3, i % 3),
        TrainData::Identities(p) => p.crops[i].as_raw(),
    }
}

/// Number of crops [`crop_bytes`] indexes.
fn crop_count(data: &TrainData) -> usize {
    match data {
        TrainData::Triplets(t) => 3 * t.len(),
        TrainData::Identities(p) => p.crops.len(),
    }
}

/// Pooled backbone features of every crop (and of its mirror image when training flips),
/// computed once when the backbone stays frozen for the whole run: each step then only
/// runs the dense block, which makes head training on a large backbone a matter of
/// minutes. Crop jitter and colour augmentation cannot apply to fixed features.
struct FeatureCache {
    /// (crops [+ mirrored crops]) x `dim`, row-major.
    values: Vec<f32>,
    /// Per crop: pooled features (C), or the trunk's maps (C, h, w) when the backbone's
    /// last stage trains.
    shape: Vec<usize>,
    dim: usize,
    crops: usize,
    mirrored: bool,
}

impl FeatureCache {
    /// Features of the `crops` crops `crop(i)` (square, `size` px). `None` when stopped
    /// part-way.
    #[allow(clippy::too_many_arguments)]
    fn compute<'c>(
        net: &EmbeddingNet,
        trunk: bool,
        crop: impl Fn(usize) -> &'c [u8],
        crops: usize,
        size: usize,
        mirrored: bool,
        device: &Device,
        control: &Control,
        on_event: &mut impl FnMut(&TrainEvent),
    ) -> Option<FeatureCache> {
        const BATCH: usize = 32;
        let device = device.clone().without_autodiff();
        let net = net.valid();
        let norm = net.kind().normalisation();
        let total = if mirrored { 2 * crops } else { crops };
        let mut values = Vec::new();
        let mut shape = Vec::new();
        let mut mirror = Vec::new();
        for start in (0..total).step_by(BATCH) {
            if control.stop.load(Ordering::Relaxed) {
                return None;
            }
            let ids = start..(start + BATCH).min(total);
            let n = ids.len();
            let mut x = vec![0f32; n * 3 * size * size];
            for (i, dst) in ids.zip(x.chunks_exact_mut(3 * size * size)) {
                let src = crop(i % crops);
                if i < crops {
                    norm.write_chw(src, dst);
                } else {
                    mirror.resize(src.len(), 0);
                    mirror_hwc(src, size, &mut mirror);
                    norm.write_chw(&mirror, dst);
                }
            }
            let x = Tensor::from_data(TensorData::new(x, [n, 3, size, size]), &device);
            let f = if trunk {
                let t = net.backbone.forward_trunk(x);
                shape = t.dims()[1..].to_vec();
                t.into_data()
            } else {
                let f = net.features(x);
                shape = f.dims()[1..].to_vec();
                f.into_data()
            };
            values.extend(f.iter::<f32>());
            on_event(&TrainEvent::Features {
                done: start + n,
                total,
            });
        }
        Some(FeatureCache {
            values,
            dim: shape.iter().product(),
            shape,
            crops,
            mirrored,
        })
    }

    /// The features of `ids` as a (B, C) tensor, each mirrored with probability 1/2 when
    /// the cache holds mirror images.
    fn rows(
        &self,
        net: &EmbeddingNet,
        ids: &[usize],
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Tensor<2> {
        let d = self.dim;
        let mut out = Vec::with_capacity(ids.len() * d);
        for &i in ids {
            let row = if self.mirrored && rng.random_bool(0.5) {
                self.crops + i
            } else {
                i
            };
            out.extend_from_slice(&self.values[row * d..(row + 1) * d]);
        }
        self.embed(net, out, ids.len(), device)
    }

    /// The embeddings of `n` cached rows (flat): the dense block on pooled features, or the
    /// last stage and the dense block on trunk maps.
    fn embed(&self, net: &EmbeddingNet, rows: Vec<f32>, n: usize, device: &Device) -> Tensor<2> {
        match self.shape[..] {
            [c, h, w] => net.from_trunk(Tensor::from_data(
                TensorData::new(rows, [n, c, h, w]),
                device,
            )),
            _ => net.dense(Tensor::from_data(
                TensorData::new(rows, [n, self.dim]),
                device,
            )),
        }
    }

    /// Unit embeddings of every cached crop by `net`'s dense block (flip-averaged when
    /// mirror images are cached), flat row-major.
    fn embeddings(&self, net: &EmbeddingNet, device: &Device) -> Vec<f32> {
        let device = device.clone().without_autodiff();
        let net = net.valid();
        let d = self.dim;
        let part = |rows: std::ops::Range<usize>| {
            let n = rows.len();
            let x = self.values[rows.start * d..rows.end * d].to_vec();
            self.embed(&net, x, n, &device)
        };
        let mut e = part(0..self.crops);
        if self.mirrored {
            e = super::l2_normalise(e + part(self.crops..2 * self.crops));
        }
        e.into_data().iter::<f32>().collect()
    }
}

/// Mirrors a square HWC RGB crop left-right.
fn mirror_hwc(src: &[u8], size: usize, dst: &mut [u8]) {
    for (s, d) in src
        .chunks_exact(3 * size)
        .zip(dst.chunks_exact_mut(3 * size))
    {
        for x in 0..size {
            d[3 * x..3 * x + 3].copy_from_slice(&s[3 * (size - 1 - x)..3 * (size - x)]);
        }
    }
}

/// Loss, active fraction and triplet count of one step, with the graph for backward.
#[allow(clippy::too_many_arguments)]
fn step_loss(
    net: &EmbeddingNet,
    cfg: &TrainConfig,
    data: &TrainData,
    plan: &BatchPlan,
    frozen: bool,
    cache: Option<&FeatureCache>,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> (Tensor<1>, Tensor<1>, usize, usize) {
    let norm = cfg.backbone.normalisation();
    let size = data.crop_size();
    let mut embed = |ids: &[usize]| match cache.filter(|_| frozen) {
        Some(c) => c.rows(net, ids, rng, device),
        None => {
            let crops = ids.iter().map(|&i| crop_bytes(data, i));
            let x = to_tensor(crops, size, &cfg.augment, &norm, rng, device);
            match (frozen, cfg.train_last_stage) {
                (true, true) => net.forward_frozen_trunk(x),
                (true, false) => net.forward_frozen(x),
                (false, _) => net.forward(x),
            }
        }
    };
    match (data, plan) {
        (TrainData::Triplets(_), BatchPlan::Triplets(rows)) => {
            let [a, p, n] = [0, 1, 2].map(|k| {
                let ids: Vec<usize> = rows.iter().map(|&r| 3 * r + k).collect();
                embed(&ids)
            });
            let (loss, active) = triplet_loss(a, p, n, cfg.margin);
            (loss, active, rows.len(), 3 * rows.len())
        }
        (TrainData::Identities(_), BatchPlan::Mined { crops, labels }) => {
            let e = embed(crops);
            let values: Vec<f32> = e.clone().inner().into_data().iter::<f32>().collect();
            let triplets =
                mining::semi_hard(labels, &mining::squared_distances(&values, EMBEDDING_DIM));
            let index = |k: usize| {
                let idx: Vec<i64> = triplets.iter().map(|t| t[k] as i64).collect();
                let n = idx.len();
                e.clone().select(
                    0,
                    Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), device),
                )
            };
            let (loss, active) = triplet_loss(index(0), index(1), index(2), cfg.margin);
            (loss, active, triplets.len(), crops.len())
        }
        _ => unreachable!("batch plans are made for their data"),
    }
}

/// Trains as `job` says, reporting every event to `on_event`. Stops early (keeping what was
/// learnt, and writing a checkpoint when a folder is set) when `control.stop` is set, and
/// waits while `control.pause` is set; a non-finite loss ends training with an error.
pub fn train(
    job: TrainJob<'_>,
    device: &Device,
    control: &Control,
    mut on_event: impl FnMut(&TrainEvent),
) -> Result<(EmbeddingNet, TrainSummary), TrainError> {
    let TrainJob {
        data,
        data_source,
        config: cfg,
        validation,
        checkpoints,
        resume,
    } = job;
    if data.is_empty() {
        return Err(TrainError::Empty);
    }
    cfg.check(data)?;
    let device = device.clone().autodiff();
    let summary_of_data = data.summary(&data_source);
    let mut optim = AdamConfig::new().init();
    let (mut net, initial_weights, mut history, first) = match resume {
        None => {
            // Random initial weights from the run's seed too (Burn's generator is global on
            // the CPU backend, so concurrent runs in one process may still interleave).
            device.seed(cfg.seed);
            let (backbone, what) = pretrained::backbone(cfg.backbone, &cfg.init, &device)?;
            (
                EmbeddingNet::with_backbone(backbone, &device),
                what,
                Vec::new(),
                0,
            )
        }
        Some(ck) => {
            let same = TrainConfig {
                epochs: cfg.epochs,
                ..ck.state.config.clone()
            };
            if same != cfg {
                return Err(TrainError::Resume(format!(
                    "{} was made with other settings; resume with the same ones (only epochs may change)",
                    ck.path.display()
                )));
            }
            if ck.state.data.images != summary_of_data.images
                || ck.state.data.crop_size != summary_of_data.crop_size
            {
                return Err(TrainError::Resume(format!(
                    "{} was made on other data ({}); resume on the same data",
                    ck.path.display(),
                    ck.state.data.source
                )));
            }
            optim = optim.load_record(ck.optimizer);
            (
                ck.net,
                ck.state.initial_weights,
                ck.state.history,
                ck.state.step,
            )
        }
    };
    let per_epoch = cfg.steps_per_epoch(data);
    let total = cfg.total_steps(data);
    on_event(&TrainEvent::Started {
        steps: total,
        first_step: first + 1,
        steps_per_epoch: per_epoch,
        initial_weights: initial_weights.clone(),
    });
    for e in &history {
        on_event(e);
    }
    let start = Instant::now();
    let (mut final_loss, mut stopped) = (f32::NAN, false);
    // A resumed run starts from the history's last validation and loss.
    let mut last_val = history.iter().rev().find_map(|e| match e {
        TrainEvent::Validation {
            accuracy,
            threshold,
            ..
        } => Some(Validation {
            accuracy: *accuracy,
            threshold: *threshold,
        }),
        _ => None,
    });
    if let Some(TrainEvent::Step { loss, .. }) = history
        .iter()
        .rev()
        .find(|e| matches!(e, TrainEvent::Step { .. }))
    {
        final_loss = *loss;
    }
    let mut epoch_losses: Vec<f32> = history
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step { epoch, loss, .. } if *epoch == first / per_epoch + 1 => Some(*loss),
            _ => None,
        })
        .collect();
    let mut done = first;
    // A run whose backbone never unfreezes embeds each crop once, up front.
    // So are the validation crops (embedded as verification will: flip-averaged or not).
    let (mut cache, mut val_cache) = (None, None);
    if cfg.freeze_backbone_epochs >= cfg.epochs && first < total {
        let size = data.crop_size();
        let (n, flip) = (crop_count(data), cfg.augment.flip);
        cache = FeatureCache::compute(
            &net,
            cfg.train_last_stage,
            |i| crop_bytes(data, i),
            n,
            size,
            flip,
            &device,
            control,
            &mut on_event,
        );
        if let Some(v) = validation.filter(|v| !v.is_empty() && v.crop_size() == size) {
            val_cache = FeatureCache::compute(
                &net,
                cfg.train_last_stage,
                |i| v.crop_bytes(i),
                v.len_crops(),
                size,
                cfg.flip_average,
                &device,
                control,
                &mut on_event,
            );
        }
    }
    let save_checkpoint = |net: &EmbeddingNet,
                           optim: &burn::optim::ModuleOptimizer,
                           done: usize,
                           history: &[TrainEvent]|
     -> Result<Option<PathBuf>, TrainError> {
        let Some(dir) = &checkpoints else {
            return Ok(None);
        };
        let state = CheckpointState {
            step: done,
            config: cfg.clone(),
            data: summary_of_data.clone(),
            initial_weights: initial_weights.clone(),
            history: history.to_vec(),
        };
        Ok(Some(checkpoint::save(dir, net, optim.to_record(), &state)?))
    };
    // Stopped while computing features: the loop's first check ends the run.
    while done < total {
        if control.stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        if control.pause.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let t0 = Instant::now();
        let epoch = done / per_epoch + 1;
        let frozen = epoch <= cfg.freeze_backbone_epochs;
        let plan = batch_for_step(&cfg, data, done);
        let mut rng = rng_for(cfg.seed, AUGMENT_STREAM, done);
        let (loss, active, triplets, images) = step_loss(
            &net,
            &cfg,
            data,
            &plan,
            frozen,
            cache.as_ref(),
            &mut rng,
            &device,
        );
        let value: f32 = loss.clone().into_scalar();
        if !value.is_finite() {
            return Err(TrainError::NotFinite {
                step: done + 1,
                value,
            });
        }
        let lr = cfg.lr_at(done, total);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(lr, net, grads);
        done += 1;
        final_loss = value;
        epoch_losses.push(value);
        let secs = t0.elapsed().as_secs_f64();
        let event = TrainEvent::Step {
            epoch,
            step: done,
            steps: total,
            loss: value,
            active: active.into_scalar(),
            learning_rate: lr,
            frozen,
            triplets_per_s: triplets as f64 / secs,
            images_per_s: images as f64 / secs,
        };
        on_event(&event);
        history.push(event);
        let epoch_end = done % per_epoch == 0 || done == total;
        if epoch_end {
            let mean = epoch_losses.iter().sum::<f32>() / epoch_losses.len().max(1) as f32;
            let event = TrainEvent::Epoch {
                epoch,
                mean_loss: mean,
            };
            on_event(&event);
            history.push(event);
            epoch_losses.clear();
        }
        let periodic = cfg.validate_every > 0 && done % cfg.validate_every == 0;
        if let Some(val) = validation.filter(|v| !v.is_empty() && (epoch_end || periodic)) {
            let v = match &val_cache {
                Some(c) => val.score(&c.embeddings(&net, &device)),
                None => val.evaluate(&net, cfg.flip_average, &device),
            };
            let event = TrainEvent::Validation {
                epoch,
                step: done,
                accuracy: v.accuracy,
                threshold: v.threshold,
            };
            on_event(&event);
            history.push(event);
            last_val = Some(v);
        }
        if cfg.checkpoint_every > 0
            && done % cfg.checkpoint_every == 0
            && let Some(path) = save_checkpoint(&net, &optim, done, &history)?
        {
            on_event(&TrainEvent::Checkpoint { step: done, path });
        }
    }
    if stopped
        && done > first
        && let Some(path) = save_checkpoint(&net, &optim, done, &history)?
    {
        on_event(&TrainEvent::Checkpoint { step: done, path });
    }
    let summary = TrainSummary {
        steps: done,
        stopped,
        final_loss,
        seconds: start.elapsed().as_secs_f64(),
        validation: last_val,
        initial_weights,
    };
    Ok((net.valid(), summary))
}

/// What is stored beside the weights (`model.json` next to `model.bpk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub backbone: BackboneKind,
    pub input_size: usize,
    /// How crops become inputs: (rgb / 255 - mean) / std.
    pub normalisation: Normalisation,
    pub embedding_dim: usize,
    /// How embeddings were compared in training and are compared in verification.
    pub distance: String,
    pub train: TrainConfig,
    pub data: DataSummary,
    pub initial_weights: String,
    pub steps: usize,
    /// The last validation of the run, if any.
    pub validation: Option<Validation>,
    /// The verification threshold (cosine similarity), once one has been chosen.
    pub threshold: Option<f32>,
    /// Average each face's embedding with its mirror image's (see [`TrainConfig`]).
    #[serde(default)]
    pub flip_average: bool,
}

impl ModelMeta {
    /// Metadata for a model trained by `job`'s settings, ending as `summary` says. The
    /// threshold starts as the validation's best one.
    pub fn new(cfg: &TrainConfig, data: DataSummary, summary: &TrainSummary) -> ModelMeta {
        ModelMeta {
            backbone: cfg.backbone,
            input_size: data.crop_size,
            normalisation: cfg.backbone.normalisation(),
            embedding_dim: EMBEDDING_DIM,
            distance: "trained on squared Euclidean distance between unit embeddings; verified by cosine similarity (= 1 - d/2)".into(),
            train: cfg.clone(),
            data,
            initial_weights: summary.initial_weights.clone(),
            steps: summary.steps,
            validation: summary.validation,
            threshold: summary.validation.map(|v| v.threshold),
            flip_average: cfg.flip_average,
        }
    }
}

/// Writes `model.bpk` and `model.json` into `dir` (each atomically).
pub fn save_model(net: &EmbeddingNet, meta: &ModelMeta, dir: &Path) -> Result<(), TrainError> {
    let err = |e: &dyn std::fmt::Display| TrainError::Model {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    crate::embedded::save_burnpack(net, &dir.join("model.bpk"), &[]).map_err(|e| err(&e))?;
    let json = serde_json::to_vec_pretty(meta).expect("metadata serialises");
    crate::imageio::write_atomic(&dir.join("model.json"), &json).map_err(|e| err(&e))
}

/// Reads a model saved by [`save_model`]; a file of another architecture is refused.
pub fn load_model(dir: &Path, device: &Device) -> Result<(EmbeddingNet, ModelMeta), TrainError> {
    let err = |message: String| TrainError::Model {
        path: dir.display().to_string(),
        message,
    };
    let meta: ModelMeta = serde_json::from_slice(
        &std::fs::read(dir.join("model.json")).map_err(|e| err(format!("model.json: {e}")))?,
    )
    .map_err(|e| {
        err(format!(
            "model.json is not model metadata of this version: {e}"
        ))
    })?;
    if meta.embedding_dim != EMBEDDING_DIM {
        return Err(err(format!(
            "{}-d embeddings are not supported by this build",
            meta.embedding_dim
        )));
    }
    let mut net = EmbeddingNet::new(meta.backbone, device);
    let mut store = BurnpackStore::from_file(dir.join("model.bpk")).auto_extension(false);
    let result = net.load_from(&mut store).map_err(|e| {
        err(format!(
            "model.bpk does not fit a {} network: {e}",
            meta.backbone
        ))
    })?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(err(format!(
            "model.bpk does not fit a {} network ({} tensors missing, {} errors)",
            meta.backbone,
            result.missing.len(),
            result.errors.len()
        )));
    }
    Ok((net, meta))
}

/// Stores `threshold` as the model's verification threshold (model.json, atomically).
pub fn set_threshold(dir: &Path, threshold: f32) -> Result<(), TrainError> {
    let err = |message: String| TrainError::Model {
        path: dir.display().to_string(),
        message,
    };
    let path = dir.join("model.json");
    let mut meta: ModelMeta =
        serde_json::from_slice(&std::fs::read(&path).map_err(|e| err(format!("model.json: {e}")))?)
            .map_err(|e| {
                err(format!(
                    "model.json is not model metadata of this version: {e}"
                ))
            })?;
    meta.threshold = Some(threshold);
    let json = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
    crate::imageio::write_atomic(&path, &json).map_err(|e| err(e.to_string()))
}
