//! Evaluate panel: the model of the Compare page over a pair list of the open dataset (a
//! background job with progress), then the accuracy-vs-threshold curve with the slider's
//! position, accuracy / TPR / TNR at that threshold updating live, the histograms of
//! similarities for matched and mismatched pairs, the ROC curve with AUC, the misclassified
//! pairs at the current threshold, and "Use this threshold" (saved into model.json).

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use burn::tensor::Device;
use eframe::egui;
use egui_plot::{Bar, BarChart, Legend, Line, Plot, VLine};
use siamese_face::Dataset;
use siamese_face::evaluate::{self, Scores};
use siamese_face::metrics::{self, RocPoint, Scored};
use siamese_face::model;
use siamese_face::verify;
use siamese_face::workflow::evaluate::{self as workflow, EvalPlan, Evaluation, Models};
use siamese_face::workflow::{Outcome, WorkflowError};

use super::context::{AppContext, Go, Panel};
use super::dialogs;
use super::job::{Job, Update};
use super::thumbnails::{Thumb, Thumbnails};

type JobResult = Result<Outcome<Evaluation>, WorkflowError>;

/// A finished evaluation and what is derived from it once.
struct Evaluated {
    scores: Scores,
    scored: Vec<Scored>,
    roc: Vec<RocPoint>,
    auc: f64,
    /// (threshold, accuracy) on a grid over `range`.
    curve: Vec<[f64; 2]>,
    /// The similarities the slider and the plots span: the scores' own range (a model's
    /// similarities often all lie in 0.7..1, a sliver of -1..1), with the threshold in it.
    range: (f32, f32),
    best: (f32, f64),
    model_dir: PathBuf,
}

pub struct EvaluatePanel {
    list: String,
    job: Option<Job<JobResult>>,
    result: Option<Evaluated>,
    threshold: f32,
    error: Option<String>,
    message: Option<String>,
    thumbs: Option<Thumbnails>,
    cache_root: PathBuf,
    /// "Use this threshold" was clicked: the threshold waiting for Save or Cancel.
    confirm: Option<f32>,
    /// The last threshold saved: where, and the value it replaced (for Undo).
    undo: Option<model::ThresholdSaved>,
    /// A model the app should switch to (the user copy a shipped model's threshold went to).
    switch_to: Option<PathBuf>,
    /// A pair to show on the Compare page (clicked among the misclassified).
    go: Option<Go>,
    /// The file dialog choosing where the scored pairs go (CSV).
    export_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
}

impl EvaluatePanel {
    #[cfg(test)]
    pub fn set_threshold(&mut self, t: f32) {
        self.threshold = t;
    }

    #[cfg(test)]
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    pub fn new() -> Self {
        EvaluatePanel {
            list: "pairsDevTest".into(),
            job: None,
            result: None,
            threshold: verify::FALLBACK_THRESHOLD,
            error: None,
            message: None,
            thumbs: None,
            cache_root: siamese_face::preprocess::default_cache_root(),
            confirm: None,
            undo: None,
            switch_to: None,
            export_pick: None,
            go: None,
        }
    }

