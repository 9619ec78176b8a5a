//! Siamese Face: face recognition with a Siamese network trained by triplet loss.
//!
//! This library holds the domain logic (datasets, compute backends, image I/O) and knows
//! nothing of the GUI; the `siamese-face` binary's GUI and CLI are thin layers over it.

pub mod backend;
pub mod bench;
pub mod crop;
pub mod dataset;
pub mod detect;
pub mod embed;
pub mod embedded;
pub mod evaluate;
pub mod face_index;
pub mod imageio;
pub mod kernels;
pub mod metrics;
pub mod model;
pub mod preprocess;
pub mod projection;
pub mod triplets;
pub mod verify;
pub mod workflow;

pub use dataset::{Dataset, Layout};
