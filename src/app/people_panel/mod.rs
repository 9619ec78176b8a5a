//! People panel: the face index in the app. Enrol people (drop a folder of
//! `<person>/<photos>`, or photos with a name typed, or click a face of an identified photo),
//! see everyone enrolled in a scrolling grid, index photo folders with progress, drop or open
//! a photo to see every face boxed with its name (or unknown) and similarity, click a face
//! for its top-k, and show the indexed photos of a person. The threshold slider has the
//! Compare page's meaning (cosine similarity, the model's threshold to start with).
//!
//! Everything runs through the library's people workflows on one [`Recogniser`], in
//! background jobs; the UI thread never touches the index.

mod gallery;
mod groups;
mod manage;
mod map;
mod person_faces;
mod photo_view;
mod work;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use burn::tensor::Device;
use eframe::egui;
use siamese_face::crop::FacePick;
use siamese_face::face_index::cluster::{self, ClusterSettings, Method};
use siamese_face::face_index::{self, Matching};
use siamese_face::verify;
use siamese_face::workflow::Outcome;
use siamese_face::workflow::people::{
    EnrolItem, EnrolPlan, Grouping, IndexLocation, IndexPlan, IndexSummary, PeopleTrainPlan,
    PeopleTrainSummary, Recogniser, SearchHit, SearchPlan, enrol_items_from_folder, read,
};

use super::context::{AppContext, Panel};
use super::job::{Job, Update};
use super::thumbnails::Thumbnails;
use super::{dialogs, drops};
use manage::{Change, Dragged};
use person_faces::PersonFaces;
use photo_view::PhotoView;
use work::{Listing, Shared, Work};

/// Candidates kept per face (the list under the photo).
const TOP_K: usize = 5;
/// Log lines kept on screen.
const LOG: usize = 4;

/// Something the user asked for.
enum Action {
    EnrolFolder(PathBuf),
    EnrolPhotos(String, Vec<PathBuf>),
    EnrolFace(String, PathBuf, usize),
    Index(PathBuf),
    Identify(PathBuf),
    Search(String),
    Remove(String),
    Reembed,
    Train,
    Pick(PickKind),
    /// Group the unknown faces: again (true), or show the stored groups if any.
    Group(bool),
    Manage(Change),
    /// Show a person's faces.
    PersonFaces(i64),
    Map,
}

/// What the left half shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Left {
    Enrolled,
    Groups,
    Map,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PickKind {
    EnrolPhotos,
    EnrolFolder,
    IndexFolder,
    Identify,
}

type Opened = Result<(Shared, f32), String>;

pub struct PeoplePanel {
    index_path: PathBuf,
    /// The model the index is open with.
    model_dir: Option<PathBuf>,
    rec: Option<Shared>,
    opening: Option<Job<Opened>>,
    open_error: Option<String>,
    threshold: f32,
    model_threshold: f32,
    matching: Matching,
    listing: Option<Box<Listing>>,
    work: Option<(String, Job<Work>)>,
    /// Asked for while the index was opening or busy.
    queued: Vec<Action>,
    log: Vec<String>,
    name: String,
    selected: Option<i64>,
    view: Option<PhotoView>,
    hits: Option<(String, Vec<SearchHit>)>,
    thumbs: Option<Thumbnails>,
    pick: Option<(PickKind, mpsc::Receiver<Option<Vec<PathBuf>>>)>,
    /// Which face of a photo with several is enrolled (when none was clicked).
    face_rule: FacePick,
    /// The device the index was opened for (training runs on it).
    device: Option<Device>,
    train_steps: usize,
    /// Percent of each person's faces held out to measure training.
    hold_out_percent: u32,
    trained: Option<PeopleTrainSummary>,
    /// A trained model the user chose to use: asked of the app, then the index is
    /// re-embedded with it once it is open with it.
    use_model: Option<PathBuf>,
    reembed_for: Option<PathBuf>,
    /// The page was shown or work was asked for: until then the index is not opened (the
    /// model is not loaded, the file not created).
    wanted: bool,
    left: Left,
    map: Option<map::MapView>,
    /// The UI's cost over the last frames, shown under the map (it draws every face).
    frame_note: Option<String>,
    group_threshold: f32,
    grouping: Option<Grouping>,
    /// The name typed beside each group.
    group_names: Vec<String>,
    /// The faces of the person selected.
    person_faces: Option<PersonFaces>,
}

impl PeoplePanel {
    pub fn new() -> Self {
        PeoplePanel {
            index_path: face_index::default_index_path(),
            model_dir: None,
            rec: None,
            opening: None,
            open_error: None,
            threshold: verify::FALLBACK_THRESHOLD,
            model_threshold: verify::FALLBACK_THRESHOLD,
            matching: Matching::default(),
            listing: None,
            work: None,
            queued: Vec::new(),
            log: Vec::new(),
            name: String::new(),
            selected: None,
            view: None,
            hits: None,
            thumbs: None,
            pick: None,
            face_rule: FacePick::Largest,
            device: None,
            train_steps: PeopleTrainPlan::new(PathBuf::new()).steps,
            hold_out_percent: 20,
            trained: None,
            use_model: None,
            reembed_for: None,
            wanted: false,
            left: Left::Enrolled,
            map: None,
            frame_note: None,
            group_threshold: cluster::DEFAULT_THRESHOLD,
            grouping: None,
            group_names: Vec::new(),
            person_faces: None,
        }
    }

