//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::{Command, Output};

#[allow(unused_imports)] // not every test binary needs LFW
pub use siamese_face::test_support::lfw_dir;

/// Runs the real `siamese-face` binary.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(args)
        .env_remove("SIAMESE_FACE_BACKEND")
        .output()
        .expect("the binary runs")
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
