//! Training panel: train the embedding network on the Triplets page's triplets or with
//! online semi-hard mining over the dataset's training identities, in a background thread:
//! backbone and hyper-parameters, Start / Pause / Resume / Stop, resume from a checkpoint,
//! live plots of the loss (with a smoothed line) and validation accuracy, throughput and
//! ETA, an event log, the UI's own frame time, and saving the trained model.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use eframe::egui;
use egui_plot::{Legend, Line, Plot, Points};
use siamese_face::Dataset;
use siamese_face::dataset::TrainSplit;
use siamese_face::embed::BackboneKind;
use siamese_face::embed::EmbeddingNet;
use siamese_face::embed::augment::Augment;
use siamese_face::embed::pretrained::InitWeights;
use siamese_face::embed::train::{LrSchedule, Mining, TrainConfig, TrainEvent};
use siamese_face::model::{self, ModelMeta};
use siamese_face::preprocess::{self, PreprocessSettings};
use siamese_face::triplets::{Sidecar, TripletArray};
use siamese_face::workflow::Outcome;
use siamese_face::workflow::train::{self as workflow, TrainPlan, TrainSource, ValidationPlan};

use super::FrameStats;
use super::context::{AppContext, Panel};
use super::dialogs;
use super::job::{Job, Update};
use super::training_map::TrainingMap;

/// What the Training page needs from the rest of the app.
pub struct Inputs<'a> {
    pub triplets: Option<Arc<TripletArray>>,
    /// Where the Triplets page's triplets came from (or were saved to), and their sidecar.
    pub triplets_file: Option<PathBuf>,
    pub sidecar: Option<&'a Sidecar>,
    pub dataset: Option<&'a Arc<Dataset>>,
    pub device: Option<&'a Device>,
    /// The crop settings and cache of the Triplets page (mining and validation crops).
    pub crops: (PreprocessSettings, PathBuf),
    pub frames: &'a FrameStats,
}

/// A trained network and its metadata, or why training failed.
type RunResult = Result<Option<Box<(EmbeddingNet, ModelMeta)>>, String>;

struct Run {
    job: Job<RunResult>,
    started: Instant,
    /// Steps of the run, and the first step this session trains (after a resume).
    total_steps: usize,
    first_step: usize,
    /// Where the UI's frame measurements stood when training began (reported over the run).
    frames_at_start: super::frames::FrameMark,
    /// Backbone features computed so far, while a frozen-backbone run prepares them.
    features: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Triplets,
    Mining,
}

pub struct TrainingPanel {
    cfg: TrainConfig,
    source: Source,
    /// Online mining takes at most this many people (None: all the training identities).
    max_people: Option<usize>,
    /// The quick preset's description for the dataset at this root.
    quick: Option<(PathBuf, Option<String>)>,
    validate: bool,
    run: Option<Run>,
    /// (global step, value) series of the current or last run.
    losses: Vec<[f64; 2]>,
    active: Vec<[f64; 2]>,
    epoch_losses: Vec<[f64; 2]>,
    val_accuracy: Vec<[f64; 2]>,
    /// The validation faces on a plane, after the last validation.
    val_map: Option<TrainingMap>,
    throughput: f64,
    step: usize,
    log: VecDeque<String>,
    trained: Option<(Arc<EmbeddingNet>, ModelMeta)>,
    save_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    /// A saved model the app should switch to ("Use this model").
    use_request: Option<PathBuf>,
    /// Where "Use this model" saves (the user's models folder).
    models_root: PathBuf,
    weights_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    resume_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    /// The plan of the run picked to resume (its settings are shown in the panel).
    resume_plan: Option<TrainPlan>,
    error: Option<String>,
    runs_root: PathBuf,
}

impl TrainingPanel {
    pub fn new() -> Self {
        TrainingPanel {
            cfg: TrainConfig::default(),
            source: Source::Triplets,
            max_people: None,
            quick: None,
            validate: true,
            run: None,
            losses: Vec::new(),
            active: Vec::new(),
            epoch_losses: Vec::new(),
            val_accuracy: Vec::new(),
            val_map: None,
            throughput: 0.0,
            step: 0,
            log: VecDeque::new(),
            trained: None,
            save_pick: None,
            use_request: None,
            models_root: model::user_models_root(),
            weights_pick: None,
            resume_pick: None,
            resume_plan: None,
            error: None,
            runs_root: preprocess::default_cache_root().join("runs"),
        }
    }

