//! Periodic validation during training: verification accuracy (best threshold on cosine
//! similarity) on a fixed slice of a pair list, by default the first 100 matched and 100
//! mismatched pairs of LFW's pairsDevTrain (the seed's evaluation size). These pairs show
//! people of the training split, so the figure tracks fitting, not generalisation; DevTest
//! measures that.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::tensor::Device;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::{EmbeddingNet, crops_to_tensor};
use crate::Dataset;
use crate::detect::Detector;
use crate::metrics::{self, Scored};
use crate::preprocess::CropCache;
use crate::triplets::{self, TripletError};

/// The pair list and slice used when none is named.
pub const DEFAULT_LIST: &str = "pairsDevTrain";
pub const DEFAULT_PER_CLASS: usize = 100;

/// Crops of the images of a fixed set of pairs.
#[derive(Debug, Clone)]
pub struct ValidationSet {
    /// What the pairs are, for the log ("pairsDevTrain: 100 matched + 100 mismatched").
    pub name: String,
    crops: Vec<RgbImage>,
    /// (crop a, crop b, same person).
    pairs: Vec<(usize, usize, bool)>,
    /// Images that fell back to a centre crop (no usable face).
    pub fallbacks: usize,
    /// The people in the pairs (held out of online mining, so that the threshold chosen
    /// here is one for unseen people).
    pub people: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub accuracy: f64,
    /// The cosine-similarity threshold that gives it.
    pub threshold: f32,
}

impl ValidationSet {
    /// The first `per_class` matched and `per_class` mismatched pairs of the dataset's pair
    /// list `list` whose images exist, cropped through `cache`.
    pub fn from_pair_list(
        dataset: &Dataset,
        list: &str,
        per_class: usize,
        cache: &mut CropCache,
        detector: &Detector,
        cancel: &AtomicBool,
        on_image: impl FnMut(usize, usize),
    ) -> Result<ValidationSet, TripletError> {
        let entry = dataset.pair_list(list).ok_or_else(|| {
            TripletError::TooFew(format!(
                "the dataset at {} has no {list} pair list for validation",
                dataset.root.display()
            ))
        })?;
        let mut chosen = Vec::new();
        let mut people = BTreeSet::new();
        let (mut matched, mut mismatched) = (0, 0);
        for pair in &entry.list.pairs {
            let same = pair.is_match();
            let count = if same { &mut matched } else { &mut mismatched };
            if *count >= per_class {
                continue;
            }
            let rel = |r| dataset.resolve(r).and_then(|p| dataset.relative(p));
            if let (Some(a), Some(b)) = (rel(&pair.a), rel(&pair.b)) {
                *count += 1;
                people.insert(pair.a.person.clone());
                people.insert(pair.b.person.clone());
                chosen.push((a, b, same));
            }
        }
        let unique: BTreeSet<&str> = chosen
            .iter()
            .flat_map(|(a, b, _)| [a.as_str(), b.as_str()])
            .collect();
        let (made, fallbacks) =
            triplets::crop_images(dataset, &unique, cache, detector, cancel, on_image)?;
        let order: Vec<&str> = unique.iter().copied().collect();
        let index = |s: &str| order.binary_search(&s).expect("every image was cropped");
        let pairs = chosen
            .iter()
            .map(|(a, b, same)| (index(a), index(b), *same))
            .collect();
        let crops = order.iter().map(|s| made[s].clone()).collect();
        Ok(ValidationSet {
            name: format!("{list}: {matched} matched + {mismatched} mismatched pairs"),
            crops,
            pairs,
            fallbacks: fallbacks.len(),
            people,
        })
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Best-threshold accuracy of `net` (run in inference mode) on the pairs.
    pub fn evaluate(&self, net: &EmbeddingNet, device: &Device) -> Validation {
        let net = net.valid();
        let device = device.clone().without_autodiff();
        let norm = net.kind().normalisation();
        let mut embeddings: Vec<f32> = Vec::with_capacity(self.crops.len() * super::EMBEDDING_DIM);
        for chunk in self.crops.chunks(64) {
            let refs: Vec<&RgbImage> = chunk.iter().collect();
            let e = net.forward(crops_to_tensor(&refs, &norm, &device));
            embeddings.extend(e.into_data().iter::<f32>());
        }
        let dim = super::EMBEDDING_DIM;
        let row = |i: usize| &embeddings[i * dim..(i + 1) * dim];
        let scored: Vec<Scored> = self
            .pairs
            .iter()
            .map(|&(a, b, same)| Scored {
                score: row(a).iter().zip(row(b)).map(|(x, y)| x * y).sum(),
                same,
            })
            .collect();
        let (threshold, accuracy) = metrics::best_threshold(&scored);
        Validation {
            accuracy,
            threshold,
        }
    }
}
