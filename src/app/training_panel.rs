//! Training panel: train the embedding network on the Triplets page's triplets or with
//! online semi-hard mining over the dataset's training identities, in a background thread:
//! backbone and hyper-parameters, Start / Pause / Resume / Stop, resume from a checkpoint,
//! live plots of the loss (with a smoothed line) and validation accuracy, throughput and
//! ETA, an event log, the UI's own frame time, and saving the trained model.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use eframe::egui;
use egui_plot::{Legend, Line, Plot, Points};
use siamese_face::Dataset;
use siamese_face::dataset::TrainSplit;
use siamese_face::detect::Detector;
use siamese_face::embed::augment::Augment;
use siamese_face::embed::checkpoint;
use siamese_face::embed::pretrained::InitWeights;
use siamese_face::embed::train::{
    self, Control, LrSchedule, Mining, ModelMeta, TrainConfig, TrainData, TrainEvent, TrainJob,
};
use siamese_face::embed::validation::{self, ValidationSet};
use siamese_face::embed::{BackboneKind, EmbeddingNet, mining};
use siamese_face::preprocess::{self, CropCache, PreprocessSettings};
use siamese_face::triplets::TripletArray;

use super::FrameStats;
use super::dialogs;

/// What the Training page needs from the rest of the app.
pub struct Inputs<'a> {
    pub triplets: Option<Arc<TripletArray>>,
    pub dataset: Option<&'a Arc<Dataset>>,
    pub device: Option<&'a Device>,
    /// The crop settings and cache of the Triplets page (mining and validation crops).
    pub crops: (PreprocessSettings, PathBuf),
    pub frames: &'a FrameStats,
}

enum Msg {
    Preparing(&'static str, usize, usize),
    Event(TrainEvent),
    Done(Result<Box<(EmbeddingNet, ModelMeta)>, String>),
}

struct Run {
    control: Arc<Control>,
    rx: mpsc::Receiver<Msg>,
    started: Instant,
    /// Steps of the run, and the first step this session trains (after a resume).
    total_steps: usize,
    first_step: usize,
    preparing: Option<(&'static str, usize, usize)>,
    /// Frame count when training began, to report the UI's frame time over the run.
    frames_at_start: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Triplets,
    Mining,
}

pub struct TrainingPanel {
    cfg: TrainConfig,
    source: Source,
    validate: bool,
    run: Option<Run>,
    /// (global step, value) series of the current or last run.
    losses: Vec<[f64; 2]>,
    active: Vec<[f64; 2]>,
    epoch_losses: Vec<[f64; 2]>,
    val_accuracy: Vec<[f64; 2]>,
    throughput: f64,
    step: usize,
    log: VecDeque<String>,
    trained: Option<(Arc<EmbeddingNet>, ModelMeta)>,
    save_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    weights_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    resume_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    resume_from: Option<PathBuf>,
    error: Option<String>,
    runs_root: PathBuf,
}

impl TrainingPanel {
    pub fn new() -> Self {
        TrainingPanel {
            cfg: TrainConfig::default(),
            source: Source::Triplets,
            validate: true,
            run: None,
            losses: Vec::new(),
            active: Vec::new(),
            epoch_losses: Vec::new(),
            val_accuracy: Vec::new(),
            throughput: 0.0,
            step: 0,
            log: VecDeque::new(),
            trained: None,
            save_pick: None,
            weights_pick: None,
            resume_pick: None,
            resume_from: None,
            error: None,
            runs_root: preprocess::default_cache_root().join("runs"),
        }
    }

    #[cfg(test)]
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    #[cfg(test)]
    pub fn steps_seen(&self) -> usize {
        self.losses.len()
    }

    #[cfg(test)]
    pub fn set_epochs(&mut self, epochs: usize, batch: usize) {
        self.cfg.epochs = epochs;
        self.cfg.batch_size = batch;
    }

    #[cfg(test)]
    pub fn set_runs_root(&mut self, root: PathBuf) {
        self.runs_root = root;
    }

    #[cfg(test)]
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    #[cfg(test)]
    pub fn validations_seen(&self) -> usize {
        self.val_accuracy.len()
    }

    fn note(&mut self, line: String) {
        self.log.push_back(line);
        while self.log.len() > 300 {
            self.log.pop_front();
        }
    }

