//! The desktop app: a left navigation over the panels, and a status bar.
//!
//! Every panel is a [`context::Panel`]: a thin view over the library's workflows that reads
//! what it needs from the shared [`context::AppContext`] and publishes what it makes there,
//! never into another panel. Anything slow (a workflow, scanning a dataset, decoding
//! thumbnails, probing GPU adapters) runs on a background thread ([`job::Job`] for the
//! workflows) and reports back through a channel, so the UI thread only draws.

mod compare_panel;
mod context;
mod dataset_panel;
pub(crate) mod detection_panel;
mod dialogs;
mod drops;
pub(crate) mod evaluate_panel;
mod job;
pub(crate) mod people_panel;
mod thumbnails;
pub(crate) mod training_panel;
pub(crate) mod triplets_panel;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::mpsc;

use eframe::egui;
use serde::{Deserialize, Serialize};
use siamese_face::backend::{self, BackendRequest, BackendSelection};

use crate::cli::GlobalArgs;
use compare_panel::ComparePanel;
use context::{AppContext, Panel};
use dataset_panel::DatasetPanel;
use detection_panel::DetectionPanel;
use evaluate_panel::EvaluatePanel;
use people_panel::PeoplePanel;
use training_panel::TrainingPanel;
use triplets_panel::TripletsPanel;

/// The panels named by the design, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Page {
    #[default]
    Dataset,
    Detection,
    Triplets,
    Training,
    Compare,
    Evaluate,
    People,
}

impl Page {
    const ALL: [Page; 7] = [
        Page::Dataset,
        Page::Detection,
        Page::Triplets,
        Page::Training,
        Page::Compare,
        Page::Evaluate,
        Page::People,
    ];

    fn title(self) -> &'static str {
        match self {
            Page::Dataset => "Dataset",
            Page::Detection => "Detection",
            Page::Triplets => "Triplets",
            Page::Training => "Training",
            Page::Compare => "Compare",
            Page::Evaluate => "Evaluate",
            Page::People => "People",
        }
    }
}

/// What survives a restart (eframe also keeps the window's size and position).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Persisted {
    last_dataset: Option<PathBuf>,
    page: Page,
}

/// The compute backend, probed once off the UI thread at start.
enum BackendStatus {
    Probing(mpsc::Receiver<Result<BackendSelection, String>>),
    Ready(Box<BackendSelection>),
    Failed(String),
}

impl BackendStatus {
    fn probe(request: BackendRequest, ctx: &egui::Context) -> Self {
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name("backend-probe".into())
            .spawn(move || {
                let result = backend::select(request).map_err(|e| e.to_string());
                let _ = tx.send(result);
                ctx.request_repaint();
            })
            .expect("spawning a thread");
        BackendStatus::Probing(rx)
    }

    fn poll(&mut self) {
        if let BackendStatus::Probing(rx) = self {
            match rx.try_recv() {
                Ok(Ok(selection)) => {
                    log::info!("compute backend: {selection}");
                    *self = BackendStatus::Ready(Box::new(selection));
                }
                Ok(Err(e)) => *self = BackendStatus::Failed(e),
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => {
                    *self = BackendStatus::Failed("the adapter probe crashed".into())
                }
            }
        }
    }
}

pub struct SiameseApp {
    page: Page,
    dataset: DatasetPanel,
    detection: DetectionPanel,
    triplets: TripletsPanel,
    training: TrainingPanel,
    compare: ComparePanel,
    evaluate: EvaluatePanel,
    people: PeoplePanel,
    /// What the panels share (the frame times among it).
    shared: AppContext,
    backend: BackendStatus,
}

/// The sample of LFW photos shipped in `assets/`, opened when no dataset was chosen yet.
pub fn sample_dataset_dir() -> Option<PathBuf> {
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("assets/sample-faces")));
    [
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces")),
        beside_exe,
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_dir())
}

impl SiameseApp {
    /// `storage` is eframe's persisted state; `args.dataset` overrides the remembered folder.
    pub fn new(
        ctx: &egui::Context,
        args: &GlobalArgs,
        storage: Option<&dyn eframe::Storage>,
    ) -> Self {
        let persisted: Persisted = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let mut dataset = DatasetPanel::new(ctx);
        let start = args
            .dataset
            .clone()
            .or(persisted.last_dataset.filter(|p| p.is_dir()))
            .or_else(sample_dataset_dir);
        if let Some(dir) = start {
            dataset.load(dir, ctx);
        }
        let mut detection = DetectionPanel::new(ctx);
        let mut page = persisted.page;
        if let Some(image) = &args.image {
            detection.open_when_ready(image.clone());
            page = Page::Detection;
        }
        let mut compare = ComparePanel::new();
        if let Some(photos) = &args.compare {
            for (slot, p) in photos.iter().take(2).enumerate() {
                compare.open_when_ready(slot, p.clone());
            }
            page = Page::Compare;
        }
        let mut people = PeoplePanel::new();
        if let Some(photo) = &args.identify {
            people.identify_when_ready(photo.clone());
            page = Page::People;
        }
        SiameseApp {
            page,
            dataset,
            detection,
            triplets: TripletsPanel::new(),
            training: TrainingPanel::new(),
            compare,
            evaluate: EvaluatePanel::new(),
            people,
            shared: AppContext::new(),
            backend: BackendStatus::probe(args.backend_request(), ctx),
        }
    }

