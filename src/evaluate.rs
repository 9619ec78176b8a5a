//! Verification over a pair list (LFW's protocols): each unique image is cropped (through
//! the MTCNN crop cache) and embedded once, with the embeddings cached per model; then the
//! cosine similarity of every pair and the metrics: accuracy at a threshold, the best
//! threshold, ROC and AUC, TAR at FAR 1e-2 / 1e-3, and the k-fold protocol.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::crop::FacePick;
use crate::dataset::{Pair, PairList};
use crate::detect::DetectorConfig;
use crate::embed::EMBEDDING_DIM;
use crate::metrics::{self, Scored};
use crate::preprocess::{self, CropCache, PreprocessError, PreprocessSettings};
use crate::verify::{self, Verifier};
use crate::{Dataset, imageio};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Cache(#[from] PreprocessError),
    #[error("{0}")]
    Pairs(String),
}

/// One scored pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairScore {
    pub a: String,
    pub b: String,
    pub same: bool,
    pub fold: usize,
    pub similarity: f32,
}

/// Similarities of a pair list.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub list: String,
    pub pairs: Vec<PairScore>,
    /// Images without a usable face, centre-cropped instead.
    pub fallback_crops: Vec<String>,
    /// Pairs skipped because an image named by the list is not in the dataset.
    pub missing_pairs: usize,
    /// Pairs not scored because an image has no embedding (never a zero vector's score).
    #[serde(default)]
    pub unscored_pairs: usize,
}

impl Scores {
    pub fn scored(&self) -> Vec<Scored> {
        self.pairs
            .iter()
            .map(|p| Scored {
                score: p.similarity,
                same: p.same,
            })
            .collect()
    }
}

/// The first `n` matched and `n` mismatched pairs of `list` (the seed evaluated 100 + 100).
pub fn sample(list: &PairList, n: usize) -> PairList {
    // Spread over the folds (the first pairs of each), so a sample of a 10-fold list still
    // has every fold: View 2's first 20 pairs of each kind are all in fold 0.
    let folds = list.folds.max(1);
    let quota = |fold: usize| n / folds + usize::from(fold < n % folds);
    let mut taken = vec![(0, 0); folds];
    let pairs = list
        .pairs
        .iter()
        .filter(|p| {
            let Some((m, u)) = taken.get_mut(p.fold) else {
                return false;
            };
            let count = if p.is_match() { m } else { u };
            *count += 1;
            *count <= quota(p.fold)
        })
        .cloned()
        .collect();
    let name = if folds == 1 {
        format!("{} (first {n} matched + {n} mismatched)", list.name)
    } else {
        format!(
            "{} ({n} matched + {n} mismatched, the first of each of its {folds} folds)",
            list.name
        )
    };
    PairList {
        name,
        pairs,
        ..list.clone()
    }
}

/// Why the k-fold protocol cannot run on `list`: every fold must hold a matched and a
/// mismatched pair, and there must be two folds (a threshold is chosen on the others).
pub fn folds_problem(list: &PairList) -> Option<String> {
    if list.folds < 2 {
        return Some(format!(
            "{} has {} fold; the k-fold protocol needs at least 2",
            list.name, list.folds
        ));
    }
    let empty: Vec<usize> = (0..list.folds)
        .filter(|f| {
            let fold = || list.pairs.iter().filter(|p| p.fold == *f);
            !fold().any(Pair::is_match) || fold().all(Pair::is_match)
        })
        .collect();
    (!empty.is_empty()).then(|| {
        format!(
            "{} fold(s) of {} lack a matched or a mismatched pair (fold {}), so no fold accuracy can be measured: \
             use a larger --sample (at least the number of folds, {}) or leave out --folds",
            empty.len(),
            list.name,
            empty[0] + 1,
            list.folds
        )
    })
}

/// The crop settings used for a model's evaluation crops: the model's crop, the detector's
/// defaults, and the face nearest the centre (LFW images are centred on the named person).
pub fn settings_for(verifier: &Verifier) -> PreprocessSettings {
    PreprocessSettings {
        detector: DetectorConfig::default(),
        crop: verifier.crop,
        pick: FacePick::NearestCentre,
    }
}

