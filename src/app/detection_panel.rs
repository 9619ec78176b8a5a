//! Detection panel: MTCNN on any image (opened, dropped, or taken from the dataset) with
//! boxes, scores and landmarks drawn over it, live threshold sliders, the face crops beside
//! it, and the dataset preprocessing job (detect + crop every image into the crop cache).

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::context::{AppContext, Go, Panel};
use super::job::{Job, Update};
use burn::tensor::Device;
use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui;
use image::RgbImage;
use siamese_face::crop::{self, CropConfig, FacePick};
use siamese_face::detect::{Detection, Detector, DetectorConfig};
use siamese_face::preprocess::{self as crop_cache, PreprocessSettings};
use siamese_face::workflow::preprocess::{self, PreprocessPlan, Preprocessed};
use siamese_face::workflow::{Outcome, WorkflowError};
use siamese_face::{Dataset, imageio};

/// Images are shown (not detected) at most this large, to stay within texture limits.
const DISPLAY_MAX_SIDE: u32 = 2048;

enum Source {
    Path(PathBuf),
    Loaded(PathBuf, Arc<RgbImage>),
}

struct Request {
    id: u64,
    source: Source,
    detector: DetectorConfig,
    crop: CropConfig,
    device: Device,
}

/// What the worker sends back for one request.
struct Reply {
    id: u64,
    path: PathBuf,
    /// Set when the request loaded a new image: the decoded image and a display copy.
    loaded: Option<(Arc<RgbImage>, egui::ColorImage)>,
    result: Result<Detected, String>,
}

struct Detected {
    detection: Detection,
    crops: Vec<egui::ColorImage>,
    /// The face the dataset job would keep (nearest the centre among accepted ones).
    chosen: Option<usize>,
    elapsed: Duration,
}

/// One thread owns the detector; it only ever runs the newest request, so dragging a
/// slider never queues up stale detections.
fn spawn_worker(ctx: egui::Context) -> (Sender<Request>, Receiver<Reply>) {
    let (req_tx, req_rx) = unbounded::<Request>();
    let (reply_tx, reply_rx) = unbounded::<Reply>();
    std::thread::Builder::new()
        .name("detection".into())
        .spawn(move || {
            let mut detector: Option<Detector> = None;
            while let Ok(mut req) = req_rx.recv() {
                // Only the newest request matters (the panel re-sends the image's path
                // while a load is outstanding, so skipping never loses an image).
                while let Ok(next) = req_rx.try_recv() {
                    req = next;
                }
                let reply = handle(&mut detector, req);
                if reply_tx.send(reply).is_err() {
                    break;
                }
                ctx.request_repaint();
            }
        })
        .expect("spawning a thread");
    (req_tx, reply_rx)
}

fn to_color_image(img: &RgbImage) -> egui::ColorImage {
    egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw())
}

fn handle(detector: &mut Option<Detector>, req: Request) -> Reply {
    let (path, image, loaded) = match req.source {
        Source::Loaded(path, image) => (path, image, None),
        Source::Path(path) => match imageio::load_rgb(&path) {
            Ok(img) => {
                let img = Arc::new(img);
                let (w, h) = (img.width(), img.height());
                let display = if w.max(h) > DISPLAY_MAX_SIDE {
                    // Aspect ratio kept, so box coordinates scale the same on both axes.
                    let k = DISPLAY_MAX_SIDE as f64 / w.max(h) as f64;
                    let (dw, dh) = (
                        ((w as f64 * k).round() as u32).max(1),
                        ((h as f64 * k).round() as u32).max(1),
                    );
                    to_color_image(&image::imageops::thumbnail(img.as_ref(), dw, dh))
                } else {
                    to_color_image(&img)
                };
                (path, img.clone(), Some((img, display)))
            }
            Err(e) => {
                return Reply {
                    id: req.id,
                    path,
                    loaded: None,
                    result: Err(e.to_string()),
                };
            }
        },
    };
    let result = (|| {
        if detector.is_none() {
            *detector = Some(Detector::new(&req.device).map_err(|e| e.to_string())?);
        }
        let det = detector.as_ref().expect("just created");
        let start = Instant::now();
        // As everywhere else: a photo cropped close to the face is looked at again with a
        // border, so the boxes and landmarks shown are the ones the crops are cut from.
        let detection = det
            .detect_or_pad(&image, &req.detector, |f| req.crop.accepts(f))
            .map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        let crops = detection
            .faces
            .iter()
            .map(|f| to_color_image(&crop::crop_face(&image, f, &req.crop)))
            .collect();
        let chosen = crop::pick_face(
            &detection.faces,
            image.width(),
            image.height(),
            &req.crop,
            FacePick::NearestCentre,
        );
        Ok(Detected {
            detection,
            crops,
            chosen,
            elapsed,
        })
    })();
    Reply {
        id: req.id,
        path,
        loaded,
        result,
    }
}

