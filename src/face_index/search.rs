//! Exact cosine search: embeddings in one contiguous row-major matrix, probes scored
//! against it by a matrix product (blocks of rows in parallel), and the best rows kept.
//! Unit embeddings make the dot product the cosine similarity. Memory: 4 bytes per
//! dimension per face (512 B for 128-d), plus the caller's id per row.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows scored per matrix product: 16k rows x 128-d is 8 MB of the gallery, and the scores
/// of a batch of probes stay in cache-sized pieces.
const BLOCK: usize = 16_384;

/// Row-major unit vectors of one dimension.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    dim: usize,
    data: Vec<f32>,
}

impl Matrix {
    pub fn new(dim: usize) -> Matrix {
        Matrix {
            dim,
            data: Vec::new(),
        }
    }

    /// Appends `v` scaled to unit length (a zero vector stays zero and matches nothing).
    pub fn push(&mut self, v: &[f32]) {
        debug_assert_eq!(v.len(), self.dim);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        self.data.extend(v.iter().map(|x| x * scale));
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Every row, one after the other.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Bytes held per row.
    pub fn bytes_per_row(&self) -> usize {
        self.dim * std::mem::size_of::<f32>()
    }
}

/// Up to this many probes are scored by plain dot products: a matrix product packs the
/// whole block first, which a single probe does not repay (measured: 98 ms against 33 ms
/// per probe over a million faces, `siamese-face bench search`).
const DOT_PROBES: usize = 4;

/// `a · b` with eight independent sums, which the compiler turns into SIMD lanes (a
/// single running sum must stay sequential).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `probes · blockᵀ` into `out` (probes x block rows, row-major).
fn scores(probes: &Matrix, block: &[f32], out: &mut [f32]) {
    let (m, d) = (probes.len(), probes.dim);
    let rows = block.len() / d;
    if m <= DOT_PROBES {
        for p in 0..m {
            let probe = probes.row(p);
            for (o, row) in out[p * rows..(p + 1) * rows]
                .iter_mut()
                .zip(block.chunks_exact(d))
            {
                *o = dot(probe, row);
            }
        }
        return;
    }
    // The shapes fit by construction (every Matrix holds whole rows).
    let (Ok(a), Ok(b), Ok(mut c)) = (
        ArrayView2::from_shape((m, d), &probes.data[..m * d]),
        ArrayView2::from_shape((rows, d), &block[..rows * d]),
        ArrayViewMut2::from_shape((m, rows), &mut out[..m * rows]),
    ) else {
        return;
    };
    general_mat_mul(1.0, &a, &b.t(), 0.0, &mut c);
}

/// The cosine similarity of every probe with every row: `probes.len() x matrix.len()`,
/// row-major.
pub fn similarities(matrix: &Matrix, probes: &Matrix) -> Vec<f32> {
    let (m, n) = (probes.len(), matrix.len());
    let mut out = vec![0.0; m * n];
    if m > 0 && n > 0 && matrix.dim == probes.dim {
        scores(probes, &matrix.data, &mut out);
    }
    out
}

/// The `k` rows most similar to each probe, best first: `(row, similarity)`.
pub fn top_k(matrix: &Matrix, probes: &Matrix, k: usize) -> Vec<Vec<(usize, f32)>> {
    let m = probes.len();
    if k == 0 || matrix.is_empty() || matrix.dim != probes.dim {
        return vec![Vec::new(); m];
    }
    let dim = matrix.dim;
    matrix
        .data
        .par_chunks(BLOCK * dim)
        .enumerate()
        .map(|(b, block)| {
            let rows = block.len() / dim;
            let mut s = vec![0.0; m * rows];
            scores(probes, block, &mut s);
            (0..m)
                .map(|p| {
                    let mut best = Best::new(k);
                    for (r, &v) in s[p * rows..(p + 1) * rows].iter().enumerate() {
                        best.offer(b * BLOCK + r, v);
                    }
                    best.hits
                })
                .collect::<Vec<_>>()
        })
        .reduce(
            || vec![Vec::new(); m],
            |a, b| {
                a.into_iter()
                    .zip(b)
                    .map(|(x, y)| Best::merge(x, y, k))
                    .collect()
            },
        )
}

/// The best `k` candidates seen so far, best first (ties: the lower row first).
struct Best {
    k: usize,
    hits: Vec<(usize, f32)>,
}

impl Best {
    fn new(k: usize) -> Best {
        Best {
            k,
            hits: Vec::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, row: usize, v: f32) {
        if self.hits.len() == self.k && self.hits.last().is_some_and(|l| l.1 >= v) {
            return;
        }
        let at = self.hits.partition_point(|e| e.1 >= v);
        self.hits.insert(at, (row, v));
        self.hits.truncate(self.k);
    }

    fn merge(mut a: Vec<(usize, f32)>, b: Vec<(usize, f32)>, k: usize) -> Vec<(usize, f32)> {
        a.extend(b);
        a.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        a.truncate(k);
        a
    }
}

/// How a probe is matched against a person with several enrolled faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// The most similar of their faces (nearest neighbour).
    Best,
    /// Their mean embedding (re-normalised): the default, as it identified LFW's people as
    /// well from one photo and a little better from five (README, Identification).
    #[default]
    Mean,
}

impl std::str::FromStr for Matching {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "best" => Ok(Matching::Best),
            "mean" => Ok(Matching::Mean),
            _ => Err(format!("matching must be best or mean, not {s:?}")),
        }
    }
}