/// Embeddings already computed for one model (a file per model and crop settings).
#[derive(Debug, Default, Serialize, Deserialize)]
struct EmbeddingCache {
    /// Image key -> its embedding and what it was computed from.
    images: BTreeMap<String, CachedEmbedding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedEmbedding {
    /// The image file as it was embedded: a file replaced since is embedded again.
    stamp: preprocess::FileStamp,
    /// Centre-cropped for want of a usable face.
    fallback: bool,
    embedding: Vec<f32>,
}

/// `<cache_root>/embeddings/<key>.json`, the key a hash of everything that changes an
/// embedding but the images themselves (checked one by one): the weights, the model.json
/// fields (all but the threshold and calibration, which change no embedding), the dataset and the crop
/// settings.
fn embedding_cache_path(cache_root: &Path, verifier: &Verifier, dataset: &Dataset) -> PathBuf {
    let mut key = std::fs::read(verifier.dir.join("model.bpk")).unwrap_or_default();
    let mut meta = serde_json::to_value(&verifier.meta).unwrap_or_default();
    if let Some(fields) = meta.as_object_mut() {
        fields.remove("threshold");
        fields.remove("calibration");
    }
    key.extend(meta.to_string().bytes());
    key.extend(dataset.root.to_string_lossy().bytes());
    key.extend(settings_for(verifier).key().bytes());
    cache_root
        .join("embeddings")
        .join(format!("{:032x}.json", xxhash_rust::xxh3::xxh3_128(&key)))
}

/// Scores every pair of `list` whose images exist. `on_progress(done, total)` follows the
/// cropping and embedding of the unique images.
pub fn score_pairs(
    dataset: &Dataset,
    list: &PairList,
    verifier: &Verifier,
    cache_root: &Path,
    cancel: &AtomicBool,
    on_progress: impl FnMut(usize, usize),
) -> Result<Scores, EvalError> {
    let (chosen, missing_pairs) = pairs_on_disk(dataset, list);
    if chosen.is_empty() {
        return Err(EvalError::Pairs(format!(
            "none of the {} pairs of {} has both images in {}",
            list.pairs.len(),
            list.name,
            dataset.root.display()
        )));
    }
    let unique: BTreeSet<&str> = chosen
        .iter()
        .flat_map(|(a, b, _, _)| [a.as_str(), b.as_str()])
        .collect();
    let cache_file = embedding_cache_path(cache_root, verifier, dataset);
    let mut stored: EmbeddingCache = std::fs::read(&cache_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let stamps: BTreeMap<&str, Option<preprocess::FileStamp>> = unique
        .iter()
        .map(|&i| (i, preprocess::file_stamp(&dataset.image_root.join(i))))
        .collect();
    let todo: BTreeSet<&str> = unique
        .iter()
        .copied()
        .filter(|i| stored.images.get(*i).map(|c| Some(c.stamp)) != Some(stamps[i]))
        .collect();
    if !todo.is_empty() {
        let job = EmbedJob {
            dataset,
            verifier,
            cache_root,
            cancel,
        };
        let (embedded, fallbacks) = job.embed(&todo, on_progress)?;
        for (image, embedding) in embedded {
            let Some(stamp) = stamps[image] else { continue };
            let fallback = fallbacks.iter().any(|f| f == image);
            stored.images.insert(
                image.to_string(),
                CachedEmbedding {
                    stamp,
                    fallback,
                    embedding,
                },
            );
        }
        save_embeddings(&cache_file, &stored);
    }
    let fallback_crops = unique
        .iter()
        .filter(|i| stored.images.get(**i).is_some_and(|c| c.fallback))
        .map(|i| i.to_string())
        .collect();
    let (pairs, unscored_pairs) = pair_scores(chosen, &stored.images);
    Ok(Scores {
        list: list.name.clone(),
        pairs,
        fallback_crops,
        missing_pairs,
        unscored_pairs,
    })
}

/// The (a, b, same, fold) pairs of `list` whose two images are in `dataset` (paths
/// relative to its image root), and how many pairs are not.
fn pairs_on_disk(
    dataset: &Dataset,
    list: &PairList,
) -> (Vec<(String, String, bool, usize)>, usize) {
    let rel = |r| dataset.resolve(r).and_then(|p| dataset.relative(p));
    let mut chosen = Vec::new();
    let mut missing = 0;
    for pair in &list.pairs {
        match (rel(&pair.a), rel(&pair.b)) {
            (Some(a), Some(b)) => chosen.push((a, b, pair.is_match(), pair.fold)),
            _ => missing += 1,
        }
    }
    (chosen, missing)
}

/// A cache: failing to write it only costs time next run.
fn save_embeddings(cache_file: &Path, stored: &EmbeddingCache) {
    if let Ok(bytes) = serde_json::to_vec(stored) {
        if let Some(dir) = cache_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = imageio::write_atomic(cache_file, &bytes);
    }
}

/// Images and their embeddings.
type Embedded<'a> = Vec<(&'a str, Vec<f32>)>;

/// Crops and embeds the images of a pair list that have no cached embedding yet.
struct EmbedJob<'a> {
    dataset: &'a Dataset,
    verifier: &'a Verifier,
    cache_root: &'a Path,
    cancel: &'a AtomicBool,
}