struct Shown {
    path: PathBuf,
    image: Arc<RgbImage>,
    texture: egui::TextureHandle,
}

type JobResult = Result<Outcome<Preprocessed>, WorkflowError>;

pub struct DetectionPanel {
    requests: Sender<Request>,
    replies: Receiver<Reply>,
    next_id: u64,
    /// The newest request sent; replies to older ones are dropped.
    latest: u64,
    busy: bool,
    shown: Option<Shown>,
    result: Option<Detected>,
    crop_textures: Vec<egui::TextureHandle>,
    error: Option<String>,
    detector: DetectorConfig,
    crop: CropConfig,
    file_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    /// A path chosen in the file dialog, opened at the next frame (which has the device).
    pending_open: Option<PathBuf>,
    /// The image being loaded, while its load is outstanding.
    loading: Option<PathBuf>,
    /// The dataset's images in sorted order, for stepping through them.
    dataset_images: Option<(PathBuf, Arc<Vec<String>>)>,
    /// The dataset image shown (its place in the sorted list); none for a file from disk.
    dataset_index: Option<usize>,
    job: Option<Job<JobResult>>,
    job_summary: Option<String>,
    /// The image shown, asked for on another page (Compare).
    go: Option<Go>,
    /// Where the preprocessing job keeps its crop caches.
    cache_root: PathBuf,
}

impl DetectionPanel {
    pub fn new(ctx: &egui::Context) -> Self {
        let (requests, replies) = spawn_worker(ctx.clone());
        DetectionPanel {
            requests,
            replies,
            next_id: 0,
            latest: 0,
            busy: false,
            shown: None,
            result: None,
            crop_textures: Vec::new(),
            error: None,
            detector: DetectorConfig::default(),
            crop: CropConfig::default(),
            file_pick: None,
            pending_open: None,
            loading: None,
            dataset_images: None,
            dataset_index: None,
            job: None,
            job_summary: None,
            go: None,
            cache_root: crop_cache::default_cache_root(),
        }
    }

    #[cfg(test)]
    pub fn set_cache_root(&mut self, root: PathBuf) {
        self.cache_root = root;
    }

    /// Opens `path` as soon as the compute backend is known.
    pub fn open_when_ready(&mut self, path: PathBuf) {
        self.pending_open = Some(path);
    }

    /// Loads `path` and detects faces in it (on the worker thread).
    pub fn open(&mut self, path: PathBuf, device: &Device) {
        // A file from disk; stepping through the dataset sets its place after this.
        self.dataset_index = None;
        self.loading = Some(path.clone());
        self.send(Source::Path(path), device);
    }

    fn send(&mut self, source: Source, device: &Device) {
        self.next_id += 1;
        self.latest = self.next_id;
        self.busy = true;
        let _ = self.requests.send(Request {
            id: self.next_id,
            source,
            detector: self.detector,
            crop: self.crop,
            device: device.clone(),
        });
    }

