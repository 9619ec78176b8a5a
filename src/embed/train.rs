//! Training the embedding network with triplet loss and Adam, on a fixed triplet set or with
//! online semi-hard mining, in the caller's thread (the app runs it in a worker): typed
//! events, pause / stop at any step, periodic validation, atomic checkpoints and resume,
//! and the final model saved with its metadata.
//!
//! Everything random is a function of (seed, step): the batch order of an epoch, the mined
//! batch and the augmentation of a step. A run resumed from a checkpoint therefore sees
//! exactly the batches the uninterrupted run would have seen.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::augment::Augment;
use super::checkpoint::{self, Checkpoint, CheckpointState};
use super::mining;
use super::pretrained;
use super::validation::{Validation, ValidationSet};
use super::{EMBEDDING_DIM, EmbeddingNet, Normalisation, triplet_loss};

// The trainer's vocabulary, re-exported so callers need one path.
pub use super::config::{LrSchedule, Mining, TrainConfig};
pub use super::data::{DataSummary, TrainData};
pub use super::events::{TrainEvent, TrainSummary};
pub use super::mining::IdentityPool;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no training data")]
    Empty,
    #[error("{0}")]
    Config(String),
    #[error("the loss became {value} at step {step}: training stopped; lower the learning rate")]
    NotFinite { step: usize, value: f32 },
    #[error(
        "the embeddings collapsed at step {step}: every face in the batch got the same embedding \
         (spread {spread:.1e}), so the model would call every pair the same person and cannot \
         learn any more; training stopped. Lower the learning rate (it is {learning_rate:e})"
    )]
    Collapsed {
        step: usize,
        spread: f32,
        learning_rate: f64,
    },
    #[error(transparent)]
    Weights(#[from] pretrained::PretrainedError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("{0}")]
    CheckpointFailed(String),
    #[error("{0}")]
    Resume(String),
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
    /// Start a new run from this network (on the autodiff device) and its description
    /// instead of the configured initial weights (training a saved model further).
    pub initial: Option<(EmbeddingNet, String)>,
    /// Stored in each checkpoint as it is (see [`CheckpointState::plan`]).
    pub plan: Option<serde_json::Value>,
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
            // At least two people, or a batch has no negatives (a pool smaller than one
            // batch, e.g. a few enrolled people with two photos each).
            let people = (bs / k).max(2);
            let (crops, labels) = mining::sample_batch(&pool.people, people, k, &mut rng);
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

/// What one step trains on: its crops, whether the backbone is frozen, and the features
/// computed up front when it stays frozen.
struct Batch<'a> {
    plan: &'a BatchPlan,
    frozen: bool,
    cache: Option<&'a FeatureCache>,
}

/// Loss, active fraction, triplet and image count of one step, with the graph for backward.
fn step_loss(
    net: &EmbeddingNet,
    cfg: &TrainConfig,
    data: &TrainData,
    batch: Batch<'_>,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> StepLoss {
    let Batch {
        plan,
        frozen,
        cache,
    } = batch;
    let norm = cfg.backbone.normalisation();
    let size = data.crop_size();
    let mut embed = |ids: &[usize]| match cache.filter(|_| frozen) {
        Some(c) => c.rows(net, ids, rng, device),
        None => {
            let crops = ids.iter().map(|&i| data.crop_bytes(i));
            let x = to_tensor(crops, size, &cfg.augment, &norm, rng, device);
            match (frozen, cfg.train_last_stage) {
                (true, true) => net.forward_frozen_trunk(x),
                (true, false) => net.forward_frozen(x),
                (false, _) => net.forward(x),
            }
        }
    };
    // A plan holds everything its loss needs: crop indices into `data` (and labels).
    match plan {
        BatchPlan::Triplets(rows) => {
            let [a, p, n] = [0, 1, 2].map(|k| {
                let ids: Vec<usize> = rows.iter().map(|&r| 3 * r + k).collect();
                embed(&ids)
            });
            let spread = spread(&Tensor::cat(vec![a.clone(), p.clone(), n.clone()], 0));
            let (loss, active) = triplet_loss(a, p, n, cfg.margin);
            StepLoss {
                loss,
                active,
                triplets: rows.len(),
                images: 3 * rows.len(),
                spread,
            }
        }
        BatchPlan::Mined { crops, labels } => {
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
            StepLoss {
                loss,
                active,
                triplets: triplets.len(),
                images: crops.len(),
                spread: spread(&e),
            }
        }
    }
}

