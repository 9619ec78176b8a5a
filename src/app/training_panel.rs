//! Training panel: train the embedding network on the Triplets page's triplets (or a loaded
//! .npy) in a background thread, with a live loss plot, throughput and ETA, Stop, an event
//! log, and saving the trained model.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use eframe::egui;
use egui_plot::{Legend, Line, Plot};
use siamese_face::embed::SmallCnn;
use siamese_face::embed::train::{self, ModelMeta, TrainConfig, TrainEvent, TrainSummary};
use siamese_face::triplets::TripletArray;

use super::dialogs;

enum Msg {
    Event(TrainEvent),
    Done(Result<(Box<SmallCnn>, TrainSummary), String>),
}

struct Run {
    stop: Arc<AtomicBool>,
    rx: mpsc::Receiver<Msg>,
    started: Instant,
    total_steps: usize,
}

pub struct TrainingPanel {
    cfg: TrainConfig,
    run: Option<Run>,
    /// (global step, loss) and (step, active fraction) of the current or last run.
    losses: Vec<[f64; 2]>,
    active: Vec<[f64; 2]>,
    epoch_losses: Vec<[f64; 2]>,
    throughput: f64,
    log: VecDeque<String>,
    trained: Option<(Arc<SmallCnn>, ModelMeta)>,
    save_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    error: Option<String>,
    /// Crop size and triplet count of the data being trained on.
    data_shape: (usize, usize),
}

