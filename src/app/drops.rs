//! Files dragged onto the window: the hover overlay and the dropped path, shared by panels.

use std::path::PathBuf;

use eframe::egui;

/// Shades `ui` with `hint` while files hover over the window, and returns the first path
/// dropped this frame.
pub fn dropped_path(ui: &egui::Ui, hint: &str) -> Option<PathBuf> {
    let (hovering, dropped) = ui.input(|i| {
        (
            !i.raw.hovered_files.is_empty(),
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .find(|p| !p.as_os_str().is_empty()),
        )
    });
    if hovering {
        let rect = ui.max_rect();
        let painter = ui.painter();
        painter.rect_filled(rect, 6.0, egui::Color32::from_black_alpha(160));
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            hint,
            egui::FontId::proportional(22.0),
            egui::Color32::WHITE,
        );
    }
    dropped
}