/// A step's loss, the share of its triplets still violating the margin, how many triplets
/// and images it used, and the spread of its embeddings ([`spread`]).
struct StepLoss {
    loss: Tensor<1>,
    active: Tensor<1>,
    triplets: usize,
    images: usize,
    spread: f32,
}

/// The total variance of a batch's embeddings (rows): about 0.5-1 for a trained network,
/// 0 when every face gets the same embedding (or none: all zeros).
fn spread(embeddings: &Tensor<2>) -> f32 {
    embeddings.clone().inner().var(0).sum().into_scalar()
}

/// Whether a step's embedding spread says they collapsed to one point (the loss then sits
/// at the margin for good and the model calls every pair the same person): none left at
/// all, or a tiny spread a thousandth of what this run had before. A frozen random backbone
/// on near-uniform crops starts as small as 1e-8 and is not a collapse.
pub(super) fn collapsed(spread: f32, widest_before: f32) -> bool {
    spread <= 1e-12 || (spread < 1e-6 && spread < 1e-3 * widest_before)
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
    if job.data.is_empty() {
        return Err(TrainError::Empty);
    }
    job.config.check(job.data).map_err(TrainError::Config)?;
    let start = Instant::now();
    let validation = job.validation.filter(|v| !v.is_empty());
    let mut run = Run::begin(job, &device.clone().autodiff())?;
    run.announce(&mut on_event);
    run.prepare_features(validation, control, &mut on_event);
    let mut stopped = false;
    // Stopped while computing features: the loop's first check ends the run.
    while run.done < run.total {
        if control.stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        if control.pause.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        run = run.step(&mut on_event)?;
        run.after_step(validation, &mut on_event)?;
    }
    if stopped
        && run.done > run.first
        && let Some(path) = run.checkpoint()?
    {
        on_event(&TrainEvent::Checkpoint {
            step: run.done,
            path,
        });
    }
    let summary = TrainSummary {
        steps: run.done,
        stopped,
        final_loss: run.final_loss,
        seconds: start.elapsed().as_secs_f64(),
        validation: run.last_val,
        initial_weights: run.initial_weights,
    };
    Ok((run.net.valid(), summary))
}

/// The state of a run between steps.
struct Run<'a> {
    cfg: TrainConfig,
    data: &'a TrainData,
    data_summary: DataSummary,
    checkpoints: Option<PathBuf>,
    plan: Option<serde_json::Value>,
    device: Device,
    net: EmbeddingNet,
    optim: burn::optim::ModuleOptimizer,
    initial_weights: String,
    /// Events so far, kept in checkpoints and replayed on resume.
    history: Vec<TrainEvent>,
    /// First step of this call (0-based), steps done, steps per epoch and in all.
    first: usize,
    done: usize,
    per_epoch: usize,
    total: usize,
    final_loss: f32,
    /// The widest embedding spread of this call's steps ([`collapsed`]).
    widest_spread: f32,
    epoch_losses: Vec<f32>,
    last_val: Option<Validation>,
    /// Backbone features of the training and validation crops (frozen backbone only).
    cache: Option<FeatureCache>,
    val_cache: Option<FeatureCache>,
}

