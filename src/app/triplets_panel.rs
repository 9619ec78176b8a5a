//! Triplets panel: draw anchor / positive / negative triplets from the training identities,
//! crop them through the MTCNN crop cache (a background job with progress and cancel),
//! preview them, and save or load them as the seed's `.npy`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use eframe::egui;
use siamese_face::Dataset;
use siamese_face::detect::Detector;
use siamese_face::preprocess::{self, CropCache, PreprocessSettings};
use siamese_face::triplets::{self, Sidecar, TripletArray};

use super::dialogs;

const ROW: f32 = 112.0;

enum JobMsg {
    Progress(usize, usize),
    Done(Result<(TripletArray, Sidecar), String>),
}

struct Job {
    cancel: Arc<AtomicBool>,
    rx: mpsc::Receiver<JobMsg>,
    done: usize,
    total: usize,
    started: Instant,
}

enum Pick {
    Save(mpsc::Receiver<Option<PathBuf>>),
    Load(mpsc::Receiver<Option<PathBuf>>),
}

pub struct TripletsPanel {
    count: usize,
    seed: u64,
    settings: PreprocessSettings,
    cache_root: PathBuf,
    job: Option<Job>,
    pick: Option<Pick>,
    array: Option<Arc<TripletArray>>,
    sidecar: Option<Sidecar>,
    /// Where the shown triplets came from or were saved to.
    file: Option<PathBuf>,
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
            array: None,
            sidecar: None,
            file: None,
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
        self.array.as_ref().map(|a| a.len())
    }

    /// The crop settings and cache root, for the Training page's mining and validation.
    pub fn crop_setup(&self) -> (PreprocessSettings, PathBuf) {
        (self.settings, self.cache_root.clone())
    }

    /// The triplets shown, for the Training page.
    pub fn current(&self) -> Option<Arc<TripletArray>> {
        self.array.clone()
    }

    fn show(&mut self, array: TripletArray, sidecar: Option<Sidecar>, file: Option<PathBuf>) {
        self.array = Some(Arc::new(array));
        self.sidecar = sidecar;
        self.file = file;
        self.textures.clear();
    }

    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(job) = &mut self.job {
            let mut finished = None;
            while let Ok(msg) = job.rx.try_recv() {
                match msg {
                    JobMsg::Progress(d, t) => (job.done, job.total) = (d, t),
                    JobMsg::Done(r) => finished = Some(r),
                }
            }
            if let Some(r) = finished {
                let secs = job.started.elapsed().as_secs_f32();
                self.job = None;
                match r {
                    Ok((array, sidecar)) => {
                        self.message = Some(format!(
                            "{} triplets from {} images in {secs:.1} s; {} image(s) without a usable face were centre-cropped",
                            array.len(),
                            job_images(&sidecar),
                            sidecar.fallback_crops.len()
                        ));
                        self.error = None;
                        self.show(array, Some(sidecar), None);
                    }
                    Err(e) => self.error = Some(e),
                }
            } else {
                ctx.request_repaint_after(Duration::from_millis(100));
            }
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
        let Some(array) = &self.array else { return };
        let path = if path.extension().is_some_and(|e| e == "npy") {
            path
        } else {
            path.with_extension("npy")
        };
        let result = array.save(&path).and_then(|()| match &self.sidecar {
            Some(s) => s.save(&path),
            None => Ok(()),
        });
        match result {
            Ok(()) => {
                self.message = Some(format!("Saved {}", path.display()));
                self.error = None;
                self.file = Some(path);
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

    /// Starts drawing and cropping `count` triplets on a background thread.
    pub fn generate(&mut self, ds: Arc<Dataset>, device: Device, ctx: &egui::Context) {
        let (count, seed, settings) = (self.count, self.seed, self.settings);
        let root = self.cache_root.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let job_cancel = cancel.clone();
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name("triplets".into())
            .spawn(move || {
                let result = (|| {
                    let identities = match ds.dev_split() {
                        Ok(split) => split.train,
                        Err(_) => ds.people.iter().map(|p| p.name.clone()).collect(),
                    };
                    let sources =
                        triplets::draw(&ds, &identities, count, seed).map_err(|e| e.to_string())?;
                    let dir = CropCache::dir_for(&root, &ds, &settings);
                    let mut cache =
                        CropCache::open(&dir, &ds, &settings).map_err(|e| e.to_string())?;
                    let detector = Detector::new(&device).map_err(|e| e.to_string())?;
                    let mut last = Instant::now();
                    let (array, fallbacks) = triplets::crops(
                        &ds,
                        &sources,
                        &mut cache,
                        &detector,
                        &job_cancel,
                        |d, t| {
                            if last.elapsed() > Duration::from_millis(100) || d == t {
                                last = Instant::now();
                                let _ = tx.send(JobMsg::Progress(d, t));
                                ctx.request_repaint();
                            }
                        },
                    )
                    .map_err(|e| e.to_string())?;
                    let sidecar = Sidecar {
                        dataset: ds.root.clone(),
                        seed,
                        crops: settings.key(),
                        fallback_crops: fallbacks,
                        triplets: sources,
                    };
                    Ok((array, sidecar))
                })();
                let _ = tx.send(JobMsg::Done(result));
                ctx.request_repaint();
            })
            .expect("spawning a thread");
        self.message = None;
        self.job = Some(Job {
            cancel,
            rx,
            done: 0,
            total: 0,
            started: Instant::now(),
        });
    }

    pub fn ui(
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
                    idle && self.array.is_some(),
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
        ui.label(
            "Anchor and positive are two photos of one person, the negative another person; \
             all from the training identities only (LFW: peopleDevTrain). Crops come from \
             the MTCNN crop cache (images not in it yet are detected now).",
        );
        if let Some(job) = &self.job {
            ui.horizontal(|ui| {
                let frac = if job.total > 0 {
                    job.done as f32 / job.total as f32
                } else {
                    0.0
                };
                ui.add(
                    egui::ProgressBar::new(frac)
                        .desired_width(300.0)
                        .text(format!("{} / {} face crops", job.done, job.total)),
                );
                if ui.button("Cancel").clicked() {
                    job.cancel.store(true, Ordering::Relaxed);
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

    fn grid(&mut self, ui: &mut egui::Ui) {
        let Some(array) = self.array.clone() else {
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
                                .sidecar
                                .as_ref()
                                .and_then(|s| s.triplets.get(i))
                                .map(|t| [&t.anchor, &t.positive, &t.negative][which].clone());
                            let r = ui.add(
                                egui::Image::new(&*tex).fit_to_exact_size(egui::vec2(ROW, ROW)),
                            );
                            if let Some(source) = source {
                                r.on_hover_text(source);
                            }
                        }
                        if let Some(t) = self.sidecar.as_ref().and_then(|s| s.triplets.get(i)) {
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
