//! Online triplet mining (FaceNet's semi-hard negatives): batches of P identities x K
//! images, embedded together, and triplets chosen from the batch's distance matrix.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use rand::Rng;
use rand::seq::index::sample;

use crate::Dataset;
use crate::detect::Detector;
use crate::preprocess::{self, CropCache};
use crate::triplets::TripletError;
use image::RgbImage;

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

/// The crops of every person of `identities` with two or more images (at most
/// `max_people` of them, in name order), through `cache` as for triplets.
pub fn identity_pool(
    dataset: &Dataset,
    identities: &BTreeSet<String>,
    max_people: Option<usize>,
    cache: &mut CropCache,
    detector: &Detector,
    cancel: &AtomicBool,
    on_image: impl FnMut(usize, usize),
) -> Result<IdentityPool, TripletError> {
    let (names, people): (Vec<String>, Vec<Vec<String>>) = dataset
        .images_by_person(identities, 2)
        .into_iter()
        .take(max_people.unwrap_or(usize::MAX))
        .unzip();
    if people.len() < 2 {
        return Err(TripletError::TooFew(format!(
            "{} training identities with two or more images; mining needs at least 2",
            people.len()
        )));
    }
    let unique: BTreeSet<&str> = people.iter().flatten().map(String::as_str).collect();
    let mut cropped = preprocess::crop_images(dataset, &unique, cache, detector, cancel, on_image)?;
    cropped.warn_unreadable();
    // Each image belongs to one person, so crops are numbered in person order; an
    // unreadable image is left out, and so is a person left with fewer than two.
    let mut crops = Vec::with_capacity(unique.len());
    let mut kept_names = Vec::with_capacity(names.len());
    let mut kept = Vec::with_capacity(people.len());
    for (name, images) in names.into_iter().zip(&people) {
        let own: Vec<RgbImage> = images
            .iter()
            .filter_map(|i| cropped.made.remove(i.as_str()))
            .collect();
        if own.len() < 2 {
            continue;
        }
        kept.push((crops.len()..crops.len() + own.len()).collect());
        crops.extend(own);
        kept_names.push(name);
    }
    if kept.len() < 2 {
        return Err(TripletError::TooFew(format!(
            "{} training identities with two or more readable images; mining needs at least 2",
            kept.len()
        )));
    }
    Ok(IdentityPool {
        crops,
        people: kept,
        names: kept_names,
        fallbacks: cropped.fallbacks.len(),
    })
}

/// Samples a batch: up to `people` identities (among those with two or more images) and up
/// to `per_person` distinct images of each. Returns the crop indices and an identity label
/// for each. `identities` lists, per person, indices into the crop pool.
pub fn sample_batch(
    identities: &[Vec<usize>],
    people: usize,
    per_person: usize,
    rng: &mut impl Rng,
) -> (Vec<usize>, Vec<usize>) {
    let eligible: Vec<usize> = (0..identities.len())
        .filter(|&i| identities[i].len() >= 2)
        .collect();
    let chosen = sample(rng, eligible.len(), people.min(eligible.len()));
    let (mut crops, mut labels) = (Vec::new(), Vec::new());
    for (label, e) in chosen.into_iter().enumerate() {
        let images = &identities[eligible[e]];
        for k in sample(rng, images.len(), per_person.min(images.len())) {
            crops.push(images[k]);
            labels.push(label);
        }
    }
    (crops, labels)
}