/// A person a face may be, with how similar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub person_id: i64,
    pub name: String,
    pub similarity: f32,
    /// Their face that matched best (with [`Matching::Best`]).
    pub face_id: Option<i64>,
}

/// The enrolled faces by person, with each person's mean.
#[derive(Debug, Clone, Default)]
pub struct PersonGallery {
    /// `(person id, name)`.
    people: Vec<(i64, String)>,
    faces: Matrix,
    face_ids: Vec<i64>,
    /// Index into `people` of each face row.
    owner: Vec<usize>,
    centroids: Matrix,
}

impl PersonGallery {
    /// Adds a face of a person; faces of one person must come together.
    pub fn push(&mut self, person_id: i64, name: &str, face_id: i64, v: &[f32]) {
        if self.faces.dim == 0 {
            self.faces = Matrix::new(v.len());
        }
        if self.people.last().is_none_or(|p| p.0 != person_id) {
            self.people.push((person_id, name.to_string()));
        }
        self.faces.push(v);
        self.face_ids.push(face_id);
        self.owner.push(self.people.len() - 1);
    }

    /// Computes the means (after the last [`push`](Self::push)).
    pub fn finish(&mut self) {
        let dim = self.faces.dim;
        let mut sums = vec![0.0f32; self.people.len() * dim];
        for (row, &p) in self.owner.iter().enumerate() {
            for (s, x) in sums[p * dim..(p + 1) * dim]
                .iter_mut()
                .zip(self.faces.row(row))
            {
                *s += x;
            }
        }
        self.centroids = Matrix::new(dim);
        for p in 0..self.people.len() {
            self.centroids.push(&sums[p * dim..(p + 1) * dim]);
        }
    }

    pub fn people(&self) -> usize {
        self.people.len()
    }

