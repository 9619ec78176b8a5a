//! The Dataset panel: open a folder, see its layout, counts, images-per-person histogram,
//! the protocol lists with their validation, and browse people with thumbnails.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use eframe::egui;
use egui_plot::{AxisHints, Bar, BarChart, GridMark, Plot, PlotPoint, Text};
use siamese_face::Dataset;
use siamese_face::dataset::ListReport;

use super::Page;
use super::context::{AppContext, Go, Panel};
use super::thumbnails::{Thumb, Thumbnails};

/// Images-per-person buckets for the histogram: (label, lowest, highest).
const BUCKETS: &[(&str, usize, usize)] = &[
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("4", 4, 4),
    ("5", 5, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21-50", 21, 50),
    ("51-100", 51, 100),
    (">100", 101, usize::MAX),
];

/// The gallery shows this many images of a person before a "show all" button.
const GALLERY_PAGE: usize = 120;
const ROW_HEIGHT: f32 = 44.0;

struct Loading {
    dir: PathBuf,
    rx: mpsc::Receiver<Result<Dataset, String>>,
    started: Instant,
}

pub struct DatasetPanel {
    dataset: Option<Arc<Dataset>>,
    histogram: Vec<usize>,
    split_note: Option<String>,
    loading: Option<Loading>,
    loaded_in: Option<Duration>,
    error: Option<String>,
    path_input: String,
    folder_pick: Option<mpsc::Receiver<Option<PathBuf>>>,
    search: String,
    /// Indices into `dataset.people` matching `search`.
    filtered: Vec<usize>,
    selected: Option<usize>,
    gallery_all: bool,
    thumbs: Thumbnails,
    /// Something to show on another page (a photo clicked, a next step).
    go: Option<Go>,
}

impl DatasetPanel {
    pub fn new(ctx: &egui::Context) -> Self {
        DatasetPanel {
            dataset: None,
            histogram: Vec::new(),
            split_note: None,
            loading: None,
            loaded_in: None,
            error: None,
            path_input: String::new(),
            folder_pick: None,
            search: String::new(),
            filtered: Vec::new(),
            selected: None,
            gallery_all: false,
            thumbs: Thumbnails::new(ctx),
            go: None,
        }
    }

    /// The open dataset, if any.
    pub fn dataset(&self) -> Option<&Arc<Dataset>> {
        self.dataset.as_ref()
    }

    /// The folder of the open dataset (what the app remembers between runs).
    pub fn current_dir(&self) -> Option<&Path> {
        self.dataset.as_ref().map(|d| d.root.as_path())
    }

    #[cfg(test)]
    pub fn thumbnails(&self) -> &Thumbnails {
        &self.thumbs
    }

    #[cfg(test)]
    pub fn select_person(&mut self, name: &str) {
        self.selected = self
            .dataset
            .as_ref()
            .and_then(|d| d.people.iter().position(|p| p.name == name));
    }

    /// Scans `dir` on a background thread; the current dataset stays until it succeeds.
    pub fn load(&mut self, dir: PathBuf, ctx: &egui::Context) {
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let job_dir = dir.clone();
        std::thread::Builder::new()
            .name("dataset-scan".into())
            .spawn(move || {
                let result = Dataset::open(&job_dir).map_err(|e| e.to_string());
                let _ = tx.send(result);
                ctx.request_repaint();
            })
            .expect("spawning a thread");
        self.path_input = dir.display().to_string();
        self.error = None;
        self.loading = Some(Loading {
            dir,
            rx,
            started: Instant::now(),
        });
    }

    pub fn set_dataset(&mut self, dataset: Dataset) {
        self.histogram = BUCKETS
            .iter()
            .map(|&(_, lo, hi)| {
                dataset
                    .people
                    .iter()
                    .filter(|p| (lo..=hi).contains(&p.images.len()))
                    .count()
            })
            .collect();
        // Built once here: the split collects thousands of names, too much for every frame.
        self.split_note = dataset.dev_split().ok().map(|split| {
            format!(
                "Identity split for training: {} DevTrain people, {} DevTest people, disjoint.",
                split.train.len(),
                split.test.len()
            )
        });
        self.path_input = dataset.root.display().to_string();
        self.dataset = Some(Arc::new(dataset));
        self.selected = None;
        self.gallery_all = false;
        self.refilter();
    }

    fn refilter(&mut self) {
        let Some(ds) = &self.dataset else {
            self.filtered.clear();
            return;
        };
        let needle = self.search.to_lowercase().replace(' ', "_");
        self.filtered = ds
            .people
            .iter()
            .enumerate()
            .filter(|(_, p)| needle.is_empty() || p.name.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect();
    }

    /// Collects finished background work; call every frame, whichever page is shown.
    pub fn poll(&mut self, ctx: &egui::Context) {
        self.thumbs.poll(ctx);
        if let Some(loading) = &self.loading {
            match loading.rx.try_recv() {
                Ok(result) => {
                    let took = loading.started.elapsed();
                    let Some(loading) = self.loading.take() else {
                        return;
                    };
                    match result {
                        Ok(dataset) => {
                            self.loaded_in = Some(took);
                            self.set_dataset(dataset);
                        }
                        // The dataset shown stays, and so does its path in the box: the
                        // error names the folder that failed.
                        Err(e) => {
                            self.error =
                                Some(format!("Could not open {}: {e}", loading.dir.display()));
                            self.path_input = self
                                .dataset
                                .as_ref()
                                .map_or(String::new(), |d| d.root.display().to_string());
                        }
                    }
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.loading = None;
                    self.error = Some("the dataset scan crashed".into());
                }
            }
        }
        if let Some(rx) = &self.folder_pick {
            match rx.try_recv() {
                Ok(picked) => {
                    self.folder_pick = None;
                    if let Some(dir) = picked {
                        self.load(dir, ctx);
                    }
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => self.folder_pick = None,
            }
        }
    }

    pub fn status_line(&self) -> String {
        if let Some(l) = &self.loading {
            return format!("Scanning {}…", l.dir.display());
        }
        let mut line = match &self.dataset {
            Some(ds) => format!(
                "Dataset: {} ({}) · {} of {}",
                ds.root.display(),
                ds.layout,
                plural(ds.image_count(), "image"),
                match ds.people.len() {
                    1 => "1 person".to_string(),
                    n => format!("{n} people"),
                }
            ),
            None => "No dataset open".into(),
        };
        let pending = self.thumbs.pending();
        if pending > 0 {
            line.push_str(&format!(" · decoding {pending} thumbnails"));
        }
        line
    }

    fn pick_folder(&mut self, ctx: &egui::Context) {
        self.folder_pick = Some(super::dialogs::spawn(ctx, || {
            rfd::FileDialog::new()
                .set_title("Open a face dataset folder")
                .pick_folder()
        }));
    }

    fn handle_drops(&mut self, ui: &egui::Ui) {
        let dropped = super::drops::dropped_path(ui, "Drop a folder to open it as a dataset");
        if let Some(path) = dropped {
            if path.is_dir() {
                self.load(path, ui.ctx());
            } else {
                self.error = Some(format!(
                    "{} is a file; drop a dataset folder instead",
                    path.display()
                ));
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.toolbar(ui);
        ui.separator();
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(l) = &self.loading {
            ui.horizontal(|ui| {
                crate::app::busy(ui);
                ui.label(format!(
                    "Scanning {}… {:.1} s",
                    l.dir.display(),
                    l.started.elapsed().as_secs_f32()
                ));
            });
            ui.ctx().request_repaint_after(Duration::from_millis(500));
        }
        match self.dataset.clone() {
            Some(ds) => {
                egui::Panel::right("dataset_people")
                    .default_size(440.0)
                    .min_size(300.0)
                    .show(ui, |ui| self.people_browser(ui, &ds));
                egui::CentralPanel::default().show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("dataset_overview")
                        .show(ui, |ui| self.overview(ui, &ds));
                });
            }
            None if self.loading.is_none() => {
                ui.add_space(24.0);
                ui.label("Open a folder of face photos: the LFW dataset (official or Kaggle layout) or any <person>/<image> folder. You can also drop a folder on this window.");
            }
            None => {}
        }
        self.handle_drops(ui);
    }

    fn toolbar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Dataset");
            ui.add_space(12.0);
            let picking = self.folder_pick.is_some();
            let shortcut = ui.input_mut(|i| i.consume_shortcut(&super::OPEN));
            if (ui
                .add_enabled(!picking, egui::Button::new("Open folder…"))
                .on_hover_text("Ctrl+O")
                .clicked()
                || shortcut)
                && !picking
            {
                self.pick_folder(ui.ctx());
            }
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.path_input)
                    .hint_text("path to a dataset folder")
                    .desired_width(ui.available_width() - 170.0),
            );
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Load").clicked() || enter {
                let dir = PathBuf::from(self.path_input.trim());
                self.load(dir, ui.ctx());
            }
            if let Some(sample) = super::sample_dataset_dir()
                && ui
                    .button("Sample")
                    .on_hover_text("Open the LFW sample shipped in assets/")
                    .clicked()
            {
                self.load(sample, ui.ctx());
            }
        });
    }

    /// The first screen's "what to do next": each page in a line, one click away.
    fn next_steps(&mut self, ui: &mut egui::Ui) {
        ui.heading("What to do next");
        let steps = [
            (
                Page::Detection,
                "see the faces MTCNN finds, with landmarks (or click a photo on the right)",
            ),
            (
                Page::Compare,
                "compare two photos with the pretrained model: similarity and verdict",
            ),
            (
                Page::Evaluate,
                "measure the model on the dataset's pair lists and choose its threshold",
            ),
            (
                Page::Training,
                "train your own model (Quick start preset: a few minutes on a CPU)",
            ),
            (
                Page::People,
                "enrol a few photos of people you know, then name them in any photo",
            ),
        ];
        egui::Grid::new("next_steps")
            .num_columns(2)
            .spacing([12.0, 4.0])
            .show(ui, |ui| {
                for (page, what) in steps {
                    if ui.button(format!("{} page", page.title())).clicked() {
                        self.go = Some(Go::Page(page));
                    }
                    ui.label(what);
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
    }

    fn overview(&mut self, ui: &mut egui::Ui, ds: &Dataset) {
        self.next_steps(ui);
        ui.heading("Summary");
        egui::Grid::new("dataset_summary")
            .num_columns(2)
            .spacing([24.0, 6.0])
            .show(ui, |ui| {
                let mut row = |k: &str, v: String| {
                    ui.label(k);
                    ui.strong(v);
                    ui.end_row();
                };
                row("Folder", ds.root.display().to_string());
                row("Layout", layout_name(ds).to_owned());
                row("Images under", ds.image_root.display().to_string());
                row("People", ds.people.len().to_string());
                row("Images", ds.image_count().to_string());
                row(
                    "People with 2+ images",
                    ds.people_with_at_least(2).to_string(),
                );
                if let Some(t) = self.loaded_in {
                    row("Scanned in", format!("{:.2} s", t.as_secs_f32()));
                }
            });
        for w in &ds.warnings {
            ui.colored_label(ui.visuals().warn_fg_color, format!("Warning: {w}"));
        }

        ui.add_space(12.0);
        ui.heading("Images per person");
        self.histogram_plot(ui);

        ui.add_space(12.0);
        ui.heading("Pair lists");
        if ds.pair_lists.is_empty() {
            ui.label("No pair lists in this folder (pairs.txt, pairsDevTrain.txt, pairsDevTest.txt or the Kaggle CSVs).");
        } else {
            pair_lists_table(ui, ds);
        }

        ui.add_space(12.0);
        ui.heading("People lists");
        if ds.people_lists.is_empty() {
            ui.label("No people lists (people.txt, peopleDevTrain/DevTest) in this folder.");
        } else {
            people_lists_table(ui, ds);
        }
        if let Some(note) = &self.split_note {
            ui.label(note);
        }
    }

    fn histogram_plot(&self, ui: &mut egui::Ui) {
        let colour = egui::Color32::from_rgb(90, 150, 220);
        let bars: Vec<Bar> = self
            .histogram
            .iter()
            .zip(BUCKETS)
            .enumerate()
            .map(|(i, (&count, (label, _, _)))| {
                Bar::new(i as f64, count as f64)
                    .width(0.8)
                    .fill(colour.gamma_multiply(0.8))
                    .name(format!("{label} images: {count} people"))
            })
            .collect();
        let chart = BarChart::new("people", bars)
            .color(colour)
            .element_formatter(Box::new(|bar, _| bar.name.clone()));
        let top = self.histogram.iter().copied().max().unwrap_or(0) as f64;
        let counts: Vec<Text> = self
            .histogram
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                Text::new(
                    "count",
                    PlotPoint::new(i as f64, count as f64 + top * 0.02),
                    count.to_string(),
                )
                .anchor(egui::Align2::CENTER_BOTTOM)
            })
            .collect();
        Plot::new("images_per_person")
            .height(200.0)
            .allow_zoom(false)
            .allow_drag(false)
            .allow_scroll(false)
            .show_grid([false, true])
            .y_axis_label("people")
            // One mark per bucket, labelled with the bucket's range; bars are ~50 px apart,
            // closer than the default label spacing allows.
            .x_grid_spacer(|_| {
                (0..BUCKETS.len())
                    .map(|i| GridMark {
                        value: i as f64,
                        step_size: 1.0,
                    })
                    .collect()
            })
            .custom_x_axes(vec![
                AxisHints::new_x()
                    .label("images per person")
                    .label_spacing(20.0..=30.0)
                    .formatter(|mark, _| {
                        BUCKETS
                            .get(mark.value.round().max(0.0) as usize)
                            .map(|b| b.0.to_owned())
                            .unwrap_or_default()
                    }),
            ])
            .include_x(-0.6)
            .include_x(BUCKETS.len() as f64 - 0.4)
            .include_y(0.0)
            .include_y(top * 1.12)
            .show(ui, |plot| {
                plot.bar_chart(chart);
                for text in counts {
                    plot.add(text);
                }
            });
    }

    fn people_browser(&mut self, ui: &mut egui::Ui, ds: &Dataset) {
        ui.horizontal(|ui| {
            let label = ui.strong("Search people");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.search)
                        .hint_text("name")
                        .desired_width(ui.available_width() - 90.0),
                )
                .labelled_by(label.id);
            if edit.changed() {
                self.refilter();
            }
            ui.label(format!("{} shown", self.filtered.len()));
        });
        ui.separator();
        let gallery_height = if self.selected.is_some() {
            ui.available_height() * 0.5
        } else {
            0.0
        };
        let list_height = ui.available_height() - gallery_height;
        egui::ScrollArea::vertical()
            .id_salt("people_list")
            .max_height(list_height)
            .auto_shrink([false, false])
            .show_rows(ui, ROW_HEIGHT, self.filtered.len(), |ui, range| {
                for row in range {
                    let index = self.filtered[row];
                    let person = &ds.people[index];
                    let selected = self.selected == Some(index);
                    let response = ui
                        .horizontal(|ui| {
                            ui.set_min_height(ROW_HEIGHT - 4.0);
                            thumb_widget(ui, &mut self.thumbs, &person.images[0].path, 40.0);
                            ui.add(egui::Button::selectable(
                                selected,
                                format!(
                                    "{}  ({})",
                                    person.name.replace('_', " "),
                                    person.images.len()
                                ),
                            ))
                        })
                        .inner;
                    if response.clicked() {
                        self.selected = Some(index);
                        self.gallery_all = false;
                    }
                }
            });
        if let Some(index) = self.selected {
            ui.separator();
            self.gallery(ui, &ds.people[index]);
        }
    }

    fn gallery(&mut self, ui: &mut egui::Ui, person: &siamese_face::dataset::Person) {
        ui.horizontal(|ui| {
            ui.strong(person.name.replace('_', " "));
            ui.label(plural(person.images.len(), "image"));
        });
        let shown = if self.gallery_all {
            person.images.len()
        } else {
            person.images.len().min(GALLERY_PAGE)
        };
        egui::ScrollArea::vertical()
            .id_salt("gallery")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    for image in &person.images[..shown] {
                        let name = image.path.file_name().unwrap_or_default().to_string_lossy();
                        let thumb = thumb_widget(ui, &mut self.thumbs, &image.path, 96.0)
                            .interact(egui::Sense::click())
                            .on_hover_text(format!(
                                "{name}\nclick: detect its faces; right-click: compare"
                            ));
                        if thumb.clicked() {
                            self.go = Some(Go::Detect(image.path.clone()));
                        }
                        thumb.context_menu(|ui| {
                            if ui.button("Detect faces").clicked() {
                                self.go = Some(Go::Detect(image.path.clone()));
                            }
                            for (slot, side) in [(0, "A"), (1, "B")] {
                                if ui.button(format!("Compare as photo {side}")).clicked() {
                                    self.go = Some(Go::Compare(slot, image.path.clone()));
                                }
                            }
                        });
                    }
                });
                if shown < person.images.len()
                    && ui
                        .button(format!("Show all {} images", person.images.len()))
                        .clicked()
                {
                    self.gallery_all = true;
                }
            });
    }
}