impl TrainingPanel {
    pub fn new() -> Self {
        TrainingPanel {
            cfg: TrainConfig::default(),
            run: None,
            losses: Vec::new(),
            active: Vec::new(),
            epoch_losses: Vec::new(),
            throughput: 0.0,
            log: VecDeque::new(),
            trained: None,
            save_pick: None,
            error: None,
            data_shape: (0, 0),
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

    fn note(&mut self, line: String) {
        self.log.push_back(line);
        while self.log.len() > 300 {
            self.log.pop_front();
        }
    }

    pub fn start(&mut self, data: Arc<TripletArray>, device: Device, ctx: &egui::Context) {
        let cfg = self.cfg;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let job_stop = stop.clone();
        let ctx = ctx.clone();
        let n = data.len();
        self.data_shape = (data.size(), n);
        std::thread::Builder::new()
            .name("training".into())
            .spawn(move || {
                let result = train::train(&data, &cfg, &device, &job_stop, |e| {
                    let _ = tx.send(Msg::Event(e.clone()));
                    ctx.request_repaint();
                })
                .map(|(net, summary)| (Box::new(net), summary))
                .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Done(result));
                ctx.request_repaint();
            })
            .expect("spawning a thread");
        self.losses.clear();
        self.active.clear();
        self.epoch_losses.clear();
        self.trained = None;
        self.error = None;
        let total_steps = cfg.epochs * cfg.steps_per_epoch(n);
        self.note(format!(
            "started: {n} triplets, {} epochs of {} steps, batch {}, lr {}, margin {}",
            cfg.epochs,
            total_steps / cfg.epochs.max(1),
            cfg.batch_size,
            cfg.learning_rate,
            cfg.margin
        ));
        self.run = Some(Run {
            stop,
            rx,
            started: Instant::now(),
            total_steps,
        });
    }

    pub fn poll(&mut self) {
        let Some(run) = &self.run else {
            if let Some(rx) = &self.save_pick
                && let Ok(picked) = rx.try_recv()
            {
                self.save_pick = None;
                if let (Some(dir), Some((net, meta))) = (picked, &self.trained) {
                    match train::save_model(net, meta, &dir) {
                        Ok(()) => {
                            let line = format!("saved the model to {}", dir.display());
                            self.note(line);
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
            }
            return;
        };
        let mut msgs = Vec::new();
        while let Ok(m) = run.rx.try_recv() {
            msgs.push(m);
        }
        for m in msgs {
            match m {
                Msg::Event(TrainEvent::Step {
                    loss,
                    active,
                    triplets_per_s,
                    ..
                }) => {
                    let x = self.losses.len() as f64 + 1.0;
                    self.losses.push([x, loss as f64]);
                    self.active.push([x, active as f64]);
                    // Smoothed, so the figure does not jump with each batch.
                    self.throughput = if self.throughput == 0.0 {
                        triplets_per_s
                    } else {
                        0.9 * self.throughput + 0.1 * triplets_per_s
                    };
                }
                Msg::Event(TrainEvent::Epoch { epoch, mean_loss }) => {
                    let x = self.losses.len() as f64;
                    self.epoch_losses.push([x, mean_loss as f64]);
                    self.note(format!("epoch {epoch}: mean loss {mean_loss:.4}"));
                }
                Msg::Done(result) => {
                    let secs = self
                        .run
                        .as_ref()
                        .map_or(0.0, |r| r.started.elapsed().as_secs_f64());
                    self.run = None;
                    match result {
                        Ok((net, summary)) => {
                            self.note(format!(
                                "{} after {} steps in {secs:.0} s, final loss {:.4}",
                                if summary.stopped {
                                    "stopped"
                                } else {
                                    "finished"
                                },
                                summary.steps,
                                summary.final_loss
                            ));
                            let (size, n) = self.data_shape;
                            let meta = ModelMeta::small_cnn(self.cfg, size, n);
                            self.trained = Some((Arc::new(*net), meta));
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
}

impl TrainingPanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        triplets: Option<Arc<TripletArray>>,
        device: Option<&Device>,
    ) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Backbone: small CNN (from scratch)");
            ui.separator();
            let idle = self.run.is_none();
            ui.add_enabled_ui(idle, |ui| {
                ui.label("epochs");
                ui.add(egui::DragValue::new(&mut self.cfg.epochs).range(1..=1000));
                ui.label("batch");
                ui.add(egui::DragValue::new(&mut self.cfg.batch_size).range(1..=512));
                ui.label("learning rate");
                ui.add(
                    egui::DragValue::new(&mut self.cfg.learning_rate)
                        .range(1e-6..=1e-1)
                        .speed(1e-4)
                        .max_decimals(5),
                );
                ui.label("margin");
                ui.add(
                    egui::DragValue::new(&mut self.cfg.margin)
                        .range(0.01..=2.0)
                        .speed(0.01),
                );
            });
            ui.separator();
            let ready = triplets.as_ref().filter(|t| !t.is_empty());
            let can_start = idle && ready.is_some() && device.is_some();
            if ui
                .add_enabled(can_start, egui::Button::new("Start"))
                .on_disabled_hover_text("Generate or load triplets on the Triplets page first")
                .clicked()
                && let (Some(data), Some(device)) = (ready, device)
            {
                self.start(data.clone(), device.clone(), ui.ctx());
            }
            if let Some(run) = &self.run
                && ui.button("Stop").clicked()
            {
                run.stop.store(true, Ordering::Relaxed);
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
        });
        match &triplets {
            Some(t) => ui.label(format!(
                "Training data: the {} triplets of {}x{} crops on the Triplets page.",
                t.len(),
                t.size(),
                t.size()
            )),
            None => ui.label("No triplets yet: generate or load them on the Triplets page."),
        };
        if let Some(run) = &self.run {
            let done = self.losses.len();
            let elapsed = run.started.elapsed().as_secs_f64();
            let eta = if done > 0 {
                elapsed / done as f64 * (run.total_steps.saturating_sub(done)) as f64
            } else {
                f64::NAN
            };
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(done as f32 / run.total_steps.max(1) as f32)
                        .desired_width(300.0)
                        .text(format!("step {done} / {}", run.total_steps)),
                );
                ui.label(format!(
                    "{:.1} triplets/s, about {} left",
                    self.throughput,
                    if eta.is_finite() {
                        format!("{eta:.0} s")
                    } else {
                        "?".into()
                    }
                ));
            });
            ui.ctx().request_repaint_after(Duration::from_millis(250));
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.separator();
        let smoothed = ema(&self.losses, 0.9);
        Plot::new("training_loss")
            .height((ui.available_height() - 140.0).max(180.0))
            .legend(Legend::default())
            .x_axis_label("step")
            .y_axis_label("loss / active fraction")
            .show(ui, |plot| {
                plot.line(Line::new("loss per step", self.losses.clone()));
                plot.line(Line::new("smoothed", smoothed).width(2.5));
                plot.line(Line::new("active triplets (fraction)", self.active.clone()));
                if !self.epoch_losses.is_empty() {
                    plot.points(
                        egui_plot::Points::new("epoch mean", self.epoch_losses.clone()).radius(4.0),
                    );
                }
            });
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
