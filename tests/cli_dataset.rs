//! `siamese-face dataset info` end to end: the JSON contract, the three layouts on real LFW,
//! and errors.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::{json, lfw_dir, run};
use serde_json::Value;

fn counts(v: &Value, list: &str) -> (u64, u64, u64, u64) {
    let l = &v["pair_lists"][list];
    (
        l["matched"].as_u64().unwrap(),
        l["mismatched"].as_u64().unwrap(),
        l["folds"].as_u64().unwrap(),
        l["missing_files"].as_u64().unwrap(),
    )
}

fn assert_lfw_counts(v: &Value) {
    assert_eq!(v["people"], 5749);
    assert_eq!(v["images"], 13233);
    assert_eq!(v["people_with_2plus"], 1680);
    assert_eq!(counts(v, "pairs"), (3000, 3000, 10, 0));
    assert_eq!(counts(v, "pairsDevTrain"), (1100, 1100, 1, 0));
    assert_eq!(counts(v, "pairsDevTest"), (500, 500, 1, 0));
}

#[test]
fn lfw_official_layout() {
    let Some(lfw) = lfw_dir() else { return };
    let v = json(&run(&["dataset", "info", lfw.to_str().unwrap(), "--json"]));
    assert_eq!(v["layout"], "lfw");
    assert_lfw_counts(&v);
    assert_eq!(v["people_lists"]["people"]["folds"], 10);
    assert_eq!(v["people_lists"]["peopleDevTrain"]["people"], 4038);
    assert_eq!(v["people_lists"]["peopleDevTest"]["people"], 1711);
}

/// The Kaggle copy: CSV lists only, images under the doubled `lfw-deepfunneled/` folder (or
/// a single one). Built from the real images by symlink, without the official .txt lists.
#[test]
fn lfw_through_kaggle_csvs() {
    let Some(lfw) = lfw_dir() else { return };
    for nested in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let images = lfw.join("lfw-deepfunneled").canonicalize().unwrap();
        if nested {
            fs::create_dir(dir.path().join("lfw-deepfunneled")).unwrap();
            symlink(
                &images,
                dir.path().join("lfw-deepfunneled/lfw-deepfunneled"),
            )
            .unwrap();
        } else {
            symlink(&images, dir.path().join("lfw-deepfunneled")).unwrap();
        }
        for entry in fs::read_dir(&lfw).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "csv") {
                fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        let v = json(&run(&[
            "dataset",
            "info",
            dir.path().to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(v["layout"], "kaggle");
        assert_lfw_counts(&v);
        assert_eq!(v["people_lists"]["peopleDevTest"]["people"], 1711);
    }
}

/// A plain `<person>/<image>` folder: a slice of LFW people without any list.
#[test]
fn lfw_people_as_plain_folder() {
    let Some(lfw) = lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    for name in ["Aaron_Peirsol", "Abdullah_Gul", "Zico"] {
        symlink(
            lfw.join("lfw-deepfunneled")
                .join(name)
                .canonicalize()
                .unwrap(),
            dir.path().join(name),
        )
        .unwrap();
    }
    let v = json(&run(&[
        "dataset",
        "info",
        dir.path().to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["layout"], "folder");
    assert_eq!(v["people"], 3);
    assert_eq!(v["images"], 4 + 19 + 3);
    assert_eq!(v["pair_lists"], serde_json::json!({}));
}

fn write_fixture(root: &Path) {
    for (name, n) in [("Ann_Lee", 3), ("Bob_Ray", 1)] {
        fs::create_dir_all(root.join("lfw").join(name)).unwrap();
        for i in 1..=n {
            fs::write(
                root.join("lfw")
                    .join(name)
                    .join(format!("{name}_{i:04}.jpg")),
                b"",
            )
            .unwrap();
        }
    }
    fs::write(
        root.join("pairsDevTest.txt"),
        "2\nAnn_Lee\t1\t2\nAnn_Lee\t2\t7\nAnn_Lee\t1\tBob_Ray\t1\nAnn_Lee\tx\tBob_Ray\t1\n",
    )
    .unwrap();
}

/// The documented JSON shape, with a missing image and a malformed line, no LFW needed.
#[test]
fn json_contract_on_a_small_fixture() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let v = json(&run(&[
        "dataset",
        "info",
        dir.path().to_str().unwrap(),
        "--json",
    ]));
    let obj = v.as_object().unwrap();
    for key in [
        "layout",
        "people",
        "images",
        "people_with_2plus",
        "pair_lists",
    ] {
        assert!(obj.contains_key(key), "missing key {key} in {v}");
    }
    assert_eq!(v["layout"], "lfw");
    assert_eq!(
        (v["people"].as_u64(), v["images"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(v["people_with_2plus"], 1);
    assert_eq!(counts(&v, "pairsDevTest"), (2, 1, 1, 1));
    let list = &v["pair_lists"]["pairsDevTest"];
    assert_eq!(list["malformed_lines"], 1);
    assert!(
        list["missing_examples"][0]
            .as_str()
            .unwrap()
            .ends_with("Ann_Lee/Ann_Lee_0007.jpg")
    );
}

#[test]
fn text_output_names_problems() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let out = run(&["dataset", "info", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("1 missing files, 1 malformed lines"),
        "{text}"
    );
    assert!(text.contains("Ann_Lee_0007.jpg"), "{text}");
}

#[test]
fn errors_go_to_stderr_with_failure_status() {
    let out = run(&["dataset", "info", "/no/such/dataset", "--json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("/no/such/dataset") && err.contains("does not exist"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    // A broken list is reported and left out; the dataset still opens.
    fs::write(dir.path().join("pairs.txt"), [0xff, 0xfe, 0xfd]).unwrap();
    let v = json(&run(&[
        "dataset",
        "info",
        dir.path().to_str().unwrap(),
        "--json",
    ]));
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("pairs.txt") && warnings.contains("not used"),
        "{v}"
    );
    assert!(v["people"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn backend_command_reports_a_choice() {
    let v = json(&run(&["backend", "--json", "--backend", "cpu"]));
    assert_eq!(v["backend"], "cpu");
    assert_eq!(v["request"], "cpu");
    let out = run(&["backend", "--backend", "tpu"]);
    assert!(!out.status.success());
}

/// Output into a pipe whose reader has gone (`siamese-face ... | head`) ends quietly, as
/// Unix tools do, not with a panic about a broken pipe.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(["dataset", "info"])
        .arg(common::sample_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