impl EmbedJob<'_> {
    /// The embedding of each image of `todo` that could be read, and the images
    /// centre-cropped for want of a face.
    fn embed<'a>(
        &self,
        todo: &BTreeSet<&'a str>,
        mut on_progress: impl FnMut(usize, usize),
    ) -> Result<(Embedded<'a>, Vec<String>), EvalError> {
        let (dataset, verifier, cache_root) = (self.dataset, self.verifier, self.cache_root);
        let settings = settings_for(verifier);
        let mut cache = CropCache::open(
            &CropCache::dir_for(cache_root, dataset, &settings),
            dataset,
            &settings,
        )?;
        let total = todo.len();
        let cropped = preprocess::crop_images(
            dataset,
            todo,
            &mut cache,
            verifier.detector(),
            self.cancel,
            |d, _| on_progress(d / 2, total),
        )?;
        cropped.warn_unreadable();
        // An unreadable image gets no embedding, so its pairs are counted as unscored.
        let order: Vec<&str> = todo
            .iter()
            .copied()
            .filter(|k| cropped.made.contains_key(k))
            .collect();
        let crops: Vec<&RgbImage> = order.iter().map(|k| &cropped.made[k]).collect();
        let mut embedded = Vec::with_capacity(order.len());
        for (i, chunk) in crops.chunks(64).enumerate() {
            let e = verifier.embed(chunk);
            embedded.extend(order[i * 64..].iter().copied().zip(e));
            on_progress(total / 2 + ((i + 1) * 64).min(total) / 2, total);
        }
        Ok((embedded, cropped.fallbacks))
    }
}

/// The cosine similarity of each (a, b, same, fold) pair whose two images both have an
/// embedding of the model's size, and the number of pairs left out for want of one.
fn pair_scores(
    chosen: Vec<(String, String, bool, usize)>,
    embeddings: &BTreeMap<String, CachedEmbedding>,
) -> (Vec<PairScore>, usize) {
    let get = |k: &str| {
        embeddings
            .get(k)
            .map(|c| &c.embedding)
            .filter(|e| e.len() == EMBEDDING_DIM)
    };
    let total = chosen.len();
    let pairs: Vec<PairScore> = chosen
        .into_iter()
        .filter_map(|(a, b, same, fold)| {
            let similarity = verify::cosine(get(&a)?, get(&b)?);
            Some(PairScore {
                similarity,
                a,
                b,
                same,
                fold,
            })
        })
        .collect();
    let unscored = total - pairs.len();
    (pairs, unscored)
}