/// "1 image", "5 images".
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn layout_name(ds: &Dataset) -> &'static str {
    match ds.layout {
        siamese_face::Layout::Lfw => "LFW (official lists)",
        siamese_face::Layout::Kaggle => "LFW (Kaggle CSV lists)",
        siamese_face::Layout::Folder => "plain <person>/<image> folder",
    }
}

/// A thumbnail at `side` points, or a placeholder while it decodes or when it failed.
fn thumb_widget(
    ui: &mut egui::Ui,
    thumbs: &mut Thumbnails,
    path: &Path,
    side: f32,
) -> egui::Response {
    let size = egui::vec2(side, side);
    match thumbs.get(path) {
        Thumb::Ready(texture) => ui.add(
            egui::Image::new(texture)
                .fit_to_exact_size(size)
                .corner_radius(3.0),
        ),
        Thumb::Pending => {
            let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
            ui.painter()
                .rect_filled(rect, 3.0, ui.visuals().faint_bg_color);
            response
        }
        Thumb::Failed(e) => {
            let e = e.to_owned();
            let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "!",
                egui::FontId::proportional(side * 0.4),
                ui.visuals().error_fg_color,
            );
            response.on_hover_text(e)
        }
    }
}

fn status_cell(ui: &mut egui::Ui, report: &ListReport, what: &str) {
    if report.missing_files == 0 && report.malformed_count == 0 {
        ui.colored_label(egui::Color32::from_rgb(80, 180, 90), "valid");
    } else {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{} {what} missing, {} malformed lines",
                report.missing_files, report.malformed_count
            ),
        );
    }
}

