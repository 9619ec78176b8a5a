//! The embedding map: every face of the index at its two principal components, coloured
//! by person (unknown faces grey); hover a point for its face.

use std::path::Path;

use eframe::egui;
use egui_plot::{Plot, PlotPoint, Points};
use siamese_face::workflow::people::EmbeddingMap;

use crate::app::thumbnails::{Thumb, Thumbnails};

/// Colours for people, chosen by a hash of the name (neighbours differ more often than not).
const PALETTE: [egui::Color32; 10] = [
    egui::Color32::from_rgb(230, 80, 70),
    egui::Color32::from_rgb(60, 200, 90),
    egui::Color32::from_rgb(80, 140, 240),
    egui::Color32::from_rgb(240, 190, 60),
    egui::Color32::from_rgb(190, 90, 220),
    egui::Color32::from_rgb(60, 200, 200),
    egui::Color32::from_rgb(240, 130, 40),
    egui::Color32::from_rgb(150, 210, 60),
    egui::Color32::from_rgb(240, 110, 170),
    egui::Color32::from_rgb(140, 110, 70),
];
const UNKNOWN: egui::Color32 = egui::Color32::from_gray(120);

/// The map with its points sorted into one series per colour (built once: a series per
/// person would be thousands of plot items).
pub struct MapView {
    pub map: EmbeddingMap,
    series: Vec<(egui::Color32, Vec<[f64; 2]>)>,
}

impl MapView {
    pub fn new(map: EmbeddingMap) -> MapView {
        let mut series: Vec<(egui::Color32, Vec<[f64; 2]>)> = PALETTE
            .iter()
            .chain([&UNKNOWN])
            .map(|&c| (c, Vec::new()))
            .collect();
        for (face, p) in map.faces.iter().zip(&map.points) {
            let slot = face.person.as_deref().map_or(PALETTE.len(), colour_slot);
            series[slot].1.push([p[0] as f64, p[1] as f64]);
        }
        MapView { map, series }
    }

    /// Draws the map `height` tall; shows the face under the pointer.
    pub fn ui(&self, ui: &mut egui::Ui, thumbs: &mut Thumbnails, height: f32) {
        let mut hovered = None;
        Plot::new("embedding-map")
            .height(height)
            .data_aspect(1.0)
            .show_axes(false)
            .show(ui, |plot| {
                // Unknown faces first (the last series), so the people's colours lie on top.
                for (colour, points) in self.series.iter().rev() {
                    if !points.is_empty() {
                        let radius = if *colour == UNKNOWN { 1.5 } else { 2.5 };
                        plot.points(
                            Points::new("", points.clone())
                                .color(*colour)
                                .radius(radius),
                        );
                    }
                }
                if let Some(at) = plot.pointer_coordinate() {
                    let at = plot.screen_from_plot(at);
                    hovered = self.nearest(|p| plot.screen_from_plot(p), at);
                }
            });
        let Some(i) = hovered else {
            ui.label("Hover a point for its face.");
            return;
        };
        let f = &self.map.faces[i];
        ui.horizontal(|ui| {
            if let Thumb::Ready(t) = thumbs.get_face(Path::new(&f.photo), f.bbox) {
                ui.image((t.id(), egui::vec2(48.0, 48.0)));
            }
            ui.label(format!(
                "{}\n{}",
                f.person.as_deref().unwrap_or("unknown"),
                Path::new(&f.photo)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
            ));
        });
    }

    /// The face drawn nearest `at` (screen), within 8 points.
    fn nearest(
        &self,
        to_screen: impl Fn(PlotPoint) -> egui::Pos2,
        at: egui::Pos2,
    ) -> Option<usize> {
        self.map
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| (i, to_screen(PlotPoint::new(p[0], p[1])).distance(at)))
            .filter(|&(_, d)| d <= 8.0)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }
}

fn colour_slot(name: &str) -> usize {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (h % PALETTE.len() as u64) as usize
}
