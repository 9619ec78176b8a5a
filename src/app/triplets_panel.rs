//! Triplets panel: draw anchor / positive / negative triplets from the training identities,
//! crop them through the MTCNN crop cache (a background job with progress and cancel),
//! preview them, and save or load them as the seed's `.npy`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use burn::tensor::Device;
use eframe::egui;
use siamese_face::Dataset;
use siamese_face::preprocess::{self, PreprocessSettings};
use siamese_face::triplets::{self, Sidecar, TripletArray};
use siamese_face::workflow::triplets::{self as workflow, Generated, TripletsPlan};
use siamese_face::workflow::{Outcome, WorkflowError};

use super::context::{AppContext, Panel, SharedTriplets};
use super::dialogs;
use super::job::{Job, Update};

const ROW: f32 = 112.0;

type JobResult = Result<Outcome<Generated>, WorkflowError>;

enum Pick {
    Save(mpsc::Receiver<Option<PathBuf>>),
    Load(mpsc::Receiver<Option<PathBuf>>),
}

pub struct TripletsPanel {
    count: usize,
    seed: u64,
    settings: PreprocessSettings,
    cache_root: PathBuf,
    job: Option<Job<JobResult>>,
    pick: Option<Pick>,
    /// The triplets shown (published to the other pages as they are).
    shown: Option<SharedTriplets>,
    textures: HashMap<(usize, usize), egui::TextureHandle>,
    message: Option<String>,
    error: Option<String>,
}

impl TripletsPanel {
    pub fn new() -> Self {
        TripletsPanel {
            count: triplets::DEFAULT_COUNT,
            seed: 0,
            settings: PreprocessSettings::default(),
            cache_root: preprocess::default_cache_root(),
            job: None,
            pick: None,
            shown: None,
            textures: HashMap::new(),
            message: None,
            error: None,
        }
    }

    #[cfg(test)]
    pub fn set_cache_root(&mut self, root: PathBuf) {
        self.cache_root = root;
    }

    #[cfg(test)]
    pub fn set_count(&mut self, count: usize) {
        self.count = count;
    }