    fn start(&mut self, inputs: &Inputs<'_>, ctx: &egui::Context) {
        let Some(device) = inputs.device.cloned() else {
            return;
        };
        let mut cfg = self.cfg.clone();
        cfg.mining = (self.source == Source::Mining).then_some(Mining {
            images_per_person: self.cfg.mining.map_or(4, |m| m.images_per_person),
        });
        let triplets = inputs.triplets.clone();
        let dataset = inputs.dataset.cloned();
        let validate = self.validate
            && dataset
                .as_ref()
                .is_some_and(|d| d.pair_list(validation::DEFAULT_LIST).is_some());
        let (mut settings, cache_root) = inputs.crops.clone();
        // A backbone with its own input (dlib's aligned 150 px chips) mines on those crops.
        if cfg.backbone.crop() != siamese_face::crop::CropConfig::default() {
            settings.crop = cfg.backbone.crop();
        }
        let resume = self.resume_from.take();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let checkpoints = match &resume {
            // Keep writing beside the checkpoint resumed from.
            Some(p) if p.join("state.json").is_file() => p.parent().map(PathBuf::from),
            Some(p) => Some(p.clone()),
            None => Some(
                self.runs_root
                    .join(format!("run-{stamp}"))
                    .join("checkpoints"),
            ),
        };
        let control = Arc::new(Control::default());
        let job_control = control.clone();
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let log_dir = checkpoints.clone();
        std::thread::Builder::new()
            .name("training".into())
            .spawn(move || {
                let send = |m: Msg| {
                    let _ = tx.send(m);
                    ctx.request_repaint();
                };
                let result = (|| -> Result<Box<(EmbeddingNet, ModelMeta)>, String> {
                    let text = |e: &dyn std::fmt::Display| e.to_string();
                    let mut crops = match &dataset {
                        Some(ds) if validate || cfg.mining.is_some() => {
                            let dir = CropCache::dir_for(&cache_root, ds, &settings);
                            let cache =
                                CropCache::open(&dir, ds, &settings).map_err(|e| text(&e))?;
                            Some((
                                ds.clone(),
                                cache,
                                Detector::new(&device).map_err(|e| text(&e))?,
                            ))
                        }
                        _ => None,
                    };
                    let mut throttle = Instant::now();
                    let mut progress = |what: &'static str, d: usize, t: usize| {
                        if throttle.elapsed() > Duration::from_millis(100) || d == t {
                            throttle = Instant::now();
                            send(Msg::Preparing(what, d, t));
                        }
                    };
                    let val = match crops.as_mut() {
                        Some((ds, cache, detector)) if validate => Some(
                            ValidationSet::from_pair_list(
                                ds,
                                validation::DEFAULT_LIST,
                                validation::DEFAULT_PER_CLASS,
                                cache,
                                detector,
                                &job_control.stop,
                                |d, t| progress("face crops of the validation pairs", d, t),
                            )
                            .map_err(|e| text(&e))?,
                        ),
                        _ => None,
                    };
                    let (data, source) = if cfg.mining.is_some() {
                        let (ds, cache, detector) = crops
                            .as_mut()
                            .ok_or("online mining needs a dataset (Dataset page)")?;
                        let mut identities = match ds.train_split(TrainSplit::DevTrain) {
                            Ok(split) => split.train,
                            Err(_) => ds.people.iter().map(|p| p.name.clone()).collect(),
                        };
                        // Validation people are held out of mining (an unbiased threshold).
                        if let Some(v) = &val {
                            identities.retain(|p| !v.people.contains(p));
                        }
                        let pool = mining::identity_pool(
                            ds,
                            &identities,
                            None,
                            cache,
                            detector,
                            &job_control.stop,
                            |d, t| progress("face crops of the training people", d, t),
                        )
                        .map_err(|e| text(&e))?;
                        let source = format!(
                            "online semi-hard mining: {} images of {} training people of {}",
                            pool.crops.len(),
                            pool.people.len(),
                            ds.root.display()
                        );
                        (TrainData::Identities(pool), source)
                    } else {
                        let t = triplets.ok_or("no triplets: generate or load them first")?;
                        let source = format!("{} triplets (Triplets page)", t.len());
                        (TrainData::Triplets(t), source)
                    };
                    let resume = match &resume {
                        Some(p) => Some(
                            checkpoint::load(p, &device.clone().autodiff())
                                .map_err(|e| text(&e))?,
                        ),
                        None => None,
                    };
                    let cfg = match &resume {
                        Some(ck) => TrainConfig {
                            epochs: cfg.epochs.max(ck.state.config.epochs),
                            ..ck.state.config.clone()
                        },
                        None => cfg,
                    };
                    let job = TrainJob {
                        data: &data,
                        data_source: source.clone(),
                        config: cfg.clone(),
                        validation: val.as_ref(),
                        checkpoints,
                        resume,
                    };
                    let (net, summary) =
                        train::train(job, &device, &job_control, |e| send(Msg::Event(e.clone())))
                            .map_err(|e| text(&e))?;
                    let mut data_summary = data.summary(&source);
                    data_summary.crop = Some(settings.crop);
                    let meta = ModelMeta::new(&cfg, data_summary, &summary);
                    Ok(Box::new((net, meta)))
                })();
                send(Msg::Done(result));
            })
            .expect("spawning a thread");
        self.losses.clear();
        self.active.clear();
        self.epoch_losses.clear();
        self.val_accuracy.clear();
        self.throughput = 0.0;
        self.step = 0;
        self.trained = None;
        self.error = None;
        let c = &self.cfg;
        self.note(format!(
            "starting: {} ({}), {} epochs, batch {}, lr {} ({:?}, warm-up {}), margin {}, frozen backbone for {} epoch(s), augmentation {}",
            c.backbone,
            if self.source == Source::Mining { "online semi-hard mining" } else { "fixed triplets" },
            c.epochs,
            c.batch_size,
            c.learning_rate,
            c.schedule,
            c.warmup_steps,
            c.margin,
            c.freeze_backbone_epochs,
            if c.augment.is_none() { "off" } else { "on" },
        ));
        if !validate {
            self.note(format!(
                "no validation: {}",
                if self.validate {
                    "it needs a dataset with pairsDevTrain (Dataset page)"
                } else {
                    "turned off"
                }
            ));
        }
        if let Some(dir) = log_dir {
            self.note(format!("checkpoints: {}", dir.display()));
        }
        self.run = Some(Run {
            control,
            rx,
            started: Instant::now(),
            total_steps: 0,
            first_step: 1,
            preparing: None,
            frames_at_start: inputs.frames.count(),
        });
    }

