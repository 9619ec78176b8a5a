//! The unknown faces grouped into likely people: one row per group, its faces and a name
//! to give them all at once.

use std::path::Path;

use eframe::egui;
use siamese_face::workflow::people::Grouping;

use crate::app::thumbnails::{Thumb, Thumbnails};

pub(super) const FACE: f32 = 64.0;
/// Faces shown per group (the count says how many more).
const SHOWN: usize = 8;

/// The groups with a name box each; returns the group to name and the name typed.
pub fn groups_ui(
    ui: &mut egui::Ui,
    thumbs: &mut Thumbnails,
    grouping: &Grouping,
    names: &mut [String],
) -> Option<(usize, String)> {
    let mut named = None;
    egui::ScrollArea::vertical()
        .id_salt("people-groups")
        .auto_shrink([false, false])
        .show_rows(ui, FACE + 34.0, grouping.groups.len(), |ui, range| {
            for g in range {
                let faces = &grouping.groups[g];
                ui.horizontal(|ui| {
                    ui.strong(format!("Group {}", g + 1));
                    ui.label(format!("{} faces", faces.len()));
                    ui.add(
                        egui::TextEdit::singleline(&mut names[g])
                            .hint_text("who is this?")
                            .desired_width(140.0),
                    );
                    let name = names[g].trim().to_string();
                    if ui
                        .add_enabled(!name.is_empty(), egui::Button::new("Name them"))
                        .on_hover_text("Every face of the group becomes this person's")
                        .clicked()
                    {
                        named = Some((g, name));
                    }
                });
                ui.horizontal(|ui| {
                    for f in faces.iter().take(SHOWN) {
                        face(ui, thumbs, Path::new(&f.photo), f.bbox).on_hover_text(&f.photo);
                    }
                    if faces.len() > SHOWN {
                        ui.label(format!("+{}", faces.len() - SHOWN));
                    }
                });
            }
        });
    named
}

/// A face thumbnail `FACE` points square, which may be clicked or dragged.
pub(super) fn face(
    ui: &mut egui::Ui,
    thumbs: &mut Thumbnails,
    photo: &Path,
    bbox: [f32; 4],
) -> egui::Response {
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(FACE, FACE), egui::Sense::click_and_drag());
    match thumbs.get_face(photo, bbox) {
        Thumb::Ready(t) => {
            let s = t.size_vec2();
            let fit = (FACE / s.x).min(FACE / s.y);
            let r = egui::Rect::from_center_size(rect.center(), s * fit);
            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
            ui.painter().image(t.id(), r, uv, egui::Color32::WHITE);
        }
        _ => {
            ui.painter()
                .rect_filled(rect, 2.0, ui.visuals().faint_bg_color);
        }
    }
    response
}
