//! An identified photo: every face boxed with its name (or "unknown") and similarity at the
//! panel's threshold; a click on a face selects it for its top-k list.

use eframe::egui;
use image::RgbImage;
use siamese_face::workflow::people::PhotoIdentity;

const KNOWN: egui::Color32 = egui::Color32::from_rgb(60, 220, 90);
const UNKNOWN: egui::Color32 = egui::Color32::from_rgb(240, 180, 40);

pub struct PhotoView {
    pub photo: PhotoIdentity,
    image: RgbImage,
    texture: Option<egui::TextureHandle>,
    /// The face whose candidates are listed.
    pub chosen: Option<usize>,
}

impl PhotoView {
    pub fn new(photo: PhotoIdentity, image: RgbImage) -> PhotoView {
        let chosen = (!photo.faces.is_empty()).then_some(0);
        PhotoView {
            photo,
            image,
            texture: None,
            chosen,
        }
    }

    /// Draws the photo in at most `max` points.
    pub fn ui(&mut self, ui: &mut egui::Ui, threshold: f32, max: egui::Vec2) {
        let image = &self.image;
        let texture = self.texture.get_or_insert_with(|| {
            let size = [image.width() as usize, image.height() as usize];
            ui.ctx().load_texture(
                "people-photo",
                egui::ColorImage::from_rgb(size, image.as_raw()),
                Default::default(),
            )
        });
        let size = texture.size_vec2();
        let scale = (max.x / size.x).min(max.y / size.y).clamp(0.05, 4.0);
        let (rect, response) = ui.allocate_exact_size(size * scale, egui::Sense::click());
        let painter = ui.painter_at(rect);
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(texture.id(), rect, uv, egui::Color32::WHITE);
        let k = rect.width() / self.image.width() as f32;
        let boxes: Vec<egui::Rect> = self
            .photo
            .faces
            .iter()
            .map(|f| {
                let b = f.face.bbox;
                egui::Rect::from_min_max(
                    rect.min + egui::vec2(b[0] * k, b[1] * k),
                    rect.min + egui::vec2(b[2] * k, b[3] * k),
                )
            })
            .collect();
        for (i, (f, b)) in self.photo.faces.iter().zip(&boxes).enumerate() {
            let name = f.name_at(threshold);
            let color = if name.is_some() { KNOWN } else { UNKNOWN };
            let width = if self.chosen == Some(i) { 4.0 } else { 2.0 };
            painter.rect_stroke(
                *b,
                0.0,
                egui::Stroke::new(width, color),
                egui::StrokeKind::Middle,
            );
            let label = format!(
                "{} {:.3}",
                name.unwrap_or("unknown"),
                f.similarity().unwrap_or(f32::NAN)
            );
            let at = b.left_top() + egui::vec2(0.0, -2.0);
            let galley = painter.layout_no_wrap(label, egui::FontId::proportional(14.0), color);
            let bg =
                egui::Rect::from_min_size(at - egui::vec2(0.0, galley.size().y), galley.size());
            painter.rect_filled(bg.expand(2.0), 2.0, egui::Color32::from_black_alpha(170));
            painter.galley(bg.min, galley, color);
        }
        if response.clicked()
            && let Some(pos) = response.interact_pointer_pos()
        {
            // The smallest box under the pointer (a face inside a larger box wins).
            self.chosen = boxes
                .iter()
                .enumerate()
                .filter(|(_, b)| b.contains(pos))
                .min_by(|a, b| a.1.area().total_cmp(&b.1.area()))
                .map(|(i, _)| i)
                .or(self.chosen);
        }
    }

    /// The chosen face's candidates as a small table.
    pub fn candidates_ui(&self, ui: &mut egui::Ui, threshold: f32) {
        let Some(face) = self.chosen.and_then(|i| self.photo.faces.get(i)) else {
            return;
        };
        ui.label(format!(
            "face {} of {}: {}",
            self.chosen.map_or(0, |i| i + 1),
            self.photo.faces.len(),
            face.name_at(threshold)
                .unwrap_or("unknown (no one at or above the threshold)")
        ));
        egui::Grid::new("people-candidates")
            .striped(true)
            .show(ui, |ui| {
                for (rank, c) in face.candidates.iter().enumerate() {
                    ui.label(format!("{}.", rank + 1));
                    ui.label(&c.name);
                    let mark = if c.similarity >= threshold { ">=" } else { "<" };
                    ui.label(format!("{:.3} {mark} {threshold:.3}", c.similarity));
                    ui.end_row();
                }
            });
    }
}
