//! Indexing photo folders incrementally (new, changed and deleted files found by size,
//! mtime and content hash), and re-embedding an index's faces for another model.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::read::{self, BATCH};
use super::{Recogniser, WorkflowError};
use crate::crop;
use crate::face_index::{PhotoContent, PhotoRow};
use crate::workflow::{Outcome, Report};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexPlan {
    /// Photo folders (searched recursively) or single photos.
    pub inputs: Vec<PathBuf>,
    /// Drop photos the index holds under these folders that are gone from disk.
    pub remove_missing: bool,
    /// The similarity to a person's mean at which a new face is suggested as them;
    /// `None`: [`SUGGEST_THRESHOLD`].
    pub suggest_threshold: Option<f32>,
}

/// The similarity at which a new face is suggested as a person unless the plan says
/// otherwise: chosen on LFW (README, "New photos join what the index knows"; the model's
/// verification threshold suggests a wrong person for most faces among hundreds of people).
pub const SUGGEST_THRESHOLD: f32 = 0.955;

/// What an indexing run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexSummary {
    pub files: usize,
    /// Read for the first time, or read again because their bytes changed.
    pub read: usize,
    pub unchanged: usize,
    /// Same bytes, new mtime: only the record was updated.
    pub touched: usize,
    pub removed: usize,
    pub faces_added: usize,
    /// New faces close enough to a person to be suggested as them.
    pub suggested: usize,
    /// New unknown faces that joined a stored group of unknown faces.
    pub joined_groups: usize,
    pub without_faces: usize,
    /// `(path, why)` of the photos that could not be read, this run.
    pub errors: Vec<(String, String)>,
    pub seconds: f64,
    /// Photos read per second (of those read).
    pub photos_per_second: f64,
}

/// What re-embedding did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReembedSummary {
    pub photos: usize,
    pub faces: usize,
    /// `(path, why)` of photos whose faces stay with the old model (file gone or changed).
    pub failed: Vec<(String, String)>,
}

