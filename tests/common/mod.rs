//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the real `siamese-face` binary.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(args)
        .env_remove("SIAMESE_FACE_BACKEND")
        .output()
        .expect("the binary runs")
}

/// `../shared/data/lfw` from the repository root. A test that needs it fails with a clear
/// message when it is missing, unless `SIAMESE_FACE_SKIP_LFW=1` asks to skip (and it says so).
pub fn lfw_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/lfw");
    if dir.join("pairs.txt").is_file() {
        return Some(dir);
    }
    if std::env::var_os("SIAMESE_FACE_SKIP_LFW").is_some() {
        eprintln!("SKIPPED: LFW not found at {}", dir.display());
        return None;
    }
    panic!(
        "this test needs LFW at {} (see README: Getting LFW); set SIAMESE_FACE_SKIP_LFW=1 to skip it",
        dir.display()
    );
}

pub fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "expected ONE JSON line, got: {stdout}"
    );
    serde_json::from_str(&stdout).expect("stdout is JSON")
}
