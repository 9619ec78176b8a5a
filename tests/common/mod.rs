//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::{Command, Output};

mod lfw;
#[allow(unused_imports)] // not every test binary needs LFW
pub use lfw::lfw_dir;

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

/// The bundled sample dataset.
pub fn sample_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces")
}

/// `siamese-face triplets` on the bundled sample: `count` triplets of `size`-pixel crops
/// written to `dir/t.npy`, with the crop cache in `dir/cache`.
pub fn sample_triplets(dir: &std::path::Path, count: usize, size: u32) -> std::path::PathBuf {
    let npy = dir.join("t.npy");
    let o = run(&[
        "triplets",
        "--data",
        sample_dir().to_str().unwrap(),
        "--count",
        &count.to_string(),
        "--size",
        &size.to_string(),
        "--out",
        npy.to_str().unwrap(),
        "--cache",
        dir.join("cache").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    npy
}

/// `siamese-face train --triplets NPY --out MODEL ARGS...`, which must succeed.
pub fn train(npy: &std::path::Path, model: &std::path::Path, args: &[&str]) -> Output {
    let mut all = vec![
        "train",
        "--triplets",
        npy.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = run(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// The `model.json` of a model folder.
pub fn model_json(model: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(model.join("model.json")).unwrap()).unwrap()
}

/// The (first_step, steps) of the `started` event a `train --json` run printed first.
pub fn started_steps(output: &Output) -> (Option<u64>, Option<u64>) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let started: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    (started["first_step"].as_u64(), started["steps"].as_u64())
}
