//! Where the tests find LFW (the GUI tests include this file too); not a public API.

use std::path::{Path, PathBuf};

/// Set to skip, explicitly and visibly, the tests that need the real LFW images.
pub const SKIP_LFW_ENV: &str = "SIAMESE_FACE_SKIP_LFW";

/// `../shared/data/lfw` from the repository root. A test that needs it fails with a clear
/// message when it is missing, unless [`SKIP_LFW_ENV`] asks to skip (and it says so on stderr).
pub fn lfw_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/lfw");
    if dir.join("pairs.txt").is_file() {
        return Some(dir);
    }
    if std::env::var_os(SKIP_LFW_ENV).is_some() {
        eprintln!("SKIPPED: LFW not found at {}", dir.display());
        return None;
    }
    panic!(
        "this test needs LFW at {} (see README: Getting LFW); set {SKIP_LFW_ENV}=1 to skip it",
        dir.display()
    );
}