    #[cfg(test)]
    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }

    #[cfg(test)]
    pub fn len(&self) -> Option<usize> {
        self.shown.as_ref().map(|t| t.array.len())
    }

    /// The crop settings and cache root, for the Training page's mining and validation.
    pub fn crop_setup(&self) -> (PreprocessSettings, PathBuf) {
        (self.settings, self.cache_root.clone())
    }

    /// The plan Generate runs on `dataset`.
    pub fn plan(&self, dataset: &Dataset) -> TripletsPlan {
        TripletsPlan {
            dataset: dataset.root.clone(),
            count: self.count,
            seed: self.seed,
            crops: self.settings,
            cache_root: self.cache_root.clone(),
        }
    }

    fn show(&mut self, array: TripletArray, sidecar: Option<Sidecar>, file: Option<PathBuf>) {
        self.shown = Some(SharedTriplets {
            array: Arc::new(array),
            file,
            sidecar: sidecar.map(Arc::new),
        });
        self.textures.clear();
    }

    pub fn poll(&mut self, ctx: &egui::Context) {
        let finished = self.job.as_mut().and_then(|job| {
            job.poll().into_iter().find_map(|u| match u {
                Update::Done(r) => Some((r, job.started().elapsed().as_secs_f32())),
                Update::Note(_) | Update::Train(_) => None,
            })
        });
        match finished {
            Some((r, secs)) => {
                self.job = None;
                self.finish(r, secs);
            }
            None if self.job.is_some() => ctx.request_repaint_after(Duration::from_millis(500)),
            None => {}
        }
        let picked = match &self.pick {
            Some(Pick::Save(rx)) => rx.try_recv().ok().map(|p| (true, p)),
            Some(Pick::Load(rx)) => rx.try_recv().ok().map(|p| (false, p)),
            None => None,
        };
        if let Some((save, path)) = picked {
            self.pick = None;
            if let Some(path) = path {
                if save {
                    self.save(path);
                } else {
                    self.load(path);
                }
            }
        }
    }

    fn save(&mut self, path: PathBuf) {
        let Some(shown) = &mut self.shown else { return };
        let path = if path.extension().is_some_and(|e| e == "npy") {
            path
        } else {
            path.with_extension("npy")
        };
        let result = shown.array.save(&path).and_then(|()| match &shown.sidecar {
            Some(s) => s.save(&path),
            None => Ok(()),
        });
        match result {
            Ok(()) => {
                self.message = Some(format!("Saved {}", path.display()));
                self.error = None;
                shown.file = Some(path);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn load(&mut self, path: PathBuf) {
        match TripletArray::load(&path) {
            Ok(array) => {
                let sidecar = Sidecar::load(&path).ok();
                self.message = Some(format!(
                    "Loaded {} triplets of {}x{} crops from {}{}",
                    array.len(),
                    array.size(),
                    array.size(),
                    path.display(),
                    if sidecar.is_some() {
                        ""
                    } else {
                        " (no sidecar: sources unknown)"
                    }
                ));
                self.error = None;
                self.show(array, sidecar, Some(path));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn finish(&mut self, r: JobResult, secs: f32) {
        match r {
            Ok(Outcome::Done(Generated { array, sidecar })) => {
                self.message = Some(format!(
                    "{} triplets from {} images in {secs:.1} s; {} image(s) without a usable face were centre-cropped",
                    array.len(),
                    job_images(&sidecar),
                    sidecar.fallback_crops.len()
                ));
                self.error = None;
                self.show(array, Some(sidecar), None);
            }
            Ok(Outcome::Cancelled) => self.message = Some("Cancelled".into()),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Starts drawing and cropping `count` triplets on a background thread.
    pub fn generate(&mut self, ds: Arc<Dataset>, device: Device, ctx: &egui::Context) {
        let plan = self.plan(&ds);
        let job = Job::spawn("triplets", ctx, move |control, sink| {
            workflow::run(&plan, &device, &control.stop, sink)
        });
        match job {
            Ok(job) => {
                self.message = None;
                self.job = Some(job);
            }
            Err(e) => self.error = Some(e),
        }
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&Arc<Dataset>>,
        device: Option<&Device>,
    ) {
        self.toolbar_ui(ui, dataset, device);
        ui.label(
            "Anchor and positive are two photos of one person, the negative another person; \
             all from the training identities only (LFW: peopleDevTrain). Crops come from \
             the MTCNN crop cache (images not in it yet are detected now).",
        );
        if let Some(job) = &self.job {
            ui.horizontal(|ui| {
                let (done, total) = job.progress().map_or((0, 0), |p| (p.done, p.total));
                let frac = if total > 0 {
                    done as f32 / total as f32
                } else {
                    0.0
                };
                ui.add(
                    egui::ProgressBar::new(frac)
                        .desired_width(300.0)
                        .text(format!("{done} / {total} face crops")),
                );
                if ui.button("Cancel").clicked() {
                    job.stop();
                }
            });
        }
        if let Some(m) = &self.message {
            ui.label(m);
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.separator();
        self.grid(ui);
    }

    /// Count, seed and crop settings; Generate, Save and Load.
    fn toolbar_ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&Arc<Dataset>>,
        device: Option<&Device>,
    ) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Triplets");
            ui.add(egui::DragValue::new(&mut self.count).range(1..=100_000));
            ui.label("seed");
            ui.add(egui::DragValue::new(&mut self.seed));
            ui.label("crop");
            ui.add(
                egui::DragValue::new(&mut self.settings.crop.size)
                    .range(32..=320)
                    .suffix(" px"),
            );
            ui.checkbox(&mut self.settings.crop.align, "aligned");
            let can_generate = self.job.is_none() && dataset.is_some() && device.is_some();
            let generate = ui
                .add_enabled(can_generate, egui::Button::new("Generate"))
                .on_disabled_hover_text("Needs a dataset (Dataset page) and the compute backend");
            if generate.clicked()
                && let (Some(ds), Some(device)) = (dataset, device)
            {
                self.generate(ds.clone(), device.clone(), ui.ctx());
            }
            ui.separator();
            let idle = self.pick.is_none() && self.job.is_none();
            if ui
                .add_enabled(
                    idle && self.shown.is_some(),
                    egui::Button::new("Save .npy..."),
                )
                .clicked()
            {
                self.pick = Some(Pick::Save(dialogs::spawn(ui.ctx(), || {
                    rfd::FileDialog::new()
                        .set_title("Save triplets")
                        .add_filter("NumPy array", &["npy"])
                        .set_file_name("triplets.npy")
                        .save_file()
                })));
            }
            if ui
                .add_enabled(idle, egui::Button::new("Load .npy..."))
                .clicked()
            {
                self.pick = Some(Pick::Load(dialogs::spawn(ui.ctx(), || {
                    rfd::FileDialog::new()
                        .set_title("Load triplets")
                        .add_filter("NumPy array", &["npy"])
                        .pick_file()
                })));
            }
        });
    }

    fn grid(&mut self, ui: &mut egui::Ui) {
        let Some(array) = self.shown.as_ref().map(|t| t.array.clone()) else {
            ui.label("Generate triplets, or load a .npy of shape (N, 3, S, S, 3).");
            return;
        };
        ui.horizontal(|ui| {
            ui.add_sized([40.0, 16.0], egui::Label::new("#"));
            for title in ["anchor", "positive", "negative"] {
                ui.add_sized(
                    [ROW, 16.0],
                    egui::Label::new(egui::RichText::new(title).strong()),
                );
            }
        });
        let ctx = ui.ctx().clone();
        egui::ScrollArea::vertical()
            .id_salt("triplet_rows")
            .auto_shrink(false)
            .show_rows(ui, ROW + 6.0, array.len(), |ui, rows| {
                for i in rows {
                    ui.horizontal(|ui| {
                        ui.add_sized([40.0, ROW], egui::Label::new(format!("{}", i + 1)));
                        for which in 0..3 {
                            let tex = self.textures.entry((i, which)).or_insert_with(|| {
                                let img = array.crop(i, which);
                                let size = [img.width() as usize, img.height() as usize];
                                ctx.load_texture(
                                    format!("triplet-{i}-{which}"),
                                    egui::ColorImage::from_rgb(size, img.as_raw()),
                                    Default::default(),
                                )
                            });
                            let source = self
                                .shown
                                .as_ref()
                                .and_then(|t| t.sidecar.as_ref())
                                .and_then(|s| s.triplets.get(i))
                                .map(|t| [&t.anchor, &t.positive, &t.negative][which].clone());
                            let r = ui.add(
                                egui::Image::new(&*tex).fit_to_exact_size(egui::vec2(ROW, ROW)),
                            );
                            if let Some(source) = source {
                                r.on_hover_text(source);
                            }
                        }
                        let sidecar = self.shown.as_ref().and_then(|t| t.sidecar.as_ref());
                        if let Some(t) = sidecar.and_then(|s| s.triplets.get(i)) {
                            ui.label(format!("{}\nvs {}", person(&t.anchor), person(&t.negative)));
                        }
                    });
                }
            });
        // Keep texture memory bounded when scrolling through thousands of rows.
        if self.textures.len() > 3000 {
            self.textures.clear();
        }
    }
}

fn person(path: &str) -> String {
    path.split('/').next().unwrap_or(path).replace('_', " ")
}

fn job_images(s: &Sidecar) -> usize {
    let mut all: Vec<&str> = s
        .triplets
        .iter()
        .flat_map(|t| [t.anchor.as_str(), t.positive.as_str(), t.negative.as_str()])
        .collect();
    all.sort_unstable();
    all.dedup();
    all.len()
}

impl Panel for TripletsPanel {
    fn poll(&mut self, ctx: &egui::Context, app: &mut AppContext) {
        TripletsPanel::poll(self, ctx);
        app.crops = self.crop_setup();
        app.triplets = self.shown.clone();
    }

    fn activity(&self) -> Option<String> {
        self.job.as_ref().map(Job::status)
    }

    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext) {
        TripletsPanel::ui(self, ui, app.dataset.as_ref(), app.device.as_ref());
    }
}