impl<'a> Run<'a> {
    /// A new network (from the seed and the configured weights) or the checkpoint's.
    fn begin(job: TrainJob<'a>, device: &Device) -> Result<Run<'a>, TrainError> {
        let data_summary = job.data.summary(&job.data_source);
        let cfg = job.config;
        let mut optim = AdamConfig::new().init();
        let (net, initial_weights, history, first) = match (job.resume, job.initial) {
            (None, Some((net, what))) => (net, what, Vec::new(), 0),
            (None, None) => {
                // Random initial weights from the run's seed too (Burn's generator is
                // global on the CPU backend, so concurrent runs may still interleave).
                device.seed(cfg.seed);
                let (backbone, what) = pretrained::backbone(cfg.backbone, &cfg.init, device)?;
                (
                    EmbeddingNet::with_backbone(backbone, device),
                    what,
                    Vec::new(),
                    0,
                )
            }
            (Some(ck), _) => {
                check_resumable(&ck, &cfg, &data_summary)?;
                optim = optim.load_record(ck.optimizer);
                let s = ck.state;
                (ck.net, s.initial_weights, s.history, s.step)
            }
        };
        let per_epoch = cfg.steps_per_epoch(job.data);
        let mut run = Run {
            total: cfg.total_steps(job.data),
            cfg,
            data: job.data,
            data_summary,
            checkpoints: job.checkpoints,
            plan: job.plan,
            device: device.clone(),
            net,
            optim,
            initial_weights,
            history,
            first,
            done: first,
            per_epoch,
            final_loss: f32::NAN,
            widest_spread: 0.0,
            epoch_losses: Vec::new(),
            last_val: None,
            cache: None,
            val_cache: None,
        };
        run.replay();
        Ok(run)
    }

    /// A resumed run starts from its history's last loss, validation and epoch losses.
    fn replay(&mut self) {
        for e in self.history.iter().rev() {
            match e {
                TrainEvent::Step { loss, .. } if self.final_loss.is_nan() => {
                    self.final_loss = *loss
                }
                TrainEvent::Validation {
                    accuracy,
                    threshold,
                    ..
                } if self.last_val.is_none() => {
                    self.last_val = Some(Validation {
                        accuracy: *accuracy,
                        threshold: *threshold,
                    })
                }
                _ => {}
            }
        }
        let epoch = self.first / self.per_epoch + 1;
        self.epoch_losses = self
            .history
            .iter()
            .filter_map(|e| match e {
                TrainEvent::Step { epoch: k, loss, .. } if *k == epoch => Some(*loss),
                _ => None,
            })
            .collect();
    }

    /// Tells the caller what is coming and replays the history (plots, bars).
    fn announce(&self, on_event: &mut impl FnMut(&TrainEvent)) {
        on_event(&TrainEvent::Started {
            steps: self.total,
            first_step: self.first + 1,
            steps_per_epoch: self.per_epoch,
            initial_weights: self.initial_weights.clone(),
        });
        for e in &self.history {
            on_event(e);
        }
    }

    /// A run whose backbone never unfreezes embeds each crop once, up front, and so the
    /// validation crops (embedded as verification will: flip-averaged or not).
    fn prepare_features(
        &mut self,
        validation: Option<&ValidationSet>,
        control: &Control,
        on_event: &mut impl FnMut(&TrainEvent),
    ) {
        let cfg = &self.cfg;
        if cfg.freeze_backbone_epochs < cfg.epochs || self.first >= self.total {
            return;
        }
        let (data, size) = (self.data, self.data.crop_size());
        self.cache = FeatureCache::compute(
            &self.net,
            cfg.train_last_stage,
            |i| data.crop_bytes(i),
            data.crop_count(),
            size,
            cfg.augment.flip,
            &self.device,
            control,
            on_event,
        );
        if let Some(v) = validation.filter(|v| v.crop_size() == size) {
            self.val_cache = FeatureCache::compute(
                &self.net,
                cfg.train_last_stage,
                |i| v.crop_bytes(i),
                v.len_crops(),
                size,
                cfg.flip_average,
                &self.device,
                control,
                on_event,
            );
        }
    }

    /// One optimisation step: the batch's loss, its gradients, Adam.
    /// (The run is moved through the step so that Adam updates the only copy of the
    /// network, in place where the backend can.)
    fn step(mut self, on_event: &mut impl FnMut(&TrainEvent)) -> Result<Self, TrainError> {
        let t0 = Instant::now();
        let epoch = self.done / self.per_epoch + 1;
        let frozen = epoch <= self.cfg.freeze_backbone_epochs;
        let plan = batch_for_step(&self.cfg, self.data, self.done);
        let mut rng = rng_for(self.cfg.seed, AUGMENT_STREAM, self.done);
        let batch = Batch {
            plan: &plan,
            frozen,
            cache: self.cache.as_ref(),
        };
        let StepLoss {
            loss,
            active,
            triplets,
            images,
            spread,
        } = step_loss(
            &self.net,
            &self.cfg,
            self.data,
            batch,
            &mut rng,
            &self.device,
        );
        let value: f32 = loss.clone().into_scalar();
        if !value.is_finite() {
            return Err(TrainError::NotFinite {
                step: self.done + 1,
                value,
            });
        }
        let lr = self.cfg.lr_at(self.done, self.total);
        if collapsed(spread, self.widest_spread) {
            return Err(TrainError::Collapsed {
                step: self.done + 1,
                spread,
                learning_rate: self.cfg.learning_rate,
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.net = self.optim.step(lr, self.net, grads);
        self.done += 1;
        self.widest_spread = self.widest_spread.max(spread);
        self.final_loss = value;
        self.epoch_losses.push(value);
        let secs = t0.elapsed().as_secs_f64();
        self.emit(
            on_event,
            TrainEvent::Step {
                epoch,
                step: self.done,
                steps: self.total,
                loss: value,
                active: active.into_scalar(),
                learning_rate: lr,
                frozen,
                triplets_per_s: triplets as f64 / secs,
                images_per_s: images as f64 / secs,
            },
        );
        Ok(self)
    }

    fn emit(&mut self, on_event: &mut impl FnMut(&TrainEvent), event: TrainEvent) {
        on_event(&event);
        self.history.push(event);
    }

    /// The end of an epoch, validation and checkpoints when they are due.
    fn after_step(
        &mut self,
        validation: Option<&ValidationSet>,
        on_event: &mut impl FnMut(&TrainEvent),
    ) -> Result<(), TrainError> {
        let (done, epoch) = (self.done, (self.done - 1) / self.per_epoch + 1);
        let epoch_end = done % self.per_epoch == 0 || done == self.total;
        if epoch_end {
            let n = self.epoch_losses.len().max(1) as f32;
            let mean_loss = self.epoch_losses.drain(..).sum::<f32>() / n;
            self.emit(on_event, TrainEvent::Epoch { epoch, mean_loss });
        }
        let periodic = self.cfg.validate_every > 0 && done % self.cfg.validate_every == 0;
        if let Some(val) = validation.filter(|_| epoch_end || periodic) {
            let embeddings = match &self.val_cache {
                Some(c) => c.embeddings(&self.net, &self.device),
                None => val.embed(&self.net, self.cfg.flip_average, &self.device),
            };
            let v = val.score(&embeddings);
            let event = TrainEvent::Validation {
                epoch,
                step: done,
                accuracy: v.accuracy,
                threshold: v.threshold,
                map: Some(std::sync::Arc::new(val.map(&embeddings))),
            };
            self.emit(on_event, event);
            self.last_val = Some(v);
        }
        if self.cfg.checkpoint_every > 0
            && done % self.cfg.checkpoint_every == 0
            && let Some(path) = self.checkpoint()?
        {
            on_event(&TrainEvent::Checkpoint { step: done, path });
        }
        Ok(())
    }

    /// Writes a checkpoint when the run has a folder for them.
    fn checkpoint(&self) -> Result<Option<PathBuf>, TrainError> {
        let Some(dir) = &self.checkpoints else {
            return Ok(None);
        };
        let state = CheckpointState {
            step: self.done,
            config: self.cfg.clone(),
            data: self.data_summary.clone(),
            initial_weights: self.initial_weights.clone(),
            history: self.history.clone(),
            plan: self.plan.clone(),
            files: Default::default(),
        };
        let record = self.optim.to_record();
        checkpoint::save(dir, &self.net, record, &state)
            .map(Some)
            .map_err(|e| {
                let kept = match checkpoint::latest(dir) {
                    Some(ck) => format!(
                        "the checkpoint before it is intact ({}): free space and resume from it",
                        ck.display()
                    ),
                    None => "no earlier checkpoint was written".to_owned(),
                };
                TrainError::CheckpointFailed(format!(
                    "training stopped at step {}: {e}; {kept}",
                    self.done
                ))
            })
    }
}

/// A checkpoint continues only the run that wrote it: the same settings apart from the
/// number of epochs, and data of the same size.
fn check_resumable(
    ck: &Checkpoint,
    cfg: &TrainConfig,
    data: &DataSummary,
) -> Result<(), TrainError> {
    let same = TrainConfig {
        epochs: cfg.epochs,
        ..ck.state.config.clone()
    };
    if same != *cfg {
        return Err(TrainError::Resume(format!(
            "{} was made with other settings; resume with the same ones (only epochs may change)",
            ck.path.display()
        )));
    }
    if ck.state.data.images != data.images || ck.state.data.crop_size != data.crop_size {
        return Err(TrainError::Resume(format!(
            "{} was made on other data ({}); resume on the same data",
            ck.path.display(),
            ck.state.data.source
        )));
    }
    Ok(())
}
