//! What the trainer reports while it runs ([`TrainEvent`], also a checkpoint's history) and
//! how a run ended ([`TrainSummary`]).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::validation::{Validation, ValidationMap};

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
        /// The validation faces on a plane (not kept in a checkpoint's history).
        #[serde(skip)]
        map: Option<Arc<ValidationMap>>,
    },
    Checkpoint {
        step: usize,
        path: PathBuf,
    },
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