    /// Builds the app around a dataset that is already open (tests, no background load).
    #[cfg(test)]
    pub fn with_dataset(
        ctx: &egui::Context,
        dataset: siamese_face::Dataset,
        backend: BackendSelection,
    ) -> Self {
        let mut panel = DatasetPanel::new(ctx);
        panel.set_dataset(dataset);
        SiameseApp {
            page: Page::Dataset,
            dataset: panel,
            detection: DetectionPanel::new(ctx),
            triplets: TripletsPanel::new(),
            training: TrainingPanel::new(),
            compare: ComparePanel::new(),
            evaluate: EvaluatePanel::new(),
            people: PeoplePanel::new(),
            shared: AppContext::new(),
            backend: BackendStatus::Ready(Box::new(backend)),
        }
    }

    /// Draws one frame.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let t0 = std::time::Instant::now();
        self.draw(ui);
        self.shared.frames.record(t0.elapsed());
    }

    /// The panels in navigation order, with what they share.
    fn panels(&mut self) -> ([&mut dyn Panel; 7], &mut AppContext) {
        (
            [
                &mut self.dataset,
                &mut self.detection,
                &mut self.triplets,
                &mut self.training,
                &mut self.compare,
                &mut self.evaluate,
                &mut self.people,
            ],
            &mut self.shared,
        )
    }

    fn draw(&mut self, ui: &mut egui::Ui) {
        self.backend.poll();
        self.shared.device = match &self.backend {
            BackendStatus::Ready(sel) => Some(sel.device.clone()),
            _ => None,
        };
        let (panels, shared) = self.panels();
        for panel in panels {
            panel.poll(ui.ctx(), shared);
        }
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("navigation")
            .resizable(false)
            .default_size(150.0)
            .show(ui, |ui| self.navigation(ui));
        let page = Page::ALL.iter().position(|p| *p == self.page).unwrap_or(0);
        let (mut panels, shared) = self.panels();
        egui::CentralPanel::default().show(ui, |ui| panels[page].ui(ui, shared));
    }

    fn navigation(&mut self, ui: &mut egui::Ui) {
        // Ctrl+1..7 (Cmd on macOS) go to the pages in the order listed.
        let keys = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
            egui::Key::Num6,
            egui::Key::Num7,
        ];
        for (key, page) in keys.into_iter().zip(Page::ALL) {
            if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, key)) {
                self.page = page;
            }
        }
        ui.add_space(8.0);
        ui.heading("Siamese Face");
        ui.add_space(8.0);
        ui.separator();
        for page in Page::ALL {
            let selected = self.page == page;
            let button = egui::Button::selectable(selected, page.title())
                .min_size(egui::vec2(ui.available_width(), 28.0));
            let n = Page::ALL.iter().position(|p| *p == page).unwrap_or(0) + 1;
            let shortcut = format!("Ctrl+{n}");
            if ui.add(button).on_hover_text(shortcut).clicked() {
                self.page = page;
            }
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.backend {
                BackendStatus::Probing(_) => {
                    ui.spinner();
                    ui.label("Backend: probing GPU adapters…");
                }
                BackendStatus::Ready(sel) => {
                    ui.label(format!("Backend: {}", sel.label()))
                        .on_hover_text(&sel.reason);
                }
                BackendStatus::Failed(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Backend: {e}"));
                }
            }
            ui.separator();
            ui.label(self.dataset.status_line());
        });
    }
}

/// Durations of the app's per-frame UI code, to show that background jobs keep it fluid.
#[derive(Debug, Default)]
pub struct FrameStats {
    millis: Vec<f32>,
}

impl FrameStats {
    const CAP: usize = 1_000_000;

    pub fn record(&mut self, d: std::time::Duration) {
        if self.millis.len() < Self::CAP {
            self.millis.push(d.as_secs_f32() * 1000.0);
        }
    }

    pub fn count(&self) -> usize {
        self.millis.len()
    }

    /// "median 1.2 ms, p99 3.4 ms, max 9.8 ms over 240 frames" for the frames since `start`.
    pub fn summary_since(&self, start: usize) -> Option<String> {
        let mut v = self.millis.get(start..)?.to_vec();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f32::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some(format!(
            "median {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} frames",
            at(0.5),
            at(0.99),
            v[v.len() - 1],
            v.len()
        ))
    }
}

impl eframe::App for SiameseApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let persisted = Persisted {
            last_dataset: self.dataset.current_dir().map(|p| p.to_path_buf()),
            page: self.page,
        };
        eframe::set_value(storage, eframe::APP_KEY, &persisted);
    }
}

/// Opens the window and runs until it is closed.
pub fn run(args: GlobalArgs) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Siamese Face")
            .with_app_id("siamese-face")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "Siamese Face",
        options,
        Box::new(move |cc| Ok(Box::new(SiameseApp::new(&cc.egui_ctx, &args, cc.storage)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
