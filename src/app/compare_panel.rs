//! Compare panel: two photos side by side (drop them on either half, pick them with a file
//! dialog, or search the open dataset), each with its detected faces, the face
//! used and its crop; between them the cosine similarity, the threshold slider and a
//! SAME / DIFFERENT verdict that follows the slider. Model loading, detection and
//! embedding run on a worker thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use burn::tensor::Device;
use eframe::egui;
use image::RgbImage;
use siamese_face::Dataset;
use siamese_face::crop::CropConfig;
use siamese_face::model::ModelMeta;
use siamese_face::verify::{self, Verifier};

use super::context::{AppContext, Panel};
use super::{dialogs, drops};
use siamese_face::workflow::verify::{
    Faces, PhotoFaces as Photo, comparison_json as workflow_json, photo_faces,
    verdict as workflow_verdict,
};

enum Request {
    Model(PathBuf),
    Photo(usize, PathBuf),
}

enum Reply {
    Model(Result<Box<(PathBuf, ModelMeta, CropConfig)>, String>),
    Photo(usize, Result<Photo, String>),
}

fn worker(device: Device, ctx: egui::Context) -> (mpsc::Sender<Request>, mpsc::Receiver<Reply>) {
    let (tx, rx) = mpsc::channel::<Request>();
    let (rtx, rrx) = mpsc::channel();
    std::thread::Builder::new()
        .name("compare".into())
        .spawn(move || {
            let mut verifier: Option<Verifier> = None;
            for req in rx {
                let reply = match req {
                    Request::Model(dir) => Reply::Model(match Verifier::load(&dir, &device) {
                        Ok(v) => {
                            let (meta, crop) = (v.meta.clone(), v.crop);
                            verifier = Some(v);
                            Ok(Box::new((dir, meta, crop)))
                        }
                        Err(e) => Err(e.to_string()),
                    }),
                    Request::Photo(slot, path) => Reply::Photo(
                        slot,
                        match &verifier {
                            None => Err("no model loaded".into()),
                            Some(v) => photo(v, &path),
                        },
                    ),
                };
                let _ = rtx.send(reply);
                ctx.request_repaint();
            }
        })
        .expect("spawning a thread");
    (tx, rrx)
}

