//! Grouping the index's unknown faces (those no person holds) into likely people, so a
//! user names a group once instead of each face (`people cluster`), and the map of every
//! face on a plane.

use std::time::Instant;

use serde::Serialize;

use super::Recogniser;
use crate::face_index::cluster::{self, ClusterSettings};
use crate::face_index::{AssignmentKind, FaceEntry, Holding, projection};
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
    /// Groups the faces no person holds with `settings` (all faces must be this model's).
    pub fn group_unknown(
        &self,
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
        let groups = found
            .into_iter()
            .map(|g| g.into_iter().map(|i| faces[i].clone()).collect())
            .collect();
        Ok(Grouping {
            settings: *settings,
            faces: faces.len(),
            groups,
            ungrouped: faces.len() - grouped,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// A naming done, with what it replaced (to undo it).
#[derive(Debug, Clone, PartialEq)]
pub struct Naming {
    pub name: String,
    pub faces: usize,
    before: Vec<Holding>,
    /// The person, when the naming created them.
    created: Option<i64>,
}

impl Recogniser {
    /// Names the faces `face_ids` (say, a group [`Recogniser::group_unknown`] found) as
    /// `name`, creating the person if new; all or none are named (one transaction), and an
    /// id that is no face of the index is an error before anything is written.
    pub fn name_faces(&mut self, name: &str, face_ids: &[i64]) -> Result<Naming, WorkflowError> {
        for &id in face_ids {
            if self.index.face(id)?.is_none() {
                return Err(WorkflowError::Plan(format!(
                    "there is no face {id} in the index"
                )));
            }
        }
        let existed = self.index.person_id(name)?.is_some();
        let before = self.index.holders(face_ids)?;
        let person = self
            .index
            .assign(name, face_ids, AssignmentKind::Confirmed)?;
        Ok(Naming {
            name: name.trim().to_string(),
            faces: face_ids.len(),
            before,
            created: (!existed).then_some(person),
        })
    }

    /// Undoes `naming`: its faces go back to whoever held them, and a person it created
    /// is removed (one transaction).
    pub fn undo_naming(&mut self, naming: &Naming) -> Result<(), WorkflowError> {
        Ok(self.index.restore(&naming.before, naming.created)?)
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
        let points = projection::pca_2d(&matrix);
        Ok(EmbeddingMap {
            faces,
            points,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