    /// Re-runs detection on the image shown, with the current settings.
    fn redetect(&mut self, device: &Device) {
        if let Some(path) = self.loading.clone() {
            self.send(Source::Path(path), device);
        } else if let Some(s) = &self.shown {
            let source = Source::Loaded(s.path.clone(), s.image.clone());
            self.send(source, device);
        }
    }

    /// Whether a detection or preprocessing job is running (tests wait on this).
    #[cfg(test)]
    pub fn is_busy(&self) -> bool {
        self.busy || self.job.is_some() || self.file_pick.is_some()
    }

    #[cfg(test)]
    pub fn faces_found(&self) -> Option<usize> {
        self.result.as_ref().map(|r| r.detection.faces.len())
    }

    pub fn poll(&mut self, ctx: &egui::Context) {
        while let Ok(reply) = self.replies.try_recv() {
            if let Some((image, display)) = reply.loaded {
                let texture = ctx.load_texture("detection-image", display, Default::default());
                self.shown = Some(Shown {
                    path: reply.path.clone(),
                    image,
                    texture,
                });
                self.result = None;
                self.crop_textures.clear();
            }
            if reply.id != self.latest {
                continue;
            }
            self.busy = false;
            self.loading = None;
            match reply.result {
                Ok(detected) => {
                    self.crop_textures = detected
                        .crops
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            ctx.load_texture(format!("crop-{i}"), c.clone(), Default::default())
                        })
                        .collect();
                    self.result = Some(detected);
                    self.error = None;
                }
                // The image and faces shown before stay; the error says what failed.
                Err(e) => self.error = Some(format!("{}: {e}", reply.path.display())),
            }
        }
        if let Some(rx) = &self.file_pick
            && let Ok(picked) = rx.try_recv()
        {
            self.file_pick = None;
            if let Some(path) = picked {
                self.pending_open = Some(path);
            }
        }
        if let Some(job) = &mut self.job {
            let finished = job.poll().into_iter().find_map(|u| match u {
                Update::Done(r) => Some(r),
                Update::Note(_) | Update::Train(_) => None,
            });
            if let Some(r) = finished {
                let secs = job.started().elapsed().as_secs_f32();
                self.job_summary = Some(match r {
                    Ok(Outcome::Done(Preprocessed {
                        progress: p,
                        cache_dir: dir,
                    })) => format!(
                        "{}{} of {} images: {} cropped ({} reused from the cache, {} chosen among several faces), {} without a usable face, {} errors, in {secs:.0} s. Crops in {}",
                        if p.cancelled { "Cancelled after " } else { "" },
                        p.done,
                        p.total,
                        p.cropped,
                        p.cached,
                        p.several_faces,
                        p.no_face,
                        p.errors,
                        dir.display()
                    ),
                    Ok(Outcome::Cancelled) => "Cancelled".into(),
                    Err(e) => format!("Preprocessing failed: {e}"),
                });
                self.job = None;
            } else {
                ctx.request_repaint_after(Duration::from_millis(500));
            }
        }
    }
}

