//! The Training page's map of the validation faces after the last validation: every face
//! at its embeddings' two principal components, and a line joining the two photos of each
//! same-person pair, so the lines shortening against the spread shows training pulling
//! each person together (the People page's map does the same for the index).

use std::sync::Arc;

use eframe::egui;
use egui_plot::{Legend, Line, Plot, Points};
use siamese_face::embed::validation::ValidationMap;

/// The map as the last validation left it.
pub struct TrainingMap {
    epoch: usize,
    map: Arc<ValidationMap>,
}

impl TrainingMap {
    pub fn new(epoch: usize, map: Arc<ValidationMap>) -> TrainingMap {
        TrainingMap { epoch, map }
    }

    pub fn ui(&self, ui: &mut egui::Ui, height: f32) {
        let at = |i: usize| {
            let p = self.map.points[i];
            [p[0] as f64, p[1] as f64]
        };
        Plot::new("validation_map")
            .height(height)
            .legend(Legend::default())
            .data_aspect(1.0)
            .show_axes(false)
            .show(ui, |plot| {
                let faces: Vec<[f64; 2]> = (0..self.map.points.len()).map(at).collect();
                plot.points(
                    Points::new(format!("validation faces, epoch {}", self.epoch), faces)
                        .radius(2.5),
                );
                for &(a, b, same) in &self.map.pairs {
                    if same && a < self.map.points.len() && b < self.map.points.len() {
                        plot.line(
                            Line::new("one person's two photos", vec![at(a), at(b)])
                                .color(egui::Color32::from_rgb(90, 200, 120)),
                        );
                    }
                }
            });
    }
}