/// What `siamese-face eval --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub pairs: usize,
    /// Accuracy at `threshold` (the model's, chosen on training pairs, unless overridden).
    pub accuracy: f64,
    pub threshold: f32,
    /// The threshold that is best on these very pairs, and its (optimistic) accuracy.
    pub best_threshold: f32,
    pub best_accuracy: f64,
    pub auc: f64,
    pub tar_at_far: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fold_accuracy_mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fold_accuracy_std: Option<f64>,
    pub fallback_crops: usize,
    pub missing_pairs: usize,
    /// Pairs left out because an image had no embedding.
    pub unscored_pairs: usize,
    /// People of these pairs that the model trained on (0: a test on unseen people).
    pub seen_people: usize,
}

/// How many people of `list` are among `trained_on` (a model's training identities).
pub fn seen_people(list: &PairList, trained_on: &[String]) -> usize {
    let trained: BTreeSet<&str> = trained_on.iter().map(String::as_str).collect();
    let people: BTreeSet<&str> = list
        .pairs
        .iter()
        .flat_map(|p| [p.a.person.as_str(), p.b.person.as_str()])
        .collect();
    people.intersection(&trained).count()
}

/// The report of per-fold models: each fold's pairs scored by its own model (trained
/// without that fold's people) at its own threshold. `threshold` is the folds' mean.
pub fn report_per_fold(folds: &[(Scores, f32)]) -> Report {
    let accuracies: Vec<f64> = folds
        .iter()
        .map(|(s, t)| metrics::accuracy(&s.scored(), *t))
        .collect();
    let all = Scores {
        list: folds.first().map_or(String::new(), |(s, _)| s.list.clone()),
        pairs: folds.iter().flat_map(|(s, _)| s.pairs.clone()).collect(),
        fallback_crops: folds
            .iter()
            .flat_map(|(s, _)| s.fallback_crops.clone())
            .collect(),
        missing_pairs: folds.iter().map(|(s, _)| s.missing_pairs).sum(),
        unscored_pairs: folds.iter().map(|(s, _)| s.unscored_pairs).sum(),
    };
    let n = folds.len().max(1) as f32;
    let mut r = report(&all, folds.iter().map(|(_, t)| t).sum::<f32>() / n, false);
    let correct: f64 = folds
        .iter()
        .zip(&accuracies)
        .map(|((s, _), a)| a * s.pairs.len() as f64)
        .sum();
    r.accuracy = correct / all.pairs.len().max(1) as f64;
    let (m, sd) = metrics::mean_std(&accuracies);
    r.fold_accuracy_mean = Some(m);
    r.fold_accuracy_std = Some(sd);
    r
}

pub fn report(scores: &Scores, threshold: f32, folds: bool) -> Report {
    let scored = scores.scored();
    let curve = metrics::roc(&scored);
    let (best_threshold, best_accuracy) = metrics::best_threshold(&scored);
    let (mean, std) = if folds {
        let f: Vec<usize> = scores.pairs.iter().map(|p| p.fold).collect();
        let (m, s) = metrics::mean_std(&metrics::fold_accuracies(&scored, &f));
        (Some(m), Some(s))
    } else {
        (None, None)
    };
    Report {
        pairs: scored.len(),
        accuracy: metrics::accuracy(&scored, threshold),
        threshold,
        best_threshold,
        best_accuracy,
        auc: metrics::auc(&curve),
        tar_at_far: [("1e-2", 1e-2), ("1e-3", 1e-3)]
            .into_iter()
            .map(|(k, far)| (k.to_string(), metrics::tar_at_far(&curve, far)))
            .collect(),
        fold_accuracy_mean: mean,
        fold_accuracy_std: std,
        fallback_crops: scores.fallback_crops.len(),
        missing_pairs: scores.missing_pairs,
        unscored_pairs: scores.unscored_pairs,
        seen_people: 0,
    }
}

/// Pairs of `scores` misclassified at `threshold`.
/// Every scored pair as CSV (`a,b,same,fold,similarity,said_same`), `said_same` at its
/// scores' threshold (per-fold models have their own); image paths are quoted when they
/// hold a comma or a quote.
pub fn scores_csv(parts: &[(&Scores, f32)]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from("a,b,same,fold,similarity,said_same\n");
    for (p, threshold) in parts
        .iter()
        .flat_map(|(scores, t)| scores.pairs.iter().map(move |p| (p, *t)))
    {
        out.push_str(&format!(
            "{},{},{},{},{:.6},{}\n",
            field(&p.a),
            field(&p.b),
            p.same,
            p.fold + 1,
            p.similarity,
            p.similarity >= threshold
        ));
    }
    out
}

