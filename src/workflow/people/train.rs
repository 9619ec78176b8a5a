//! Training on your own people: the open model's dense head trained further with triplet
//! loss (online semi-hard mining, backbone frozen, its features computed once) on the
//! enrolled and confirmed faces of the index, and measured before and after on photos of
//! those people held out from training. The new model is saved to its own folder; the
//! index keeps the open model's embeddings until it is re-embedded with the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use burn::tensor::Device;
use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::read;
use super::{Recogniser, WorkflowError};
use crate::crop;
use crate::embed::EMBEDDING_DIM;
use crate::embed::augment::Augment;
use crate::embed::pretrained::InitWeights;
use crate::embed::train::{
    self, Control, IdentityPool, LrSchedule, Mining, TrainConfig, TrainData, TrainEvent, TrainJob,
};
use crate::face_index::{AssignmentKind, Candidate, Matching, Matrix, PersonGallery};
use crate::model::{self, ModelMeta};
use crate::workflow::{Outcome, Report, plan_path};

/// Images per person in a mining batch (the default model's recipe).
const PER_PERSON: usize = 4;
/// Photos read and cut together between progress reports and cancel checks.
const CHUNK: usize = 16;
/// Unassigned faces needed to calibrate the threshold on them too.
pub const MIN_UNKNOWN: usize = 10;

/// Which of a person's faces are held out of training to measure it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HoldOut {
    /// This fraction of each person's faces (rounded; the newest), keeping two to train on.
    pub fraction: f32,
    /// Instead: train on each person's first this many faces and test on the rest.
    pub train_per_person: Option<usize>,
}

impl Default for HoldOut {
    fn default() -> Self {
        HoldOut {
            fraction: 0.2,
            train_per_person: None,
        }
    }
}

impl HoldOut {
    /// How many of a person's `n` faces (oldest first) are trained on; the rest are tested.
    pub fn training_count(&self, n: usize) -> usize {
        match self.train_per_person {
            Some(k) => k.clamp(1, n.max(1)).min(n),
            None => {
                let test = (n as f32 * self.fraction.clamp(0.0, 1.0)).round() as usize;
                n - test.min(n.saturating_sub(2))
            }
        }
    }
}

/// A training run on the index's people (`people train`, the People panel's *Train*).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeopleTrainPlan {
    /// The new model's folder: new, or empty.
    pub out: PathBuf,
    pub hold_out: HoldOut,
    /// Training steps (mining batches); whole epochs are run, so a few more may be.
    pub steps: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl PeopleTrainPlan {
    /// The default run into `out`: 200 steps at 1e-3, a fifth of each person held out.
    pub fn new(out: PathBuf) -> PeopleTrainPlan {
        PeopleTrainPlan {
            out,
            hold_out: HoldOut::default(),
            steps: 200,
            learning_rate: 1e-3,
            seed: 0,
        }
    }
}

/// Identification of the held-out faces among the people (closed set, each person matched
/// by the mean of their training faces).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measured {
    /// Held-out faces whose most similar person is their own.
    pub rank1: f64,
    /// ... and at or above the threshold (named, and correctly).
    pub named_at_threshold: f64,
    /// Pairs of a held-out face and another person at or above the threshold.
    pub false_accepts_at_threshold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeopleTrainSummary {
    /// The new model's folder.
    pub model: PathBuf,
    /// The model it started from (the open one).
    pub base_model: PathBuf,
    /// People with faces used, and those with two or more to train on.
    pub people: usize,
    pub trained_people: usize,
    pub training_faces: usize,
    pub test_people: usize,
    pub test_faces: usize,
    /// The open model's threshold, and the new model's: the one at which it accepts the
    /// same fraction of (training face, other person) pairs as the open model does at its
    /// own (training lowers every similarity, so the old threshold would name nobody).
    pub threshold_before: f32,
    pub threshold: f32,
    /// Unassigned faces (nobody's, e.g. in the background) of the same photos, whose named
    /// share the threshold also keeps when there are enough of them.
    pub unknown_faces: usize,
    /// On the held-out faces (`None`: nobody has enough faces to hold some out).
    pub before: Option<Measured>,
    pub after: Option<Measured>,
    pub steps: usize,
    pub training_seconds: f64,
    pub seconds: f64,
    /// `(photo, why)`: photos whose faces could not be cut again (changed, gone).
    pub skipped: Vec<(String, String)>,
}

