//! What the People panel runs in the background, each a call of the library's people
//! workflows on the shared [`Recogniser`] (locked by the job, never by the UI thread).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use burn::tensor::Device;
use image::RgbImage;
use siamese_face::embed::train::Control;
use siamese_face::face_index::cluster::ClusterSettings;
use siamese_face::face_index::{FaceListing, IndexStats, Matching, PersonSummary};
use siamese_face::workflow::people::{
    EmbeddingMap, EnrolPlan, EnrolSummary, FaceFilter, Grouping, IdentifyPlan, IndexPlan,
    IndexSummary, PeopleTrainPlan, PeopleTrainSummary, PhotoIdentity, Recogniser, ReembedSummary,
    SearchHit, SearchPlan,
};
use siamese_face::workflow::{Outcome, Report};

use super::manage::Change;

pub type Shared = Arc<Mutex<Recogniser>>;

/// A face to show: its photo and box.
pub type FaceAt = (PathBuf, [f32; 4]);

/// The people with their cover faces (photo and box), and the index's counts.
pub struct Listing {
    pub people: Vec<(PersonSummary, Option<FaceAt>)>,
    pub stats: IndexStats,
    /// Faces made by another model than the open one.
    pub stale: usize,
    /// The change *Undo* undoes, if any (made here or by `siamese-face people`).
    pub last_action: Option<String>,
}

/// A finished piece of work.
pub enum Work {
    Enrolled(Result<Outcome<EnrolSummary>, String>),
    Indexed(Result<Outcome<IndexSummary>, String>),
    Reembedded(Result<Outcome<ReembedSummary>, String>),
    Trained(Result<Outcome<PeopleTrainSummary>, String>),
    Identified(Result<Box<(PhotoIdentity, RgbImage)>, String>),
    Found(Result<(String, Vec<SearchHit>), String>),
    Listed(Result<Box<Listing>, String>),
    Removed(Result<String, String>),
    Grouped(Result<Grouping, String>),
    Mapped(Result<EmbeddingMap, String>),
    /// People changed by hand: what was done.
    Managed(Result<String, String>),
    /// A person's faces: `(person id, faces)`.
    PersonFaces(Result<(i64, Vec<FaceListing>), String>),
}

fn lock(rec: &Shared) -> MutexGuard<'_, Recogniser> {
    // A job that panicked while holding the lock left the index as its last transaction
    // did: still consistent, so the next job may use it.
    rec.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn enrol(rec: &Shared, plan: &EnrolPlan, c: &Control, r: &mut dyn FnMut(Report<'_>)) -> Work {
    Work::Enrolled(lock(rec).enrol(plan, &c.stop, r).map_err(|e| e.to_string()))
}

pub fn index(rec: &Shared, plan: &IndexPlan, c: &Control, r: &mut dyn FnMut(Report<'_>)) -> Work {
    Work::Indexed(lock(rec).index(plan, &c.stop, r).map_err(|e| e.to_string()))
}

pub fn reembed(rec: &Shared, c: &Control, r: &mut dyn FnMut(Report<'_>)) -> Work {
    Work::Reembedded(lock(rec).reembed(&c.stop, r).map_err(|e| e.to_string()))
}

pub fn train(
    rec: &Shared,
    plan: &PeopleTrainPlan,
    device: &Device,
    c: &Control,
    r: &mut dyn FnMut(Report<'_>),
) -> Work {
    let result = lock(rec).train_people(plan, device, c, r);
    Work::Trained(result.map_err(|e| e.to_string()))
}

/// One photo identified, with its pixels for drawing.
pub fn identify(rec: &Shared, path: PathBuf, top_k: usize, matching: Matching) -> Work {
    let plan = IdentifyPlan {
        inputs: vec![path.clone()],
        // Every candidate is kept; the panel decides against its own slider.
        threshold: Some(f32::INFINITY),
        top_k,
        matching,
    };
    let result = (|| {
        let rec = lock(rec);
        let outcome = rec
            .identify(&plan, &Default::default(), |_| {}, |_| {})
            .map_err(|e| e.to_string())?;
        let Outcome::Done(mut id) = outcome else {
            return Err("cancelled".to_string());
        };
        let photo = id.photos.pop().ok_or("the photo was not read")?;
        if let Some(e) = &photo.error {
            return Err(e.clone());
        }
        let image = siamese_face::imageio::load_rgb(&path).map_err(|e| e.to_string())?;
        Ok(Box::new((photo, image)))
    })();
    Work::Identified(result)
}

pub fn search(rec: &Shared, plan: SearchPlan) -> Work {
    let hits = lock(rec).search(&plan).map_err(|e| e.to_string());
    Work::Found(hits.map(|h| (plan.person, h)))
}

pub fn remove(rec: &Shared, name: String) -> Work {
    let result = lock(rec)
        .index
        .remove_person(&name)
        .map_err(|e| e.to_string());
    Work::Removed(result.map(|()| name))
}

pub fn list(rec: &Shared) -> Work {
    let result = (|| -> Result<Box<Listing>, siamese_face::face_index::IndexError> {
        let rec = lock(rec);
        let mut people = Vec::new();
        for p in rec.index.people()? {
            let cover = match p.cover_face {
                Some(id) => rec.index.face(id)?.and_then(|f| {
                    let photo = rec.index.photo_by_id(f.photo_id).ok()??;
                    Some((PathBuf::from(photo.path), f.face.bbox))
                }),
                None => None,
            };
            people.push((p, cover));
        }
        let stale = rec
            .index
            .stale_faces(&rec.model_id)?
            .iter()
            .map(|(_, n)| n)
            .sum();
        Ok(Box::new(Listing {
            people,
            stats: rec.index.stats()?,
            stale,
            last_action: rec.index.last_action()?,
        }))
    })();
    Work::Listed(result.map_err(|e| e.to_string()))
}

/// The unknown faces grouped into likely people: as the index stored them (with the faces
/// joined since) unless `fresh`, grouped again otherwise or when never grouped.
pub fn group(rec: &Shared, settings: ClusterSettings, fresh: bool) -> Work {
    let mut rec = lock(rec);
    let result = match fresh {
        false => rec.stored_grouping(settings.min_size),
        true => Ok(None),
    };
    let result = match result {
        Ok(Some(g)) => Ok(g),
        Ok(None) => rec.group_unknown(&settings, FaceFilter::All),
        Err(e) => Err(e),
    };
    Work::Grouped(result.map_err(|e| e.to_string()))
}

/// A change to the people made by hand.
pub fn manage(rec: &Shared, change: Change) -> Work {
    let result = change.apply(&mut lock(rec).index);
    Work::Managed(result.map_err(|e| e.to_string()))
}

/// The faces of one person, with their photos and boxes.
pub fn person_faces(rec: &Shared, person: i64) -> Work {
    let result = lock(rec).index.person_faces(person);
    Work::PersonFaces(result.map(|f| (person, f)).map_err(|e| e.to_string()))
}

/// Every face on the embedding map.
pub fn map(rec: &Shared) -> Work {
    Work::Mapped(lock(rec).embedding_map().map_err(|e| e.to_string()))
}
