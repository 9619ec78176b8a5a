//! Verification metrics over scored pairs: accuracy at a threshold, the best threshold,
//! ROC curve and AUC, TAR at a given FAR, and LFW's k-fold protocol (threshold chosen on
//! k-1 folds, accuracy measured on the held-out one). Scores are similarities: higher means
//! "same person"; a pair is predicted same when its score is >= the threshold.

use serde::Serialize;

/// One scored pair: its similarity and whether it truly is one person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub score: f32,
    pub same: bool,
}

/// Fraction of pairs classified correctly at `threshold`.
pub fn accuracy(pairs: &[Scored], threshold: f32) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let correct = pairs
        .iter()
        .filter(|p| (p.score >= threshold) == p.same)
        .count();
    correct as f64 / pairs.len() as f64
}

/// The threshold with the highest accuracy, and that accuracy. Candidates lie between
/// consecutive distinct scores (plus one below and one above all), so the result does not
/// sit on a training pair's score; ties keep the lowest threshold. Each candidate is the
/// shortest decimal of its gap ([`shortest_decimal`]), so the threshold as printed, typed
/// back in, classifies the pairs exactly as the threshold found.
pub fn best_threshold(pairs: &[Scored]) -> (f32, f64) {
    let mut scores: Vec<f32> = pairs.iter().map(|p| p.score).collect();
    scores.sort_by(f32::total_cmp);
    scores.dedup();
    if scores.is_empty() {
        return (0.0, 0.0);
    }
    // Sweep thresholds upwards: counts of same/different pairs below each candidate.
    let mut sorted: Vec<Scored> = pairs.to_vec();
    sorted.sort_by(|a, b| a.score.total_cmp(&b.score));
    let total_same = pairs.iter().filter(|p| p.same).count();
    let n = pairs.len() as f64;
    let mut candidates = Vec::with_capacity(scores.len() + 1);
    let last = scores[scores.len() - 1];
    candidates.push(within_gap(scores[0] - 2e-3, scores[0]));
    candidates.extend(scores.windows(2).map(|w| within_gap(w[0], w[1])));
    candidates.push(within_gap(last, last + 2e-3));
    let (mut i, mut same_below, mut diff_below) = (0, 0usize, 0usize);
    let mut best = (candidates[0], -1.0);
    for &t in &candidates {
        while i < sorted.len() && sorted[i].score < t {
            if sorted[i].same {
                same_below += 1;
            } else {
                diff_below += 1;
            }
            i += 1;
        }
        // Correct: different pairs below t, same pairs at or above it.
        let acc = (diff_below + total_same - same_below) as f64 / n;
        if acc > best.1 {
            best = (t, acc);
        }
    }
    best
}

/// A threshold between scores `lo` and `hi`: the shortest decimal in the middle half of
/// the gap (near the midpoint, which generalises best, yet short to print).
fn within_gap(lo: f32, hi: f32) -> f32 {
    let quarter = (hi - lo) / 4.0;
    let t = shortest_decimal(lo + quarter, hi - quarter);
    if t > lo && t <= hi {
        t
    } else {
        lo + (hi - lo) / 2.0
    }
}

/// The decimal with the fewest digits in `lo < t <= hi` (as f32): every such `t` splits
/// scores `<= lo` from scores `>= hi` alike, and the shortest one prints exactly. The
/// midpoint when the gap is below f32's resolution for 9 digits.
pub fn shortest_decimal(lo: f32, hi: f32) -> f32 {
    for digits in 0..=9 {
        let scale = 10f64.powi(digits);
        // The first multiple of 10^-digits above lo (f64 avoids rounding the scale).
        let mut t = ((lo as f64 * scale).floor() + 1.0) / scale;
        if (t as f32) <= lo {
            t += 1.0 / scale;
        }
        if (t as f32) > lo && (t as f32) <= hi {
            return t as f32;
        }
    }
    lo + (hi - lo) / 2.0
}

/// A point of the ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    pub threshold: f32,
    /// False accept rate: different pairs scored at or above the threshold.
    pub far: f64,
    /// True accept rate: same pairs scored at or above the threshold.
    pub tar: f64,
}

/// The ROC curve from the strictest threshold (nothing accepted) to the loosest
/// (everything accepted), one point per distinct score.
pub fn roc(pairs: &[Scored]) -> Vec<RocPoint> {
    let pos = pairs.iter().filter(|p| p.same).count().max(1) as f64;
    let neg = pairs.iter().filter(|p| !p.same).count().max(1) as f64;
    let mut sorted: Vec<Scored> = pairs.to_vec();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut curve = vec![RocPoint {
        threshold: f32::INFINITY,
        far: 0.0,
        tar: 0.0,
    }];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].score;
        // All pairs with this exact score are accepted together.
        while i < sorted.len() && sorted[i].score == t {
            if sorted[i].same {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        curve.push(RocPoint {
            threshold: t,
            far: fp as f64 / neg,
            tar: tp as f64 / pos,
        });
    }
    curve
}

/// Area under the ROC curve (trapezoids; ties count half, as the Mann-Whitney statistic).
pub fn auc(curve: &[RocPoint]) -> f64 {
    curve
        .windows(2)
        .map(|w| (w[1].far - w[0].far) * (w[1].tar + w[0].tar) / 2.0)
        .sum()
}

