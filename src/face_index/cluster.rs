//! Grouping faces into people without knowing how many there are: faces are the nodes of
//! a graph with an edge wherever two are at least `threshold` similar (cosine), and the
//! groups are read off that graph by one of two methods:
//!
//! - **Chinese whispers** (Biemann, 2006; what dlib's `chinese_whispers_clustering` and
//!   face_recognition's clustering example use): every face starts as its own group, then,
//!   visiting faces in random order, each takes the group most of its neighbours (and
//!   itself) are in, until nothing changes. A chain of look-alikes does not glue two
//!   people together as long as each has a denser group of its own.
//! - **Connected components** (single-linkage agglomerative clustering cut at the
//!   threshold): faces joined by any chain of edges are one group. Simple and
//!   deterministic, but one bridge between two people merges them.
//!
//! Groups smaller than `min_size` are left unknown. Which method is better is measured on
//! LFW by `scripts/cluster_lfw.py` (README, "Grouping unknown faces").

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::search::{Matrix, similarities};

/// How groups are read off the similarity graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    #[default]
    ChineseWhispers,
    Components,
}

/// What grouping takes: the similarity an edge needs, the smallest group kept, the method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterSettings {
    pub threshold: f32,
    pub min_size: usize,
    pub method: Method,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            threshold: DEFAULT_THRESHOLD,
            min_size: 2,
            method: Method::default(),
        }
    }
}

/// The similarity grouping asks of two faces unless told otherwise, for the default
/// model (measured on LFW, README "Grouping unknown faces").
pub const DEFAULT_THRESHOLD: f32 = 0.955;

/// Rows of faces compared at once when the graph is built: 2,048 x 13k scores is 100 MB.
const ROWS: usize = 2_048;

/// Passes of Chinese whispers at most (it settles in a handful on face graphs; dlib's
/// default is 100).
const PASSES: usize = 100;

/// For each face (row of `faces`), its neighbours: the other faces at least `threshold`
/// similar, with their similarity. Built in blocks of rows, each a matrix product.
pub fn neighbours(faces: &Matrix, threshold: f32) -> Vec<Vec<(u32, f32)>> {
    let n = faces.len();
    let starts: Vec<usize> = (0..n).step_by(ROWS).collect();
    starts
        .par_iter()
        .flat_map_iter(|&start| {
            let mut block = Matrix::new(faces.dim());
            for i in start..(start + ROWS).min(n) {
                block.push(faces.row(i));
            }
            let scores = similarities(faces, &block);
            (0..block.len())
                .map(|r| {
                    let row = &scores[r * n..(r + 1) * n];
                    row.iter()
                        .enumerate()
                        .filter(|&(j, &s)| j != start + r && s >= threshold)
                        .map(|(j, &s)| (j as u32, s))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Chinese whispers over `graph`: a group number per face (not compacted).
pub fn chinese_whispers(graph: &[Vec<(u32, f32)>], seed: u64) -> Vec<usize> {
    let n = graph.len();
    let mut labels: Vec<usize> = (0..n).collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut votes: std::collections::HashMap<usize, f32> = std::collections::HashMap::new();
    for _ in 0..PASSES {
        order.shuffle(&mut rng);
        let mut changed = false;
        for &i in &order {
            votes.clear();
            // A face votes for its own group too (dlib's graph has the self-edges).
            votes.insert(labels[i], 1.0);
            for &(j, _) in &graph[i] {
                *votes.entry(labels[j as usize]).or_insert(0.0) += 1.0;
            }
            // The most votes; ties go to the lowest group number, so a seed decides all.
            let best = votes
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
                .map_or(labels[i], |(&label, _)| label);
            if best != labels[i] {
                labels[i] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    labels
}

/// Connected components of `graph`: a group number per face (not compacted).
pub fn components(graph: &[Vec<(u32, f32)>]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..graph.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, edges) in graph.iter().enumerate() {
        for &(j, _) in edges {
            let (a, b) = (root(&mut parent, i), root(&mut parent, j as usize));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    (0..graph.len()).map(|i| root(&mut parent, i)).collect()
}

/// The groups of `faces` (row numbers), largest first; faces in no group of at least
/// `settings.min_size` are left out (unknown).
pub fn cluster(faces: &Matrix, settings: &ClusterSettings) -> Vec<Vec<usize>> {
    let graph = neighbours(faces, settings.threshold);
    let labels = match settings.method {
        Method::ChineseWhispers => chinese_whispers(&graph, 0),
        Method::Components => components(&graph),
    };
    groups(&labels, settings.min_size.max(1))
}

/// Faces by label, groups of at least `min_size` only, largest first (then by first face).
fn groups(labels: &[usize], min_size: usize) -> Vec<Vec<usize>> {
    let mut by_label: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    for (face, &label) in labels.iter().enumerate() {
        by_label.entry(label).or_default().push(face);
    }
    let mut out: Vec<Vec<usize>> = by_label
        .into_values()
        .filter(|g| g.len() >= min_size)
        .collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors around `centre` axes: `n` faces per person, slightly jittered.
    fn people(per_person: &[usize]) -> (Matrix, Vec<usize>) {
        let mut m = Matrix::new(8);
        let mut truth = Vec::new();
        for (p, &n) in per_person.iter().enumerate() {
            for k in 0..n {
                let mut v = vec![0.0f32; 8];
                v[p] = 1.0;
                v[(p + 1 + k % 3) % 8] = 0.15 * (k as f32 % 2.0 + 0.5);
                m.push(&v);
                truth.push(p);
            }
        }
        (m, truth)
    }

    #[test]
    fn both_methods_find_the_people_and_leave_small_groups_unknown() {
        let (faces, truth) = people(&[5, 4, 3, 1]);
        for method in [Method::ChineseWhispers, Method::Components] {
            let settings = ClusterSettings {
                threshold: 0.9,
                min_size: 2,
                method,
            };
            let found = cluster(&faces, &settings);
            assert_eq!(found.len(), 3, "{method:?}: {found:?}");
            let sizes: Vec<usize> = found.iter().map(Vec::len).collect();
            assert_eq!(sizes, [5, 4, 3]);
            for g in &found {
                assert!(g.iter().all(|&f| truth[f] == truth[g[0]]), "{g:?}");
            }
        }
    }

    #[test]
    fn a_bridge_merges_components_but_not_whispers() {
        // Two dense groups of 6 joined by one face similar to one face of each.
        let mut faces = Matrix::new(3);
        for _ in 0..6 {
            faces.push(&[1.0, 0.0, 0.0]);
        }
        for _ in 0..6 {
            faces.push(&[0.0, 1.0, 0.0]);
        }
        faces.push(&[1.0, 1.0, 0.0]);
        let graph = neighbours(&faces, 0.7);
        let whispers = groups(&chinese_whispers(&graph, 0), 2);
        let joined = groups(&components(&graph), 2);
        assert_eq!(joined.len(), 1, "{joined:?}");
        assert_eq!(whispers.len(), 2, "{whispers:?}");
    }

    #[test]
    fn the_graph_holds_every_pair_above_the_threshold_once_each_way() {
        let (faces, _) = people(&[3, 3]);
        let graph = neighbours(&faces, 0.9);
        for (i, edges) in graph.iter().enumerate() {
            for &(j, s) in edges {
                assert!(s >= 0.9 && j as usize != i);
                assert!(graph[j as usize].iter().any(|&(k, _)| k as usize == i));
            }
        }
    }
}