impl DetectionPanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&Arc<Dataset>>,
        device: Option<&Device>,
    ) {
        let Some(device) = device else {
            ui.heading("Detection");
            ui.horizontal(|ui| {
                crate::app::busy(ui);
                ui.label("Waiting for the compute backend…");
            });
            return;
        };
        if let Some(path) = self.pending_open.take() {
            self.open(path, device);
        }
        self.toolbar(ui, dataset, device);
        ui.separator();
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        egui::Panel::left("detection_settings")
            .resizable(false)
            .default_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("detection_settings_scroll")
                    .show(ui, |ui| self.settings(ui, dataset, device));
            });
        egui::Panel::right("detection_crops")
            .default_size(230.0)
            .min_size(180.0)
            .show(ui, |ui| self.crops(ui));
        egui::CentralPanel::default().show(ui, |ui| self.image_view(ui));
        self.handle_drops(ui, device);
    }

    fn toolbar(&mut self, ui: &mut egui::Ui, dataset: Option<&Arc<Dataset>>, device: &Device) {
        // Wrapped, so a narrow window gets two rows instead of a page wider than itself.
        ui.horizontal_wrapped(|ui| {
            let shortcut = ui.input_mut(|i| i.consume_shortcut(&super::OPEN));
            if (ui
                .add_enabled(self.file_pick.is_none(), egui::Button::new("Open image..."))
                .on_hover_text("Ctrl+O")
                .clicked()
                || shortcut)
                && self.file_pick.is_none()
            {
                self.pick_file(ui.ctx());
            }
            ui.separator();
            let images = dataset.map(|ds| self.dataset_images(ds));
            ui.add_enabled_ui(images.as_ref().is_some_and(|i| !i.is_empty()), |ui| {
                let n = images.as_ref().map_or(0, |i| i.len()).max(1);
                let mut step = None;
                // From no dataset image, Next is the first and Previous the last; the arrow
                // keys do the same while no text field has the focus.
                let typing = ui.ctx().egui_wants_keyboard_input();
                let ctx = ui.ctx().clone();
                let key = |k| !typing && ctx.input(|i| i.key_pressed(k));
                let previous = ui.button("Previous").on_hover_text("Left arrow");
                if previous.clicked() || key(egui::Key::ArrowLeft) {
                    step = Some(self.dataset_index.map_or(n - 1, |i| (i + n - 1) % n));
                }
                let next = ui.button("Next").on_hover_text("Right arrow");
                if next.clicked() || key(egui::Key::ArrowRight) {
                    step = Some(self.dataset_index.map_or(0, |i| (i + 1) % n));
                }
                if ui.button("Random").clicked() {
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos() as usize);
                    step = Some(nanos.wrapping_mul(2_654_435_761) % n.max(1));
                }
                match self.dataset_index {
                    Some(i) => ui.label(format!("dataset image {} of {n}", i + 1)),
                    None => ui.label("the dataset's images"),
                };
                if let (Some(i), Some(images), Some(ds)) = (step, &images, dataset) {
                    self.open(ds.image_root.join(&images[i]), device);
                    self.dataset_index = Some(i);
                }
            });
            ui.separator();
            if self.busy {
                crate::app::busy(ui);
                ui.label("Detecting…");
            } else if let (Some(r), Some(s)) = (&self.result, &self.shown) {
                ui.label(format!(
                    "{}  {}x{}  {} face(s) in {:.0} ms{}",
                    file_name(&s.path),
                    s.image.width(),
                    s.image.height(),
                    r.detection.faces.len(),
                    r.elapsed.as_secs_f64() * 1e3,
                    if r.detection.padded {
                        "  (cropped close to the face: found with a border added)"
                    } else {
                        ""
                    }
                ))
                .on_hover_text(s.path.display().to_string());
                // Click-through: this photo on the Compare page.
                for (slot, side) in [(0, "A"), (1, "B")] {
                    if ui
                        .small_button(format!("Compare as {side}"))
                        .on_hover_text(format!("Open this photo on the Compare page, side {side}"))
                        .clicked()
                    {
                        self.go = Some(Go::Compare(slot, s.path.clone()));
                    }
                }
            }
        });
    }

    /// The dataset's images in sorted order, computed once per dataset.
    fn dataset_images(&mut self, ds: &Arc<Dataset>) -> Arc<Vec<String>> {
        match &self.dataset_images {
            Some((root, images)) if *root == ds.root => images.clone(),
            _ => {
                let images = Arc::new(ds.sorted_images());
                self.dataset_images = Some((ds.root.clone(), images.clone()));
                self.dataset_index = None;
                images
            }
        }
    }

    fn settings(&mut self, ui: &mut egui::Ui, dataset: Option<&Arc<Dataset>>, device: &Device) {
        let mut changed = false;
        ui.heading("Detector");
        ui.label("MTCNN probability thresholds");
        let names = ["P-Net", "R-Net", "O-Net"];
        for (t, name) in self.detector.thresholds.iter_mut().zip(names) {
            changed |= ui
                .add(egui::Slider::new(t, 0.05..=0.99).step_by(0.01).text(name))
                .changed();
        }
        changed |= ui
            .add(
                egui::Slider::new(&mut self.detector.min_face_size, 12.0..=200.0)
                    .step_by(1.0)
                    .suffix(" px")
                    .text("min face"),
            )
            .on_hover_text("Smallest face the image pyramid searches for")
            .changed();
        ui.add_space(8.0);
        ui.heading("Crops");
        changed |= ui
            .add(
                egui::Slider::new(&mut self.crop.size, 32..=320)
                    .suffix(" px")
                    .text("size"),
            )
            .on_hover_text("Side of the square crops the network sees")
            .changed();
        changed |= ui
            .add(egui::Slider::new(&mut self.crop.margin, 0.0..=1.0).text("margin"))
            .on_hover_text("Context around the face, as a fraction of its size")
            .changed();
        changed |= ui
            .checkbox(&mut self.crop.align, "Align on the landmarks")
            .on_hover_text("Similarity transform of the five points onto a canonical template")
            .changed();
        changed |= ui
            .add(
                egui::Slider::new(&mut self.crop.min_score, 0.5..=1.0)
                    .step_by(0.01)
                    .text("min probability"),
            )
            .on_hover_text("Faces O-Net is less sure of are not cropped")
            .changed();
        changed |= ui
            .add(
                egui::Slider::new(&mut self.crop.min_face_size, 0.0..=200.0)
                    .step_by(1.0)
                    .suffix(" px")
                    .text("min crop face"),
            )
            .on_hover_text(
                "Faces smaller than this (box side, in the photo's pixels) are not cropped",
            )
            .changed();
        if ui.button("Defaults").clicked() {
            self.detector = DetectorConfig::default();
            self.crop = CropConfig::default();
            changed = true;
        }
        if changed {
            self.redetect(device);
        }
        self.preprocessing_ui(ui, dataset, device);
    }

    /// The dataset-wide preprocessing job: start, progress with counts and ETA, cancel.
    fn preprocessing_ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&Arc<Dataset>>,
        device: &Device,
    ) {
        ui.add_space(8.0);
        ui.separator();
        ui.heading("Dataset preprocessing");
        ui.label(
            "Detect and crop every image of the dataset once with these settings; training \
             and evaluation read the cached crops. Images with several faces keep the one \
             nearest the centre.",
        );
        match (&self.job, dataset) {
            (Some(job), _) => {
                let p = job
                    .progress()
                    .and_then(|p| p.crops.clone())
                    .unwrap_or_default();
                let frac = if p.total > 0 {
                    p.done as f32 / p.total as f32
                } else {
                    0.0
                };
                ui.add(egui::ProgressBar::new(frac).text(format!("{} / {}", p.done, p.total)));
                let secs = job.started().elapsed().as_secs_f32();
                let fresh = p.done.saturating_sub(p.cached);
                let eta = if fresh > 0 {
                    format!(
                        ", about {:.0} s left",
                        secs / fresh as f32 * (p.total - p.done) as f32
                    )
                } else {
                    String::new()
                };
                ui.label(format!(
                    "{} cropped, {} without a face, {} errors{eta}",
                    p.cropped, p.no_face, p.errors
                ));
                if ui.button("Cancel").clicked() {
                    job.stop();
                }
            }
            (None, Some(ds)) => {
                if ui
                    .button(format!("Preprocess {} images", ds.image_count()))
                    .clicked()
                {
                    self.start_job(ds.clone(), device.clone(), ui.ctx());
                }
            }
            (None, None) => {
                ui.label("Open a dataset on the Dataset page first.");
            }
        }
        if let Some(s) = &self.job_summary {
            ui.label(s);
        }
    }

    /// The plan "Preprocess" runs on `dataset` with the page's settings.
    pub fn plan(&self, dataset: &Dataset) -> PreprocessPlan {
        PreprocessPlan {
            dataset: dataset.root.clone(),
            crops: PreprocessSettings {
                detector: self.detector,
                crop: self.crop,
                pick: FacePick::NearestCentre,
            },
            cache_root: self.cache_root.clone(),
        }
    }

    fn start_job(&mut self, ds: Arc<Dataset>, device: Device, ctx: &egui::Context) {
        let plan = self.plan(&ds);
        let job = Job::spawn("preprocess", ctx, move |control, sink| {
            preprocess::run(&plan, &device, &control.stop, sink)
        });
        match job {
            Ok(job) => {
                self.job_summary = None;
                self.job = Some(job);
            }
            Err(e) => self.job_summary = Some(e),
        }
    }

    fn crops(&mut self, ui: &mut egui::Ui) {
        ui.heading("Face crops");
        let Some(r) = &self.result else {
            ui.label("Crops of the detected faces appear here.");
            return;
        };
        if r.detection.faces.is_empty() {
            ui.label("No face found. Lower the thresholds or the minimum face size.");
            return;
        }
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(egui::Color32::from_rgb(60, 220, 90), "green");
            ui.label("kept for the dataset,");
            ui.colored_label(egui::Color32::from_rgb(255, 200, 40), "yellow");
            ui.label("passes the filters,");
            ui.colored_label(egui::Color32::from_gray(170), "grey");
            ui.label("filtered out");
        });
        ui.add_space(4.0);
        let side = (self.crop.size as f32).clamp(64.0, 160.0);
        egui::ScrollArea::vertical()
            .id_salt("detection_crops_scroll")
            .show(ui, |ui| {
                for (i, (face, tex)) in r
                    .detection
                    .faces
                    .iter()
                    .zip(&self.crop_textures)
                    .enumerate()
                {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(side, side)));
                    let status = if r.chosen == Some(i) {
                        "kept for the dataset"
                    } else if self.crop.accepts(face) {
                        "passes the filters"
                    } else {
                        "filtered out"
                    };
                    ui.label(format!(
                        "Face {}: p = {:.4}, {:.0}x{:.0} px, {status}",
                        i + 1,
                        face.score,
                        face.width(),
                        face.height()
                    ));
                    ui.add_space(6.0);
                }
            });
    }

    fn image_view(&mut self, ui: &mut egui::Ui) {
        let Some(shown) = &self.shown else {
            ui.add_space(24.0);
            ui.label(
                "Open an image (or drop one on this window, or step through the dataset) to \
                 see MTCNN's faces: boxes with probabilities, and the five landmarks.",
            );
            return;
        };
        let tex_size = shown.texture.size_vec2();
        let avail = ui.available_size();
        let scale = (avail.x / tex_size.x).min(avail.y / tex_size.y).min(4.0);
        let (rect, _) = ui.allocate_exact_size(tex_size * scale, egui::Sense::hover());
        let painter = ui.painter_at(rect);
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(shown.texture.id(), rect, uv, egui::Color32::WHITE);
        let Some(r) = &self.result else { return };
        // Image pixels -> screen points.
        let k = rect.width() / shown.image.width() as f32;
        let at = |x: f32, y: f32| rect.min + egui::vec2(x * k, y * k);
        let mut placed: Vec<egui::Rect> = Vec::new();
        for (i, f) in r.detection.faces.iter().enumerate() {
            let color = if r.chosen == Some(i) {
                egui::Color32::from_rgb(60, 220, 90)
            } else if self.crop.accepts(f) {
                egui::Color32::from_rgb(255, 200, 40)
            } else {
                egui::Color32::from_gray(170)
            };
            let b = egui::Rect::from_min_max(at(f.bbox[0], f.bbox[1]), at(f.bbox[2], f.bbox[3]));
            painter.rect_stroke(
                b,
                0.0,
                egui::Stroke::new(2.0, color),
                egui::StrokeKind::Middle,
            );
            let galley = painter.layout_no_wrap(
                format!("{}  {:.3}", i + 1, f.score),
                egui::FontId::proportional(14.0),
                egui::Color32::BLACK,
            );
            let label = label_place(galley.size() + egui::vec2(6.0, 2.0), b, rect, &placed);
            placed.push(label);
            painter.rect_filled(label, 2.0, color);
            painter.galley(
                label.min + egui::vec2(3.0, 1.0),
                galley,
                egui::Color32::BLACK,
            );
            for p in &f.landmarks {
                painter.circle(
                    at(p[0], p[1]),
                    3.5,
                    egui::Color32::from_rgb(255, 60, 60),
                    egui::Stroke::new(1.0, egui::Color32::WHITE),
                );
            }
        }
    }

    fn pick_file(&mut self, ctx: &egui::Context) {
        self.file_pick = Some(super::dialogs::spawn(ctx, || {
            rfd::FileDialog::new()
                .set_title("Open an image")
                .add_filter(
                    "Images",
                    &[
                        "jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp", "pnm", "ppm",
                        "pgm",
                    ],
                )
                .add_filter("All files", &["*"])
                .pick_file()
        }));
    }

    fn handle_drops(&mut self, ui: &egui::Ui, device: &Device) {
        let dropped = super::drops::dropped_path(ui, "Drop an image to find its faces");
        if let Some(path) = dropped {
            if path.is_file() {
                self.open(path, device);
            } else {
                self.error = Some(format!("{} is not a file", path.display()));
            }
        }
    }
}