fn problems(ui: &mut egui::Ui, id: &str, report: &ListReport) {
    if report.is_clean() && report.warnings.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("Problems in {id}"))
        .id_salt(("problems", id))
        .show(ui, |ui| {
            for path in &report.missing_examples {
                ui.label(format!("missing: {}", path.display()));
            }
            for m in &report.malformed {
                ui.label(format!("line {}: {:?}: {}", m.line, m.text, m.reason));
            }
            for w in &report.warnings {
                ui.label(format!("warning: {w}"));
            }
        });
}

fn pair_lists_table(ui: &mut egui::Ui, ds: &Dataset) {
    egui::Grid::new("pair_lists")
        .striped(true)
        .num_columns(6)
        .spacing([18.0, 4.0])
        .show(ui, |ui| {
            for h in ["List", "Matched", "Mismatched", "Folds", "Source", "Status"] {
                ui.strong(h);
            }
            ui.end_row();
            for e in &ds.pair_lists {
                ui.label(&e.list.name);
                ui.label(e.list.matched().to_string());
                ui.label(e.list.mismatched().to_string());
                ui.label(e.list.folds.to_string());
                let sources: Vec<String> = e
                    .list
                    .sources
                    .iter()
                    .map(|p| {
                        p.file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect();
                ui.label(sources.join(" + "));
                status_cell(ui, &e.report, "files");
                ui.end_row();
            }
        });
    for e in &ds.pair_lists {
        problems(ui, &e.list.name, &e.report);
    }
}

fn people_lists_table(ui: &mut egui::Ui, ds: &Dataset) {
    egui::Grid::new("people_lists")
        .striped(true)
        .num_columns(4)
        .spacing([18.0, 4.0])
        .show(ui, |ui| {
            for h in ["List", "People", "Folds", "Status"] {
                ui.strong(h);
            }
            ui.end_row();
            for e in &ds.people_lists {
                ui.label(&e.list.name);
                ui.label(e.list.len().to_string());
                ui.label(e.list.folds.len().to_string());
                status_cell(ui, &e.report, "people");
                ui.end_row();
            }
        });
    for e in &ds.people_lists {
        problems(ui, &e.list.name, &e.report);
    }
}

impl Panel for DatasetPanel {
    fn poll(&mut self, ctx: &egui::Context, app: &mut AppContext) {
        DatasetPanel::poll(self, ctx);
        app.dataset = self.dataset().cloned();
    }

    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext) {
        DatasetPanel::ui(self, ui);
        if let Some(go) = self.go.take() {
            app.go = Some(go);
        }
    }
}