/// Every accepted face of a photo, embedded, so picking another is instant.
fn photo(v: &Verifier, path: &Path) -> Result<Photo, String> {
    photo_faces(v, path, Faces::All).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Slot {
    photo: Option<Photo>,
    /// The face used (faces are sorted largest first).
    chosen: usize,
    textures: Option<(egui::TextureHandle, egui::TextureHandle)>,
    busy: bool,
    error: Option<String>,
    pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    /// Text typed to find a photo of the open dataset.
    search: String,
    /// Where the photo was last drawn on screen.
    drawn: Option<egui::Rect>,
}

pub struct ComparePanel {
    channel: Option<(mpsc::Sender<Request>, mpsc::Receiver<Reply>)>,
    model_dir: PathBuf,
    model: Option<ModelMeta>,
    /// The loaded model's crop settings (for the saved result).
    crop: Option<CropConfig>,
    model_error: Option<String>,
    model_busy: bool,
    model_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    slots: [Slot; 2],
    threshold: f32,
    /// The user moved the slider since the model was loaded (a verdict is then given even
    /// for a model without a threshold of its own).
    threshold_set: bool,
    /// Photos to open once a model is loaded (from the command line).
    pending: Vec<(usize, PathBuf)>,
    /// The file dialog choosing where the result goes (JSON).
    result_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    /// What saving the result last said.
    saved: Option<Result<String, String>>,
}

impl ComparePanel {
    pub fn new() -> Self {
        ComparePanel {
            channel: None,
            model_dir: verify::default_model_dir(),
            model: None,
            crop: None,
            model_error: None,
            model_busy: false,
            model_pick: None,
            result_pick: None,
            saved: None,
            slots: Default::default(),
            threshold: verify::FALLBACK_THRESHOLD,
            threshold_set: false,
            pending: Vec::new(),
        }
    }

    /// The model folder in use (the Evaluate page evaluates the same one).
    pub fn model_dir(&self) -> Option<&Path> {
        self.model.as_ref().map(|_| self.model_dir.as_path())
    }

    pub fn set_model_dir(&mut self, dir: PathBuf) {
        self.model_dir = dir;
        self.model = None;
        self.model_error = None;
        if let Some((tx, _)) = &self.channel {
            self.model_busy = true;
            let _ = tx.send(Request::Model(self.model_dir.clone()));
        }
    }

    /// Opens `path` in slot 0 or 1 once the model is loaded.
    pub fn open_when_ready(&mut self, slot: usize, path: PathBuf) {
        if self.model.is_some() && !self.model_busy {
            self.open(slot, path);
        } else {
            self.pending.push((slot, path));
        }
    }

    /// Opens `path` in slot 0 or 1.
    pub fn open(&mut self, slot: usize, path: PathBuf) {
        if let Some((tx, _)) = &self.channel {
            self.slots[slot].busy = true;
            self.slots[slot].error = None;
            let _ = tx.send(Request::Photo(slot, path));
        }
    }

    #[cfg(test)]
    /// The verdict shown: none while the model has no threshold and none was set.
    pub fn verdict(&self) -> Option<verify::Verdict> {
        let has_threshold =
            self.threshold_set || self.model.as_ref().is_some_and(|m| m.threshold.is_some());
        self.similarity()
            .filter(|_| has_threshold)
            .map(|s| verify::verdict(s, self.threshold))
    }

    #[cfg(test)]
    pub fn set_search(&mut self, slot: usize, text: &str) {
        self.slots[slot].search = text.into();
    }

    #[cfg(test)]
    pub fn photo_name(&self, slot: usize) -> Option<String> {
        let p = self.slots[slot].photo.as_ref()?;
        Some(p.path.file_name()?.to_string_lossy().into_owned())
    }

    /// Where face `face` of side `slot` is on screen (the middle of its box).
    #[cfg(test)]
    pub fn face_on_screen(&self, slot: usize, face: usize) -> Option<egui::Pos2> {
        let s = &self.slots[slot];
        let (p, rect) = (s.photo.as_ref()?, s.drawn?);
        let k = rect.width() / p.image.width() as f32;
        let b = p.faces.get(face)?.bbox;
        Some(rect.min + egui::vec2((b[0] + b[2]) / 2.0 * k, (b[1] + b[3]) / 2.0 * k))
    }

    #[cfg(test)]
    pub fn chosen(&self, slot: usize) -> usize {
        self.slots[slot].chosen
    }

    #[cfg(test)]
    pub fn is_busy(&self) -> bool {
        self.model_busy || self.slots.iter().any(|s| s.busy)
    }

    pub fn similarity(&self) -> Option<f32> {
        let [a, b] = &self.slots;
        let (pa, pb) = (a.photo.as_ref()?, b.photo.as_ref()?);
        let v = workflow_verdict(pa, a.chosen, pb, b.chosen, self.threshold)?;
        Some(v.similarity)
    }

    /// Loads the model and takes the worker's answers (every frame, whatever the page, so
    /// the Evaluate page has the model too).
    pub fn poll(&mut self, ctx: &egui::Context, device: &Device) {
        if self.channel.is_none() {
            self.channel = Some(worker(device.clone(), ctx.clone()));
            self.set_model_dir(self.model_dir.clone());
        }
        if let Some(rx) = &self.model_pick
            && let Ok(picked) = rx.try_recv()
        {
            self.model_pick = None;
            if let Some(dir) = picked {
                self.set_model_dir(dir);
            }
        }
        if let Some(rx) = &self.result_pick
            && let Ok(picked) = rx.try_recv()
        {
            self.result_pick = None;
            if let Some(file) = picked {
                self.saved = Some(self.save_result(&file));
            }
        }
        for slot in 0..2 {
            if let Some(rx) = &self.slots[slot].pick
                && let Ok(picked) = rx.try_recv()
            {
                self.slots[slot].pick = None;
                if let Some(p) = picked {
                    self.open(slot, p);
                }
            }
        }
        let mut replies = Vec::new();
        if let Some((_, rx)) = &self.channel {
            while let Ok(r) = rx.try_recv() {
                replies.push(r);
            }
        }
        for r in replies {
            self.on_reply(r);
        }
    }

    fn on_reply(&mut self, r: Reply) {
        match r {
            Reply::Model(Ok(loaded)) => {
                let (dir, meta, crop) = *loaded;
                self.crop = Some(crop);
                self.model_busy = false;
                self.threshold = meta.threshold.unwrap_or(verify::FALLBACK_THRESHOLD);
                self.threshold_set = false;
                self.model_dir = dir;
                self.model = Some(meta);
                // Photos already open are embedded again with the new model.
                for slot in 0..2 {
                    if let Some(p) = self.slots[slot].photo.take() {
                        self.open(slot, p.path);
                    }
                }
                for (slot, path) in std::mem::take(&mut self.pending) {
                    self.open(slot, path);
                }
            }
            Reply::Model(Err(e)) => {
                self.model_busy = false;
                self.model_error = Some(e);
            }
            Reply::Photo(slot, result) => {
                let s = &mut self.slots[slot];
                s.busy = false;
                match result {
                    Ok(p) => {
                        s.chosen = 0;
                        s.textures = None;
                        s.photo = Some(p);
                    }
                    // The photo that failed replaces the one shown: leaving the old
                    // photo and its verdict on screen would answer another question.
                    Err(e) => {
                        s.error = Some(e);
                        s.photo = None;
                        s.textures = None;
                    }
                }
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, device: Option<&Device>, dataset: Option<&Dataset>) {
        if device.is_none() {
            ui.label("Waiting for the compute backend...");
            return;
        };
        ui.horizontal_wrapped(|ui| {
            ui.label("Model:");
            match (&self.model, self.model_busy) {
                (_, true) => {
                    crate::app::busy(ui);
                    ui.label(format!("loading {}", self.model_dir.display()));
                }
                (Some(m), false) => {
                    // A pretrained network used as it is has 0 training steps: say what
                    // it is rather than "0 steps", which reads as "untrained".
                    let trained = match m.steps {
                        0 => format!("pretrained: {}", m.initial_weights),
                        n => format!("{n} training steps"),
                    };
                    ui.label(format!(
                        "{} ({}, {} px crops, {trained}{})",
                        self.model_dir.display(),
                        m.backbone,
                        m.input_size,
                        m.validation.map_or(String::new(), |v| format!(
                            ", validation accuracy {:.3}",
                            v.accuracy
                        ))
                    ));
                }
                (None, false) => {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        self.model_error.as_deref().unwrap_or("no model loaded"),
                    );
                }
            }
            if ui.button("Open model...").clicked() {
                self.model_pick = Some(dialogs::spawn(ui.ctx(), || {
                    rfd::FileDialog::new()
                        .set_title("Model folder (model.bpk + model.json)")
                        .pick_folder()
                }));
            }
        });
        ui.separator();
        let verdict_height = 120.0;
        let slot_height = (ui.available_height() - verdict_height).max(200.0);
        let dropped = drops::dropped_path(ui, "Drop a photo on the left or right half");
        let pointer_x = ui.input(|i| i.pointer.hover_pos().map(|p| p.x));
        let mid = ui.max_rect().center().x;
        if let Some(path) = dropped {
            let slot = usize::from(pointer_x.is_some_and(|x| x > mid));
            self.open(slot, path);
        }
        let ready = self.model.is_some();
        ui.columns(2, |cols| {
            for (slot, ui) in cols.iter_mut().enumerate() {
                ui.set_min_height(slot_height);
                self.slot_ui(ui, slot, ready, slot_height, dataset);
            }
        });
        ui.separator();
        self.verdict_ui(ui);
    }

    fn slot_ui(
        &mut self,
        ui: &mut egui::Ui,
        slot: usize,
        ready: bool,
        height: f32,
        dataset: Option<&Dataset>,
    ) {
        if let Some(path) = self.dataset_picker(ui, slot, ready, dataset) {
            self.open(slot, path);
        }
        // Ctrl+O opens a photo into the first empty slot (A when both are full).
        let first_empty = self
            .slots
            .iter()
            .position(|s| s.photo.is_none())
            .unwrap_or(0);
        let shortcut = slot == first_empty && ui.input_mut(|i| i.consume_shortcut(&super::OPEN));
        let s = &mut self.slots[slot];
        ui.horizontal(|ui| {
            ui.strong(if slot == 0 { "Photo A" } else { "Photo B" });
            let open = ui
                .add_enabled(
                    ready && s.pick.is_none(),
                    egui::Button::new("Open photo..."),
                )
                .on_hover_text("Ctrl+O opens into the first empty side");
            if (open.clicked() || shortcut) && ready && s.pick.is_none() {
                s.pick = Some(dialogs::spawn(ui.ctx(), || {
                    rfd::FileDialog::new()
                        .set_title("Photo with a face")
                        .add_filter(
                            "Images",
                            &["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff"],
                        )
                        .pick_file()
                }));
            }
            if s.busy {
                crate::app::busy(ui);
            }
        });
        if let Some(e) = &s.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let Some(p) = &s.photo else {
            ui.add_space(40.0);
            ui.label("Drop a photo here, or open one.");
            return;
        };
        if let Some(i) = faces_ui(ui, p, s.chosen) {
            s.chosen = i;
            s.textures = None;
        }
        let (photo_tex, crop_tex) = s.textures.get_or_insert_with(|| {
            let ci = |img: &RgbImage| {
                egui::ColorImage::from_rgb(
                    [img.width() as usize, img.height() as usize],
                    img.as_raw(),
                )
            };
            (
                ui.ctx()
                    .load_texture(format!("compare-{slot}"), ci(&p.image), Default::default()),
                ui.ctx().load_texture(
                    format!("compare-crop-{slot}"),
                    ci(&p.crops[s.chosen]),
                    Default::default(),
                ),
            )
        });
        let (clicked, rect) = photo_ui(ui, p, (&*photo_tex, &*crop_tex), s.chosen, height);
        s.drawn = Some(rect);
        if let Some(i) = clicked {
            s.chosen = i;
            s.textures = None;
        }
    }

    /// A box for a photo's path, or a search over the open dataset's people; returns the
    /// photo chosen. A typed path also works where no file dialog can open (no desktop
    /// portal or zenity).
    fn dataset_picker(
        &mut self,
        ui: &mut egui::Ui,
        slot: usize,
        ready: bool,
        dataset: Option<&Dataset>,
    ) -> Option<PathBuf> {
        let search = &mut self.slots[slot].search;
        ui.horizontal(|ui| {
            ui.label(if dataset.is_some() {
                "a person of the dataset, or a path:"
            } else {
                "a photo's path:"
            });
            ui.add_enabled(
                ready,
                egui::TextEdit::singleline(search)
                    .hint_text("type a name or a path")
                    .desired_width(220.0),
            );
        });
        let typed = search.trim();
        let path = PathBuf::from(typed);
        if !typed.is_empty() && path.is_file() {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            return ui
                .small_button(format!("Open {name}"))
                .clicked()
                .then_some(path);
        }
        let (Some(ds), needle) = (dataset, typed.to_lowercase()) else {
            return None;
        };
        if needle.len() < 2 {
            return None;
        }
        let mut picked = None;
        ui.horizontal_wrapped(|ui| {
            let matches = ds
                .people
                .iter()
                .filter(|p| p.name.to_lowercase().contains(&needle))
                .flat_map(|p| p.images.iter())
                .take(12);
            for img in matches {
                let name = img.path.file_stem().unwrap_or_default().to_string_lossy();
                if ui.small_button(name).clicked() {
                    picked = Some(img.path.clone());
                }
            }
        });
        picked
    }

    fn verdict_ui(&mut self, ui: &mut egui::Ui) {
        let stored = self.model.as_ref().and_then(|m| m.threshold);
        // From the model's threshold, not the slider's, so the range holds still while dragging.
        let range = zoom(stored.unwrap_or(self.threshold), self.similarity());
        ui.horizontal(|ui| {
            ui.label("threshold (cosine similarity)");
            // Zoomed to where the verdict changes (a face model's similarities mostly lie
            // in 0.6..1); a typed value outside is kept as typed.
            let slider = egui::Slider::new(&mut self.threshold, range.0..=range.1)
                .clamping(egui::SliderClamping::Never)
                // The f32's own shortest text, so a value shown types back exactly.
                .custom_formatter(|v, _| format!("{}", v as f32));
            if ui.add(slider).changed() {
                self.threshold_set = true;
            }
            match stored {
                Some(t) if ui.button(format!("model's ({t:.3})")).clicked() => {
                    self.threshold = t;
                }
                None if self.model.is_some() => {
                    ui.label("(the model has none)");
                }
                _ => {}
            }
        });
        let Some(sim) = self.similarity() else {
            ui.label("Open two photos to compare their faces.");
            return;
        };
        if stored.is_none() && !self.threshold_set {
            ui.label(format!("similarity {sim:.3}"));
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "No verdict: this model has no threshold (it was trained without validation \
                 pairs). Choose one on the Evaluate page (Use this threshold), or drag the \
                 slider to set one for now.",
            );
            return;
        }
        let v = verify::verdict(sim, self.threshold);
        ui.horizontal(|ui| {
            ui.label("similarity");
            // The bar spans the slider's range, with the threshold marked on it.
            let at = |x: f32| ((x - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
            let bar = ui.add(
                egui::ProgressBar::new(at(sim))
                    .desired_width(360.0)
                    .text(format!("{sim:.3}")),
            );
            let x = bar.rect.left() + at(self.threshold) * bar.rect.width();
            ui.painter().vline(
                x,
                bar.rect.y_range().expand(3.0),
                egui::Stroke::new(2.0, egui::Color32::from_rgb(255, 210, 80)),
            );
            let (text, color) = if v.same {
                ("SAME person", egui::Color32::from_rgb(60, 200, 90))
            } else {
                ("DIFFERENT people", egui::Color32::from_rgb(230, 80, 70))
            };
            ui.label(egui::RichText::new(text).size(28.0).strong().color(color));
            ui.label(format!(
                "{sim:.3} {} {}",
                if v.same { ">=" } else { "<" },
                self.threshold
            ));
        });
        self.reading_ui(ui);
    }

    /// What the threshold means in error rates (from the model's calibration), and saving
    /// the result.
    fn reading_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let calibration = self.model.as_ref().and_then(|m| m.calibration.as_ref());
            match calibration.and_then(|c| c.reading(self.threshold)) {
                Some(text) => ui.label(format!("At this threshold: {text}.")),
                None => ui.weak(
                    "No error rates for this threshold: the model has no calibration (Evaluate \
                     on pairsDevTrain, then Use this threshold, stores one).",
                ),
            };
            if ui
                .add_enabled(
                    self.result_pick.is_none(),
                    egui::Button::new("Save result..."),
                )
                .on_hover_text("The similarity, verdict, error rates and faces used, as JSON")
                .clicked()
            {
                self.result_pick = Some(dialogs::spawn(ui.ctx(), || {
                    rfd::FileDialog::new()
                        .set_title("Save the comparison as JSON")
                        .add_filter("JSON", &["json"])
                        .set_file_name("comparison.json")
                        .save_file()
                }));
            }
            match &self.saved {
                Some(Ok(m)) => ui.label(m),
                Some(Err(e)) => ui.colored_label(ui.visuals().error_fg_color, e),
                None => ui.label(""),
            };
        });
    }

    /// Writes the comparison shown to `file` as JSON (as `compare --json` prints it).
    pub fn save_result(&self, file: &Path) -> Result<String, String> {
        let [a, b] = &self.slots;
        let (Some(pa), Some(pb), Some(meta), Some(crop)) =
            (&a.photo, &b.photo, &self.model, &self.crop)
        else {
            return Err("nothing to save: open two photos first".into());
        };
        let has_threshold = self.threshold_set || meta.threshold.is_some();
        let threshold = has_threshold.then_some(self.threshold);
        let json = workflow_json((pa, a.chosen), (pb, b.chosen), threshold, meta, crop)
            .ok_or("the faces have no embeddings")?;
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        siamese_face::imageio::write_atomic(file, text.as_bytes())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(format!("saved {}", file.display()))
    }
}