/// Where a face's label goes: above its box, else inside its top, else below it, else
/// inside its bottom, the first that overlaps no label already placed; always inside the
/// image (`bounds`), so no label is cut off at the edge.
fn label_place(
    size: egui::Vec2,
    face: egui::Rect,
    bounds: egui::Rect,
    placed: &[egui::Rect],
) -> egui::Rect {
    let inside = |min: egui::Pos2| {
        let max = (bounds.max - size).max(bounds.min);
        egui::Rect::from_min_size(min.clamp(bounds.min, max), size)
    };
    let tries = [
        face.left_top() - egui::vec2(0.0, size.y),
        face.left_top(),
        face.left_bottom(),
        face.left_bottom() - egui::vec2(0.0, size.y),
    ]
    .map(inside);
    tries
        .into_iter()
        .find(|l| !placed.iter().any(|p| p.intersects(*l)))
        .unwrap_or(tries[0])
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

impl Panel for DetectionPanel {
    fn poll(&mut self, ctx: &egui::Context, _app: &mut AppContext) {
        DetectionPanel::poll(self, ctx);
    }

    fn activity(&self) -> Option<String> {
        self.job.as_ref().map(Job::status)
    }

    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext) {
        DetectionPanel::ui(self, ui, app.dataset.as_ref(), app.device.as_ref());
        if let Some(go) = self.go.take() {
            app.go = Some(go);
        }
    }
}

#[cfg(test)]
mod tests {
    use eframe::egui::{Rect, pos2, vec2};

    #[test]
    fn face_labels_stay_inside_the_image_and_apart() {
        let image = Rect::from_min_max(pos2(0.0, 0.0), pos2(300.0, 200.0));
        let size = vec2(60.0, 18.0);
        // A face at the top edge: its label moves inside the image, not above it.
        let top = Rect::from_min_max(pos2(250.0, 0.0), pos2(320.0, 80.0));
        let l = super::label_place(size, top, image, &[]);
        assert!(image.contains_rect(l), "{l:?}");
        // A second face right beside the first: its label does not cover the first's.
        let near = Rect::from_min_max(pos2(240.0, 2.0), pos2(300.0, 70.0));
        let m = super::label_place(size, near, image, &[l]);
        assert!(image.contains_rect(m) && !m.intersects(l), "{l:?} {m:?}");
    }
}