    pub fn faces(&self) -> usize {
        self.faces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// What a search for one person compares with: their faces ([`Matching::Best`]) or
    /// their mean ([`Matching::Mean`]); empty when they have no face here.
    pub fn probes_of(&self, person_id: i64, matching: Matching) -> Matrix {
        let mut out = Matrix::new(self.faces.dim);
        let Some(p) = self.people.iter().position(|(id, _)| *id == person_id) else {
            return out;
        };
        match matching {
            Matching::Mean => out.push(self.centroids.row(p)),
            Matching::Best => {
                for (row, _) in self.owner.iter().enumerate().filter(|(_, o)| **o == p) {
                    out.push(self.faces.row(row));
                }
            }
        }
        out
    }

    /// The `k` most similar people for each probe, best first.
    pub fn rank(&self, probes: &Matrix, matching: Matching, k: usize) -> Vec<Vec<Candidate>> {
        if self.is_empty() || probes.dim != self.faces.dim {
            return vec![Vec::new(); probes.len()];
        }
        match matching {
            Matching::Mean => top_k(&self.centroids, probes, k)
                .into_iter()
                .map(|hits| {
                    hits.into_iter()
                        .map(|(p, s)| self.candidate(p, s, None))
                        .collect()
                })
                .collect(),
            Matching::Best => {
                let n = self.faces.len();
                let sims = similarities(&self.faces, probes);
                sims.chunks(n.max(1))
                    .take(probes.len())
                    .map(|row| self.best_per_person(row, k))
                    .collect()
            }
        }
    }

    fn best_per_person(&self, sims: &[f32], k: usize) -> Vec<Candidate> {
        let mut best: Vec<Option<(f32, usize)>> = vec![None; self.people.len()];
        for (row, &s) in sims.iter().enumerate() {
            let slot = &mut best[self.owner[row]];
            if slot.is_none_or(|(b, _)| s > b) {
                *slot = Some((s, row));
            }
        }
        let mut ranked: Vec<(usize, f32, usize)> = best
            .iter()
            .enumerate()
            .filter_map(|(p, b)| b.map(|(s, row)| (p, s, row)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(k)
            .map(|(p, s, row)| self.candidate(p, s, Some(self.face_ids[row])))
            .collect()
    }

    fn candidate(&self, p: usize, similarity: f32, face_id: Option<i64>) -> Candidate {
        Candidate {
            person_id: self.people[p].0,
            name: self.people[p].1.clone(),
            similarity,
            face_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    /// Deterministic pseudo-random unit vectors (xorshift), no RNG crate needed.
    fn random_rows(n: usize, dim: usize, seed: u64) -> Matrix {
        let mut s = seed;
        let mut m = Matrix::new(dim);
        for _ in 0..n {
            let v: Vec<f32> = (0..dim)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s % 2001) as f32 / 1000.0 - 1.0
                })
                .collect();
            m.push(&v);
        }
        m
    }

    #[test]
    fn top_k_equals_a_brute_force_sort_across_blocks() {
        // More rows than one block, so the merge of blocks is exercised.
        let gallery = random_rows(BLOCK * 2 + 77, 16, 7);
        let probes = random_rows(5, 16, 99);
        let hits = top_k(&gallery, &probes, 4);
        for (p, hits) in hits.iter().enumerate() {
            let mut all: Vec<(usize, f32)> = (0..gallery.len())
                .map(|r| {
                    let dot = gallery
                        .row(r)
                        .iter()
                        .zip(probes.row(p))
                        .map(|(a, b)| a * b)
                        .sum();
                    (r, dot)
                })
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1));
            let want: Vec<usize> = all[..4].iter().map(|h| h.0).collect();
            let got: Vec<usize> = hits.iter().map(|h| h.0).collect();
            assert_eq!(got, want, "probe {p}");
            for (h, a) in hits.iter().zip(&all) {
                assert!((h.1 - a.1).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn one_probe_alone_scores_as_in_a_batch() {
        // Alone it takes the dot-product path, in a batch of five the matrix product.
        let gallery = random_rows(BLOCK + 500, 128, 11);
        let probes = random_rows(5, 128, 12);
        let batched = top_k(&gallery, &probes, 6);
        for (p, want) in batched.iter().enumerate() {
            let mut one = Matrix::new(128);
            one.push(probes.row(p));
            let got = &top_k(&gallery, &one, 6)[0];
            assert_eq!(
                got.iter().map(|h| h.0).collect::<Vec<_>>(),
                want.iter().map(|h| h.0).collect::<Vec<_>>()
            );
            for (g, w) in got.iter().zip(want) {
                assert!((g.1 - w.1).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn a_probe_finds_itself_first_with_similarity_one() {
        let gallery = random_rows(1000, 128, 3);
        let mut probes = Matrix::new(128);
        probes.push(gallery.row(321));
        let hits = top_k(&gallery, &probes, 3);
        assert_eq!(hits[0][0].0, 321);
        assert!((hits[0][0].1 - 1.0).abs() < 1e-5);
    }

    #[test]
    fn best_and_mean_matching_rank_people() {
        let mut g = PersonGallery::default();
        // Ann has one face near x and one odd one; Bob one face near y.
        g.push(1, "Ann", 10, &unit(&[1.0, 0.1, 0.0]));
        g.push(1, "Ann", 11, &unit(&[0.0, 0.0, 1.0]));
        g.push(2, "Bob", 20, &unit(&[0.3, 1.0, 0.0]));
        g.finish();
        let mut probe = Matrix::new(3);
        probe.push(&[1.0, 0.0, 0.0]);
        let best = g.rank(&probe, Matching::Best, 5);
        assert_eq!(best[0][0].name, "Ann");
        assert_eq!(best[0][0].face_id, Some(10));
        assert!((best[0][0].similarity - unit(&[1.0, 0.1, 0.0])[0]).abs() < 1e-6);
        assert_eq!(best[0].len(), 2);
        // Ann's mean is dragged towards z: her mean scores lower than her best face.
        let mean = g.rank(&probe, Matching::Mean, 1);
        assert_eq!(mean[0].len(), 1);
        assert!(mean[0][0].similarity < best[0][0].similarity);
    }

    #[test]
    fn an_empty_gallery_ranks_nobody() {
        let g = PersonGallery::default();
        let mut probe = Matrix::new(3);
        probe.push(&[1.0, 0.0, 0.0]);
        assert!(g.rank(&probe, Matching::Best, 3)[0].is_empty());
        assert!(top_k(&Matrix::new(3), &probe, 3)[0].is_empty());
    }
}