    pub fn poll(&mut self, frames: &FrameStats) {
        self.poll_dialogs();
        let Some(run) = &mut self.run else {
            return;
        };
        let mut msgs = Vec::new();
        while let Ok(m) = run.rx.try_recv() {
            msgs.push(m);
        }
        for m in msgs {
            match m {
                Msg::Preparing(what, d, t) => {
                    if let Some(run) = &mut self.run {
                        run.preparing = Some((what, d, t));
                    }
                }
                Msg::Event(e) => self.on_event(e),
                Msg::Done(result) => {
                    let Some(run) = self.run.take() else { return };
                    let secs = run.started.elapsed().as_secs_f64();
                    if let Some(f) = frames.summary_since(run.frames_at_start) {
                        self.note(format!("UI frame time during the run: {f}"));
                    }
                    match result {
                        Ok(done) => {
                            let (net, meta) = *done;
                            let stopped = meta.steps < run.total_steps;
                            self.note(format!(
                                "{} after {} steps in {secs:.0} s{}",
                                if stopped { "stopped" } else { "finished" },
                                meta.steps,
                                meta.validation.map_or(String::new(), |v| format!(
                                    ", validation accuracy {:.3} (cosine threshold {:.3})",
                                    v.accuracy, v.threshold
                                ))
                            ));
                            self.trained = Some((Arc::new(net), meta));
                        }
                        Err(e) => {
                            self.note(format!("failed: {e}"));
                            self.error = Some(e);
                        }
                    }
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, e: TrainEvent) {
        match e {
            TrainEvent::Started {
                steps,
                first_step,
                initial_weights,
                ..
            } => {
                if let Some(run) = &mut self.run {
                    run.total_steps = steps;
                    run.first_step = first_step;
                    run.preparing = None;
                    run.started = Instant::now();
                }
                self.note(format!(
                    "training steps {first_step}..{steps}; backbone weights: {initial_weights}"
                ));
            }
            TrainEvent::Step {
                step,
                loss,
                active,
                triplets_per_s,
                ..
            } => {
                self.step = step;
                self.losses.push([step as f64, loss as f64]);
                self.active.push([step as f64, active as f64]);
                // Smoothed, so the figure does not jump with each batch.
                self.throughput = if self.throughput == 0.0 {
                    triplets_per_s
                } else {
                    0.9 * self.throughput + 0.1 * triplets_per_s
                };
            }
            TrainEvent::Features { done, total } => {
                if let Some(run) = &mut self.run {
                    run.preparing = (done < total).then_some(("backbone features", done, total));
                }
            }
            TrainEvent::Epoch { epoch, mean_loss } => {
                self.epoch_losses.push([self.step as f64, mean_loss as f64]);
                self.note(format!("epoch {epoch}: mean loss {mean_loss:.4}"));
            }
            TrainEvent::Validation {
                step,
                accuracy,
                threshold,
                ..
            } => {
                self.val_accuracy.push([step as f64, accuracy]);
                self.note(format!(
                    "step {step}: validation accuracy {accuracy:.3} at cosine {threshold:.3}"
                ));
            }
            TrainEvent::Checkpoint { step, path } => {
                self.note(format!("step {step}: checkpoint {}", path.display()));
            }
        }
    }

    fn poll_dialogs(&mut self) {
        if let Some(rx) = &self.save_pick
            && let Ok(picked) = rx.try_recv()
        {
            self.save_pick = None;
            if let (Some(dir), Some((net, meta))) = (picked, &self.trained) {
                match train::save_model(net, meta, &dir) {
                    Ok(()) => self.note(format!("saved the model to {}", dir.display())),
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
        }
        if let Some(rx) = &self.weights_pick
            && let Ok(picked) = rx.try_recv()
        {
            self.weights_pick = None;
            if let Some(p) = picked {
                self.cfg.init = InitWeights::File(p);
            }
        }
        if let Some(rx) = &self.resume_pick
            && let Ok(picked) = rx.try_recv()
        {
            self.resume_pick = None;
            if let Some(p) = picked {
                if p.join("state.json").is_file() || checkpoint::latest(&p).is_some() {
                    self.note(format!("will resume from {}", p.display()));
                    self.resume_from = Some(p);
                } else {
                    self.error = Some(format!("{} holds no checkpoint", p.display()));
                }
            }
        }
    }
}

impl TrainingPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, inputs: Inputs<'_>) {
        let idle = self.run.is_none();
        ui.add_enabled_ui(idle, |ui| self.settings_ui(ui));
        ui.horizontal_wrapped(|ui| self.buttons_ui(ui, &inputs));
        match (&inputs.triplets, self.source) {
            (_, Source::Mining) => match inputs.dataset {
                Some(ds) => ui.label(format!(
                    "Training data: online semi-hard mining over the training identities of {}.",
                    ds.root.display()
                )),
                None => ui.label("Online mining needs a dataset: open one on the Dataset page."),
            },
            (Some(t), Source::Triplets) => ui.label(format!(
                "Training data: the {} triplets of {}x{} crops on the Triplets page.",
                t.len(),
                t.size(),
                t.size()
            )),
            (None, Source::Triplets) => {
                ui.label("No triplets yet: generate or load them on the Triplets page.")
            }
        };
        self.progress_ui(ui, inputs.frames);
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.separator();
        self.plots_ui(ui);
        ui.label("Log");
        egui::ScrollArea::vertical()
            .id_salt("training_log")
            .max_height(110.0)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for line in &self.log {
                    ui.label(line);
                }
            });
    }

    fn settings_ui(&mut self, ui: &mut egui::Ui) {
        let cfg = &mut self.cfg;
        ui.horizontal_wrapped(|ui| {
            ui.label("Data");
            ui.radio_value(&mut self.source, Source::Triplets, "fixed triplets");
            ui.radio_value(&mut self.source, Source::Mining, "online semi-hard mining");
            if self.source == Source::Mining {
                ui.label("images per person");
                let mut k = cfg.mining.map_or(4, |m| m.images_per_person);
                ui.add(egui::DragValue::new(&mut k).range(2..=16));
                cfg.mining = Some(Mining {
                    images_per_person: k,
                });
            }
            ui.separator();
            ui.checkbox(&mut self.validate, "validate on 100+100 DevTrain pairs")
                .on_hover_text("Needs the dataset (Dataset page); accuracy after each epoch");
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("Backbone");
            let before = cfg.backbone;
            egui::ComboBox::from_id_salt("backbone")
                .selected_text(cfg.backbone.name())
                .show_ui(ui, |ui| {
                    for kind in BackboneKind::ALL {
                        ui.selectable_value(&mut cfg.backbone, kind, kind.name());
                    }
                });
            if cfg.backbone != before && cfg.backbone.residual_head() {
                // A face-pretrained backbone: the default model's recipe (frozen backbone,
                // so features are computed once; flip averaging; margin for its scale).
                cfg.freeze_backbone_epochs = cfg.freeze_backbone_epochs.max(cfg.epochs);
                cfg.flip_average = true;
                cfg.margin = 0.2;
                cfg.learning_rate = 5e-4;
                cfg.batch_size = 64;
            }
            let note = match &cfg.init {
                InitWeights::File(p) => format!("weights: {}", p.display()),
                InitWeights::Random => "random initialisation".into(),
                InitWeights::Default => cfg.backbone.weights_note().into(),
            };
            ui.label(note);
            if cfg.backbone != BackboneKind::DlibResnet
                && ui.button("ImageNet weights file...").clicked()
            {
                self.weights_pick = Some(dialogs::spawn(ui.ctx(), || {
                    rfd::FileDialog::new()
                        .set_title("PyTorch state dict of the backbone")
                        .add_filter("PyTorch", &["pth", "pt"])
                        .pick_file()
                }));
            }
            if !matches!(cfg.init, InitWeights::Default) && ui.button("Default weights").clicked() {
                cfg.init = InitWeights::Default;
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("epochs");
            ui.add(egui::DragValue::new(&mut cfg.epochs).range(1..=1000));
            ui.label("batch");
            ui.add(egui::DragValue::new(&mut cfg.batch_size).range(2..=512));
            ui.label("learning rate");
            ui.add(
                egui::DragValue::new(&mut cfg.learning_rate)
                    .range(1e-6..=1e-1)
                    .speed(1e-4)
                    .max_decimals(5),
            );
            egui::ComboBox::from_id_salt("schedule")
                .selected_text(match cfg.schedule {
                    LrSchedule::Constant => "constant",
                    LrSchedule::Cosine => "cosine decay",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut cfg.schedule, LrSchedule::Cosine, "cosine decay");
                    ui.selectable_value(&mut cfg.schedule, LrSchedule::Constant, "constant");
                });
            ui.label("warm-up steps");
            ui.add(egui::DragValue::new(&mut cfg.warmup_steps).range(0..=10_000));
            ui.label("margin");
            ui.add(
                egui::DragValue::new(&mut cfg.margin)
                    .range(0.01..=2.0)
                    .speed(0.01),
            );
            ui.label("frozen backbone epochs");
            ui.add(egui::DragValue::new(&mut cfg.freeze_backbone_epochs).range(0..=100));
            let mut augment = !cfg.augment.is_none();
            if ui
                .checkbox(&mut augment, "augment (flip, jitter, colour)")
                .changed()
            {
                cfg.augment = if augment {
                    Augment::default()
                } else {
                    Augment::NONE
                };
            }
            if cfg.backbone.has_last_stage() {
                ui.checkbox(&mut cfg.train_last_stage, "train its last stage while frozen")
                    .on_hover_text("The frozen epochs still fine-tune the backbone's last stage");
            } else {
                cfg.train_last_stage = false;
            }
            ui.checkbox(&mut cfg.flip_average, "flip-average embeddings")
                .on_hover_text(
                    "Embed each face with its mirror image too and average (validation and the saved model)",
                );
            ui.label("checkpoint every");
            ui.add(egui::DragValue::new(&mut cfg.checkpoint_every).range(0..=100_000));
            ui.label("steps");
        });
    }

    fn buttons_ui(&mut self, ui: &mut egui::Ui, inputs: &Inputs<'_>) {
        let idle = self.run.is_none();
        let has_data = match self.source {
            Source::Triplets => inputs.triplets.as_ref().is_some_and(|t| !t.is_empty()),
            Source::Mining => inputs.dataset.is_some(),
        };
        let can_start = idle && has_data && inputs.device.is_some();
        let label = if self.resume_from.is_some() {
            "Start (resume)"
        } else {
            "Start"
        };
        if ui
            .add_enabled(can_start, egui::Button::new(label))
            .on_disabled_hover_text(
                "Needs triplets (Triplets page) or, for mining, a dataset (Dataset page)",
            )
            .clicked()
        {
            self.start(inputs, ui.ctx());
        }
        if let Some(run) = &self.run {
            let paused = run.control.pause.load(Ordering::Relaxed);
            if ui.button(if paused { "Resume" } else { "Pause" }).clicked() {
                run.control.pause.store(!paused, Ordering::Relaxed);
            }
            if ui.button("Stop").clicked() {
                run.control.stop.store(true, Ordering::Relaxed);
                run.control.pause.store(false, Ordering::Relaxed);
            }
        }
        if ui
            .add_enabled(
                idle && self.resume_pick.is_none(),
                egui::Button::new("Resume from checkpoint..."),
            )
            .clicked()
        {
            let start = self.runs_root.clone();
            self.resume_pick = Some(dialogs::spawn(ui.ctx(), move || {
                rfd::FileDialog::new()
                    .set_title("Checkpoint folder (step-NNNNNN) or a checkpoints folder")
                    .set_directory(start)
                    .pick_folder()
            }));
        }
        let can_save = idle && self.trained.is_some() && self.save_pick.is_none();
        if ui
            .add_enabled(can_save, egui::Button::new("Save model..."))
            .clicked()
        {
            self.save_pick = Some(dialogs::spawn(ui.ctx(), || {
                rfd::FileDialog::new()
                    .set_title("Folder for the trained model")
                    .pick_folder()
            }));
        }
    }

    fn progress_ui(&self, ui: &mut egui::Ui, frames: &FrameStats) {
        let Some(run) = &self.run else { return };
        ui.horizontal(|ui| {
            if let Some((what, d, t)) = run.preparing {
                ui.spinner();
                ui.label(format!("preparing {what}: {d} / {t}"));
            } else if run.total_steps == 0 {
                ui.spinner();
                ui.label("preparing...");
            } else {
                let done_now = (self.step + 1).saturating_sub(run.first_step);
                let elapsed = run.started.elapsed().as_secs_f64();
                let left = run.total_steps.saturating_sub(self.step);
                let eta = if done_now > 0 {
                    format!("{:.0} s", elapsed / done_now as f64 * left as f64)
                } else {
                    "?".into()
                };
                ui.add(
                    egui::ProgressBar::new(self.step as f32 / run.total_steps.max(1) as f32)
                        .desired_width(300.0)
                        .text(format!("step {} / {}", self.step, run.total_steps)),
                );
                let paused = if run.control.pause.load(Ordering::Relaxed) {
                    "paused, "
                } else {
                    ""
                };
                ui.label(format!(
                    "{paused}{:.1} triplets/s, about {eta} left",
                    self.throughput
                ));
            }
            if let Some(f) = frames.summary_since(run.frames_at_start) {
                ui.separator();
                ui.label(format!("UI frame {f}"));
            }
        });
        ui.ctx().request_repaint_after(Duration::from_millis(250));
    }

    fn plots_ui(&self, ui: &mut egui::Ui) {
        let smoothed = ema(&self.losses, 0.9);
        let height = (ui.available_height() - 140.0).max(180.0);
        ui.columns(2, |cols| {
            Plot::new("training_loss")
                .height(height)
                .legend(Legend::default())
                .x_axis_label("step")
                .y_axis_label("loss / active fraction")
                .show(&mut cols[0], |plot| {
                    plot.line(Line::new("loss per step", self.losses.clone()));
                    plot.line(Line::new("smoothed", smoothed).width(2.5));
                    plot.line(Line::new("active triplets (fraction)", self.active.clone()));
                    if !self.epoch_losses.is_empty() {
                        plot.points(
                            Points::new("epoch mean", self.epoch_losses.clone()).radius(4.0),
                        );
                    }
                });
            Plot::new("validation_accuracy")
                .height(height)
                .legend(Legend::default())
                .x_axis_label("step")
                .y_axis_label("validation accuracy")
                .include_y(0.5)
                .include_y(1.0)
                .show(&mut cols[1], |plot| {
                    plot.line(Line::new("validation accuracy", self.val_accuracy.clone()));
                    plot.points(Points::new("after epoch", self.val_accuracy.clone()).radius(4.0));
                });
        });
    }
}

/// Exponential moving average of a series (the usual smoothed training curve).
fn ema(points: &[[f64; 2]], keep: f64) -> Vec<[f64; 2]> {
    let mut acc = None;
    points
        .iter()
        .map(|&[x, y]| {
            let v = acc.map_or(y, |a: f64| keep * a + (1.0 - keep) * y);
            acc = Some(v);
            [x, v]
        })
        .collect()
}