impl Recogniser {
    /// Indexes the plan's photos: every face detected, cut, embedded and stored, a batch
    /// per transaction, so a cancel or a kill keeps every finished batch and a re-run goes
    /// on where it stopped.
    pub fn index(
        &mut self,
        plan: &IndexPlan,
        cancel: &AtomicBool,
        mut report: impl FnMut(Report<'_>),
    ) -> Result<Outcome<IndexSummary>, WorkflowError> {
        self.check_model()?;
        let started = Instant::now();
        let files = read::photo_files(&plan.inputs).map_err(WorkflowError::Plan)?;
        let mut summary = IndexSummary {
            files: files.len(),
            ..IndexSummary::default()
        };
        // Each file's name in the index, worked out once (it resolves links on disk).
        let keyed: Vec<(PathBuf, String)> = files
            .into_iter()
            .map(|f| {
                let key = read::index_path(&f);
                (f, key)
            })
            .collect();
        let stored = self.stored_under(&plan.inputs)?;
        if plan.remove_missing {
            summary.removed = self.remove_missing(&stored, &keyed, &mut report)?;
        }
        let todo = self.changed_files(&keyed, &stored, &mut summary)?;
        let mut joiner = self.joiner(plan.suggest_threshold.unwrap_or(SUGGEST_THRESHOLD))?;
        let total = todo.len();
        report(Report::Progress {
            stage: "photos",
            done: 0,
            total,
        });
        for (n, batch) in todo.chunks(BATCH).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(Outcome::Cancelled);
            }
            let read = read::read_batch(&self.verifier, batch);
            self.count(&read, &mut summary);
            let written = self.index.write_photos(&read, &self.model_id)?;
            let new: Vec<i64> = written
                .iter()
                .filter(|w| !w.kept)
                .flat_map(|w| w.face_ids.iter().copied())
                .collect();
            let joined = self.join_new(&mut joiner, &new)?;
            summary.suggested += joined.suggested;
            summary.joined_groups += joined.grouped;
            report(Report::Progress {
                stage: "photos",
                done: (n * BATCH + batch.len()).min(total),
                total,
            });
        }
        summary.seconds = started.elapsed().as_secs_f64();
        summary.photos_per_second = summary.read as f64 / summary.seconds.max(1e-9);
        Ok(Outcome::Done(summary))
    }

    /// The stored photos under the plan's inputs, by path.
    fn stored_under(&self, inputs: &[PathBuf]) -> Result<HashMap<String, PhotoRow>, WorkflowError> {
        let mut stored = HashMap::new();
        for input in inputs {
            let path = read::index_path(input);
            let rows = if input.is_dir() {
                self.index
                    .photos_under(Some(&format!("{}/", path.trim_end_matches('/'))))?
            } else {
                self.index.photo(&path)?.into_iter().collect()
            };
            stored.extend(rows.into_iter().map(|r| (r.path.clone(), r)));
        }
        Ok(stored)
    }

    fn remove_missing(
        &mut self,
        stored: &HashMap<String, PhotoRow>,
        files: &[(PathBuf, String)],
        report: &mut impl FnMut(Report<'_>),
    ) -> Result<usize, WorkflowError> {
        let present: HashSet<&str> = files.iter().map(|(_, key)| key.as_str()).collect();
        let gone: Vec<i64> = stored
            .values()
            .filter(|r| !present.contains(r.path.as_str()))
            .map(|r| r.id)
            .collect();
        if !gone.is_empty() {
            report(Report::Note(&format!(
                "{} photo(s) are gone from disk: removed from the index with their faces",
                gone.len()
            )));
        }
        Ok(self.index.remove_photos(&gone)?)
    }

    /// The files to read: new ones, and those whose size or mtime changed and whose bytes
    /// differ from the stored hash (same bytes: the record is touched, nothing is read).
    fn changed_files(
        &self,
        files: &[(PathBuf, String)],
        stored: &HashMap<String, PhotoRow>,
        summary: &mut IndexSummary,
    ) -> Result<Vec<PathBuf>, WorkflowError> {
        let mut todo = Vec::new();
        for (file, key) in files {
            let Some(row) = stored.get(key) else {
                todo.push(file.clone());
                continue;
            };
            let Ok((size, mtime)) = read::stat(file) else {
                todo.push(file.clone());
                continue;
            };
            if (size, mtime) == (row.size, row.mtime_ns) {
                summary.unchanged += 1;
            } else if size == row.size && same_hash(file, &row.hash) {
                self.index.touch_photo(row.id, size, mtime)?;
                summary.touched += 1;
            } else {
                todo.push(file.clone());
            }
        }
        Ok(todo)
    }

    fn count(&self, read: &[(crate::face_index::PhotoFile, PhotoContent)], s: &mut IndexSummary) {
        for (file, content) in read {
            s.read += 1;
            match content {
                PhotoContent::Faces { faces, .. } => s.faces_added += faces.len(),
                PhotoContent::NoFace { .. } => s.without_faces += 1,
                PhotoContent::Error(e) => s.errors.push((file.path.clone(), e.clone())),
            }
        }
    }

    /// Re-embeds every face made by another model with this one: each photo is read again
    /// and its stored faces cut with this model's crop, one transaction per photo.
    pub fn reembed(
        &mut self,
        cancel: &AtomicBool,
        mut report: impl FnMut(Report<'_>),
    ) -> Result<Outcome<ReembedSummary>, WorkflowError> {
        let photos = self.index.photos_with_stale_faces(&self.model_id)?;
        let mut summary = ReembedSummary::default();
        for (n, photo) in photos.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(Outcome::Cancelled);
            }
            match self.reembed_photo(photo) {
                Ok(faces) => {
                    summary.photos += 1;
                    summary.faces += faces;
                }
                Err(why) => summary.failed.push((photo.path.clone(), why)),
            }
            report(Report::Progress {
                stage: "photos",
                done: n + 1,
                total: photos.len(),
            });
        }
        Ok(Outcome::Done(summary))
    }

    fn reembed_photo(&mut self, photo: &PhotoRow) -> Result<usize, String> {
        let image = read::reread(std::path::Path::new(&photo.path), &photo.hash)?;
        let faces = self
            .index
            .faces_of_photo(photo.id)
            .map_err(|e| e.to_string())?;
        let cfg = self.verifier.crop;
        let crops: Vec<_> = faces
            .iter()
            .map(|f| crop::crop_face(&image, &f.face, &cfg))
            .collect();
        let embeddings = self.verifier.embed(&crops.iter().collect::<Vec<_>>());
        let updates: Vec<_> = faces
            .iter()
            .zip(embeddings)
            .map(|(f, e)| (f.id, cfg, e))
            .collect();
        self.index
            .replace_embeddings(&updates, &self.model_id)
            .map_err(|e| e.to_string())?;
        Ok(updates.len())
    }
}

/// Whether the file at `path` still has the content hash `hash`.
fn same_hash(path: &std::path::Path, hash: &str) -> bool {
    crate::imageio::read_bytes(path).is_ok_and(|bytes| read::content_hash(&bytes) == hash)
}