/// Triplets (anchor, positive, negative) as row indices of a batch with the given identity
/// labels and squared distances `d` (row-major n x n). Every anchor-positive pair is used;
/// its negative is the closest one farther than the positive (semi-hard when within the
/// margin), or, when every negative is closer than the positive, the farthest negative (as
/// TensorFlow Addons' `triplet_semihard_loss` does).
pub fn semi_hard(labels: &[usize], d: &[f32]) -> Vec<[usize; 3]> {
    let n = labels.len();
    assert_eq!(d.len(), n * n, "distance matrix does not match the labels");
    let mut out = Vec::new();
    for a in 0..n {
        for p in 0..n {
            if p == a || labels[p] != labels[a] {
                continue;
            }
            let d_ap = d[a * n + p];
            let negatives = (0..n).filter(|&k| labels[k] != labels[a]);
            let outside = negatives
                .clone()
                .filter(|&k| d[a * n + k] > d_ap)
                .min_by(|&x, &y| d[a * n + x].total_cmp(&d[a * n + y]));
            let pick = outside
                .or_else(|| negatives.max_by(|&x, &y| d[a * n + x].total_cmp(&d[a * n + y])));
            if let Some(neg) = pick {
                out.push([a, p, neg]);
            }
        }
    }
    out
}

/// Squared Euclidean distances between the rows of `e` (n x dim, row-major).
pub fn squared_distances(e: &[f32], dim: usize) -> Vec<f32> {
    let n = e.len() / dim;
    let mut d = vec![0f32; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let v: f32 = e[i * dim..(i + 1) * dim]
                .iter()
                .zip(&e[j * dim..(j + 1) * dim])
                .map(|(x, y)| (x - y) * (x - y))
                .sum();
            d[i * n + j] = v;
            d[j * n + i] = v;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn picks_the_semi_hard_negative_then_the_farthest() {
        // Points on a line: 0 and 1 are person A (d_ap = 1), 2 (at 1.5) and 3 (at 3) are B/C.
        let x = [0.0f32, 1.0, 1.5, 3.0];
        let labels = [0, 0, 1, 2];
        let d: Vec<f32> = (0..16).map(|k| (x[k / 4] - x[k % 4]).powi(2)).collect();
        let t = semi_hard(&labels, &d);
        // Anchor 0, positive 1 (d 1): negatives 2 (d 2.25) and 3 (d 9); the closest beyond
        // the positive is 2.
        assert!(t.contains(&[0, 1, 2]));
        // Anchor 1, positive 0 (d 1): negatives 2 (d 0.25) and 3 (d 4): 3 is beyond.
        assert!(t.contains(&[1, 0, 3]));
        assert_eq!(t.len(), 2, "{t:?}");
        // When every negative is closer than the positive, the farthest is used.
        let d2 = [
            0.0, 4.0, 1.0, 2.0, 4.0, 0.0, 3.0, 1.0, 1.0, 3.0, 0.0, 1.0, 2.0, 1.0, 1.0, 0.0,
        ];
        let t = semi_hard(&[0, 0, 1, 2], &d2);
        assert!(t.contains(&[0, 1, 3]), "{t:?}");
    }

    #[test]
    fn batches_hold_k_images_of_p_people() {
        let identities: Vec<Vec<usize>> =
            vec![vec![0, 1, 2, 3, 4], vec![5], vec![6, 7], vec![8, 9, 10]];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (crops, labels) = sample_batch(&identities, 2, 3, &mut rng);
        assert!(labels.iter().filter(|&&l| l == 0).count() >= 2);
        assert_eq!(crops.len(), labels.len());
        // Person 1 (one image) is never chosen; images of one label belong to one person.
        assert!(!crops.contains(&5));
        for l in 0..2 {
            let of: Vec<usize> = (0..crops.len())
                .filter(|&i| labels[i] == l)
                .map(|i| crops[i])
                .collect();
            let owner = identities.iter().position(|p| p.contains(&of[0])).unwrap();
            assert!(of.iter().all(|c| identities[owner].contains(c)));
            let mut dedup = of.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(dedup.len(), of.len());
        }
    }

    #[test]
    fn distances_are_symmetric_squares() {
        let e = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0];
        let d = squared_distances(&e, 2);
        assert_eq!(d, vec![0.0, 2.0, 4.0, 2.0, 0.0, 2.0, 4.0, 2.0, 0.0]);
    }
}
