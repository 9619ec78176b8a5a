//! Newly indexed faces joining what the index knows, without grouping everything again
//! (as Immich and PhotoPrism do): a face close enough to a person becomes a suggestion of
//! them (never one the user said it is not), else a face close enough to a grouped unknown
//! face joins that face's group.

use std::collections::{HashMap, HashSet};

use super::{Recogniser, WorkflowError};
use crate::face_index::{Matching, Matrix, PersonGallery};

/// What joining needs, read once per indexing run.
pub(super) struct Joiner {
    gallery: PersonGallery,
    /// The similarity at or above which a face is suggested as a person.
    threshold: f32,
    rejected: HashSet<(i64, i64)>,
    /// The grouped unknown faces' embeddings and groups (new members are added).
    grouped: Matrix,
    group_of: Vec<i64>,
    /// The similarity the stored groups were made with; `None`: never grouped.
    group_threshold: Option<f32>,
}

/// What joining did in one run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Joined {
    pub suggested: usize,
    pub grouped: usize,
}

impl Recogniser {
    pub(super) fn joiner(&self, threshold: f32) -> Result<Joiner, WorkflowError> {
        let gallery = self.index.gallery(&self.model_id)?;
        let stored = self.index.stored_groups()?;
        let mut grouped = Matrix::new(crate::embed::EMBEDDING_DIM);
        let mut group_of = Vec::new();
        if stored.is_some() {
            let groups: HashMap<i64, i64> = self.index.group_of_faces()?.into_iter().collect();
            let (faces, matrix) = self.index.unassigned_faces(&self.model_id)?;
            for (i, f) in faces.iter().enumerate() {
                if let Some(&g) = groups.get(&f.face_id) {
                    grouped.push(matrix.row(i));
                    group_of.push(g);
                }
            }
        }
        Ok(Joiner {
            gallery,
            threshold,
            rejected: self.index.rejections()?,
            grouped,
            group_of,
            group_threshold: stored.map(|s| s.threshold),
        })
    }

    /// Joins the new faces `face_ids` to people and groups, stored in one transaction.
    pub(super) fn join_new(
        &mut self,
        joiner: &mut Joiner,
        face_ids: &[i64],
    ) -> Result<Joined, WorkflowError> {
        let mut suggestions = Vec::new();
        let mut groups = Vec::new();
        for &id in face_ids {
            let Some(face) = self.index.face(id)? else {
                continue;
            };
            if let Some((person, s)) = joiner.person_for(id, &face.embedding) {
                suggestions.push((id, person, s));
            } else if let Some(g) = joiner.group_for(&face.embedding) {
                joiner.grouped.push(&face.embedding);
                joiner.group_of.push(g);
                groups.push((id, g));
            }
        }
        if !suggestions.is_empty() || !groups.is_empty() {
            self.index.join(&groups, &suggestions)?;
        }
        Ok(Joined {
            suggested: suggestions.len(),
            grouped: groups.len(),
        })
    }
}

impl Joiner {
    /// The most similar person at or above the threshold that the face was not said not
    /// to be, with the similarity.
    fn person_for(&self, face: i64, embedding: &[f32]) -> Option<(i64, f32)> {
        let mut probe = Matrix::new(embedding.len());
        probe.push(embedding);
        let ranked = self
            .gallery
            .rank(&probe, Matching::default(), self.gallery.people());
        ranked
            .into_iter()
            .next()?
            .into_iter()
            .take_while(|c| c.similarity >= self.threshold)
            .find(|c| !self.rejected.contains(&(face, c.person_id)))
            .map(|c| (c.person_id, c.similarity))
    }

    /// The group of the most similar grouped face, when at least the grouping's similarity.
    fn group_for(&self, embedding: &[f32]) -> Option<i64> {
        let threshold = self.group_threshold?;
        if self.grouped.is_empty() {
            return None;
        }
        let mut probe = Matrix::new(embedding.len());
        probe.push(embedding);
        let sims = crate::face_index::search::similarities(&self.grouped, &probe);
        let (best, s) = sims
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        (s >= threshold).then(|| self.group_of[best])
    }
}