/// The similarity range the threshold slider and the similarity bar span: from 0.2 below
/// the lower of the model's threshold and the similarity shown, on a 0.05 grid, up to 1.
fn zoom(threshold: f32, similarity: Option<f32>) -> (f32, f32) {
    let low = similarity
        .map_or(threshold, |s| s.min(threshold))
        .clamp(-1.0, 0.9);
    ((((low - 0.2) * 20.0).floor() / 20.0).max(-1.0), 1.0)
}

/// The photo with its face boxes (the chosen one highlighted) and the crop used; returns
/// the face whose box was clicked.
fn photo_ui(
    ui: &mut egui::Ui,
    p: &Photo,
    (photo_tex, crop_tex): (&egui::TextureHandle, &egui::TextureHandle),
    chosen: usize,
    height: f32,
) -> (Option<usize>, egui::Rect) {
    let mut clicked = None;
    let mut drawn = egui::Rect::NOTHING;
    ui.horizontal_top(|ui| {
        let tex = photo_tex.size_vec2();
        let avail = egui::vec2(ui.available_width() - 130.0, height - 60.0);
        let scale = (avail.x / tex.x).min(avail.y / tex.y).clamp(0.1, 3.0);
        let sense = if p.faces.len() > 1 {
            egui::Sense::click()
        } else {
            egui::Sense::hover()
        };
        let (rect, response) = ui.allocate_exact_size(tex * scale, sense);
        drawn = rect;
        let k = rect.width() / p.image.width() as f32;
        if response.clicked()
            && let Some(at) = response.interact_pointer_pos()
        {
            let at = (at - rect.min) / k;
            clicked = face_at(p.faces.iter().map(|f| f.bbox), [at.x, at.y]);
        }
        if p.faces.len() > 1 {
            response.on_hover_text("Click a face to compare that one");
        }
        let painter = ui.painter_at(rect);
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(photo_tex.id(), rect, uv, egui::Color32::WHITE);
        for (i, f) in p.faces.iter().enumerate() {
            let b = egui::Rect::from_min_max(
                rect.min + egui::vec2(f.bbox[0] * k, f.bbox[1] * k),
                rect.min + egui::vec2(f.bbox[2] * k, f.bbox[3] * k),
            );
            let color = if i == chosen {
                egui::Color32::from_rgb(60, 220, 90)
            } else {
                egui::Color32::from_gray(170)
            };
            painter.rect_stroke(
                b,
                0.0,
                egui::Stroke::new(2.0, color),
                egui::StrokeKind::Middle,
            );
            painter.text(
                b.left_top() + egui::vec2(2.0, -2.0),
                egui::Align2::LEFT_BOTTOM,
                format!("{}  {:.3}", i + 1, f.score),
                egui::FontId::proportional(13.0),
                color,
            );
        }
        ui.vertical(|ui| {
            ui.label("crop used");
            ui.image((crop_tex.id(), egui::vec2(112.0, 112.0)));
        });
    });
    (clicked, drawn)
}

