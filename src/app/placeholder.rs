//! Pages whose features are not built yet: they say so plainly and show nothing fake.

use eframe::egui;

use super::Page;

fn plan(page: Page) -> &'static str {
    match page {
        Page::Compare => {
            "Two photos side by side: detected faces, cosine similarity and a SAME / DIFFERENT \
             verdict against a threshold slider."
        }
        Page::Evaluate => {
            "Accuracy on the LFW test pairs: accuracy-vs-threshold curve, ROC, and the \
             misclassified pairs, updating live as the threshold moves."
        }
        Page::Dataset | Page::Detection | Page::Triplets | Page::Training => "",
    }
}

pub fn ui(ui: &mut egui::Ui, page: Page) {
    ui.heading(page.title());
    ui.add_space(12.0);
    ui.label(egui::RichText::new("Not built yet.").strong());
    ui.label(format!("This panel will offer: {}", plan(page)));
}
