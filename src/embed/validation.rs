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

use super::EmbeddingNet;
use crate::Dataset;
use crate::detect::Detector;
use crate::metrics::{self, Scored};
use crate::preprocess::{self, CropCache};
use crate::triplets::TripletError;

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

/// The validation faces on a plane after an evaluation (the Training page draws it after
/// each epoch), with the pairs that join them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationMap {
    pub points: Vec<[f32; 2]>,
    /// `(point a, point b, same person)`.
    pub pairs: Vec<(usize, usize, bool)>,
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
        Self::from_pair_list_fold(
            dataset, list, None, per_class, cache, detector, cancel, on_image,
        )
    }

    /// Like [`from_pair_list`](Self::from_pair_list), with the pairs of one (0-based) fold
    /// of the list only when `fold` is set.
    #[allow(clippy::too_many_arguments)]
    pub fn from_pair_list_fold(
        dataset: &Dataset,
        list: &str,
        fold: Option<usize>,
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
        for pair in entry
            .list
            .pairs
            .iter()
            .filter(|p| fold.is_none_or(|f| p.fold == f))
        {
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
        let cropped = preprocess::crop_images(dataset, &unique, cache, detector, cancel, on_image)?;
        cropped.warn_unreadable();
        // Pairs with an unreadable image are left out.
        let mut order: Vec<&str> = cropped.made.keys().copied().collect();
        order.sort_unstable();
        let index = |s: &str| order.binary_search(&s).ok();
        let pairs = chosen
            .iter()
            .filter_map(|(a, b, same)| Some((index(a)?, index(b)?, *same)))
            .collect();
        let crops = order.iter().map(|s| cropped.made[s].clone()).collect();
        let fallbacks = cropped.fallbacks;
        Ok(ValidationSet {
            name: format!(
                "{list}{}: {matched} matched + {mismatched} mismatched pairs",
                fold.map_or(String::new(), |f| format!(" fold {}", f + 1))
            ),
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

    /// Best-threshold accuracy of `net` (run in inference mode) on the pairs, embedding as
    /// verification will (with or without flip averaging).
    pub fn evaluate(&self, net: &EmbeddingNet, flip_average: bool, device: &Device) -> Validation {
        self.score(&self.embed(net, flip_average, device))
    }

    /// The crops' unit embeddings by `net` in inference mode (flat, row-major).
    pub fn embed(&self, net: &EmbeddingNet, flip_average: bool, device: &Device) -> Vec<f32> {
        let net = net.valid();
        let device = device.clone().without_autodiff();
        let norm = net.kind().normalisation();
        let refs: Vec<&RgbImage> = self.crops.iter().collect();
        super::embed_crops(&net, &refs, &norm, flip_average, &device)
    }

    /// The crops at their embeddings' two principal components, with the pairs.
    pub fn map(&self, embeddings: &[f32]) -> ValidationMap {
        ValidationMap {
            points: crate::projection::pca_2d(embeddings, super::EMBEDDING_DIM),
            pairs: self.pairs.clone(),
        }
    }

    /// Side of the crops (0 when empty).
    pub fn crop_size(&self) -> usize {
        self.crops.first().map_or(0, |c| c.width() as usize)
    }

    /// Number of crops (unique images of the pairs).
    pub fn len_crops(&self) -> usize {
        self.crops.len()
    }

    /// Crop `i` as HWC RGB bytes.
    pub fn crop_bytes(&self, i: usize) -> &[u8] {
        self.crops[i].as_raw()
    }

    /// Best-threshold accuracy of unit embeddings of the crops (flat, row-major).
    pub fn score(&self, embeddings: &[f32]) -> Validation {
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