/// The face whose box holds `at` (image pixels); the smallest such box when boxes
/// overlap, as a face in front of another is the smaller one clicked.
fn face_at(boxes: impl Iterator<Item = [f32; 4]>, at: [f32; 2]) -> Option<usize> {
    boxes
        .enumerate()
        .filter(|(_, b)| (b[0]..=b[2]).contains(&at[0]) && (b[1]..=b[3]).contains(&at[1]))
        .min_by(|(_, a), (_, b)| {
            let area = |b: &[f32; 4]| (b[2] - b[0]) * (b[3] - b[1]);
            area(a).total_cmp(&area(b))
        })
        .map(|(i, _)| i)
}

/// The photo's name and face count, and a picker when there are several; returns the face
/// clicked.
fn faces_ui(ui: &mut egui::Ui, p: &Photo, chosen: usize) -> Option<usize> {
    let mut picked = None;
    ui.label(format!(
        "{}  ({} face{} found{})",
        p.path.file_name().unwrap_or_default().to_string_lossy(),
        p.faces.len(),
        if p.faces.len() == 1 { "" } else { "s" },
        if p.faces.len() > 1 {
            "; the largest is used unless you click another"
        } else {
            ""
        }
    ));
    if p.faces.len() > 1 {
        ui.horizontal(|ui| {
            ui.label("face");
            for i in 0..p.faces.len() {
                if ui
                    .selectable_label(chosen == i, format!("{}", i + 1))
                    .clicked()
                {
                    picked = Some(i);
                }
            }
        });
    }
    picked
}