pub fn misclassified(scores: &Scores, threshold: f32) -> Vec<&PairScore> {
    scores
        .pairs
        .iter()
        .filter(|p| (p.similarity >= threshold) != p.same)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ImageRef;

    fn score(same: bool, similarity: f32, fold: usize) -> PairScore {
        PairScore {
            a: "a".into(),
            b: "b".into(),
            same,
            fold,
            similarity,
        }
    }

    #[test]
    fn report_of_a_hand_computed_case() {
        // Matched 0.9, 0.8, 0.3; mismatched 0.5, 0.2, 0.1.
        let scores = Scores {
            list: "t".into(),
            pairs: vec![
                score(true, 0.9, 0),
                score(true, 0.8, 1),
                score(true, 0.3, 0),
                score(false, 0.5, 1),
                score(false, 0.2, 0),
                score(false, 0.1, 1),
            ],
            fallback_crops: vec!["x.jpg".into()],
            missing_pairs: 2,
            unscored_pairs: 0,
        };
        let r = report(&scores, 0.4, true);
        assert_eq!(r.pairs, 6);
        // At 0.4: 0.9, 0.8 accepted (right), 0.3 rejected (wrong), 0.5 accepted (wrong).
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // Best: between 0.2 and 0.3 (0.23, short and near the middle) -> only 0.5 wrong: 5/6.
        assert!((r.best_accuracy - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(r.best_threshold, 0.23);
        // AUC: of the 9 matched/mismatched pairs, 8 are ordered right.
        assert!((r.auc - 8.0 / 9.0).abs() < 1e-12);
        // At FAR 0 (no mismatched accepted), 2 of 3 matched pairs are accepted.
        assert!((r.tar_at_far["1e-2"] - 2.0 / 3.0).abs() < 1e-12);
        assert!(r.fold_accuracy_mean.is_some() && r.fold_accuracy_std.is_some());
        assert_eq!((r.fallback_crops, r.missing_pairs), (1, 2));
        assert_eq!(misclassified(&scores, 0.4).len(), 2);
        assert!(report(&scores, 0.4, false).fold_accuracy_mean.is_none());
    }

    #[test]
    fn a_pair_without_an_embedding_is_counted_not_scored() {
        let unit = |i: usize| {
            let mut e = vec![0f32; EMBEDDING_DIM];
            e[i] = 1.0;
            e
        };
        let cached = |embedding| CachedEmbedding {
            stamp: preprocess::FileStamp {
                size: 1,
                secs: 2,
                nanos: 3,
            },
            fallback: false,
            embedding,
        };
        let embeddings: BTreeMap<String, CachedEmbedding> = [
            ("a".to_string(), cached(unit(0))),
            ("b".to_string(), cached(unit(0))),
            ("c".to_string(), cached(unit(1))),
            // Not a model embedding (a damaged cache entry): as good as missing.
            ("short".to_string(), cached(vec![1.0; 3])),
        ]
        .into();
        let pair = |a: &str, b: &str, same| (a.to_string(), b.to_string(), same, 0);
        let (pairs, unscored) = pair_scores(
            vec![
                pair("a", "b", true),
                pair("a", "c", false),
                pair("a", "gone", true),
                pair("short", "b", false),
            ],
            &embeddings,
        );
        assert_eq!(unscored, 2);
        let scored: Vec<(&str, &str, f32)> = pairs
            .iter()
            .map(|p| (p.a.as_str(), p.b.as_str(), p.similarity))
            .collect();
        assert_eq!(scored, [("a", "b", 1.0), ("a", "c", 0.0)]);
    }

    #[test]
    fn scores_export_as_csv() {
        let pair = |a: &str, same, similarity| PairScore {
            a: a.into(),
            b: "B/B_0001.jpg".into(),
            same,
            fold: 0,
            similarity,
        };
        let scores = Scores {
            list: "l".into(),
            pairs: vec![
                pair("A/A_0001.jpg", true, 0.95),
                pair("Odd, \"name\".jpg", false, 0.5),
            ],
            fallback_crops: vec![],
            missing_pairs: 0,
            unscored_pairs: 0,
        };
        let csv = scores_csv(&[(&scores, 0.9)]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "a,b,same,fold,similarity,said_same");
        assert_eq!(lines[1], "A/A_0001.jpg,B/B_0001.jpg,true,1,0.950000,true");
        assert_eq!(
            lines[2],
            "\"Odd, \"\"name\"\".jpg\",B/B_0001.jpg,false,1,0.500000,false"
        );
    }

    #[test]
    fn sample_keeps_the_first_n_of_each_kind() {
        let r = |p: &str, n| ImageRef {
            person: p.into(),
            number: n,
        };
        let pair = |a, b| Pair { a, b, fold: 0 };
        let list = PairList {
            name: "l".into(),
            sources: vec![],
            pairs: vec![
                pair(r("A", 1), r("A", 2)),
                pair(r("A", 1), r("B", 1)),
                pair(r("B", 1), r("B", 2)),
                pair(r("C", 1), r("B", 2)),
                pair(r("C", 1), r("C", 2)),
            ],
            folds: 1,
        };
        let s = sample(&list, 1);
        assert_eq!(s.pairs, vec![list.pairs[0].clone(), list.pairs[1].clone()]);
        assert_eq!(sample(&list, 5).pairs.len(), 5);
        assert!(folds_problem(&list).unwrap().contains("at least 2"));
        // Two folds: a sample takes from both, and one too small for them is refused.
        let two = PairList {
            pairs: [0, 0, 1, 1]
                .iter()
                .zip([
                    pair(r("A", 1), r("A", 2)),
                    pair(r("A", 1), r("B", 1)),
                    pair(r("B", 1), r("B", 2)),
                    pair(r("C", 1), r("B", 2)),
                ])
                .map(|(fold, p)| Pair { fold: *fold, ..p })
                .collect(),
            folds: 2,
            ..list.clone()
        };
        assert_eq!(folds_problem(&two), None);
        assert_eq!(folds_problem(&sample(&two, 2)), None);
        let one = sample(&two, 1);
        assert_eq!(one.pairs, two.pairs[..2]);
        assert!(folds_problem(&one).unwrap().contains("fold 2"), "{one:?}");
        // B and C are in the list; D is not.
        let trained = ["B".to_string(), "C".to_string(), "D".to_string()];
        assert_eq!(seen_people(&list, &trained), 2);
        assert_eq!(seen_people(&list, &[]), 0);
    }

    #[test]
    fn per_fold_models_are_scored_at_their_own_thresholds() {
        let fold = |pairs: Vec<PairScore>| Scores {
            list: "pairs".into(),
            pairs,
            fallback_crops: vec![],
            missing_pairs: 0,
            unscored_pairs: 0,
        };
        // Fold 0 is perfect at 0.5; fold 1 at 0.5 would get 1 of 4 wrong, at 0.75 none.
        let f0 = fold(vec![
            score(true, 0.9, 0),
            score(true, 0.6, 0),
            score(false, 0.4, 0),
            score(false, 0.1, 0),
        ]);
        let f1 = fold(vec![
            score(true, 0.9, 1),
            score(true, 0.8, 1),
            score(false, 0.7, 1),
            score(false, 0.1, 1),
        ]);
        let r = report_per_fold(&[(f0.clone(), 0.5), (f1.clone(), 0.75)]);
        assert_eq!(r.pairs, 8);
        assert!((r.accuracy - 1.0).abs() < 1e-12);
        assert_eq!(r.fold_accuracy_mean, Some(1.0));
        assert!((r.threshold - 0.625).abs() < 1e-6);
        let r = report_per_fold(&[(f0, 0.5), (f1, 0.5)]);
        assert!((r.accuracy - 7.0 / 8.0).abs() < 1e-12);
        assert_eq!(r.fold_accuracy_mean, Some(0.875));
    }
}
