//! `triplets` then `train` end to end on the bundled sample: JSON events, a saved model.

mod common;

use common::run;

#[test]
fn trains_a_model_from_a_triplet_file_with_json_events() {
    let dir = tempfile::tempdir().unwrap();
    let npy = common::sample_triplets(dir.path(), 8, 48);
    let model = dir.path().join("model");
    let o = common::train(&npy, &model, &["--epochs", "2", "--batch", "4", "--json"]);
    let events: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(
        (
            count("started"),
            count("step"),
            count("epoch"),
            count("done")
        ),
        (1, 4, 2, 1)
    );
    assert!(events[1]["loss"].as_f64().unwrap().is_finite());
    // The sample has no pairsDevTrain list, so there is no validation, and no checkpoint
    // is due in 4 steps.
    assert_eq!((count("validation"), count("checkpoint")), (0, 0));
    assert!(model.join("model.bpk").is_file());
    let meta = common::model_json(&model);
    assert_eq!(meta["backbone"], "small-cnn");
    assert_eq!(meta["input_size"], 48);
    assert_eq!(meta["steps"], 4);
    assert_eq!(meta["train"]["augment"]["flip"], true);

    // Stopped runs resume: train 2 more epochs from the run's last checkpoint (none was
    // written mid-run here, so ask for one every step).
    common::train(
        &npy,
        &model,
        &[
            "--epochs",
            "1",
            "--batch",
            "4",
            "--checkpoint-every",
            "1",
            "--json",
        ],
    );
    assert!(model.join("checkpoints/step-000002/state.json").is_file());
    let o = run(&[
        "train",
        "--triplets",
        npy.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "2",
        "--resume",
        "latest",
        "--json",
    ]);
    assert_eq!(common::started_steps(&o), (Some(3), Some(4)));

    // Unknown backbones and mining without a dataset are refused with a clear message.
    let o = run(&[
        "train",
        "--out",
        "x",
        "--backbone",
        "resnet",
        "--triplets",
        "t.npy",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown backbone"));
    let o = run(&["train", "--out", "x", "--mine"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--data"));

    // A file that is not a triplet array is refused before any training.
    let o = run(&[
        "train",
        "--triplets",
        model.join("model.json").to_str().unwrap(),
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a readable .npy file"));
}

/// A model trained on triplet files records how their crops were cut (from the sidecar),
/// and `compare` cuts faces the same way: aligned triplets give aligned verification crops.
#[test]
fn a_model_trained_on_aligned_triplets_verifies_with_aligned_crops() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("aligned.npy");
    let o = run(&[
        "triplets",
        "--data",
        common::sample_dir().to_str().unwrap(),
        "--count",
        "8",
        "--size",
        "48",
        "--align",
        "--out",
        npy.to_str().unwrap(),
        "--cache",
        dir.path().join("cache").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = dir.path().join("model");
    common::train(&npy, &model, &["--epochs", "1", "--batch", "4", "--json"]);
    let meta = common::model_json(&model);
    assert_eq!(meta["data"]["crop"]["align"], true, "{}", meta["data"]);
    assert_eq!(meta["data"]["crop"]["size"], 48);
    let photo = |n: u32| {
        common::sample_dir()
            .join(format!("Laura_Bush/Laura_Bush_{n:04}.jpg"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let out = common::json(&run(&[
        "compare",
        &photo(1),
        &photo(2),
        "--model",
        model.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(out["crop"]["align"], true, "{out}");
    assert_eq!(out["crop"]["size"], 48);
}

/// `train --resume latest --out M` alone continues a mining run: the data, dataset, crops
/// and validation all come from the checkpoint.
#[test]
fn resume_latest_alone_continues_a_mining_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    mine_two_steps(dir.path(), &model, &[]);
    let o = resume_latest(&model, &[]);
    // 30 sample images in batches of 8: 4 steps an epoch, 8 in all; 2 were done.
    assert_eq!(common::started_steps(&o), (Some(3), Some(8)));
    let meta = common::model_json(&model);
    assert_eq!(meta["steps"], 8);
    assert_eq!(
        meta["data"]["crop"]["size"], 48,
        "the mining crops of the first run"
    );
    assert!(
        meta["data"]["source"]
            .as_str()
            .unwrap()
            .contains("online semi-hard mining")
    );
    // Data arguments given again (even another kind) are not used, and the note says so.
    let o = resume_latest(&model, &["--triplets", "elsewhere.npy"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("are not used"));
}

/// A checkpoint that cannot be written (here: a file-size limit standing in for a full
/// disk) stops the run with a message naming the last intact checkpoint, leaves no
/// temporary folder, and the run resumes from that checkpoint; a damaged newest checkpoint
/// is passed over (and named) for the one before it.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_checkpoint_keeps_the_last_one_and_a_damaged_one_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    let bin = env!("CARGO_BIN_EXE_siamese-face");
    mine_two_steps(dir.path(), &model, &["--checkpoint-every", "2"]);
    let checkpoints = model.join("checkpoints");
    // Files over 2 MB cannot be written (the optimizer state is ~2.9 MB): the checkpoint of
    // step 4 fails as on a full disk. SIGXFSZ is ignored so the write returns an error.
    let limited = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -f 2000; trap "" XFSZ; exec "$0" train --resume latest --out "$1""#)
        .arg(bin)
        .arg(&model)
        .env_remove("SIAMESE_FACE_BACKEND")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&limited.stderr);
    assert!(!limited.status.success(), "{stderr}");
    assert!(
        stderr.contains("training stopped at step 4")
            && stderr.contains("intact (")
            && stderr.contains("step-000002)"),
        "{stderr}"
    );
    let names = || -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(&checkpoints)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(), ["step-000002"], "no temporary folder is left");
    // With room again the run goes on from step 3 to the end (checkpoints 4, 6, 8).
    let o = resume_latest(&model, &[]);
    assert_eq!(common::started_steps(&o), (Some(3), Some(8)));
    assert_eq!(names(), ["step-000004", "step-000006", "step-000008"]);
    // A truncated newest checkpoint: resuming takes step 6 and says why.
    let bpk = checkpoints.join("step-000008/model.bpk");
    let len = std::fs::metadata(&bpk).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bpk)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let o = resume_latest(&model, &["--epochs", "3"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("skipped a damaged checkpoint") && stderr.contains("step-000008"),
        "{stderr}"
    );
    assert_eq!(common::started_steps(&o), (Some(7), Some(12)));
}

/// A learning rate that destroys the network ends the run with a message instead of saving
/// a model that calls every pair the same person.
#[test]
fn collapsed_embeddings_stop_training_and_save_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let npy = common::sample_triplets(dir.path(), 8, 48);
    let model = dir.path().join("model");
    let (npy, out) = (npy.to_str().unwrap(), model.to_str().unwrap());
    let o = run(&[
        "train",
        "--triplets",
        npy,
        "--out",
        out,
        "--epochs",
        "3",
        "--batch",
        "4",
        "--lr",
        "1e9",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("embeddings collapsed at step"), "{stderr}");
    assert!(!model.join("model.bpk").exists());
}

/// The first 2 of 8 steps (2 epochs of 30 sample images in batches of 8) of a mining run
/// on the sample, 48 px crops, into `model`, with `extra` arguments; it must succeed.
fn mine_two_steps(dir: &std::path::Path, model: &std::path::Path, extra: &[&str]) {
    let data = common::sample_dir();
    let cache = dir.join("cache");
    let mut args = vec![
        "train",
        "--mine",
        "--data",
        data.to_str().unwrap(),
        "--size",
        "48",
        "--epochs",
        "2",
        "--batch",
        "8",
        "--images-per-person",
        "2",
        "--max-steps",
        "2",
        "--out",
        model.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `train --resume latest --out MODEL --json` with `extra` arguments.
fn resume_latest(model: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "--resume",
        "latest",
        "--out",
        model.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// A training run killed while it crops the mining pool keeps the detections made so far
/// (the crop cache's index is saved every few seconds, not only at the end), so the next
/// run does not detect those photos again.
#[test]
fn a_kill_while_cropping_the_mining_pool_keeps_the_crops_made() {
    use std::time::{Duration, Instant};
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let people = 150;
    let ds = siamese_face::Dataset::open(&lfw).unwrap();
    let pool = siamese_face::workflow::train::mining_photos(
        &ds,
        siamese_face::dataset::TrainSplit::DevTrain,
        Some(people),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(["train", "--mine", "--backend", "cpu", "--max-steps", "1"])
        .args(["--max-people", &people.to_string(), "--val-pairs", "0"])
        .arg("--data")
        .arg(&lfw)
        .arg("--cache")
        .arg(&cache)
        .arg("--out")
        .arg(dir.path().join("model"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let records = || {
        let index = walk(&cache).into_iter().find(|p| p.ends_with("index.json"));
        index.map_or(0, |i| {
            std::fs::read_to_string(i).map_or(0, |t| t.matches("\"modified\"").count())
        })
    };
    let start = Instant::now();
    while records() == 0 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = records();
    assert!(
        kept > 0 && kept < pool,
        "{kept} of {pool} photos recorded at the kill"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