impl Panel for ComparePanel {
    fn poll(&mut self, ctx: &egui::Context, app: &mut AppContext) {
        if let Some(device) = &app.device {
            ComparePanel::poll(self, ctx, device);
        }
        if let Some(dir) = app.model_request.take() {
            self.set_model_dir(dir);
        }
        app.model_dir = self.model_dir().map(Path::to_path_buf);
    }

    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext) {
        ComparePanel::ui(self, ui, app.device.as_ref(), app.dataset.as_deref());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_click_picks_the_face_under_it() {
        let boxes = [
            [0.0, 0.0, 100.0, 100.0],
            [40.0, 40.0, 60.0, 60.0],
            [200.0, 0.0, 250.0, 50.0],
        ];
        let at = |x, y| super::face_at(boxes.iter().copied(), [x, y]);
        assert_eq!(at(10.0, 10.0), Some(0));
        // Inside two boxes: the smaller (the face in front).
        assert_eq!(at(50.0, 50.0), Some(1));
        assert_eq!(at(220.0, 20.0), Some(2));
        assert_eq!(at(150.0, 20.0), None);
    }

    #[test]
    fn the_slider_zooms_to_where_the_verdict_changes() {
        // The default model: threshold 0.914, two different people at 0.84.
        let (lo, hi) = super::zoom(0.914, Some(0.84));
        assert_eq!(hi, 1.0);
        assert!((lo - 0.60).abs() < 1e-6, "{lo}");
        // Dissimilar photos widen it; nothing goes below -1.
        assert!((super::zoom(0.5, Some(-0.3)).0 + 0.5).abs() < 1e-6);
        assert_eq!(super::zoom(0.5, Some(-1.0)).0, -1.0);
    }
}
