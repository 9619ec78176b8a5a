//! Enrolling people: a few photos each (one is enough), every photo stored in the index
//! like an indexed one, and the chosen face of each assigned to its person.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::read::{self, BATCH};
use super::{Recogniser, WorkflowError};
use crate::crop::{self, CropConfig, FacePick};
use crate::face_index::{AssignmentKind, PhotoContent};
use crate::workflow::{Outcome, Report};

/// One photo of a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolItem {
    pub name: String,
    pub photo: PathBuf,
    /// Which face (0 = the largest); `None`: the plan's `pick`, with a note when there are
    /// more.
    pub face: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolPlan {
    pub items: Vec<EnrolItem>,
    /// The face taken from a photo with several when an item names none: the largest (as
    /// face_recognition does), or the one nearest the centre (portraits and LFW, whose
    /// images are centred on the named person; background faces can be larger).
    pub pick: FacePick,
}

/// A face enrolled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enrolled {
    pub name: String,
    pub photo: String,
    pub faces_found: usize,
    /// Which of them (0 = the largest).
    pub face: usize,
    pub face_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnrolSummary {
    pub enrolled: Vec<Enrolled>,
    /// `(name, photo, why)`.
    pub failed: Vec<(String, String, String)>,
}

/// The photos of a folder laid out as `<person>/<photos>` (the LFW layout), plus photos
/// directly in it named after their person (`Ann.jpg`, as face_recognition's known folder).
pub fn enrol_items_from_folder(dir: &Path) -> Result<Vec<EnrolItem>, WorkflowError> {
    let cannot = |e: std::io::Error| WorkflowError::Plan(format!("{}: {e}", dir.display()));
    let entries = read::visible_entries(dir).map_err(cannot)?;
    let mut items = Vec::new();
    for path in entries {
        let name = |p: &Path, stem: bool| {
            let n = if stem { p.file_stem() } else { p.file_name() };
            n.map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        if path.is_dir() {
            for photo in
                read::photo_files(std::slice::from_ref(&path)).map_err(WorkflowError::Plan)?
            {
                items.push(EnrolItem {
                    name: name(&path, false),
                    photo,
                    face: None,
                });
            }
        } else if read::is_image_file(&path) {
            items.push(EnrolItem {
                name: name(&path, true),
                photo: path,
                face: None,
            });
        }
    }
    if items.is_empty() {
        return Err(WorkflowError::Plan(format!(
            "no photos in {}: expected <person>/<photo> folders, or photos named after their person",
            dir.display()
        )));
    }
    Ok(items)
}

impl Recogniser {
    /// Enrols the plan's faces; a photo without a usable face is reported, not fatal.
    pub fn enrol(
        &mut self,
        plan: &EnrolPlan,
        cancel: &AtomicBool,
        mut report: impl FnMut(Report<'_>),
    ) -> Result<Outcome<EnrolSummary>, WorkflowError> {
        self.check_model()?;
        for item in &plan.items {
            crate::face_index::check_name(&item.name)?;
        }
        let mut summary = EnrolSummary::default();
        let total = plan.items.len();
        for (n, batch) in plan.items.chunks(BATCH).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(Outcome::Cancelled);
            }
            let paths: Vec<PathBuf> = batch.iter().map(|i| i.photo.clone()).collect();
            let read = read::read_batch(&self.verifier, &paths);
            let written = self.index.write_photos(&read, &self.model_id)?;
            for ((item, (file, content)), w) in batch.iter().zip(&read).zip(written) {
                let fail = |why: String| (item.name.clone(), file.path.clone(), why);
                let face = item
                    .face
                    .unwrap_or_else(|| picked(content, plan.pick, &self.verifier.crop));
                let Some(&face_id) = w.face_ids.get(face) else {
                    summary.failed.push(fail(match content {
                        PhotoContent::Error(e) => e.clone(),
                        _ if w.face_ids.is_empty() => "no face found".into(),
                        _ => format!("face {face} asked, {} found", w.face_ids.len()),
                    }));
                    continue;
                };
                if item.face.is_none() && w.face_ids.len() > 1 {
                    let which = match plan.pick {
                        FacePick::Largest => "the largest",
                        FacePick::NearestCentre => "the one nearest the centre",
                    };
                    report(Report::Note(&format!(
                        "{}: {} faces; {which} is enrolled as {}",
                        file.path,
                        w.face_ids.len(),
                        item.name
                    )));
                }
                self.index
                    .assign(&item.name, &[face_id], AssignmentKind::Enrolled)?;
                summary.enrolled.push(Enrolled {
                    name: item.name.trim().to_string(),
                    photo: file.path.clone(),
                    faces_found: w.face_ids.len(),
                    face,
                    face_id,
                });
            }
            report(Report::Progress {
                stage: "photos",
                done: (n * BATCH + batch.len()).min(total),
                total,
            });
        }
        Ok(Outcome::Done(summary))
    }
}

/// The face `pick` chooses among a photo's faces (stored largest first); 0 when it has
/// none or one.
fn picked(content: &PhotoContent, pick: FacePick, cfg: &CropConfig) -> usize {
    match content {
        PhotoContent::Faces {
            width,
            height,
            faces,
        } if faces.len() > 1 => {
            let faces: Vec<_> = faces.iter().map(|f| f.face.clone()).collect();
            crop::pick_face(&faces, *width, *height, cfg, pick).unwrap_or(0)
        }
        _ => 0,
    }
}
