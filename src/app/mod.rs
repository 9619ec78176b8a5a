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
mod frames;
mod job;
pub(crate) mod people_panel;
mod thumbnails;
mod training_map;
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
use context::{AppContext, Go, Panel};
use dataset_panel::DatasetPanel;
use detection_panel::DetectionPanel;
use evaluate_panel::EvaluatePanel;
pub use frames::FrameStats;
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
    /// A message shown until the user closes it.
    notice: Option<String>,
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
            notice: None,
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
            notice: None,
        }
    }

    /// Draws one frame; `last_whole_frame` is what the window measured for the previous
    /// one, rendering included (seconds).
    pub fn show(&mut self, ui: &mut egui::Ui, last_whole_frame: Option<f32>) {
        let t0 = std::time::Instant::now();
        self.draw(ui);
        self.shared.frames.record(t0.elapsed(), last_whole_frame);
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
        if let Some(go) = self.shared.go.take() {
            self.follow(go);
        }
        if let Some(notice) = dialogs::take_notice(ui.ctx()) {
            self.notice = Some(notice);
        }
        self.notice_ui(ui.ctx());
    }

    /// A message that needs an answer (a file dialog that cannot open).
    fn notice_ui(&mut self, ctx: &egui::Context) {
        let Some(text) = &self.notice else { return };
        let mut close = false;
        egui::Window::new("Note")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                ui.set_max_width(420.0);
                ui.label(text);
                close = ui.button("OK").clicked();
            });
        if close {
            self.notice = None;
        }
    }

    /// Carries out a page's request to show something elsewhere.
    fn follow(&mut self, go: Go) {
        match go {
            Go::Page(page) => self.page = page,
            Go::Compare(slot, photo) => {
                self.compare.open_when_ready(slot.min(1), photo);
                self.page = Page::Compare;
            }
            Go::ComparePair(a, b) => {
                self.compare.open_when_ready(0, a);
                self.compare.open_when_ready(1, b);
                self.page = Page::Compare;
            }
            Go::Detect(image) => {
                self.detection.open_when_ready(image);
                self.page = Page::Detection;
            }
        }
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
                    busy(ui);
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
            // Running jobs, whichever page they belong to (click to go there).
            let mut go = None;
            let (panels, _) = self.panels();
            for (page, panel) in Page::ALL.into_iter().zip(panels) {
                if let Some(text) = panel.activity() {
                    ui.separator();
                    let label = format!("{}: {text}", page.title());
                    if ui.link(label).on_hover_text("Show this page").clicked() {
                        go = Some(page);
                    }
                }
            }
            if let Some(page) = go {
                self.page = page;
            }
        });
    }
}

impl eframe::App for SiameseApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.show(ui, frame.info().cpu_usage);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let persisted = Persisted {
            last_dataset: self.dataset.current_dir().map(|p| p.to_path_buf()),
            page: self.page,
        };
        eframe::set_value(storage, eframe::APP_KEY, &persisted);
    }
}

/// Ctrl+O (Cmd+O on macOS): the page's Open... (a folder, an image or a photo).
pub(crate) const OPEN: egui::KeyboardShortcut =
    egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::O);

/// Marks work in progress without animating: a spinner repaints the whole window every
/// frame, which a software renderer pays for with most of a core. Progress text updates
/// when the work reports.
pub(crate) fn busy(ui: &mut egui::Ui) {
    let side = ui.spacing().interact_size.y * 0.6;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
    let stroke = egui::Stroke::new(2.0, ui.visuals().strong_text_color());
    ui.painter()
        .circle_stroke(rect.center(), side / 2.0 - 1.0, stroke);
    ui.painter().line_segment(
        [rect.center(), rect.center_top() + egui::vec2(0.0, 3.0)],
        stroke,
    );
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