    #[cfg(test)]
    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }

    #[cfg(test)]
    pub fn set_cache_root(&mut self, root: PathBuf) {
        self.cache_root = root;
    }

    #[cfg(test)]
    pub fn set_list(&mut self, list: &str) {
        self.list = list.into();
    }

    /// The plan "Run evaluation" runs: `model` over the chosen list of `dataset`.
    pub fn plan(&self, dataset: &Dataset, model: &Path) -> EvalPlan {
        EvalPlan {
            dataset: dataset.root.clone(),
            pairs: self.list.clone(),
            models: Models::One {
                dir: model.to_path_buf(),
            },
            sample: None,
            folds: None,
            threshold: None,
            cache_root: self.cache_root.clone(),
        }
    }

    fn start(&mut self, ds: &Dataset, model_dir: &Path, device: Device, ctx: &egui::Context) {
        if ds.pair_list(&self.list).is_none() {
            self.error = Some(format!("the dataset has no pair list {}", self.list));
            return;
        }
        let plan = self.plan(ds, model_dir);
        let job = Job::spawn("evaluate", ctx, move |control, sink| {
            workflow::run(&plan, &device, &control.stop, sink)
        });
        match job {
            Ok(job) => {
                self.error = None;
                self.message = None;
                self.job = Some(job);
                self.result = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn poll(&mut self) {
        let Some(job) = &mut self.job else { return };
        let Some(result) = job.poll().into_iter().find_map(|u| match u {
            Update::Done(r) => Some(r),
            Update::Note(_) | Update::Train(_) => None,
        }) else {
            return;
        };
        let secs = job.started().elapsed().as_secs_f64();
        self.job = None;
        match result {
            Ok(Outcome::Done(evaluation)) => self.show(evaluation, secs),
            Ok(Outcome::Cancelled) => self.message = Some("Cancelled".into()),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn show(&mut self, evaluation: Evaluation, secs: f64) {
        let Evaluation {
            scores, model_dir, ..
        } = evaluation;
        let Some((scores, threshold)) = scores.into_iter().next() else {
            return;
        };
        let scored = scores.scored();
        let roc = metrics::roc(&scored);
        let range = zoom(&scored, threshold);
        let curve = (0..=200)
            .map(|i| {
                let t = range.0 + (range.1 - range.0) * i as f32 / 200.0;
                [t as f64, metrics::accuracy(&scored, t)]
            })
            .collect();
        self.threshold = threshold;
        self.message = Some(format!(
            "{}: {} pairs scored in {secs:.0} s ({} fallback crop(s), {} pair(s) with missing images, {} unscored)",
            scores.list,
            scored.len(),
            scores.fallback_crops.len(),
            scores.missing_pairs,
            scores.unscored_pairs
        ));
        self.result = Some(Evaluated {
            auc: metrics::auc(&roc),
            best: metrics::best_threshold(&scored),
            scored,
            roc,
            curve,
            range,
            scores,
            model_dir: model_dir.unwrap_or_default(),
        });
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&Arc<Dataset>>,
        model_dir: Option<&Path>,
        device: Option<&Device>,
    ) {
        self.thumbs
            .get_or_insert_with(|| Thumbnails::new(ui.ctx()))
            .poll(ui.ctx());
        self.controls_ui(ui, dataset, model_dir, device);
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(m) = &self.message {
            ui.label(m);
        }
        if self.result.is_none() {
            ui.add_space(24.0);
            match dataset {
                Some(ds) if ds.pair_lists.is_empty() => ui.label(format!(
                    "{} has no pair lists to evaluate on (pairs.txt, pairsDevTrain.txt, \
                     pairsDevTest.txt or LFW's Kaggle CSVs). Open LFW on the Dataset page, \
                     or put a pair list in LFW's format beside the person folders.",
                    ds.root.display()
                )),
                _ => ui.label(
                    "Choose a pair list (LFW's pairsDevTest by default) and Run evaluation.",
                ),
            };
            return;
        }
        self.threshold_ui(ui);
        let Some(r) = &self.result else { return };
        plots_ui(ui, r, self.threshold as f64);
        let wrong = evaluate::misclassified(&r.scores, self.threshold);
        ui.label(format!(
            "Misclassified at {:.3}: {}",
            self.threshold,
            wrong.len()
        ));
        if let (Some(ds), Some(thumbs)) = (dataset, self.thumbs.as_mut())
            && let Some((a, b)) = misclassified_ui(ui, &wrong, ds, thumbs)
        {
            self.go = Some(Go::ComparePair(a, b));
        }
    }

    /// The pair list, Run / Cancel with progress, and the model evaluated.
    fn controls_ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&Arc<Dataset>>,
        model_dir: Option<&Path>,
        device: Option<&Device>,
    ) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Pairs");
            let lists: Vec<String> = dataset
                .map(|d| d.pair_lists.iter().map(|e| e.list.name.clone()).collect())
                .unwrap_or_default();
            egui::ComboBox::from_id_salt("pair_list")
                .selected_text(&self.list)
                .show_ui(ui, |ui| {
                    for l in &lists {
                        ui.selectable_value(&mut self.list, l.clone(), l);
                    }
                });
            // A list the dataset does not have (the sample has none) cannot be run.
            if !lists.is_empty() && !lists.contains(&self.list) {
                self.list = lists[0].clone();
            }
            let can =
                self.job.is_none() && !lists.is_empty() && model_dir.is_some() && device.is_some();
            if ui
                .add_enabled(can, egui::Button::new("Run evaluation"))
                .on_disabled_hover_text(
                    "Needs a dataset with pair lists (Dataset page) and a model (Compare page)",
                )
                .clicked()
                && let (Some(ds), Some(m), Some(d)) = (dataset, model_dir, device)
            {
                self.start(ds, m, d.clone(), ui.ctx());
            }
            if let Some(job) = &self.job {
                if ui.button("Cancel").clicked() {
                    job.stop();
                }
                let (d, t) = job.progress().map_or((0, 0), |p| (p.done, p.total));
                ui.add(
                    egui::ProgressBar::new(if t > 0 { d as f32 / t as f32 } else { 0.0 })
                        .desired_width(240.0)
                        .text(format!("{d} / {t} images")),
                );
                ui.ctx().request_repaint_after(Duration::from_millis(500));
            }
            match model_dir {
                Some(m) => ui.label(format!("model: {}", m.display())),
                None => ui.label("model: none (open one on the Compare page)"),
            };
        });
    }

    /// The threshold slider with the figures at it, and "Use this threshold".
    fn threshold_ui(&mut self, ui: &mut egui::Ui) {
        let Some(r) = &self.result else { return };
        let t = self.threshold;
        let pos = r.scored.iter().filter(|p| p.same).count().max(1);
        let neg = r.scored.iter().filter(|p| !p.same).count().max(1);
        let tp = r.scored.iter().filter(|p| p.same && p.score >= t).count();
        let tn = r.scored.iter().filter(|p| !p.same && p.score < t).count();
        ui.horizontal_wrapped(|ui| {
            ui.label("threshold");
            // Zoomed to the scores; a typed value outside is kept as typed.
            ui.add(
                egui::Slider::new(&mut self.threshold, r.range.0..=r.range.1)
                    .clamping(egui::SliderClamping::Never)
                    // The shortest text of the f32 itself: what is shown types back
                    // exactly (a rounded text would move the threshold).
                    .custom_formatter(|v, _| format!("{}", v as f32)),
            );
            ui.strong(format!(
                "accuracy {:.4}   TPR {:.4}   TNR {:.4}",
                (tp + tn) as f64 / r.scored.len().max(1) as f64,
                tp as f64 / pos as f64,
                tn as f64 / neg as f64
            ));
            ui.label(format!(
                "(best on these pairs: {:.4} at {}; AUC {:.4}; TAR {:.3} at FAR 1e-2, {:.3} at 1e-3)",
                r.best.1,
                r.best.0,
                r.auc,
                metrics::tar_at_far(&r.roc, 1e-2),
                metrics::tar_at_far(&r.roc, 1e-3)
            ));
            if ui
                .button("Use this threshold")
                .on_hover_text(
                    "Make it the model's threshold (its model.json). A model shipped with \
                     the app is never changed: a copy of it in your data folder gets it.",
                )
                .clicked()
            {
                self.confirm = Some(self.threshold);
            }
            if ui
                .add_enabled(self.export_pick.is_none(), egui::Button::new("Export CSV..."))
                .on_hover_text("Every scored pair: images, same, fold, similarity, the verdict at this threshold")
                .clicked()
            {
                let name = format!("{}-scores.csv", r.scores.list.replace([' ', '/'], "_"));
                self.export_pick = Some(dialogs::spawn(ui.ctx(), move || {
                    rfd::FileDialog::new()
                        .set_title("Save the scored pairs")
                        .set_file_name(name)
                        .add_filter("CSV", &["csv"])
                        .save_file()
                }));
            }
        });
        self.export();
        self.confirm_ui(ui);
    }

    /// Writes the scored pairs where the export dialog said, once it answers.
    fn export(&mut self) {
        let Some(rx) = &self.export_pick else { return };
        let Ok(picked) = rx.try_recv() else { return };
        self.export_pick = None;
        let (Some(path), Some(r)) = (picked, &self.result) else {
            return;
        };
        let csv = evaluate::scores_csv(&[(&r.scores, self.threshold)]);
        match siamese_face::imageio::write_atomic(&path, csv.as_bytes()) {
            Ok(()) => {
                self.message = Some(format!(
                    "{} pairs written to {}",
                    r.scores.pairs.len(),
                    path.display()
                ))
            }
            Err(e) => self.error = Some(format!("{}: {e}", path.display())),
        }
    }

    /// The Save / Cancel question after "Use this threshold", and Undo after a save.
    fn confirm_ui(&mut self, ui: &mut egui::Ui) {
        let Some(r) = &self.result else { return };
        let dir = r.model_dir.clone();
        if let Some(t) = self.confirm {
            let now = model::read_meta(&dir).ok().and_then(|m| m.threshold);
            let into = if model::is_shipped(&dir) {
                format!(
                    "your copy of the shipped model ({})",
                    model::user_copy_dir(&dir).display()
                )
            } else {
                dir.display().to_string()
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "Save threshold {t} into {into}, with these pairs' similarities for error-rate \
                     readings? It is now {}.",
                    now.map_or("not set".to_owned(), |v| format!("{v}"))
                ));
                if ui.button("Save").clicked() {
                    self.confirm = None;
                    self.save_threshold(&dir, Some(t), true);
                }
                if ui.button("Cancel").clicked() {
                    self.confirm = None;
                }
            });
        } else if let Some(saved) = self.undo.clone()
            && ui
                .button("Undo")
                .on_hover_text(format!(
                    "Put back the threshold {} had",
                    saved.dir.display()
                ))
                .clicked()
        {
            self.undo = None;
            self.save_threshold(&saved.dir, saved.previous, false);
            self.undo = None;
        }
    }

    /// Stores `threshold` in the model at `dir`; with `calibrate`, the evaluated pairs'
    /// similarities too (the Compare page reads error rates from them).
    fn save_threshold(&mut self, dir: &Path, threshold: Option<f32>, calibrate: bool) {
        let calibration = self
            .result
            .as_ref()
            .filter(|_| calibrate)
            .map(|r| model::Calibration::new(&r.scores.list, &r.scored));
        let saved = match (threshold, calibration) {
            (Some(t), Some(c)) => model::set_calibrated_threshold(dir, t, c),
            _ => model::set_threshold(dir, threshold),
        };
        match saved {
            Ok(saved) => {
                self.message = Some(format!(
                    "threshold {} saved into {} (it was {})",
                    threshold.map_or("unset".to_owned(), |t| format!("{t:.4}")),
                    saved.dir.join("model.json").display(),
                    saved
                        .previous
                        .map_or("not set".to_owned(), |t| format!("{t:.4}"))
                ));
                if saved.dir != dir {
                    self.switch_to = Some(saved.dir.clone());
                    if let Some(r) = &mut self.result {
                        r.model_dir = saved.dir.clone();
                    }
                }
                self.undo = Some(saved);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

/// The accuracy curve, the similarity histograms and the ROC, each marking threshold `t`.
fn plots_ui(ui: &mut egui::Ui, r: &Evaluated, t: f64) {
    let height = ((ui.available_height() - 190.0) / 1.0).max(160.0);
    ui.columns(3, |cols| {
        Plot::new("accuracy_curve")
            .height(height)
            .x_axis_label("threshold")
            .y_axis_label("accuracy")
            .include_y(0.4)
            .include_y(1.0)
            .show(&mut cols[0], |plot| {
                plot.line(Line::new("accuracy", r.curve.clone()));
                plot.vline(VLine::new("threshold", t).color(THRESHOLD_COLOUR));
            });
        let (matched, mismatched) = histograms(&r.scored, r.range);
        Plot::new("similarity_histogram")
            .height(height)
            .legend(Legend::default())
            .x_axis_label("cosine similarity")
            .y_axis_label("pairs")
            .show(&mut cols[1], |plot| {
                plot.bar_chart(
                    BarChart::new("matched", matched).color(egui::Color32::from_rgb(60, 200, 90)),
                );
                plot.bar_chart(
                    BarChart::new("mismatched", mismatched)
                        .color(egui::Color32::from_rgb(230, 80, 70)),
                );
                plot.vline(VLine::new("threshold", t).color(THRESHOLD_COLOUR));
            });
        let roc: Vec<[f64; 2]> = r.roc.iter().map(|p| [p.far, p.tar]).collect();
        let at = r
            .roc
            .iter()
            .rfind(|p| p.threshold as f64 >= t)
            .map(|p| [p.far, p.tar]);
        Plot::new("roc")
            .height(height)
            .legend(Legend::default())
            .x_axis_label("false accept rate")
            .y_axis_label("true accept rate")
            .include_x(0.0)
            .include_x(1.0)
            .include_y(0.0)
            .include_y(1.0)
            .show(&mut cols[2], |plot| {
                plot.line(Line::new(format!("ROC (AUC {:.4})", r.auc), roc));
                plot.line(Line::new("chance", vec![[0.0, 0.0], [1.0, 1.0]]));
                if let Some(p) = at {
                    plot.points(
                        egui_plot::Points::new("threshold", vec![p])
                            .radius(5.0)
                            .color(THRESHOLD_COLOUR),
                    );
                }
            });
    });
}

/// The pairs misclassified at the threshold, with thumbnails, in a lazily drawn list;
/// returns the pair whose Compare button was clicked.
fn misclassified_ui(
    ui: &mut egui::Ui,
    wrong: &[&evaluate::PairScore],
    ds: &Dataset,
    thumbs: &mut Thumbnails,
) -> Option<(PathBuf, PathBuf)> {
    let mut compare = None;
    let row_h = 52.0;
    egui::ScrollArea::vertical()
        .id_salt("misclassified")
        .show_rows(ui, row_h, wrong.len(), |ui, range| {
            for p in &wrong[range] {
                ui.horizontal(|ui| {
                    if ui
                        .small_button("Compare")
                        .on_hover_text("Open this pair on the Compare page")
                        .clicked()
                    {
                        compare = Some((ds.image_root.join(&p.a), ds.image_root.join(&p.b)));
                    }
                    for img in [&p.a, &p.b] {
                        let path = ds.image_root.join(img);
                        match thumbs.get(&path) {
                            Thumb::Ready(tex) => {
                                ui.image((tex.id(), egui::vec2(48.0, 48.0)));
                            }
                            Thumb::Pending => {
                                ui.allocate_exact_size(
                                    egui::vec2(48.0, 48.0),
                                    egui::Sense::hover(),
                                );
                            }
                            Thumb::Failed(e) => {
                                ui.label(e);
                            }
                        }
                    }
                    let text = format!(
                        "{} | {}   similarity {:.3}   truly {}",
                        file_name(&p.a),
                        file_name(&p.b),
                        p.similarity,
                        if p.same {
                            "the same person"
                        } else {
                            "different people"
                        }
                    );
                    // Cut with "…" in a narrow window (the whole line on hover), so the
                    // list never widens the page.
                    ui.add(egui::Label::new(text).truncate());
                });
            }
        });
    compare
}

/// The last part of a list's image path ("Bono/Bono_0001.jpg" -> "Bono_0001.jpg").
fn file_name(image: &str) -> &str {
    image.rsplit('/').next().unwrap_or(image)
}

/// Histograms of matched and mismatched similarities over -1..1 in bins of 0.05.
fn histograms(scored: &[Scored], (lo, hi): (f32, f32)) -> (Vec<Bar>, Vec<Bar>) {
    let bins = 40;
    let width = (hi - lo) / bins as f32;
    let mut counts = [vec![0u32; bins], vec![0u32; bins]];
    for p in scored {
        let b = (((p.score - lo) / width).max(0.0) as usize).min(bins - 1);
        counts[usize::from(!p.same)][b] += 1;
    }
    let bars = |c: &[u32]| {
        c.iter()
            .enumerate()
            .map(|(i, &n)| {
                Bar::new((lo + (i as f32 + 0.5) * width) as f64, n as f64).width(width as f64 * 0.9)
            })
            .collect()
    };
    (bars(&counts[0]), bars(&counts[1]))
}

/// The threshold's colour in the plots: neither the matched green nor the mismatched red.
const THRESHOLD_COLOUR: egui::Color32 = egui::Color32::from_rgb(90, 170, 255);

/// The similarity range the page shows: from just below the lowest score (and the
/// threshold), on a 0.05 grid, up to 1.
fn zoom(scored: &[Scored], threshold: f32) -> (f32, f32) {
    let lowest = scored
        .iter()
        .map(|p| p.score)
        .fold(threshold, f32::min)
        .clamp(-1.0, 0.95);
    ((((lowest - 0.02) * 20.0).floor() / 20.0).max(-1.0), 1.0)
}

impl Panel for EvaluatePanel {
    fn poll(&mut self, _ctx: &egui::Context, _app: &mut AppContext) {
        EvaluatePanel::poll(self);
    }

    fn activity(&self) -> Option<String> {
        self.job.as_ref().map(Job::status)
    }

    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext) {
        EvaluatePanel::ui(
            self,
            ui,
            app.dataset.as_ref(),
            app.model_dir.as_deref(),
            app.device.as_ref(),
        );
        if let Some(dir) = self.switch_to.take() {
            app.model_request = Some(dir);
        }
        if let Some(go) = self.go.take() {
            app.go = Some(go);
        }
    }
}

#[cfg(test)]
mod tests {
    use siamese_face::metrics::Scored;

    #[test]
    fn the_page_zooms_to_the_scores() {
        let scored: Vec<Scored> = [0.72, 0.95, 0.99]
            .iter()
            .map(|&score| Scored {
                score,
                same: score > 0.9,
            })
            .collect();
        let (lo, hi) = super::zoom(&scored, 0.914);
        assert!((lo - 0.70).abs() < 1e-6 && hi == 1.0, "{lo}");
        // A threshold below every score is still on the slider.
        assert!((super::zoom(&scored, 0.3).0 - 0.25).abs() < 1e-6);
        // Every score falls in a histogram bin of the range.
        let (m, u) = super::histograms(&scored, (lo, hi));
        let total: f64 = m.iter().chain(&u).map(|b| b.value).sum();
        assert_eq!(total, 3.0);
    }
}