/// The highest true accept rate with a false accept rate of at most `far`.
pub fn tar_at_far(curve: &[RocPoint], far: f64) -> f64 {
    curve
        .iter()
        .filter(|p| p.far <= far)
        .map(|p| p.tar)
        .fold(0.0, f64::max)
}

/// LFW's protocol: for each fold, the best threshold on the other folds, accuracy on this
/// one. Returns the per-fold accuracies (folds with no pairs are skipped).
pub fn fold_accuracies(pairs: &[Scored], folds: &[usize]) -> Vec<f64> {
    assert_eq!(pairs.len(), folds.len(), "one fold per pair");
    let k = folds.iter().copied().max().map_or(0, |m| m + 1);
    (0..k)
        .filter_map(|f| {
            let (test, train): (Vec<_>, Vec<_>) =
                pairs.iter().zip(folds).partition(|(_, fold)| **fold == f);
            if test.is_empty() {
                return None;
            }
            let train: Vec<Scored> = train.into_iter().map(|(p, _)| *p).collect();
            let test: Vec<Scored> = test.into_iter().map(|(p, _)| *p).collect();
            let (t, _) = best_threshold(&train);
            Some(accuracy(&test, t))
        })
        .collect()
}

/// Mean and (population) standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_threshold_prints_and_types_back_exactly() {
        assert_eq!(shortest_decimal(0.9141, 0.9162), 0.915);
        assert_eq!(shortest_decimal(0.91, 0.92), 0.92);
        assert_eq!(shortest_decimal(-0.31, -0.2), -0.3);
        let t = shortest_decimal(0.123_456_7, 0.123_456_9);
        assert!(t > 0.123_456_7 && t <= 0.123_456_9, "{t}");
        // Scores as a face model gives them: the best threshold, printed and parsed again,
        // gives the same accuracy.
        let mut rng = 12345u64;
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 40) as f32 / (1u64 << 24) as f32
        };
        let pairs: Vec<Scored> = (0..2000)
            .map(|i| {
                let same = i % 2 == 0;
                let score = if same {
                    0.88 + 0.12 * next()
                } else {
                    0.70 + 0.22 * next()
                };
                Scored { score, same }
            })
            .collect();
        let (t, best) = best_threshold(&pairs);
        let typed: f32 = format!("{t}").parse().unwrap_or(f32::NAN);
        assert_eq!(accuracy(&pairs, typed), best, "{t}");
        assert!(format!("{t}").len() <= 8, "{t}");
    }

    fn pairs(v: &[(f32, bool)]) -> Vec<Scored> {
        v.iter()
            .map(|&(score, same)| Scored { score, same })
            .collect()
    }

    #[test]
    fn accuracy_and_best_threshold_by_hand() {
        // Same pairs score 0.9, 0.8, 0.4; different pairs 0.5, 0.3, 0.1.
        let p = pairs(&[
            (0.9, true),
            (0.8, true),
            (0.4, true),
            (0.5, false),
            (0.3, false),
            (0.1, false),
        ]);
        assert!((accuracy(&p, 0.6) - 5.0 / 6.0).abs() < 1e-12);
        assert!((accuracy(&p, 0.35) - 5.0 / 6.0).abs() < 1e-12);
        assert!((accuracy(&p, 0.0) - 0.5).abs() < 1e-12);
        // 5/6 is the best; the lowest threshold achieving it is near the middle of 0.3..0.4.
        let (t, acc) = best_threshold(&p);
        assert!((acc - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(t, 0.33);
        // Perfectly separable: accuracy 1.
        let q = pairs(&[(0.9, true), (0.7, true), (0.2, false)]);
        assert_eq!(best_threshold(&q), (0.4, 1.0));
    }

    #[test]
    fn roc_auc_and_tar_at_far_by_hand() {
        let p = pairs(&[(0.9, true), (0.8, false), (0.7, true), (0.1, false)]);
        let curve = roc(&p);
        let pts: Vec<(f64, f64)> = curve.iter().map(|c| (c.far, c.tar)).collect();
        assert_eq!(
            pts,
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        // AUC = P(score_same > score_diff) = 3 of 4 pairings.
        assert!((auc(&curve) - 0.75).abs() < 1e-12);
        assert_eq!(tar_at_far(&curve, 0.0), 0.5);
        assert_eq!(tar_at_far(&curve, 0.5), 1.0);
        // Tied scores count half.
        let tied = roc(&pairs(&[(0.5, true), (0.5, false)]));
        assert!((auc(&tied) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn folds_choose_the_threshold_on_the_other_folds() {
        // Fold 0 alone would want a threshold near 0.85, fold 1 near 0.25; each is scored
        // with the other's threshold.
        let p = pairs(&[(0.9, true), (0.8, false), (0.3, true), (0.2, false)]);
        let folds = [0, 0, 1, 1];
        let acc = fold_accuracies(&p, &folds);
        // Fold 0 tested at t=0.25: both accepted -> 1 of 2. Fold 1 tested at t=0.85: both
        // rejected -> 1 of 2.
        assert_eq!(acc, vec![0.5, 0.5]);
        assert_eq!(mean_std(&acc), (0.5, 0.0));
        let (m, s) = mean_std(&[0.8, 1.0]);
        assert!((m - 0.9).abs() < 1e-12 && (s - 0.1).abs() < 1e-12);
    }
}
