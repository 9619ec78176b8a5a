//! Grids of faces that scroll smoothly however many there are: only the visible rows are
//! laid out (`show_rows`), and their thumbnails are decoded off the UI thread.

use std::path::{Path, PathBuf};

use eframe::egui;
use siamese_face::face_index::PersonSummary;
use siamese_face::workflow::people::SearchHit;

use super::manage::Dragged;
use super::work::FaceAt;
use crate::app::thumbnails::{Thumb, Thumbnails};

const CARD: egui::Vec2 = egui::vec2(112.0, 140.0);
const FACE: f32 = 96.0;

/// One card: a face thumbnail and two lines.
fn card(
    ui: &mut egui::Ui,
    thumbs: &mut Thumbnails,
    face: Option<(&Path, [f32; 4])>,
    lines: (&str, &str),
    selected: bool,
) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(CARD, egui::Sense::click_and_drag());
    // Named for screen readers (and so tests find a card by its person).
    let label = lines.0.to_string();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    let painter = ui.painter_at(rect);
    if selected || response.hovered() {
        let fill = if selected {
            ui.visuals().selection.bg_fill
        } else {
            ui.visuals().widgets.hovered.bg_fill
        };
        painter.rect_filled(rect, 4.0, fill);
    }
    let face_rect = egui::Rect::from_center_size(
        egui::pos2(rect.center().x, rect.top() + 4.0 + FACE / 2.0),
        egui::vec2(FACE, FACE),
    );
    match face.map(|(p, b)| thumbs.get_face(p, b)) {
        Some(Thumb::Ready(t)) => {
            let s = t.size_vec2();
            let fit = (FACE / s.x).min(FACE / s.y);
            let r = egui::Rect::from_center_size(face_rect.center(), s * fit);
            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
            painter.image(t.id(), r, uv, egui::Color32::WHITE);
        }
        Some(Thumb::Pending) => {
            painter.rect_filled(face_rect, 2.0, ui.visuals().faint_bg_color);
        }
        Some(Thumb::Failed(_)) | None => {
            painter.rect_stroke(
                face_rect,
                2.0,
                egui::Stroke::new(1.0, ui.visuals().weak_text_color()),
                egui::StrokeKind::Inside,
            );
        }
    }
    let text = ui.visuals().text_color();
    for (i, line) in [lines.0, lines.1].into_iter().enumerate() {
        // A long name is cut with an ellipsis rather than spilling over its neighbours.
        let font = egui::FontId::proportional(if i == 0 { 13.0 } else { 11.0 });
        let mut job = egui::text::LayoutJob::simple_singleline(line.to_string(), font, text);
        job.wrap = egui::text::TextWrapping::truncate_at_width(CARD.x - 6.0);
        let galley = painter.layout_job(job);
        let top = face_rect.bottom() + 4.0 + 15.0 * i as f32;
        let left = rect.center().x - galley.size().x / 2.0;
        painter.galley(egui::pos2(left, top), galley, text);
    }
    response
}

/// Lays out `count` cards in rows that fill the width; `draw(ui, i)` draws card `i`.
fn grid(ui: &mut egui::Ui, id: &str, count: usize, mut draw: impl FnMut(&mut egui::Ui, usize)) {
    let per_row = ((ui.available_width() / (CARD.x + 6.0)).floor() as usize).max(1);
    let rows = count.div_ceil(per_row);
    egui::ScrollArea::vertical()
        .id_salt(id)
        .auto_shrink([false, false])
        .show_rows(ui, CARD.y + 6.0, rows, |ui, range| {
            for row in range {
                ui.horizontal(|ui| {
                    for i in row * per_row..((row + 1) * per_row).min(count) {
                        draw(ui, i);
                    }
                });
            }
        });
}

/// What happened to the people's cards.
pub enum CardEvent {
    Clicked(i64),
    /// Something was dropped on a person (named).
    Dropped(String, Dragged),
}

/// Everyone enrolled: a card can be clicked, dragged onto another, or take dragged faces.
pub fn people_ui(
    ui: &mut egui::Ui,
    thumbs: &mut Thumbnails,
    people: &[(PersonSummary, Option<FaceAt>)],
    selected: Option<i64>,
) -> Option<CardEvent> {
    let mut event = None;
    grid(ui, "people-grid", people.len(), |ui, i| {
        let (p, cover) = &people[i];
        let count = format!(
            "{} photo{}",
            p.enrolled + p.confirmed,
            if p.enrolled + p.confirmed == 1 {
                ""
            } else {
                "s"
            }
        );
        let face = cover.as_ref().map(|(path, b)| (path.as_path(), *b));
        let r = card(ui, thumbs, face, (&p.name, &count), selected == Some(p.id));
        r.dnd_set_drag_payload(Dragged::Person(p.name.clone()));
        if let Some(what) = r.dnd_hover_payload::<Dragged>()
            && *what != Dragged::Person(p.name.clone())
        {
            let stroke = egui::Stroke::new(2.0, ui.visuals().selection.stroke.color);
            ui.painter()
                .rect_stroke(r.rect, 4.0, stroke, egui::StrokeKind::Inside);
        }
        if let Some(what) = r.dnd_release_payload::<Dragged>() {
            event = Some(CardEvent::Dropped(p.name.clone(), (*what).clone()));
        } else if r.clicked() {
            event = Some(CardEvent::Clicked(p.id));
        }
        if r.dragged() {
            drag_label(ui, &p.name);
        }
    });
    event
}

/// The name of what is dragged, beside the pointer.
pub fn drag_label(ui: &egui::Ui, text: &str) {
    if let Some(pos) = ui.ctx().pointer_interact_pos() {
        let layer = egui::LayerId::new(egui::Order::Tooltip, egui::Id::unique("people-drag"));
        ui.ctx().layer_painter(layer).text(
            pos + egui::vec2(12.0, 12.0),
            egui::Align2::LEFT_TOP,
            text,
            egui::FontId::proportional(14.0),
            ui.visuals().strong_text_color(),
        );
    }
}

/// The photos found for a person; returns the photo clicked.
pub fn hits_ui(ui: &mut egui::Ui, thumbs: &mut Thumbnails, hits: &[SearchHit]) -> Option<PathBuf> {
    let mut clicked = None;
    grid(ui, "people-hits", hits.len(), |ui, i| {
        let h = &hits[i];
        let path = Path::new(&h.photo);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let sim = format!(
            "{:.3}{}",
            h.similarity,
            if h.theirs { " enrolled" } else { "" }
        );
        if card(ui, thumbs, Some((path, h.face.bbox)), (&name, &sim), false).clicked() {
            clicked = Some(path.to_path_buf());
        }
    });
    clicked
}
