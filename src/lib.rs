//! Siamese Face: face recognition with a Siamese network trained by triplet loss.
//!
//! This library holds the domain logic (datasets, compute backends, image I/O) and knows
//! nothing of the GUI; the `siamese-face` binary's GUI and CLI are thin layers over it.

pub mod backend;
pub mod bench;
pub mod dataset;
pub mod imageio;
#[doc(hidden)]
pub mod test_support;

pub use dataset::{Dataset, Layout};