    /// Identifies `path` once the index is open (from the command line).
    pub fn identify_when_ready(&mut self, path: PathBuf) {
        self.queued.push(Action::Identify(path));
    }

    #[cfg(test)]
    pub fn use_index(&mut self, path: PathBuf) {
        self.index_path = path;
        self.rec = None;
    }

    #[cfg(test)]
    pub fn enrol_folder(&mut self, dir: PathBuf) {
        self.queued.push(Action::EnrolFolder(dir));
    }

    #[cfg(test)]
    pub fn index_folder(&mut self, dir: PathBuf) {
        self.queued.push(Action::Index(dir));
    }

    #[cfg(test)]
    pub fn set_group_name(&mut self, group: usize, name: &str) {
        if let Some(n) = self.group_names.get_mut(group) {
            *n = name.to_string();
        }
    }

    /// The sizes of the unknown faces' groups shown.
    #[cfg(test)]
    pub fn group_sizes(&self) -> Option<Vec<usize>> {
        let g = self.grouping.as_ref()?;
        Some(g.groups.iter().map(Vec::len).collect())
    }

    #[cfg(test)]
    /// The person whose faces are shown, and those faces' ids.
    pub fn person_faces_shown(&self) -> Option<(String, Vec<i64>)> {
        let v = self.person_faces.as_ref()?;
        Some((v.name.clone(), v.face_ids()))
    }

    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.rec.is_some() && self.work.is_none() && self.queued.is_empty()
    }

    #[cfg(test)]
    pub fn people_listed(&self) -> usize {
        self.listing.as_ref().map_or(0, |l| l.people.len())
    }

    #[cfg(test)]
    pub fn log(&self) -> &[String] {
        &self.log
    }

    #[cfg(test)]
    pub fn trained(&self) -> Option<&PeopleTrainSummary> {
        self.trained.as_ref()
    }

    /// The model the index is open with, once open, and how many faces another model made.
    #[cfg(test)]
    pub fn model_in_use(&self) -> Option<(&Path, usize)> {
        let listing = self.listing.as_ref()?;
        self.rec.as_ref()?;
        Some((self.model_dir.as_deref()?, listing.stale))
    }

    /// The names shown on the identified photo's faces, largest face first.
    #[cfg(test)]
    pub fn names_shown(&self) -> Vec<Option<String>> {
        self.view.as_ref().map_or(Vec::new(), |v| {
            v.photo
                .faces
                .iter()
                .map(|f| f.name_at(self.threshold).map(str::to_string))
                .collect()
        })
    }

    fn note(&mut self, line: String) {
        self.log.push(line);
        let excess = self.log.len().saturating_sub(LOG);
        self.log.drain(..excess);
    }

    /// Opens the index with `model_dir` in the background.
    fn open(&mut self, ctx: &egui::Context, device: &Device, model_dir: PathBuf) {
        let (path, device, dir) = (self.index_path.clone(), device.clone(), model_dir.clone());
        self.rec = None;
        self.listing = None;
        self.open_error = None;
        self.model_dir = Some(model_dir);
        self.device = Some(device.clone());
        let job = Job::spawn("people-open", ctx, move |_, _| -> Opened {
            let rec = Recogniser::open(&IndexLocation::File(path), &dir, &device)
                .map_err(|e| e.to_string())?;
            let threshold = rec.threshold(None);
            Ok((Arc::new(Mutex::new(rec)), threshold))
        });
        match job {
            Ok(job) => self.opening = Some(job),
            Err(e) => self.open_error = Some(e),
        }
    }

    fn poll_opening(&mut self, ctx: &egui::Context) {
        let Some(job) = &mut self.opening else { return };
        for update in job.poll() {
            if let Update::Done(result) = update {
                self.opening = None;
                match result {
                    Ok((rec, threshold)) => {
                        self.rec = Some(rec);
                        (self.threshold, self.model_threshold) = (threshold, threshold);
                        self.start(ctx, None);
                    }
                    Err(e) => self.open_error = Some(e),
                }
                return;
            }
        }
    }

    fn poll_work(&mut self, ctx: &egui::Context) {
        let Some((_, job)) = &mut self.work else {
            return;
        };
        let mut done = None;
        let mut notes = Vec::new();
        for update in job.poll() {
            match update {
                Update::Note(line) => notes.push(line),
                Update::Done(w) => done = Some(w),
                Update::Train(_) => {}
            }
        }
        for line in notes {
            self.note(line);
        }
        if let Some(w) = done {
            self.work = None;
            let changed = self.finish(w);
            // A change of the index is followed by a fresh listing; queued actions start
            // from `poll` once nothing runs.
            if changed {
                self.start(ctx, None);
            }
        }
    }

    /// Takes a finished job's result; true when the index changed.
    fn finish(&mut self, w: Work) -> bool {
        match w {
            Work::Listed(Ok(l)) => self.listing = Some(l),
            Work::Identified(Ok(found)) => {
                let (photo, image) = *found;
                self.view = Some(PhotoView::new(photo, image));
            }
            Work::Found(Ok(hits)) => self.hits = Some(hits),
            Work::Enrolled(Ok(Outcome::Done(s))) => {
                for (name, photo, why) in &s.failed {
                    self.note(format!("not enrolled: {photo} ({name}): {why}"));
                }
                self.note(format!("enrolled {} face(s)", s.enrolled.len()));
                // The photo on screen is named again with the new people.
                self.reidentify();
                return true;
            }
            Work::Indexed(Ok(Outcome::Done(s))) => {
                self.indexed(&s);
                return true;
            }
            Work::Reembedded(Ok(Outcome::Done(s))) => {
                self.note(format!(
                    "re-embedded {} face(s) of {} photo(s); {} failed",
                    s.faces,
                    s.photos,
                    s.failed.len()
                ));
                // The photo on screen is named again by the model now in use.
                self.reidentify();
                return true;
            }
            Work::Trained(Ok(Outcome::Done(s))) => {
                self.note(format!(
                    "trained {} steps on {} faces of {} people; saved {}",
                    s.steps,
                    s.training_faces,
                    s.trained_people,
                    s.model.display()
                ));
                self.trained = Some(s);
            }
            Work::Removed(Ok(name)) => {
                self.note(format!("removed {name}; their faces stay in the index"));
                self.selected = None;
                self.hits = None;
                self.person_faces = None;
                return true;
            }
            Work::Trained(Ok(Outcome::Cancelled)) => {
                self.note("training stopped; no model was saved".into())
            }
            Work::Enrolled(Ok(Outcome::Cancelled))
            | Work::Indexed(Ok(Outcome::Cancelled))
            | Work::Reembedded(Ok(Outcome::Cancelled)) => {
                self.note("stopped; what was finished is kept".into());
                return true;
            }
            Work::Listed(Err(e))
            | Work::Identified(Err(e))
            | Work::Found(Err(e))
            | Work::Enrolled(Err(e))
            | Work::Indexed(Err(e))
            | Work::Reembedded(Err(e))
            | Work::Trained(Err(e))
            | Work::Removed(Err(e)) => self.note(format!("error: {e}")),
            Work::Grouped(r) => self.grouped(r),
            Work::Mapped(Ok(m)) => self.map = Some(map::MapView::new(m)),
            Work::Mapped(Err(e)) => self.note(format!("error: {e}")),
            Work::Managed(r) => return self.people_changed(r),
            Work::PersonFaces(Ok((id, faces))) => self.show_person_faces(id, faces),
            Work::PersonFaces(Err(e)) => self.note(format!("error: {e}")),
        }
        false
    }

    fn grouped(&mut self, result: Result<Grouping, String>) {
        match result {
            Ok(g) => {
                self.group_names = vec![String::new(); g.groups.len()];
                self.grouping = Some(g);
            }
            Err(e) => self.note(format!("error: {e}")),
        }
    }

    fn indexed(&mut self, s: &IndexSummary) {
        self.note(format!(
            "indexed {} photo(s): {} read, {} face(s), {} without a face, {} unreadable, {} unchanged, {} removed ({:.1} photos/s); {} suggested as someone, {} joined a group",
            s.files, s.read, s.faces_added, s.without_faces, s.errors.len(), s.unchanged, s.removed, s.photos_per_second, s.suggested, s.joined_groups
        ));
        // New faces may have joined the stored groups.
        if self.grouping.is_some() {
            self.queued.push(Action::Group(false));
        }
    }

    fn show_person_faces(&mut self, id: i64, faces: Vec<siamese_face::face_index::FaceListing>) {
        let name = self.listing.as_ref().and_then(|l| {
            l.people
                .iter()
                .find(|(p, _)| p.id == id)
                .map(|(p, _)| p.name.clone())
        });
        // The selection is kept over a refresh of the same person.
        let kept = self.person_faces.take().filter(|v| v.person == id);
        self.person_faces = match (name, self.selected == Some(id)) {
            (Some(name), true) => {
                let mut view = PersonFaces::new(id, name, faces);
                if let Some(old) = kept {
                    for f in old.selected() {
                        view.select(f);
                    }
                }
                Some(view)
            }
            // Gone (merged into someone, or removed): nobody is selected.
            (None, _) => {
                self.selected = None;
                None
            }
            (Some(_), false) => None,
        };
    }

    /// Faces changed hands (`Ok` says how): the groups left are found again.
    fn people_changed(&mut self, result: Result<String, String>) -> bool {
        match result {
            Ok(line) => {
                self.note(line);
                if self.grouping.is_some() {
                    self.queued.push(Action::Group(false));
                }
                if let Some(id) = self.selected {
                    self.queued.push(Action::PersonFaces(id));
                }
                self.hits = None;
                self.reidentify();
                true
            }
            Err(e) => {
                self.note(format!("error: {e}"));
                false
            }
        }
    }

    /// Identifies the photo on screen again (after the people or the model changed).
    fn reidentify(&mut self) {
        if let Some(v) = &self.view {
            self.queued
                .push(Action::Identify(PathBuf::from(&v.photo.path)));
        }
    }

    /// Starts `action` (or a listing, with `None`) as the one background job.
    fn start(&mut self, ctx: &egui::Context, action: Option<Action>) {
        let Some(rec) = self.rec.clone() else {
            self.queued.extend(action);
            return;
        };
        if self.work.is_some() {
            self.queued.extend(action);
            return;
        }
        let (label, job) = match action {
            None => ("listing", self.spawn_list(ctx, rec)),
            Some(Action::Pick(kind)) => return self.pick(ctx, kind),
            Some(a) => match self.spawn(ctx, rec, a) {
                Some(started) => started,
                None => return,
            },
        };
        match job {
            Ok(job) => self.work = Some((label.to_string(), job)),
            Err(e) => self.note(e),
        }
    }

    fn spawn_list(&self, ctx: &egui::Context, rec: Shared) -> Result<Job<Work>, String> {
        Job::spawn("people-list", ctx, move |_, _| work::list(&rec))
    }

    fn spawn(
        &mut self,
        ctx: &egui::Context,
        rec: Shared,
        action: Action,
    ) -> Option<(&'static str, Result<Job<Work>, String>)> {
        let (k, m) = (TOP_K, self.matching);
        Some(match action {
            a @ (Action::EnrolFolder(_) | Action::EnrolPhotos(..) | Action::EnrolFace(..)) => {
                match enrol_plan(a, self.face_rule) {
                    Ok(plan) => self.spawn_enrol(ctx, rec, plan),
                    Err(e) => {
                        self.note(format!("error: {e}"));
                        return None;
                    }
                }
            }
            Action::Index(dir) => {
                let plan = index_plan(dir);
                let job = Job::spawn("people-index", ctx, move |c, r| {
                    work::index(&rec, &plan, c, r)
                });
                ("indexing", job)
            }
            Action::Identify(path) => {
                let job = Job::spawn("people-identify", ctx, move |_, _| {
                    work::identify(&rec, path, k, m)
                });
                ("identifying", job)
            }
            Action::Search(person) => {
                let plan = SearchPlan {
                    person,
                    threshold: Some(self.threshold),
                    matching: m,
                    limit: None,
                };
                (
                    "searching",
                    Job::spawn("people-search", ctx, move |_, _| work::search(&rec, plan)),
                )
            }
            Action::Remove(name) => (
                "removing",
                Job::spawn("people-remove", ctx, move |_, _| work::remove(&rec, name)),
            ),
            Action::Reembed => (
                "re-embedding",
                Job::spawn("people-reembed", ctx, move |c, r| work::reembed(&rec, c, r)),
            ),
            Action::Train => {
                let device = self.device.clone()?;
                let plan = self.train_plan();
                let job = Job::spawn("people-train", ctx, move |c, r| {
                    work::train(&rec, &plan, &device, c, r)
                });
                ("training", job)
            }
            a @ (Action::Group(_) | Action::Manage(_) | Action::PersonFaces(_) | Action::Map) => {
                self.spawn_grouping(ctx, rec, a)
            }
            Action::Pick(_) => return None,
        })
    }

    /// The unknown faces' groups, changes to people, a person's faces, and the map.
    fn spawn_grouping(
        &self,
        ctx: &egui::Context,
        rec: Shared,
        action: Action,
    ) -> (&'static str, Result<Job<Work>, String>) {
        match action {
            Action::Group(fresh) => {
                let settings = ClusterSettings {
                    threshold: self.group_threshold,
                    min_size: 2,
                    method: Method::ChineseWhispers,
                };
                let job = Job::spawn("people-group", ctx, move |_, _| {
                    work::group(&rec, settings, fresh)
                });
                ("grouping", job)
            }
            Action::Manage(change) => (
                "changing people",
                Job::spawn("people-manage", ctx, move |_, _| work::manage(&rec, change)),
            ),
            Action::PersonFaces(id) => (
                "reading faces",
                Job::spawn("people-faces", ctx, move |_, _| {
                    work::person_faces(&rec, id)
                }),
            ),
            Action::Map => (
                "mapping",
                Job::spawn("people-map", ctx, move |_, _| work::map(&rec)),
            ),
            // Only the four kinds above are sent here; anything else lists the people.
            _ => ("listing", self.spawn_list(ctx, rec)),
        }
    }

    /// The training the *Train* button runs: into a new folder beside the index.
    fn train_plan(&self) -> PeopleTrainPlan {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dir = self.index_path.parent().unwrap_or(Path::new("."));
        let mut plan = PeopleTrainPlan::new(dir.join("models").join(format!("people-{stamp}")));
        plan.steps = self.train_steps;
        plan.hold_out.fraction = self.hold_out_percent as f32 / 100.0;
        plan
    }

    fn spawn_enrol(
        &self,
        ctx: &egui::Context,
        rec: Shared,
        plan: EnrolPlan,
    ) -> (&'static str, Result<Job<Work>, String>) {
        (
            "enrolling",
            Job::spawn("people-enrol", ctx, move |c, r| {
                work::enrol(&rec, &plan, c, r)
            }),
        )
    }

    fn pick(&mut self, ctx: &egui::Context, kind: PickKind) {
        let rx = dialogs::spawn(ctx, move || {
            let d = rfd::FileDialog::new();
            let images = ["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff"];
            match kind {
                PickKind::EnrolPhotos => d.add_filter("Images", &images).pick_files(),
                PickKind::Identify => d.add_filter("Images", &images).pick_file().map(|p| vec![p]),
                PickKind::EnrolFolder | PickKind::IndexFolder => d.pick_folder().map(|p| vec![p]),
            }
        });
        self.pick = Some((kind, rx));
    }

    fn poll_pick(&mut self, ctx: &egui::Context) {
        let Some((kind, rx)) = &self.pick else { return };
        let Ok(picked) = rx.try_recv() else { return };
        let kind = *kind;
        self.pick = None;
        let Some(mut paths) = picked.filter(|p| !p.is_empty()) else {
            return;
        };
        let action = match kind {
            PickKind::EnrolPhotos => Action::EnrolPhotos(self.name.trim().to_string(), paths),
            PickKind::EnrolFolder => Action::EnrolFolder(paths.remove(0)),
            PickKind::IndexFolder => Action::Index(paths.remove(0)),
            PickKind::Identify => Action::Identify(paths.remove(0)),
        };
        self.start(ctx, Some(action));
    }

    /// The plans a drop of `path` runs: enrolling (left half) or indexing (right half).
    #[cfg(test)]
    pub fn drop_plans(
        &self,
        path: PathBuf,
        on_people: bool,
    ) -> (Option<EnrolPlan>, Option<IndexPlan>) {
        match self.dropped(path, on_people) {
            Some(Action::Index(dir)) => (None, Some(index_plan(dir))),
            Some(a) => (enrol_plan(a, self.face_rule).ok(), None),
            None => (None, None),
        }
    }

    #[cfg(test)]
    pub fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// A file or folder dropped on the people (left) or photo (right) half.
    fn dropped(&self, path: PathBuf, on_people: bool) -> Option<Action> {
        let name = self.name.trim().to_string();
        Some(match (on_people, path.is_dir(), name.is_empty()) {
            (true, true, true) => Action::EnrolFolder(path),
            (true, true, false) => {
                let photos = read::photo_files(&[path]).ok()?;
                Action::EnrolPhotos(name, photos)
            }
            (true, false, false) => Action::EnrolPhotos(name, vec![path]),
            (true, false, true) => return None,
            (false, true, _) => Action::Index(path),
            (false, false, _) => Action::Identify(path),
        })
    }
}

