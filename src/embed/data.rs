//! What training learns from: a fixed triplet array or an identity pool for online mining,
//! and the summary of it that checkpoints and models keep.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::mining::IdentityPool;
use crate::triplets::TripletArray;

/// What training learns from.
#[derive(Debug, Clone)]
pub enum TrainData {
    Triplets(Arc<TripletArray>),
    Identities(IdentityPool),
}

impl TrainData {
    /// Crop `i` as HWC bytes: row `i / 3`, member `i % 3` of a triplet array, or crop `i`
    /// of an identity pool.
    pub fn crop_bytes(&self, i: usize) -> &[u8] {
        match self {
            TrainData::Triplets(t) => t.crop_bytes(i / 3, i % 3),
            TrainData::Identities(p) => p.crops[i].as_raw(),
        }
    }

    /// Number of crops [`crop_bytes`](Self::crop_bytes) indexes.
    pub fn crop_count(&self) -> usize {
        match self {
            TrainData::Triplets(t) => 3 * t.len(),
            TrainData::Identities(p) => p.crops.len(),
        }
    }

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
