//! The settings of a training run ([`TrainConfig`]): stored in checkpoints and `model.json`,
//! so a run can be resumed and a model says how it was trained.

use serde::{Deserialize, Serialize};

use super::BackboneKind;
use super::augment::Augment;
use super::data::TrainData;
use super::pretrained::InitWeights;

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

    /// Why these settings cannot train on `data`, if they cannot.
    pub fn check(&self, data: &TrainData) -> Result<(), String> {
        let bad = |m: String| Err(m);
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