/// The enrolment an action asks for (`people enrol` builds the same plan).
fn enrol_plan(action: Action, pick: FacePick) -> Result<EnrolPlan, String> {
    let item = |name: &str, photo, face| EnrolItem {
        name: name.to_string(),
        photo,
        face,
    };
    let items = match action {
        Action::EnrolFolder(dir) => enrol_items_from_folder(&dir).map_err(|e| e.to_string())?,
        Action::EnrolPhotos(name, photos) => {
            photos.into_iter().map(|p| item(&name, p, None)).collect()
        }
        Action::EnrolFace(name, photo, face) => vec![item(&name, photo, Some(face))],
        _ => return Err("not an enrolment".into()),
    };
    Ok(EnrolPlan { items, pick })
}

/// The indexing of a folder (`people index` builds the same plan).
fn index_plan(dir: PathBuf) -> IndexPlan {
    IndexPlan {
        inputs: vec![siamese_face::workflow::plan_path(&dir)],
        remove_missing: true,
        suggest_threshold: None,
    }
}

impl Panel for PeoplePanel {
    fn poll(&mut self, ctx: &egui::Context, app: &mut AppContext) {
        let Some(device) = app.device.clone() else {
            return;
        };
        let model = app
            .model_dir
            .clone()
            .unwrap_or_else(verify::default_model_dir);
        // Opened once the backend is known, and again when the Compare page loads another
        // model (a failed open waits for the user instead of retrying every frame).
        let wanted = self.wanted || !self.queued.is_empty();
        let idle = self.opening.is_none() && self.work.is_none() && self.open_error.is_none();
        if wanted && idle && (self.rec.is_none() || self.model_dir.as_ref() != Some(&model)) {
            self.open(ctx, &device, model);
        }
        self.poll_opening(ctx);
        self.poll_work(ctx);
        self.poll_pick(ctx);
        if self.rec.is_some() && self.reembed_for.is_some() && self.reembed_for == self.model_dir {
            self.reembed_for = None;
            self.queued.push(Action::Reembed);
        }
        if self.work.is_none() && self.rec.is_some() && !self.queued.is_empty() {
            let next = self.queued.remove(0);
            self.start(ctx, Some(next));
        }
        self.thumbs
            .get_or_insert_with(|| Thumbnails::new(ctx))
            .poll(ctx);
    }