/// A face as stored: (person, or the number of people for nobody's; face id; the open
/// model's embedding; geometry).
type StoredFace = (usize, i64, Vec<f32>, crate::detect::Face);
/// A photo's id and the people's faces in it.
type PhotoFaces = (i64, Vec<StoredFace>);
/// Embeddings by (person, is a held-out face, index among those).
type Embeddings = BTreeMap<(usize, bool, usize), Vec<f32>>;

/// A face of a person, cut again from its photo, with the open model's embedding.
struct FaceCut {
    crop: RgbImage,
    before: Vec<f32>,
}

/// What a run learns from and is measured on.
struct Material {
    people: Vec<PersonFaces>,
    /// Nobody's faces in the same photos.
    others: Vec<FaceCut>,
    /// `(photo, why)`.
    skipped: Vec<(String, String)>,
}

/// A person's faces, oldest first, split into training and test.
struct PersonFaces {
    name: String,
    train: Vec<FaceCut>,
    test: Vec<FaceCut>,
}

impl Recogniser {
    /// Trains a copy of the open model on the index's people as `plan` says (see the
    /// module). `control.stop` cancels at any point; nothing is written then.
    pub fn train_people(
        &self,
        plan: &PeopleTrainPlan,
        device: &Device,
        control: &Control,
        mut report: impl FnMut(Report<'_>),
    ) -> Result<Outcome<PeopleTrainSummary>, WorkflowError> {
        let start = Instant::now();
        self.check_model()?;
        check_plan(plan, &self.verifier.dir)?;
        let Some(material) = self.people_faces(plan.hold_out, control, &mut report)? else {
            return Ok(Outcome::Cancelled);
        };
        let people = &material.people;
        let pool = pool_of(people)?;
        let data = TrainData::Identities(pool);
        let cfg = self.people_config(plan, &data);
        let source = format!(
            "{} enrolled and confirmed faces of {} people in the face index {}",
            data.len(),
            people_with_two(people),
            self.index.name()
        );
        let (net, base) = model::load(&self.verifier.dir, &device.clone().autodiff())?;
        let started_from = format!(
            "{} (from {})",
            self.verifier.dir.display(),
            base.initial_weights
        );
        let job = TrainJob {
            data: &data,
            data_source: source.clone(),
            config: cfg.clone(),
            validation: None,
            checkpoints: None,
            resume: None,
            initial: Some((net, started_from)),
            plan: None,
        };
        let (net, summary) = train::train(job, device, control, |e| progress(e, &mut report))
            .map_err(WorkflowError::Train)?;
        if summary.stopped {
            return Ok(Outcome::Cancelled);
        }
        let mut meta = ModelMeta::new(&cfg, data.summary(&source), &summary);
        // Inputs are made exactly as the open model makes them.
        meta.data.crop = Some(self.verifier.crop);
        meta.normalisation = self.verifier.meta.normalisation;
        let Some(after) = self.embed_all(&net, &meta, &material, device, control, &mut report)
        else {
            return Ok(Outcome::Cancelled);
        };
        let threshold_before = self.verifier.threshold();
        let (threshold, before, after) = judge(&material, &after, threshold_before);
        meta.threshold = Some(threshold);
        model::save(&net, &meta, &plan.out)?;
        let counts = |f: fn(&PersonFaces) -> usize| people.iter().map(f).sum::<usize>();
        Ok(Outcome::Done(PeopleTrainSummary {
            model: plan_path(&plan.out),
            base_model: self.verifier.dir.clone(),
            people: people.len(),
            trained_people: people_with_two(people),
            training_faces: counts(|p| p.train.len()),
            test_people: people.iter().filter(|p| !p.test.is_empty()).count(),
            test_faces: counts(|p| p.test.len()),
            threshold_before,
            threshold,
            unknown_faces: material.others.len(),
            before,
            after,
            steps: summary.steps,
            training_seconds: summary.seconds,
            seconds: start.elapsed().as_secs_f64(),
            skipped: material.skipped.clone(),
        }))
    }

    /// The training settings: the open model's backbone frozen (features computed once),
    /// its mirror averaging, semi-hard mining of 4 faces per person, and as many epochs
    /// as the plan's steps take.
    fn people_config(&self, plan: &PeopleTrainPlan, data: &TrainData) -> TrainConfig {
        let base = &self.verifier.meta;
        let mut cfg = TrainConfig {
            backbone: base.backbone,
            init: InitWeights::Default,
            epochs: 1,
            batch_size: 32,
            learning_rate: plan.learning_rate,
            schedule: LrSchedule::Cosine,
            warmup_steps: (plan.steps / 10).min(20),
            margin: base.train.margin,
            freeze_backbone_epochs: 0,
            // With a frozen backbone only flips apply (features are computed once).
            augment: Augment {
                flip: true,
                jitter: 0,
                colour: 0.0,
            },
            mining: Some(Mining {
                images_per_person: PER_PERSON,
            }),
            checkpoint_every: 0,
            validate_every: 0,
            seed: plan.seed,
            flip_average: base.flip_average,
            train_last_stage: false,
        };
        cfg.epochs = plan.steps.max(1).div_ceil(cfg.steps_per_epoch(data));
        cfg.freeze_backbone_epochs = cfg.epochs;
        cfg
    }

    /// The people's names, and their enrolled and confirmed faces by photo (so that each
    /// photo is read once).
    fn faces_by_photo(&self) -> Result<(Vec<String>, Vec<PhotoFaces>), WorkflowError> {
        let mut by_photo: BTreeMap<i64, Vec<StoredFace>> = BTreeMap::new();
        let mut names = Vec::new();
        for person in self.index.people()? {
            let p = names.len();
            names.push(person.name.clone());
            for (face_id, kind) in self.index.faces_of_person(person.id)? {
                if kind == AssignmentKind::Suggested {
                    continue;
                }
                let Some(f) = self.index.face(face_id)? else {
                    continue;
                };
                by_photo
                    .entry(f.photo_id)
                    .or_default()
                    .push((p, f.id, f.embedding, f.face));
            }
        }
        // Nobody's faces of the same photos (already read) calibrate the threshold.
        let (nobody, assigned) = (names.len(), self.index.assigned_faces()?);
        for (photo, faces) in &mut by_photo {
            for f in self.index.faces_of_photo(*photo)? {
                if !assigned.contains(&f.id) {
                    faces.push((nobody, f.id, f.embedding, f.face));
                }
            }
        }
        Ok((names, by_photo.into_iter().collect()))
    }

    /// Every person's enrolled and confirmed faces of this model (and nobody's faces of
    /// the same photos), cut again from their photos (whose bytes must be unchanged) and
    /// split by `hold_out`; `None` if cancelled.
    fn people_faces(
        &self,
        hold_out: HoldOut,
        control: &Control,
        report: &mut impl FnMut(Report<'_>),
    ) -> Result<Option<Material>, WorkflowError> {
        let (names, photos) = self.faces_by_photo()?;
        // One slot per person and the last for nobody's faces.
        let mut cut: Vec<BTreeMap<i64, FaceCut>> =
            (0..=names.len()).map(|_| BTreeMap::new()).collect();
        let mut skipped = Vec::new();
        // Copied: the index's connection may not cross threads.
        let cfg = self.verifier.crop;
        for (n, chunk) in photos.chunks(CHUNK).enumerate() {
            if control.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let rows = chunk
                .iter()
                .map(|(id, _)| self.index.photo_by_id(*id))
                .collect::<Result<Vec<_>, _>>()?;
            let read: Vec<_> = chunk
                .par_iter()
                .zip(&rows)
                .map(|((_, faces), row)| {
                    let row = row.as_ref().ok_or("the photo left the index")?;
                    let image = read::reread(Path::new(&row.path), &row.hash)?;
                    Ok::<_, String>(
                        faces
                            .iter()
                            .map(|(p, id, e, f)| {
                                let crop = crop::crop_face(&image, f, &cfg);
                                (*p, *id, e.clone(), crop)
                            })
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            for (result, row) in read.into_iter().zip(&rows) {
                match result {
                    Ok(faces) => {
                        for (p, id, before, crop) in faces {
                            cut[p].insert(id, FaceCut { crop, before });
                        }
                    }
                    Err(why) => skipped.push((
                        row.as_ref().map_or(String::new(), |r| r.path.clone()),
                        why.to_string(),
                    )),
                }
            }
            report(Report::Progress {
                stage: "photos of enrolled people",
                done: (n * CHUNK + chunk.len()).min(photos.len()),
                total: photos.len(),
            });
        }
        let others = cut.pop().unwrap_or_default().into_values().collect();
        let people = names
            .into_iter()
            .zip(cut)
            .filter(|(_, faces)| !faces.is_empty())
            .map(|(name, faces)| {
                let mut faces: Vec<FaceCut> = faces.into_values().collect();
                let test = faces.split_off(hold_out.training_count(faces.len()));
                PersonFaces {
                    name,
                    train: faces,
                    test,
                }
            })
            .collect();
        Ok(Some(Material {
            people,
            others,
            skipped,
        }))
    }

    /// The trained network's embeddings of every face; `None` if cancelled.
    fn embed_all(
        &self,
        net: &crate::embed::EmbeddingNet,
        meta: &ModelMeta,
        material: &Material,
        device: &Device,
        control: &Control,
        report: &mut impl FnMut(Report<'_>),
    ) -> Option<Embeddings> {
        let people = &material.people;
        let nobody = people.len();
        let keys: Vec<(usize, bool, usize)> = people
            .iter()
            .enumerate()
            .flat_map(|(p, faces)| {
                let train = (0..faces.train.len()).map(move |i| (p, false, i));
                train.chain((0..faces.test.len()).map(move |i| (p, true, i)))
            })
            .chain((0..material.others.len()).map(|i| (nobody, false, i)))
            .collect();
        let device = device.clone().without_autodiff();
        let mut out = BTreeMap::new();
        for chunk in keys.chunks(64) {
            if control.stop.load(Ordering::Relaxed) {
                return None;
            }
            let crops: Vec<&RgbImage> = chunk
                .iter()
                .map(|&(p, t, i)| &cut_of(material, p, t, i).crop)
                .collect();
            let values = crate::embed::embed_crops(
                net,
                &crops,
                &meta.normalisation,
                meta.flip_average,
                &device,
            );
            for (key, v) in chunk.iter().zip(values.chunks_exact(EMBEDDING_DIM)) {
                out.insert(*key, v.to_vec());
            }
            report(Report::Progress {
                stage: "faces embedded by the trained model",
                done: out.len(),
                total: keys.len(),
            });
        }
        Some(out)
    }
}

fn face(p: &PersonFaces, test: bool, i: usize) -> &FaceCut {
    if test { &p.test[i] } else { &p.train[i] }
}

/// Face `i` of person `p` (training or test), or nobody's face `i` when `p` is the
/// number of people.
fn cut_of(m: &Material, p: usize, test: bool, i: usize) -> &FaceCut {
    match m.people.get(p) {
        Some(person) => face(person, test, i),
        None => &m.others[i],
    }
}

fn people_with_two(people: &[PersonFaces]) -> usize {
    people.iter().filter(|p| p.train.len() >= 2).count()
}

/// An error unless the plan's held-out fraction is one and its folder can take a new
/// model: not the open model's folder, and no model in it already.
fn check_plan(plan: &PeopleTrainPlan, open: &Path) -> Result<(), WorkflowError> {
    if !(0.0..=1.0).contains(&plan.hold_out.fraction) {
        return Err(WorkflowError::Plan(format!(
            "the held-out fraction must be between 0 and 1 (not {})",
            plan.hold_out.fraction
        )));
    }
    let out = &plan.out;
    if plan_path(out) == plan_path(open) || out.join("model.json").exists() {
        return Err(WorkflowError::Plan(format!(
            "{} already holds a model: choose a new folder for the trained one",
            out.display()
        )));
    }
    Ok(())
}

/// The mining pool: the training faces of everyone with two or more.
fn pool_of(people: &[PersonFaces]) -> Result<IdentityPool, WorkflowError> {
    let mut pool = IdentityPool {
        crops: Vec::new(),
        people: Vec::new(),
        names: Vec::new(),
        fallbacks: 0,
    };
    for p in people.iter().filter(|p| p.train.len() >= 2) {
        let first = pool.crops.len();
        pool.crops.extend(p.train.iter().map(|f| f.crop.clone()));
        pool.people.push((first..pool.crops.len()).collect());
        pool.names.push(p.name.clone());
    }
    if pool.people.len() < 2 {
        return Err(WorkflowError::Plan(format!(
            "training needs at least two people with two or more faces to train on \
             (enrolled or confirmed, after holding some out for the test); {} have",
            pool.people.len()
        )));
    }
    Ok(pool)
}

/// Training progress as the workflow's progress stages.
fn progress(e: &TrainEvent, report: &mut impl FnMut(Report<'_>)) {
    match e {
        TrainEvent::Features { done, total } => report(Report::Progress {
            stage: "backbone features",
            done: *done,
            total: *total,
        }),
        TrainEvent::Step { step, steps, .. } => report(Report::Progress {
            stage: "training steps",
            done: *step,
            total: *steps,
        }),
        _ => {}
    }
    report(Report::Train(e));
}

/// The new model's threshold, and the held-out faces' identification before (the open
/// model at its threshold) and after. The threshold keeps the open model's false-accept
/// rate ([`matched_threshold`]) on the training faces against other people and, with
/// enough of them, the share of nobody's faces named; the stricter of the two is taken,
/// since faces trained on are easier to tell apart than new ones.
fn judge(
    m: &Material,
    after: &Embeddings,
    threshold_before: f32,
) -> (f32, Option<Measured>, Option<Measured>) {
    let people = &m.people;
    let old = |p, t, i| cut_of(m, p, t, i).before.as_slice();
    let new = |p, t, i| after[&(p, t, i)].as_slice();
    let mut threshold = matched_threshold(
        &impostor_similarities(people, old),
        &impostor_similarities(people, new),
        threshold_before,
    );
    if m.others.len() >= MIN_UNKNOWN {
        let unknown = matched_threshold(
            &unknown_similarities(people, m.others.len(), old),
            &unknown_similarities(people, m.others.len(), new),
            threshold_before,
        );
        threshold = threshold.max(unknown);
    }
    let before = measure(people, old, threshold_before);
    (threshold, before, measure(people, new, threshold))
}

/// Each person's training faces, matched by their mean.
fn gallery_of<'e>(
    people: &[PersonFaces],
    of: &impl Fn(usize, bool, usize) -> &'e [f32],
) -> PersonGallery {
    let mut gallery = PersonGallery::default();
    for (p, person) in people.iter().enumerate() {
        for i in 0..person.train.len() {
            gallery.push(p as i64, &person.name, i as i64, of(p, false, i));
        }
    }
    gallery.finish();
    gallery
}

/// The best similarity of each of nobody's `n` faces (`of(people, false, i)`) to a person.
fn unknown_similarities<'e>(
    people: &[PersonFaces],
    n: usize,
    of: impl Fn(usize, bool, usize) -> &'e [f32],
) -> Vec<f32> {
    let gallery = gallery_of(people, &of);
    let Some(probes) = matrix_of((0..n).map(|i| of(people.len(), false, i))) else {
        return Vec::new();
    };
    gallery
        .rank(&probes, Matching::Mean, 1)
        .into_iter()
        .filter_map(|c| c.first().map(|c| c.similarity))
        .collect()
}

/// The held-out (`test`) or training faces, each with every person ranked by the
/// similarity of their mean training face (best first) and its own person, with the
/// embeddings `of(person, is test, index)` gives.
fn ranked<'e>(
    people: &[PersonFaces],
    of: impl Fn(usize, bool, usize) -> &'e [f32],
    test: bool,
) -> Vec<(Vec<Candidate>, i64)> {
    let gallery = gallery_of(people, &of);
    let keys: Vec<(usize, usize)> = people
        .iter()
        .enumerate()
        .flat_map(|(p, person)| {
            let n = if test {
                person.test.len()
            } else {
                person.train.len()
            };
            (0..n).map(move |i| (p, i))
        })
        .collect();
    let Some(probes) = matrix_of(keys.iter().map(|&(p, i)| of(p, test, i))) else {
        return Vec::new();
    };
    let owners = keys.iter().map(|&(p, _)| p as i64);
    let ranked = gallery.rank(&probes, Matching::Mean, gallery.people());
    ranked.into_iter().zip(owners).collect()
}

/// `rows` as one matrix, or `None` when there are none.
fn matrix_of<'e>(rows: impl Iterator<Item = &'e [f32]>) -> Option<Matrix> {
    let mut matrix: Option<Matrix> = None;
    for v in rows {
        matrix.get_or_insert_with(|| Matrix::new(v.len())).push(v);
    }
    matrix
}

/// Similarities of each training face to every other person's mean training face.
fn impostor_similarities<'e>(
    people: &[PersonFaces],
    of: impl Fn(usize, bool, usize) -> &'e [f32],
) -> Vec<f32> {
    ranked(people, of, false)
        .into_iter()
        .flat_map(|(candidates, owner)| {
            candidates
                .into_iter()
                .filter(move |c| c.person_id != owner)
                .map(|c| c.similarity)
        })
        .collect()
}

/// The threshold at which the similarities `after` reach it as often as `before` reach
/// `threshold` (the same false-accept rate).
fn matched_threshold(before: &[f32], after: &[f32], threshold: f32) -> f32 {
    let accepted = before.iter().filter(|&&s| s >= threshold).count();
    let rate = accepted as f64 / before.len().max(1) as f64;
    let mut sorted = after.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    match (rate * sorted.len() as f64).round() as usize {
        // Nothing accepted before: just above every similarity after.
        0 => sorted
            .first()
            .map_or(threshold, |max| max.next_up().min(1.0)),
        k => sorted[k.min(sorted.len()) - 1],
    }
}

/// Rank-1 and the threshold's outcomes of the held-out faces against every person's mean
/// training face, with the embeddings `of(person, is test, index)` gives.
fn measure<'e>(
    people: &[PersonFaces],
    of: impl Fn(usize, bool, usize) -> &'e [f32],
    threshold: f32,
) -> Option<Measured> {
    let ranked = ranked(people, of, true);
    if ranked.is_empty() {
        return None;
    }
    let (mut hits, mut named, mut impostors, mut accepted) = (0, 0, 0usize, 0usize);
    for (candidates, owner) in &ranked {
        if let Some(top) = candidates.first().filter(|c| c.person_id == *owner) {
            hits += 1;
            named += usize::from(top.similarity >= threshold);
        }
        for c in candidates.iter().filter(|c| c.person_id != *owner) {
            impostors += 1;
            accepted += usize::from(c.similarity >= threshold);
        }
    }
    let n = ranked.len() as f64;
    Some(Measured {
        rank1: hits as f64 / n,
        named_at_threshold: named as f64 / n,
        false_accepts_at_threshold: accepted as f64 / impostors.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifth_is_held_out_keeping_two_to_train_on() {
        let h = HoldOut::default();
        let trained: Vec<usize> = [1, 2, 3, 4, 5, 10, 11].map(|n| h.training_count(n)).into();
        // 3 faces: round(0.6) = 1 tested; 2 or fewer: all trained on.
        assert_eq!(trained, vec![1, 2, 2, 3, 4, 8, 9]);
        let none = HoldOut { fraction: 0.0, ..h };
        assert_eq!(none.training_count(7), 7);
        let all = HoldOut { fraction: 1.0, ..h };
        assert_eq!(all.training_count(7), 2);
    }

    #[test]
    fn the_first_k_are_trained_on_and_the_rest_tested() {
        let h = HoldOut {
            fraction: 0.2,
            train_per_person: Some(5),
        };
        assert_eq!(h.training_count(12), 5);
        assert_eq!(h.training_count(5), 5);
        assert_eq!(h.training_count(3), 3);
        assert_eq!(h.training_count(0), 0);
    }

    #[test]
    fn the_new_threshold_keeps_the_false_accept_rate() {
        let before = [0.1, 0.5, 0.9, 0.95];
        let after = [0.0, 0.6, 0.2, 0.3];
        // Two of four reach 0.9 before; 0.3 lets two of four through after.
        assert_eq!(matched_threshold(&before, &after, 0.9), 0.3);
        // None before: none after.
        let t = matched_threshold(&before, &after, 0.99);
        assert!(t > 0.6 && t < 0.6001, "{t}");
        assert_eq!(matched_threshold(&before, &after, 0.0), 0.0);
    }

    fn person(name: &str, train: &[[f32; 2]], test: &[[f32; 2]]) -> PersonFaces {
        let cut = |v: &[f32; 2]| FaceCut {
            crop: RgbImage::new(1, 1),
            before: v.to_vec(),
        };
        PersonFaces {
            name: name.into(),
            train: train.iter().map(cut).collect(),
            test: test.iter().map(cut).collect(),
        }
    }

    #[test]
    fn rank1_and_the_thresholds_outcomes_are_counted_per_held_out_face() {
        // Ann's mean points along x, Bob's along y. Ann's first test face is hers at 0.8,
        // her second is nearer Bob; Bob's test face is his at 1.0.
        let people = [
            person("Ann", &[[1.0, 0.0], [1.0, 0.0]], &[[0.8, 0.6], [0.6, 0.8]]),
            person("Bob", &[[0.0, 1.0], [0.0, 1.0]], &[[0.0, 1.0]]),
        ];
        let of = |p: usize, t: bool, i: usize| face(&people[p], t, i).before.as_slice();
        let m = measure(&people, of, 0.7).expect("held-out faces");
        assert!((m.rank1 - 2.0 / 3.0).abs() < 1e-9, "{m:?}");
        // Named: Ann's first (0.8 >= 0.7) and Bob's (1.0): 2 of 3.
        assert!((m.named_at_threshold - 2.0 / 3.0).abs() < 1e-9, "{m:?}");
        // Impostor pairs: Ann's faces vs Bob (0.6, 0.8), Bob's vs Ann (0.0): one accepted.
        assert!(
            (m.false_accepts_at_threshold - 1.0 / 3.0).abs() < 1e-9,
            "{m:?}"
        );
        // Nobody's face (index 2 = the number of people) is nearest Bob, at 0.8.
        let other = [0.6f32, 0.8];
        let with_other = |p: usize, t: bool, i: usize| {
            if p == people.len() {
                other.as_slice()
            } else {
                face(&people[p], t, i).before.as_slice()
            }
        };
        let best = unknown_similarities(&people, 1, with_other);
        assert_eq!(best.len(), 1);
        assert!((best[0] - 0.8).abs() < 1e-6, "{best:?}");
        let nobody_held_out = [person("Ann", &[[1.0, 0.0]], &[])];
        let of = |p: usize, t: bool, i: usize| face(&nobody_held_out[p], t, i).before.as_slice();
        assert_eq!(measure(&nobody_held_out, of, 0.7), None);
    }
}
