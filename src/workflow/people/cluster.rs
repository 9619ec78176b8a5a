//! Grouping the index's unknown faces (those no person holds) into likely people, so a
//! user names a group once instead of each face (`people cluster`), and the map of every
//! face on a plane.

use std::time::Instant;

use serde::Serialize;

use super::Recogniser;
use crate::face_index::FaceEntry;
use crate::face_index::cluster::{self, ClusterSettings};
use crate::projection;
use crate::workflow::WorkflowError;

/// Which unknown faces take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaceFilter {
    #[default]
    All,
    /// Each photo's largest face only (its main subject).
    Largest,
}

/// The groups found, largest first, and what was left over.
#[derive(Debug, Clone, Serialize)]
pub struct Grouping {
    pub settings: ClusterSettings,
    /// The unknown faces grouped.
    pub faces: usize,
    pub groups: Vec<Vec<FaceEntry>>,
    /// Faces in no group of at least `settings.min_size`.
    pub ungrouped: usize,
    pub seconds: f64,
}

impl Recogniser {
    /// Groups the faces no person holds with `settings` (all faces must be this model's)
    /// and stores the groups, which faces indexed later join.
    pub fn group_unknown(
        &mut self,
        settings: &ClusterSettings,
        filter: FaceFilter,
    ) -> Result<Grouping, WorkflowError> {
        self.check_model()?;
        let start = Instant::now();
        let (mut faces, mut matrix) = self.index.unassigned_faces(&self.model_id)?;
        if filter == FaceFilter::Largest {
            let keep: Vec<usize> = (0..faces.len()).filter(|&i| faces[i].largest).collect();
            let mut kept = crate::face_index::Matrix::new(matrix.dim());
            for &i in &keep {
                kept.push(matrix.row(i));
            }
            faces = keep.iter().map(|&i| faces[i].clone()).collect();
            matrix = kept;
        }
        let found = cluster::cluster(&matrix, settings);
        let grouped: usize = found.iter().map(Vec::len).sum();
        let groups: Vec<Vec<FaceEntry>> = found
            .into_iter()
            .map(|g| g.into_iter().map(|i| faces[i].clone()).collect())
            .collect();
        let ids: Vec<Vec<i64>> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.face_id).collect())
            .collect();
        self.index.save_groups(&ids, settings.threshold)?;
        Ok(Grouping {
            settings: *settings,
            faces: faces.len(),
            groups,
            ungrouped: faces.len() - grouped,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

impl Recogniser {
    /// The groups as the last grouping stored them, with the faces joined since and
    /// without the faces named since; `None` when the unknown faces were never grouped.
    pub fn stored_grouping(&self, min_size: usize) -> Result<Option<Grouping>, WorkflowError> {
        self.check_model()?;
        let start = Instant::now();
        let Some(stored) = self.index.stored_groups()? else {
            return Ok(None);
        };
        let (faces, _) = self.index.unassigned_faces(&self.model_id)?;
        let by_id: std::collections::HashMap<i64, &FaceEntry> =
            faces.iter().map(|f| (f.face_id, f)).collect();
        let groups: Vec<Vec<FaceEntry>> = stored
            .groups
            .iter()
            .map(|g| {
                g.iter()
                    .filter_map(|id| by_id.get(id).map(|f| (*f).clone()))
                    .collect()
            })
            .filter(|g: &Vec<FaceEntry>| g.len() >= min_size.max(1))
            .collect();
        let grouped: usize = groups.iter().map(Vec::len).sum();
        Ok(Some(Grouping {
            settings: ClusterSettings {
                threshold: stored.threshold,
                min_size,
                ..ClusterSettings::default()
            },
            faces: faces.len(),
            groups,
            ungrouped: faces.len() - grouped,
            seconds: start.elapsed().as_secs_f64(),
        }))
    }
}

/// Every face of the index on a plane (its two principal components), with its person.
#[derive(Debug, Clone)]
pub struct EmbeddingMap {
    pub faces: Vec<FaceEntry>,
    pub points: Vec<[f32; 2]>,
    pub seconds: f64,
}

impl Recogniser {
    /// The embedding map of this model's faces.
    pub fn embedding_map(&self) -> Result<EmbeddingMap, WorkflowError> {
        let start = Instant::now();
        let (faces, matrix) = self.index.faces_with_people(&self.model_id)?;
        let points = projection::pca_2d(matrix.as_slice(), matrix.dim());
        Ok(EmbeddingMap {
            faces,
            points,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
