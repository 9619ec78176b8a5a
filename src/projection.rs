//! A 2-D map of embeddings for the eye (the People page's map of the index, the Training
//! page's map of the validation faces): their two principal components (PCA), so faces of
//! one person land near each other and different people apart, as far as two directions
//! of 128 can show it. The covariance is 128 x 128 whatever the number of faces, and its
//! two leading eigenvectors come from power iteration.

/// Power-iteration steps per component (the leading eigenvalues of face embeddings are well
/// apart; 100 steps settle them to float precision).
const STEPS: usize = 100;

/// Each row of `rows` (row-major, `dim` wide) projected on the data's two principal
/// components.
pub fn pca_2d(rows: &[f32], dim: usize) -> Vec<[f32; 2]> {
    let (n, d) = (rows.len().checked_div(dim).unwrap_or(0), dim);
    if n == 0 {
        return Vec::new();
    }
    let row = |i: usize| &rows[i * d..(i + 1) * d];
    let mut mean = vec![0.0f64; d];
    for i in 0..n {
        for (m, &x) in mean.iter_mut().zip(row(i)) {
            *m += x as f64 / n as f64;
        }
    }
    let mut cov = vec![0.0f64; d * d];
    let mut centred = vec![0.0f64; d];
    for i in 0..n {
        for ((c, &x), m) in centred.iter_mut().zip(row(i)).zip(&mean) {
            *c = x as f64 - m;
        }
        for a in 0..d {
            let ca = centred[a];
            for (v, &cb) in cov[a * d..(a + 1) * d].iter_mut().zip(&centred) {
                *v += ca * cb;
            }
        }
    }
    let first = leading(&cov, d, None);
    let second = leading(&cov, d, Some(&first));
    (0..n)
        .map(|i| {
            let along = |axis: &[f64]| {
                row(i)
                    .iter()
                    .zip(&mean)
                    .zip(axis)
                    .map(|((&x, m), a)| (x as f64 - m) * a)
                    .sum::<f64>() as f32
            };
            [along(&first), along(&second)]
        })
        .collect()
}

/// The leading unit eigenvector of the symmetric `cov` (d x d), orthogonal to `not` when
/// given (the second component).
fn leading(cov: &[f64], d: usize, not: Option<&[f64]>) -> Vec<f64> {
    // A start with a part along every axis (a basis vector could be orthogonal to the
    // answer).
    let mut v: Vec<f64> = (0..d).map(|i| 1.0 + (i as f64 * 0.618).fract()).collect();
    for _ in 0..STEPS {
        if let Some(u) = not {
            let along: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= along * b);
        }
        let next: Vec<f64> = (0..d)
            .map(|a| {
                cov[a * d..(a + 1) * d]
                    .iter()
                    .zip(&v)
                    .map(|(c, x)| c * x)
                    .sum()
            })
            .collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        v = next.into_iter().map(|x| x / norm).collect();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pearson correlation of two series.
    fn corr(a: &[f32], b: &[f32]) -> f32 {
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        let (ma, mb) = (mean(a), mean(b));
        let cov: f32 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let sd = |v: &[f32], m: f32| v.iter().map(|x| (x - m).powi(2)).sum::<f32>().sqrt();
        cov / (sd(a, ma) * sd(b, mb))
    }

    #[test]
    fn the_map_spreads_the_widest_direction_first() {
        // Spread widely along axis 2 and less along axis 0: the map's x follows axis 2 and
        // its y axis 0 (up to sign).
        let mut m = Vec::new();
        for i in 0..40 {
            let t = i as f32 / 40.0 - 0.5;
            m.extend([0.2 * (t * 31.0).sin(), 0.0, t, 1.0]);
        }
        let map = pca_2d(&m, 4);
        assert_eq!(map.len(), 40);
        let column = |k: usize| (0..40).map(|i| m[i * 4 + k]).collect::<Vec<f32>>();
        let xs: Vec<f32> = map.iter().map(|p| p[0]).collect();
        let ys: Vec<f32> = map.iter().map(|p| p[1]).collect();
        assert!(
            corr(&xs, &column(2)).abs() > 0.99,
            "{}",
            corr(&xs, &column(2))
        );
        assert!(
            corr(&ys, &column(0)).abs() > 0.95,
            "{}",
            corr(&ys, &column(0))
        );
        assert!(pca_2d(&[], 4).is_empty());
        assert!(pca_2d(&[1.0], 0).is_empty());
    }
}
