//! What the panels share, and the trait every panel implements. The app owns one
//! [`AppContext`]; a panel reads what it needs from it and publishes what it makes into it
//! (the open dataset, the triplets, the chosen model), so no panel reaches into another.

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Device;
use eframe::egui;
use siamese_face::Dataset;
use siamese_face::preprocess::{self, PreprocessSettings};
use siamese_face::triplets::{Sidecar, TripletArray};

use super::{FrameStats, Page};

/// The triplets the Triplets page shows, with where they came from.
#[derive(Clone)]
pub struct SharedTriplets {
    pub array: Arc<TripletArray>,
    /// The file they were loaded from or saved to.
    pub file: Option<PathBuf>,
    /// How they were made (None: loaded without a sidecar).
    pub sidecar: Option<Arc<Sidecar>>,
}

pub struct AppContext {
    /// The dataset open on the Dataset page.
    pub dataset: Option<Arc<Dataset>>,
    /// The compute device, once the backend probe has answered.
    pub device: Option<Device>,
    /// Published by the Triplets page.
    pub triplets: Option<SharedTriplets>,
    /// The Triplets page's crop settings and cache root (mining and validation crops).
    pub crops: (PreprocessSettings, PathBuf),
    /// The model chosen on the Compare page.
    pub model_dir: Option<PathBuf>,
    /// Another page asks for this model to be the one in use (the Compare page loads it).
    pub model_request: Option<PathBuf>,
    /// How long each frame's UI code took (shown while training).
    pub frames: FrameStats,
    /// A page asks the app to show something on another page (click-through).
    pub go: Option<Go>,
}

/// Something to show on another page: a request one page makes and the app carries out,
/// so pages never reach into each other.
#[derive(Debug, Clone, PartialEq)]
pub enum Go {
    Page(Page),
    /// A photo into the Compare page's side 0 (A) or 1 (B).
    Compare(usize, PathBuf),
    /// Two photos side by side on the Compare page.
    ComparePair(PathBuf, PathBuf),
    /// An image on the Detection page.
    Detect(PathBuf),
}

impl AppContext {
    pub fn new() -> Self {
        AppContext {
            dataset: None,
            device: None,
            triplets: None,
            crops: (
                PreprocessSettings::default(),
                preprocess::default_cache_root(),
            ),
            model_dir: None,
            model_request: None,
            frames: FrameStats::default(),
            go: None,
        }
    }
}

/// A page of the app.
pub trait Panel {
    /// Collects finished background work and publishes into `app`; runs every frame,
    /// whichever page is shown.
    fn poll(&mut self, ctx: &egui::Context, app: &mut AppContext);

    /// Draws the page.
    fn ui(&mut self, ui: &mut egui::Ui, app: &mut AppContext);

    /// The page's running job in a few words, for the status bar (None when idle).
    fn activity(&self) -> Option<String> {
        None
    }
}
