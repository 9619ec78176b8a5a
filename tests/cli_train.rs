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
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("model.json")).unwrap()).unwrap();
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
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let started: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        (started["first_step"].as_u64(), started["steps"].as_u64()),
        (Some(3), Some(4))
    );

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