    #[cfg(test)]
    pub fn set_models_root(&mut self, root: PathBuf) {
        self.models_root = root;
    }

    #[cfg(test)]
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// (done, total) of the preparation under way (cropping), before training steps.
    #[cfg(test)]
    pub fn preparing(&self) -> Option<(usize, usize)> {
        let run = self.run.as_ref().filter(|r| r.total_steps == 0)?;
        run.job.progress().map(|p| (p.done, p.total))
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

    /// The settings as a user would set them on the page (tests of the plan).
    #[cfg(test)]
    pub fn set_settings(&mut self, cfg: TrainConfig, mining: bool, validate: bool) {
        self.cfg = cfg;
        self.source = if mining {
            Source::Mining
        } else {
            Source::Triplets
        };
        self.validate = validate;
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

    /// The plan of a new run with the page's settings, writing checkpoints to `checkpoints`.
    pub fn plan(&self, inputs: &Inputs<'_>, checkpoints: PathBuf) -> TrainPlan {
        let mut config = self.cfg.clone();
        config.mining = (self.source == Source::Mining).then_some(Mining {
            images_per_person: self.cfg.mining.map_or(4, |m| m.images_per_person),
        });
        let source = match self.source {
            Source::Mining => TrainSource::Mining {
                split: TrainSplit::DevTrain,
                max_people: self.max_people,
            },
            Source::Triplets => TrainSource::triplets(inputs.triplets_file.clone(), inputs.sidecar),
        };
        let (user, cache_root) = inputs.crops.clone();
        TrainPlan {
            crops: TrainPlan::crops_for(config.backbone, &source, user),
            config,
            source,
            dataset: inputs.dataset.map(|d| d.root.clone()),
            validation: self.validate.then(ValidationPlan::default),
            cache_root,
            checkpoints: Some(checkpoints),
            max_steps: None,
            resume: None,
        }
    }

    /// The plan Start runs: the picked run's, continued for the page's epochs, or a new one.
    fn plan_to_run(&self, inputs: &Inputs<'_>) -> TrainPlan {
        match &self.resume_plan {
            Some(plan) => TrainPlan {
                config: TrainConfig {
                    epochs: self.cfg.epochs,
                    ..plan.config.clone()
                },
                ..plan.clone()
            },
            None => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let dir = self
                    .runs_root
                    .join(format!("run-{stamp}"))
                    .join("checkpoints");
                self.plan(inputs, dir)
            }
        }
    }

    fn start(&mut self, inputs: &Inputs<'_>, ctx: &egui::Context) {
        let Some(device) = inputs.device.cloned() else {
            return;
        };
        let plan = self.plan_to_run(inputs);
        // The app's own triplets serve a plan without a file (and spare re-reading one).
        let in_memory = match &plan.source {
            TrainSource::Triplets { .. } if self.resume_plan.is_none() => inputs.triplets.clone(),
            TrainSource::Triplets { file: None, .. } => inputs.triplets.clone(),
            _ => None,
        };
        let job_plan = plan.clone();
        let job = Job::spawn("training", ctx, move |control, sink| -> RunResult {
            match workflow::run(&job_plan, in_memory, &device, control, sink) {
                Ok(Outcome::Done(t)) => Ok(Some(Box::new((t.net, t.meta)))),
                Ok(Outcome::Cancelled) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        });
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        self.resume_plan = None;
        self.losses.clear();
        self.active.clear();
        self.epoch_losses.clear();
        self.val_accuracy.clear();
        self.val_map = None;
        self.throughput = 0.0;
        self.step = 0;
        self.trained = None;
        self.error = None;
        self.note_start(&plan);
        self.run = Some(Run {
            job,
            started: Instant::now(),
            total_steps: 0,
            first_step: 1,
            frames_at_start: inputs.frames.mark(),
            features: None,
        });
    }

    fn note_start(&mut self, plan: &TrainPlan) {
        let c = &plan.config;
        self.note(format!(
            "starting: {} ({}), {} epochs, batch {}, lr {} ({:?}, warm-up {}), margin {}, frozen backbone for {} epoch(s), augmentation {}",
            c.backbone,
            match plan.source {
                TrainSource::Mining { .. } => "online semi-hard mining",
                TrainSource::Triplets { .. } => "fixed triplets",
            },
            c.epochs,
            c.batch_size,
            c.learning_rate,
            c.schedule,
            c.warmup_steps,
            c.margin,
            c.freeze_backbone_epochs,
            if c.augment.is_none() { "off" } else { "on" },
        ));
        if plan.validation.is_some() && plan.dataset.is_none() {
            self.note("no validation: it needs a dataset with pairsDevTrain (Dataset page)".into());
        }
        if let Some(dir) = &plan.checkpoints {
            self.note(format!("checkpoints: {}", dir.display()));
        }
    }

    pub fn poll(&mut self, frames: &FrameStats) {
        self.poll_dialogs();
        let Some(run) = &mut self.run else {
            return;
        };
        for update in run.job.poll() {
            match update {
                Update::Note(line) => self.note(line),
                Update::Train(e) => self.on_event(e),
                Update::Done(result) => {
                    self.finish(result, frames);
                    return;
                }
            }
        }
    }

    fn finish(&mut self, result: RunResult, frames: &FrameStats) {
        let Some(run) = self.run.take() else { return };
        let secs = run.started.elapsed().as_secs_f64();
        if let Some(f) = frames.summary_since(run.frames_at_start) {
            self.note(format!("UI during the run: {f}"));
        }
        match result {
            Ok(Some(done)) => {
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
            Ok(None) => self.note("cancelled while preparing the data".into()),
            Err(e) => {
                self.note(format!("failed: {e}"));
                self.error = Some(e);
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
                    run.job.clear_progress();
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
                    run.features = (done < total).then_some((done, total));
                }
            }
            TrainEvent::Epoch { epoch, mean_loss } => {
                self.epoch_losses.push([self.step as f64, mean_loss as f64]);
                self.note(format!("epoch {epoch}: mean loss {mean_loss:.4}"));
            }
            TrainEvent::Validation {
                epoch,
                step,
                accuracy,
                threshold,
                map,
            } => {
                self.val_accuracy.push([step as f64, accuracy]);
                if let Some(map) = map {
                    self.val_map = Some(TrainingMap::new(epoch, map));
                }
                self.note(format!(
                    "step {step}: validation accuracy {accuracy:.3} at cosine {threshold:.3}"
                ));
            }
            TrainEvent::Checkpoint { step, path } => {
                self.note(format!("step {step}: checkpoint {}", path.display()));
            }
        }
    }

    /// Save model... and Use this model, once a run has finished.
    fn model_buttons_ui(&mut self, ui: &mut egui::Ui, idle: bool) {
        let can_save = idle && self.trained.is_some() && self.save_pick.is_none();
        if ui
            .add_enabled(can_save, egui::Button::new("Save model..."))
            .on_hover_text("Into a new subfolder of the folder you choose")
            .clicked()
        {
            self.save_pick = Some(dialogs::spawn(ui.ctx(), || {
                rfd::FileDialog::new()
                    .set_title("Folder to save the trained model in (a subfolder is made)")
                    .pick_folder()
            }));
        }
        if ui
            .add_enabled(
                idle && self.trained.is_some(),
                egui::Button::new("Use this model"),
            )
            .on_hover_text(
                "Save it among your models and make it the one Compare, Evaluate and People use",
            )
            .clicked()
        {
            self.use_trained();
        }
    }

    /// Saves the trained model into the user's models folder and asks the app to use it.
    fn use_trained(&mut self) {
        let Some((net, meta)) = &self.trained else {
            return;
        };
        match model::save_new(net, meta, &self.models_root, &model::folder_name(meta)) {
            Ok(dir) => {
                self.note(format!(
                    "saved the model to {} and made it the model in use",
                    dir.display()
                ));
                self.use_request = Some(dir);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn poll_dialogs(&mut self) {
        if let Some(rx) = &self.save_pick
            && let Ok(picked) = rx.try_recv()
        {
            self.save_pick = None;
            if let (Some(parent), Some((net, meta))) = (picked, &self.trained) {
                // Into a new subfolder of the one chosen, never loose files beside others.
                match model::save_new(net, meta, &parent, &model::folder_name(meta)) {
                    Ok(dir) => self.note(format!("saved the model to {}", dir.display())),
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
                self.pick_resume(&p);
            }
        }
    }
}

impl TrainingPanel {
    /// Takes the run of the checkpoint at `p` as the next Start's, showing its settings.
    fn pick_resume(&mut self, p: &std::path::Path) {
        // The page cannot stand in for the data settings an older checkpoint lacks.
        match TrainPlan::resumed(p, None, || None) {
            Ok((plan, note)) => {
                if let Some(note) = note {
                    self.note(note);
                }
                self.note(format!(
                    "will resume from {}",
                    plan.resume.as_deref().unwrap_or(p).display()
                ));
                self.cfg = plan.config.clone();
                self.source = match plan.source {
                    TrainSource::Mining { .. } => Source::Mining,
                    TrainSource::Triplets { .. } => Source::Triplets,
                };
                self.validate = plan.validation.is_some();
                self.resume_plan = Some(plan);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, inputs: Inputs<'_>) {
        let idle = self.run.is_none();
        // The validation the plan asks for reads its pairs from this list of the dataset.
        let list = ValidationPlan::default().list;
        let has_pairs = inputs.dataset.is_some_and(|d| d.pair_list(&list).is_some());
        ui.add_enabled_ui(idle, |ui| self.settings_ui(ui, has_pairs));
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

    fn settings_ui(&mut self, ui: &mut egui::Ui, has_pairs: bool) {
        self.data_ui(ui, has_pairs);
        if let Some(changed) = self.backbone_ui(ui) {
            self.note(changed);
        }
        hyper_parameters_ui(ui, &mut self.cfg);
    }

    /// Fixed triplets or mining, and validation (offered when the dataset has the pairs).
    fn data_ui(&mut self, ui: &mut egui::Ui, has_pairs: bool) {
        let cfg = &mut self.cfg;
        ui.horizontal_wrapped(|ui| {
            ui.label("Data");
            ui.radio_value(&mut self.source, Source::Triplets, "fixed triplets");
            ui.radio_value(&mut self.source, Source::Mining, "online semi-hard mining")
                .on_hover_text(
                    "Each batch takes a few people with several photos each and trains on the \
                     triplets whose negative is farther than the positive but within the margin",
                );
            if self.source == Source::Mining {
                ui.label("images per person");
                let mut k = cfg.mining.map_or(4, |m| m.images_per_person);
                ui.add(egui::DragValue::new(&mut k).range(2..=16));
                cfg.mining = Some(Mining {
                    images_per_person: k,
                });
                let mut capped = self.max_people.is_some();
                ui.checkbox(&mut capped, "at most").on_hover_text(
                    "Train on the first N training people (by name) only: fewer photos to \
                         crop before the first step",
                );
                self.max_people = match (capped, self.max_people) {
                    (true, Some(mut n)) => {
                        ui.add(egui::DragValue::new(&mut n).range(2..=100_000));
                        Some(n)
                    }
                    (true, None) => Some(QUICK_PEOPLE),
                    (false, _) => None,
                };
                ui.label("people");
            }
            ui.separator();
            if has_pairs {
                ui.checkbox(&mut self.validate, "validate on 100+100 DevTrain pairs")
                    .on_hover_text("Accuracy on held-out DevTrain pairs after each epoch");
            } else {
                // Shown unticked: a run here has no validation, whatever was chosen before.
                ui.add_enabled(
                    false,
                    egui::Checkbox::new(&mut false, "validate on 100+100 DevTrain pairs"),
                )
                .on_disabled_hover_text(
                    "Needs a dataset with LFW's pairsDevTrain list (Dataset page)",
                );
            }
        });
    }

    /// The backbone and its initial weights (choosing dlib proposes its recipe); returns a
    /// note saying which settings that changed.
    fn backbone_ui(&mut self, ui: &mut egui::Ui) -> Option<String> {
        let cfg = &mut self.cfg;
        let mut changed = None;
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
                changed = Some(format!(
                    "{}: its recipe set frozen epochs {}, flip averaging on, margin 0.2, learning rate 5e-4, batch 64",
                    cfg.backbone.name(),
                    cfg.freeze_backbone_epochs
                ));
            }
            let note = match &cfg.init {
                InitWeights::File(p) => format!("weights: {}", p.display()),
                InitWeights::Random => "random initialisation".into(),
                InitWeights::Default => cfg.backbone.weights_note().into(),
            };
            ui.label(note);
            // Only the ImageNet backbones have ImageNet weights to load.
            let imagenet = !matches!(
                cfg.backbone,
                BackboneKind::DlibResnet | BackboneKind::SmallCnn
            );
            if imagenet && ui.button("ImageNet weights file...").clicked()
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
        changed
    }

    fn buttons_ui(&mut self, ui: &mut egui::Ui, inputs: &Inputs<'_>) {
        let idle = self.run.is_none();
        let has_data = match self.source {
            Source::Triplets => inputs.triplets.as_ref().is_some_and(|t| !t.is_empty()),
            Source::Mining => inputs.dataset.is_some(),
        };
        let can_start = idle && has_data && inputs.device.is_some();
        let label = if self.resume_plan.is_some() {
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
            let paused = run.job.paused();
            // Every phase pauses: cropping and feature passes at their next image or batch.
            if ui
                .button(if paused { "Resume" } else { "Pause" })
                .on_hover_text(
                    "Pauses any phase (cropping, features, training); Stop ends it, keeping \
                     the crops made so far for the next run",
                )
                .clicked()
            {
                run.job.set_paused(!paused);
            }
            if ui.button("Stop").clicked() {
                run.job.stop();
            }
        }
        let quick = self.quick_estimate(inputs.dataset);
        if ui
            .add_enabled(
                idle && quick.is_some(),
                egui::Button::new("Quick start preset"),
            )
            .on_hover_text(quick.clone().unwrap_or_default())
            .on_disabled_hover_text("Needs a dataset with training people (Dataset page)")
            .clicked()
        {
            self.quick_preset(quick.unwrap_or_default());
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
        self.model_buttons_ui(ui, idle);
    }

    /// What the quick preset trains and about how long it takes, for `dataset` (worked out
    /// once per dataset).
    fn quick_estimate(&mut self, dataset: Option<&Arc<Dataset>>) -> Option<String> {
        let ds = dataset?;
        if let Some((root, text)) = &self.quick
            && *root == ds.root
        {
            return text.clone();
        }
        let text = Self::estimate(ds);
        self.quick = Some((ds.root.clone(), text.clone()));
        text
    }

    fn estimate(ds: &Dataset) -> Option<String> {
        let photos = workflow::mining_photos(ds, TrainSplit::DevTrain, Some(QUICK_PEOPLE)).ok()?;
        let secs = photos as f64 * SECONDS_PER_PHOTO + QUICK_EPOCHS as f64 * SECONDS_PER_EPOCH;
        Some(format!(
            "small CNN by online mining over {QUICK_PEOPLE} people ({photos} photos), \
             {QUICK_EPOCHS} epochs: about {} on a 2-core CPU with nothing cropped yet \
             (cropped photos are reused)",
            super::job::duration_text(Duration::from_secs_f64(secs))
        ))
    }

    /// Sets the page to the quick preset (settings a first run can finish in minutes).
    fn quick_preset(&mut self, estimate: String) {
        self.cfg = TrainConfig {
            epochs: QUICK_EPOCHS,
            ..TrainConfig::default()
        };
        self.source = Source::Mining;
        self.max_people = Some(QUICK_PEOPLE);
        self.validate = true;
        self.resume_plan = None;
        self.note(format!("quick start preset: {estimate}"));
    }

    fn progress_ui(&self, ui: &mut egui::Ui, frames: &FrameStats) {
        let Some(run) = &self.run else { return };
        // Wrapped: one long line would widen the page past a small window.
        ui.horizontal_wrapped(|ui| {
            let paused = run.job.paused();
            if let Some((d, t)) = run.features {
                super::busy(ui);
                let eta = run
                    .job
                    .eta()
                    .filter(|_| !paused)
                    .map(super::job::duration_text);
                ui.label(format!(
                    "preparing backbone features: {d} / {t}{}",
                    eta.map_or(String::new(), |e| format!(", about {e} left"))
                ));
            } else if run.total_steps == 0 {
                super::busy(ui);
                match run.job.progress_text() {
                    Some(p) => ui.label(format!("preparing {p}")),
                    None => ui.label("preparing..."),
                };
            } else {
                let done_now = (self.step + 1).saturating_sub(run.first_step);
                let left = run.total_steps.saturating_sub(self.step);
                let eta = super::job::eta(run.started.elapsed(), done_now, left)
                    .map_or("?".into(), super::job::duration_text);
                ui.add(
                    egui::ProgressBar::new(self.step as f32 / run.total_steps.max(1) as f32)
                        .desired_width(300.0)
                        .text(format!("step {} / {}", self.step, run.total_steps)),
                );
                let paused = if paused { "paused, " } else { "" };
                ui.label(format!(
                    "{paused}{:.1} triplets/s, about {eta} left",
                    self.throughput
                ));
            }
            if let Some(f) = frames.summary_since(run.frames_at_start) {
                ui.separator();
                ui.label(format!("UI {f}")).on_hover_text(
                    "Whole frame: the app's code and the rendering, as the window measures it; \
                     CPU: the UI thread and the renderer's threads together",
                );
            }
        });
        // The ETA is a clock: once a second is enough (job reports wake the UI themselves).
        ui.ctx().request_repaint_after(Duration::from_secs(1));
    }

    fn plots_ui(&self, ui: &mut egui::Ui) {
        let smoothed = ema(&self.losses, 0.9);
        let height = (ui.available_height() - 140.0).max(180.0);
        ui.columns(2 + self.val_map.is_some() as usize, |cols| {
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
            if let Some(map) = &self.val_map {
                map.ui(&mut cols[2], height);
            }
        });
    }
}

/// The quick preset: people, epochs, and the pace its estimate assumes on a 2-core CPU,
/// measured on LFW (README, "UI cost while training"): 1,129 pool photos and the validation
/// photos cropped in 45 s, then 3 small-CNN mining epochs in 37 s.
const QUICK_PEOPLE: usize = 200;
const QUICK_EPOCHS: usize = 3;
const SECONDS_PER_PHOTO: f64 = 0.04;
const SECONDS_PER_EPOCH: f64 = 12.0;

/// Epochs, batch, learning rate and schedule, margin, freezing, augmentation, checkpoints.
fn hyper_parameters_ui(ui: &mut egui::Ui, cfg: &mut TrainConfig) {
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
            ui.add(egui::DragValue::new(&mut cfg.warmup_steps).range(0..=10_000))
                .on_hover_text("Steps over which the learning rate rises from 0 to its value");
            ui.label("margin");
            ui.add(
                egui::DragValue::new(&mut cfg.margin)
                    .range(0.01..=2.0)
                    .speed(0.01),
            )
            .on_hover_text(
                "Triplet loss margin: how much closer (squared distance between unit \
                 embeddings) the positive must be than the negative",
            );
            ui.label("frozen backbone epochs");
            ui.add(egui::DragValue::new(&mut cfg.freeze_backbone_epochs).range(0..=100))
                .on_hover_text(
                    "Epochs that train only the dense block on a fixed backbone (its features \
                     are then computed once); later epochs train everything",
                );
            let mut augment = !cfg.augment.is_none();
            if ui
                .checkbox(&mut augment, "augment (flip, jitter, colour)")
                .on_hover_text("Random mirror, small shifts and colour changes of each crop")
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
            ui.add(egui::DragValue::new(&mut cfg.checkpoint_every).range(0..=100_000))
                .on_hover_text("Save a resumable checkpoint every N steps (0: only when stopped)");
            ui.label("steps");
        });
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

impl Panel for TrainingPanel {
    fn poll(&mut self, _ctx: &egui::Context, app: &mut AppContext) {
        TrainingPanel::poll(self, &app.frames);
    }

    fn activity(&self) -> Option<String> {
        let run = self.run.as_ref()?;
        let paused = if run.job.paused() { " (paused)" } else { "" };
        Some(if run.total_steps > 0 {
            format!("step {} / {}{paused}", self.step, run.total_steps)
        } else if let Some((d, t)) = run.features {
            format!("backbone features {d} / {t}{paused}")
        } else {
            let p = run.job.progress();
            p.map_or("preparing".into(), |p| {
                format!("preparing {} / {}{paused}", p.done, p.total)
            })
        })
    }

    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext) {
        let triplets = app.triplets.as_ref();
        let inputs = Inputs {
            triplets: triplets.map(|t| t.array.clone()),
            triplets_file: triplets.and_then(|t| t.file.clone()),
            sidecar: triplets.and_then(|t| t.sidecar.as_deref()),
            dataset: app.dataset.as_ref(),
            device: app.device.as_ref(),
            crops: app.crops.clone(),
            frames: &app.frames,
        };
        TrainingPanel::ui(self, ui, inputs);
        if let Some(dir) = self.use_request.take() {
            app.model_request = Some(dir);
        }
    }
}
