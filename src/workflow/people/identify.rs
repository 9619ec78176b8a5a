//! Identification (who is each face of a photo: the top-k enrolled people and an open-set
//! decision) and search ("the photos of X" among the indexed faces).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::read::{self, BATCH};
use super::{Recogniser, WorkflowError};
use crate::detect::Face;
use crate::embed::EMBEDDING_DIM;
use crate::face_index::search::{self, Candidate, Matching, Matrix};
use crate::face_index::{AssignmentKind, IndexError, PhotoContent, PhotoStatus};
use crate::workflow::{Outcome, Report};

/// A photo's faces with their embeddings, or why it has none.
type Found = Result<Vec<(Face, Vec<f32>)>, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyPlan {
    /// Photos, or folders searched recursively.
    pub inputs: Vec<PathBuf>,
    /// Default: the model's verification threshold.
    pub threshold: Option<f32>,
    pub top_k: usize,
    pub matching: Matching,
}

/// Who one face may be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceIdentity {
    pub face: Face,
    /// The most similar people, best first.
    pub candidates: Vec<Candidate>,
    /// The best candidate when at or above the threshold; `None`: unknown.
    pub name: Option<String>,
}

impl FaceIdentity {
    /// The best candidate's similarity.
    pub fn similarity(&self) -> Option<f32> {
        self.candidates.first().map(|c| c.similarity)
    }

    /// The open-set decision at `threshold`: the best candidate when similar enough.
    pub fn name_at(&self, threshold: f32) -> Option<&str> {
        self.candidates
            .first()
            .filter(|c| c.similarity >= threshold)
            .map(|c| c.name.as_str())
    }
}

/// The faces of one photo, largest first, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoIdentity {
    pub path: String,
    pub faces: Vec<FaceIdentity>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identification {
    pub photos: Vec<PhotoIdentity>,
    pub threshold: f32,
    pub matching: Matching,
    pub people: usize,
    pub enrolled_faces: usize,
    /// Search time per face (the matrix product and ranking, not detection).
    pub search_ms_per_face: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPlan {
    pub person: String,
    pub threshold: Option<f32>,
    pub matching: Matching,
    /// At most this many photos (the most similar).
    pub limit: Option<usize>,
}

/// A photo in which the person's face was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub photo: String,
    pub face_id: i64,
    pub face: Face,
    pub similarity: f32,
    /// The face is one the person is enrolled or confirmed with.
    pub theirs: bool,
}