    fn activity(&self) -> Option<String> {
        let (label, job) = self.work.as_ref()?;
        Some(match job.progress_text() {
            Some(p) => format!("{label}, {p}"),
            None => label.clone(),
        })
    }

    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext) {
        self.wanted = true;
        // Only the map shows it (it draws every face); other views skip the sorting.
        self.frame_note = if self.left == Left::Map {
            app.frames.recent(60)
        } else {
            None
        };
        if app.device.is_none() {
            ui.label("Waiting for the compute backend...");
            return;
        }
        let mut actions = Vec::new();
        self.header_ui(ui, &mut actions);
        ui.separator();
        let dropped = drops::dropped_path(
            ui,
            "Left: enrol (a folder of people, or photos with the name typed)  ·  Right: identify a photo, or index a folder",
        );
        let on_people = ui
            .input(|i| i.pointer.hover_pos())
            .is_some_and(|p| p.x < ui.max_rect().center().x);
        if let Some(path) = dropped {
            match self.dropped(path, on_people) {
                Some(a) => actions.push(a),
                None => self.note("type the person's name first, then drop their photos".into()),
            }
        }
        let height = ui.available_height();
        ui.columns(2, |cols| {
            self.people_ui(&mut cols[0], height, &mut actions);
            self.photo_ui(&mut cols[1], height, &mut actions);
        });
        for a in actions {
            self.start(ui.ctx(), Some(a));
        }
        if let Some(dir) = self.use_model.take() {
            app.model_request = Some(dir.clone());
            self.reembed_for = Some(dir);
        }
    }
}

