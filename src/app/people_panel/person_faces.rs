//! The faces of the person selected: click to select (several for a split), then move
//! them to someone else or back to the unknown faces, say they are not this person,
//! confirm suggestions, or pick the face shown for them. Faces can also be dragged onto
//! another person's card.

use std::collections::BTreeSet;
use std::path::Path;

use eframe::egui;
use siamese_face::face_index::FaceListing;

use super::gallery::drag_label;
use super::groups::{FACE, face};
use super::manage::{Change, Dragged};
use crate::app::thumbnails::Thumbnails;

pub struct PersonFaces {
    pub person: i64,
    pub name: String,
    faces: Vec<FaceListing>,
    selected: BTreeSet<i64>,
    move_to: String,
}

impl PersonFaces {
    pub fn new(person: i64, name: String, faces: Vec<FaceListing>) -> PersonFaces {
        PersonFaces {
            person,
            name,
            faces,
            selected: BTreeSet::new(),
            move_to: String::new(),
        }
    }

    pub fn select(&mut self, face: i64) {
        self.selected.insert(face);
    }

    #[cfg(test)]
    pub fn face_ids(&self) -> Vec<i64> {
        self.faces.iter().map(|f| f.face_id).collect()
    }

    pub fn selected(&self) -> impl Iterator<Item = i64> + '_ {
        self.selected.iter().copied()
    }

    /// The toolbar and the faces; changes asked for are pushed to `changes`.
    pub fn ui(&mut self, ui: &mut egui::Ui, thumbs: &mut Thumbnails, changes: &mut Vec<Change>) {
        self.toolbar_ui(ui, changes);
        let per_row = ((ui.available_width() / (FACE + 8.0)).floor() as usize).max(1);
        let rows = self.faces.len().div_ceil(per_row);
        egui::ScrollArea::vertical()
            .id_salt("person-faces")
            .auto_shrink([false, false])
            .show_rows(ui, FACE + 22.0, rows, |ui, range| {
                for row in range {
                    ui.horizontal(|ui| {
                        for i in row * per_row..((row + 1) * per_row).min(self.faces.len()) {
                            self.face_ui(ui, thumbs, i);
                        }
                    });
                }
            });
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui, changes: &mut Vec<Change>) {
        let picked: Vec<i64> = self.selected.iter().copied().collect();
        let some = !picked.is_empty();
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{} face(s) of {}, {} selected",
                self.faces.len(),
                self.name,
                picked.len()
            ));
            if ui.small_button("all").clicked() {
                self.selected = self.faces.iter().map(|f| f.face_id).collect();
            }
            if ui.small_button("none").clicked() {
                self.selected.clear();
            }
            ui.weak("drag faces onto a person to move them there");
        });
        ui.add_enabled_ui(some, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.move_to)
                        .hint_text("someone else")
                        .desired_width(110.0),
                );
                let to = self.move_to.trim().to_string();
                if ui
                    .add_enabled(!to.is_empty(), egui::Button::new("Move to them"))
                    .on_hover_text("Split: the selected faces become this person's (new or not)")
                    .clicked()
                {
                    changes.push(Change::Move(picked.clone(), Some(to)));
                }
                if ui
                    .button(format!("Not {}", self.name))
                    .on_hover_text("They become unknown and are never suggested as them again")
                    .clicked()
                {
                    changes.push(Change::Reject(picked.clone(), self.name.clone()));
                }
                if ui
                    .button("To unknown")
                    .on_hover_text("Back to the unknown faces, without a \"not them\"")
                    .clicked()
                {
                    changes.push(Change::Move(picked.clone(), None));
                }
                if ui
                    .button("Confirm")
                    .on_hover_text("Suggested faces become theirs for sure (and teach search)")
                    .clicked()
                {
                    changes.push(Change::Move(picked.clone(), Some(self.name.clone())));
                }
                if ui
                    .add_enabled(picked.len() == 1, egui::Button::new("Use as cover"))
                    .clicked()
                {
                    changes.push(Change::Cover(self.name.clone(), picked[0]));
                }
            });
        });
    }

    fn face_ui(&mut self, ui: &mut egui::Ui, thumbs: &mut Thumbnails, i: usize) {
        let f = &self.faces[i];
        let id = f.face_id;
        let bbox = [f.x1, f.y1, f.x2, f.y2].map(|c| c as f32);
        let chosen = self.selected.contains(&id);
        ui.vertical(|ui| {
            let r = face(ui, thumbs, Path::new(&f.photo), bbox);
            r.widget_info(|| {
                egui::WidgetInfo::selected(egui::Role::CheckBox, true, chosen, format!("face {id}"))
            });
            if chosen {
                let stroke = egui::Stroke::new(3.0, ui.visuals().selection.stroke.color);
                ui.painter()
                    .rect_stroke(r.rect, 2.0, stroke, egui::StrokeKind::Inside);
            }
            let kind = match (f.kind.as_deref(), f.similarity) {
                (Some("suggested"), Some(s)) => format!("suggested {s:.3}"),
                (Some(k), _) => k.to_string(),
                (None, _) => String::new(),
            };
            ui.small(kind);
            // Dragging a selected face carries every selected face; another, just itself.
            let dragged = if chosen {
                self.selected.iter().copied().collect()
            } else {
                vec![id]
            };
            let n = dragged.len();
            r.dnd_set_drag_payload(Dragged::Faces(dragged));
            if r.dragged() {
                drag_label(ui, &format!("{n} face(s)"));
            }
            let r = r.on_hover_text(format!("face {id} of {}", f.photo));
            if r.clicked() && !self.selected.remove(&id) {
                self.selected.insert(id);
            }
        });
    }
}