impl Recogniser {
    /// Identifies every face of the plan's photos; `each` sees every photo as it is done.
    pub fn identify(
        &self,
        plan: &IdentifyPlan,
        cancel: &AtomicBool,
        mut report: impl FnMut(Report<'_>),
        mut each: impl FnMut(&PhotoIdentity),
    ) -> Result<Outcome<Identification>, WorkflowError> {
        self.check_model()?;
        let gallery = self.index.gallery(&self.model_id)?;
        if gallery.is_empty() {
            return Err(WorkflowError::Plan(format!(
                "nobody is enrolled in {}: enrol people first (siamese-face people enrol)",
                self.index.name()
            )));
        }
        let threshold = self.threshold(plan.threshold);
        let files = read::photo_files(&plan.inputs).map_err(WorkflowError::Plan)?;
        let (mut photos, mut search_s, mut faces) = (Vec::new(), 0.0, 0usize);
        for (n, batch) in files.chunks(BATCH).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(Outcome::Cancelled);
            }
            for (path, found) in self.faces_of(batch)? {
                let mut probes = Matrix::new(EMBEDDING_DIM);
                let (boxes, error) = match found {
                    Ok(list) => {
                        for (_, e) in &list {
                            probes.push(e);
                        }
                        (list.into_iter().map(|(f, _)| f).collect(), None)
                    }
                    Err(e) => (Vec::new(), Some(e)),
                };
                let t = Instant::now();
                let ranked = gallery.rank(&probes, plan.matching, plan.top_k.max(1));
                search_s += t.elapsed().as_secs_f64();
                faces += boxes.len();
                let photo = PhotoIdentity {
                    path,
                    faces: boxes
                        .into_iter()
                        .zip(ranked)
                        .map(|(face, candidates)| decide(face, candidates, threshold))
                        .collect(),
                    error,
                };
                each(&photo);
                photos.push(photo);
            }
            report(Report::Progress {
                stage: "photos",
                done: (n * BATCH + batch.len()).min(files.len()),
                total: files.len(),
            });
        }
        Ok(Outcome::Done(Identification {
            photos,
            threshold,
            matching: plan.matching,
            people: gallery.people(),
            enrolled_faces: gallery.faces(),
            search_ms_per_face: 1e3 * search_s / faces.max(1) as f64,
        }))
    }

    /// Each photo's faces with embeddings: the index's when it holds the same file
    /// embedded by this model, else read now (the index is not written).
    fn faces_of(&self, paths: &[PathBuf]) -> Result<Vec<(String, Found)>, IndexError> {
        let mut out: Vec<Option<(String, Found)>> = Vec::new();
        let mut unread = Vec::new();
        for path in paths {
            let stored = self.stored_faces(path)?;
            if stored.is_none() {
                unread.push(path.clone());
            }
            out.push(stored);
        }
        let mut fresh = read::read_batch(&self.verifier, &unread).into_iter();
        Ok(out
            .into_iter()
            .filter_map(|o| {
                o.or_else(|| {
                    fresh.next().map(|(file, content)| {
                        let faces = match content {
                            PhotoContent::Faces { faces, .. } => {
                                Ok(faces.into_iter().map(|f| (f.face, f.embedding)).collect())
                            }
                            PhotoContent::NoFace { .. } => Err("no face found".to_string()),
                            PhotoContent::Error(e) => Err(e),
                        };
                        (file.path, faces)
                    })
                })
            })
            .collect())
    }

    fn stored_faces(&self, path: &std::path::Path) -> Result<Option<(String, Found)>, IndexError> {
        let key = read::index_path(path);
        let Some(row) = self.index.photo(&key)? else {
            return Ok(None);
        };
        if read::stat(path).ok() != Some((row.size, row.mtime_ns)) {
            return Ok(None);
        }
        let result = match row.status {
            PhotoStatus::Faces => {
                let faces = self.index.faces_of_photo(row.id)?;
                if faces.iter().any(|f| f.model_id != self.model_id) {
                    return Ok(None);
                }
                Ok(faces.into_iter().map(|f| (f.face, f.embedding)).collect())
            }
            PhotoStatus::NoFace => Err("no face found".to_string()),
            PhotoStatus::Error => return Ok(None),
        };
        Ok(Some((key, result)))
    }

    /// The indexed photos showing `plan.person`, most similar first (one face per photo).
    pub fn search(&self, plan: &SearchPlan) -> Result<Vec<SearchHit>, WorkflowError> {
        self.check_model()?;
        let person = self
            .index
            .person_id(&plan.person)?
            .ok_or_else(|| IndexError::NoPerson(plan.person.clone()))?;
        let theirs: HashSet<i64> = self
            .index
            .faces_of_person(person)?
            .into_iter()
            .filter(|(_, kind)| *kind != AssignmentKind::Suggested)
            .map(|(f, _)| f)
            .collect();
        let gallery = self.index.gallery(&self.model_id)?;
        let probes = gallery.probes_of(person, plan.matching);
        if probes.is_empty() {
            return Err(WorkflowError::Plan(format!(
                "{} has no enrolled face made by this model",
                plan.person
            )));
        }
        let (ids, matrix) = self.index.face_matrix(&self.model_id)?;
        let sims = search::similarities(&matrix, &probes);
        let threshold = self.threshold(plan.threshold);
        let mut best: HashMap<i64, SearchHit> = HashMap::new();
        for (col, &face_id) in ids.iter().enumerate() {
            let s = (0..probes.len())
                .map(|p| sims[p * ids.len() + col])
                .fold(f32::MIN, f32::max);
            if s < threshold {
                continue;
            }
            let Some(face) = self.index.face(face_id)? else {
                continue;
            };
            let Some(photo) = self.index.photo_by_id(face.photo_id)? else {
                continue;
            };
            let hit = SearchHit {
                photo: photo.path,
                face_id,
                face: face.face,
                similarity: s,
                theirs: theirs.contains(&face_id),
            };
            let slot = best.entry(face.photo_id).or_insert_with(|| hit.clone());
            if hit.similarity > slot.similarity {
                *slot = hit;
            }
        }
        let mut hits: Vec<SearchHit> = best.into_values().collect();
        hits.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(a.photo.cmp(&b.photo))
        });
        hits.truncate(plan.limit.unwrap_or(usize::MAX));
        Ok(hits)
    }
}

/// The open-set decision: the best candidate's name when similar enough, else unknown.
pub fn decide(face: Face, candidates: Vec<Candidate>, threshold: f32) -> FaceIdentity {
    let mut identity = FaceIdentity {
        face,
        candidates,
        name: None,
    };
    identity.name = identity.name_at(threshold).map(str::to_string);
    identity
}