impl PeoplePanel {
    fn header_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("Face index: {}", self.index_path.display()));
            match (&self.listing, &self.open_error, &self.opening) {
                (_, _, Some(_)) => {
                    crate::app::busy(ui);
                    ui.label("opening...");
                }
                (_, Some(e), _) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                (Some(l), _, _) => {
                    ui.label(format!(
                        "— {} people, {} photos ({} without a face, {} unreadable), {} faces",
                        l.stats.people,
                        l.stats.photos,
                        l.stats.photos_without_faces,
                        l.stats.photos_with_errors,
                        l.stats.faces
                    ));
                }
                _ => {}
            }
        });
        if let Some(l) = self.listing.as_ref().filter(|l| l.stale > 0) {
            ui.horizontal(|ui| {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "{} faces were embedded by another model than the one open.",
                        l.stale
                    ),
                );
                if ui.button("Re-embed them with this model").clicked() {
                    actions.push(Action::Reembed);
                }
            });
        }
        ui.horizontal(|ui| {
            ui.label("threshold (cosine similarity)");
            // Zoomed where face similarities lie (as on Compare); a typed value outside is
            // kept, and the text shown is the value itself.
            ui.add(
                egui::Slider::new(&mut self.threshold, 0.5..=1.0)
                    .clamping(egui::SliderClamping::Never)
                    .custom_formatter(|v, _| format!("{}", v as f32)),
            );
            if ui
                .button(format!("model's ({:.3})", self.model_threshold))
                .clicked()
            {
                self.threshold = self.model_threshold;
            }
            ui.separator();
            ui.label("match each person by");
            ui.selectable_value(&mut self.matching, Matching::Mean, "their mean");
            ui.selectable_value(&mut self.matching, Matching::Best, "best photo");
        });
        self.progress_ui(ui);
        for line in &self.log {
            ui.label(egui::RichText::new(line).small());
        }
    }

    fn progress_ui(&mut self, ui: &mut egui::Ui) {
        let Some((label, job)) = &self.work else {
            return;
        };
        ui.horizontal(|ui| {
            crate::app::busy(ui);
            match job.progress() {
                Some(p) if p.total > 0 => {
                    let elapsed = job.started().elapsed().as_secs_f32();
                    let eta = if p.done > 0 {
                        format!(
                            ", about {:.0} s left",
                            elapsed / p.done as f32 * (p.total - p.done) as f32
                        )
                    } else {
                        String::new()
                    };
                    ui.add(
                        egui::ProgressBar::new(p.done as f32 / p.total as f32)
                            .desired_width(300.0)
                            .text(format!("{label}: {}/{} {}{eta}", p.done, p.total, p.stage)),
                    );
                }
                _ => {
                    ui.label(format!("{label}..."));
                }
            }
            if ui.button("Stop").clicked() {
                job.stop();
            }
        });
    }

    fn people_ui(&mut self, ui: &mut egui::Ui, height: f32, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.heading("People");
            ui.selectable_value(&mut self.left, Left::Enrolled, "Enrolled");
            let groups = ui
                .selectable_value(&mut self.left, Left::Groups, "Unknown groups")
                .on_hover_text("The faces nobody holds, grouped into likely people");
            if groups.clicked() && self.grouping.is_none() {
                actions.push(Action::Group(false));
            }
            let map = ui
                .selectable_value(&mut self.left, Left::Map, "Map")
                .on_hover_text("Every face at its two principal components, coloured by person");
            if map.clicked() {
                actions.push(Action::Map);
            }
            self.undo_ui(ui, actions);
        });
        match self.left {
            Left::Groups => return self.groups_ui(ui, actions),
            Left::Map => return self.map_ui(ui, height),
            Left::Enrolled => {}
        }
        self.enrol_buttons_ui(ui, actions);
        self.face_rule_ui(ui);
        self.people_grid_ui(ui, height, actions);
    }

    /// *Undo* of the last naming, merge, move, "not them" or cover choice (this page's or
    /// the command line's: the index keeps it).
    fn undo_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let last = self.listing.as_ref().and_then(|l| l.last_action.clone());
        if let Some(last) = last
            && ui
                .button("Undo")
                .on_hover_text(format!("Undo {last}"))
                .clicked()
        {
            actions.push(Action::Manage(Change::Undo));
        }
    }

    /// The name box and the buttons that enrol or index.
    fn enrol_buttons_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            ui.label("name");
            ui.add(
                egui::TextEdit::singleline(&mut self.name)
                    .hint_text("e.g. Ann")
                    .desired_width(140.0),
            );
            let named = !self.name.trim().is_empty();
            if ui
                .add_enabled(named, egui::Button::new("Add photos of them..."))
                .clicked()
            {
                actions.push(Action::Pick(PickKind::EnrolPhotos));
            }
            if ui
                .button("Add a folder of people...")
                .on_hover_text("<person>/<photos>, as LFW")
                .clicked()
            {
                actions.push(Action::Pick(PickKind::EnrolFolder));
            }
            if ui.button("Index a photo folder...").clicked() {
                actions.push(Action::Pick(PickKind::IndexFolder));
            }
        });
    }

    /// Training, the person selected, everyone enrolled and the photos found.
    fn people_grid_ui(&mut self, ui: &mut egui::Ui, height: f32, actions: &mut Vec<Action>) {
        self.train_ui(ui, actions);
        let selected = self.selected.and_then(|id| {
            let l = self.listing.as_ref()?;
            l.people
                .iter()
                .find(|(p, _)| p.id == id)
                .map(|(p, _)| p.name.clone())
        });
        if let Some(name) = &selected {
            ui.horizontal(|ui| {
                ui.strong(name);
                if ui.button(format!("Show photos of {name}")).clicked() {
                    actions.push(Action::Search(name.clone()));
                }
                if ui.button("Remove").clicked() {
                    actions.push(Action::Remove(name.clone()));
                }
            });
        }
        let grid_height = if self.hits.is_some() || self.person_faces.is_some() {
            height * 0.45
        } else {
            height - 90.0
        };
        let (Some(listing), Some(thumbs)) = (&self.listing, &mut self.thumbs) else {
            return;
        };
        if listing.people.len() > 1 && self.person_faces.is_none() {
            ui.weak("Click a person for their faces; drag a person onto another to merge them.");
        }
        if listing.people.is_empty() {
            ui.label("Nobody is enrolled yet: type a name and add their photos, or drop a folder of <person>/<photos> here.");
        }
        ui.allocate_ui(
            egui::vec2(ui.available_width(), grid_height.max(120.0)),
            |ui| match gallery::people_ui(ui, thumbs, &listing.people, self.selected) {
                Some(gallery::CardEvent::Clicked(id)) => {
                    if self.selected != Some(id) {
                        self.hits = None;
                    }
                    self.selected = Some(id);
                    actions.push(Action::PersonFaces(id));
                }
                Some(gallery::CardEvent::Dropped(onto, Dragged::Person(from))) => {
                    actions.push(Action::Manage(Change::Merge(from, onto)));
                }
                Some(gallery::CardEvent::Dropped(onto, Dragged::Faces(faces))) => {
                    actions.push(Action::Manage(Change::Move(faces, Some(onto))));
                }
                None => {}
            },
        );
        if let Some((person, hits)) = &self.hits {
            ui.separator();
            ui.strong(format!(
                "{} photo(s) of {person} at threshold {:.3}",
                hits.len(),
                self.threshold
            ));
            if let Some(photo) = gallery::hits_ui(ui, thumbs, hits) {
                actions.push(Action::Identify(photo));
            }
        } else if let Some(view) = &mut self.person_faces {
            ui.separator();
            let mut changes = Vec::new();
            view.ui(ui, thumbs, &mut changes);
            actions.extend(changes.into_iter().map(Action::Manage));
        }
    }

    fn map_ui(&mut self, ui: &mut egui::Ui, height: f32) {
        let (Some(m), Some(thumbs)) = (&self.map, &mut self.thumbs) else {
            ui.label("Mapping the faces...");
            return;
        };
        ui.label(format!(
            "{} faces at their two principal components ({:.1} s); grey: unknown",
            m.map.faces.len(),
            m.map.seconds
        ));
        m.ui(ui, thumbs, (height - 140.0).max(200.0));
        if let Some(f) = &self.frame_note {
            ui.weak(format!("UI over the last 60 frames: {f}"));
        }
    }

    /// The unknown faces' groups, the similarity that links two faces, and naming a group.
    fn groups_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            ui.label("group faces at least");
            let slider = ui.add(
                egui::Slider::new(&mut self.group_threshold, 0.80..=0.99)
                    .custom_formatter(|v, _| format!("{}", v as f32)),
            );
            ui.label("similar").on_hover_text(
                "Lower: fewer, bigger groups (more mistakes); higher: more, purer groups",
            );
            // Grouped again when the slider is let go (off the UI thread).
            if slider.drag_stopped() || slider.lost_focus() || ui.button("Group again").clicked() {
                actions.push(Action::Group(true));
            }
        });
        let (Some(g), Some(thumbs)) = (&self.grouping, &mut self.thumbs) else {
            ui.label("Grouping the unknown faces...");
            return;
        };
        ui.label(format!(
            "{} group(s) among {} unknown face(s); {} in no group ({:.1} s)",
            g.groups.len(),
            g.faces,
            g.ungrouped,
            g.seconds
        ));
        if g.groups.is_empty() {
            ui.label("No two unknown faces are this similar: index a photo folder, or lower the similarity.");
            return;
        }
        if let Some((i, name)) = groups::groups_ui(ui, thumbs, g, &mut self.group_names) {
            let faces = g.groups[i].iter().map(|f| f.face_id).collect();
            actions.push(Action::Manage(Change::Name(name, faces)));
        }
    }

    fn face_rule_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("from a photo with several faces, enrol")
                .on_hover_text("or identify the photo on the right and click the face to enrol");
            ui.selectable_value(&mut self.face_rule, FacePick::Largest, "the largest");
            ui.selectable_value(
                &mut self.face_rule,
                FacePick::NearestCentre,
                "the one nearest the centre",
            );
        });
    }

    /// Training the model on the enrolled people, and its result.
    fn train_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let trainable = self.listing.as_ref().map_or(0, |l| {
            l.people
                .iter()
                .filter(|(p, _)| p.enrolled + p.confirmed >= 2)
                .count()
        });
        ui.horizontal_wrapped(|ui| {
            let button = ui
                .add_enabled(
                    trainable >= 2 && self.work.is_none(),
                    egui::Button::new("Train the model on these people"),
                )
                .on_hover_text(
                    "Trains the dense head of the model in use further on everyone's enrolled \
                     photos (the backbone stays frozen), into a new model folder, and measures \
                     identification of held-out photos before and after.",
                )
                .on_disabled_hover_text("needs two or more people with two or more photos each");
            if button.clicked() {
                actions.push(Action::Train);
            }
            ui.add(
                egui::DragValue::new(&mut self.train_steps)
                    .range(10..=5000)
                    .suffix(" steps"),
            );
            ui.label("holding out");
            ui.add(
                egui::DragValue::new(&mut self.hold_out_percent)
                    .range(0..=50)
                    .suffix(" %"),
            )
            .on_hover_text("of each person's photos (the newest; 2 are always kept to train on)");
        });
        let Some(s) = &self.trained else { return };
        trained_ui(ui, s);
        let in_use = self.model_dir.as_ref() == Some(&s.model);
        ui.horizontal(|ui| {
            if in_use {
                ui.label(format!("In use: {}", s.model.display()));
            } else if ui
                .button("Use the trained model")
                .on_hover_text("on every page; the index is re-embedded with it")
                .clicked()
            {
                self.use_model = Some(s.model.clone());
            }
        });
    }

    fn photo_ui(&mut self, ui: &mut egui::Ui, height: f32, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.heading("Who is this?");
            let shortcut = ui.input_mut(|i| i.consume_shortcut(&crate::app::OPEN));
            if ui.button("Open photo...").on_hover_text("Ctrl+O").clicked() || shortcut {
                actions.push(Action::Pick(PickKind::Identify));
            }
        });
        let Some(view) = &mut self.view else {
            ui.label("Drop a photo here (or open one) to name every face in it.");
            return;
        };
        ui.label(
            Path::new(&view.photo.path)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
        );
        let max = egui::vec2(ui.available_width(), (height - 230.0).max(150.0));
        view.ui(ui, self.threshold, max);
        view.candidates_ui(ui, self.threshold);
        if let Some(face) = view.chosen {
            ui.horizontal(|ui| {
                let named = !self.name.trim().is_empty();
                let label = if named {
                    format!("Enrol this face as {}", self.name.trim())
                } else {
                    "Enrol this face (type a name on the left)".to_string()
                };
                if ui.add_enabled(named, egui::Button::new(label)).clicked() {
                    let photo = PathBuf::from(&view.photo.path);
                    actions.push(Action::EnrolFace(self.name.trim().to_string(), photo, face));
                }
            });
        }
    }
}

/// A finished training run: the held-out photos identified before and after.
fn trained_ui(ui: &mut egui::Ui, s: &PeopleTrainSummary) {
    match (s.before, s.after) {
        (Some(b), Some(a)) => {
            ui.label(format!(
                "Identification of {} held-out photos of {} people:",
                s.test_faces, s.test_people
            ));
            egui::Grid::new("people-trained")
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        "",
                        "rank-1",
                        "threshold",
                        "named correctly",
                        "false accepts",
                    ] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for (label, m, t) in
                        [("before", b, s.threshold_before), ("after", a, s.threshold)]
                    {
                        ui.label(label);
                        ui.label(format!("{:.1} %", 100.0 * m.rank1));
                        ui.label(format!("{t:.3}"));
                        ui.label(format!("{:.1} %", 100.0 * m.named_at_threshold));
                        ui.label(format!("{:.2} %", 100.0 * m.false_accepts_at_threshold));
                        ui.end_row();
                    }
                });
        }
        _ => {
            ui.label("Nothing was held out to measure it: a person needs 3 or more photos.");
        }
    }
}
