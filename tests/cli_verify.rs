//! `compare`, `eval` and `embed` end to end on the bundled sample with a model trained here
//! (the shipped default model comes with the evaluation issue): JSON shapes, verdicts,
//! metrics over a pair list, and the errors for a photo without a face, an unreadable file
//! and a missing model.

mod common;

use std::path::{Path, PathBuf};

use common::{json, run};

fn sample() -> PathBuf {
    common::sample_dir()
}

fn photo(name: &str, n: u32) -> String {
    sample()
        .join(name)
        .join(format!("{name}_{n:04}.jpg"))
        .display()
        .to_string()
}

/// A small CNN trained for a few steps on the sample (enough for the plumbing).
fn train_model(dir: &Path) -> PathBuf {
    let npy = common::sample_triplets(dir, 16, 100);
    let cache = dir.join("cache");
    let model = dir.join("model");
    let cache = cache.to_str().unwrap();
    common::train(
        &npy,
        &model,
        &["--epochs", "2", "--batch", "8", "--cache", cache],
    );
    model
}

#[test]
fn compare_eval_and_embed_with_a_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = train_model(dir.path());
    let m = model.to_str().unwrap();

    let pair = |a: String, b: String, extra: &[&str]| {
        let mut args = vec!["compare", &a, &b, "--model", m, "--json"];
        args.extend_from_slice(extra);
        json(&run(&args))
    };
    let out = pair(
        photo("Colin_Powell", 1),
        photo("Colin_Powell", 2),
        &["--threshold", "0.25"],
    );
    let s = out["similarity"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&s), "{out}");
    assert_eq!(out["threshold"], 0.25);
    assert_eq!(out["same"], s >= 0.25);
    assert_eq!(out["faces"].as_array().unwrap().len(), 2);
    assert_eq!(out["faces"][0]["faces_found"], 1);
    assert_eq!(out["faces"][0]["box"].as_array().unwrap().len(), 4);

    // The model was trained without validation pairs: without --threshold there is no
    // verdict (a made-up threshold would give confidently wrong ones).
    let out = pair(photo("Colin_Powell", 1), photo("Hugo_Chavez", 1), &[]);
    assert!(out["same"].is_null() && out["threshold"].is_null(), "{out}");
    assert!(out["similarity"].is_number());
    let o = run(&[
        "compare",
        &photo("Colin_Powell", 1),
        &photo("Hugo_Chavez", 1),
        "--model",
        m,
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no verdict"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no threshold"));

    // A photo compared with itself is the same person at any threshold below 1.
    let out = pair(
        photo("Laura_Bush", 3),
        photo("Laura_Bush", 3),
        &["--threshold", "0.99"],
    );
    assert!(out["similarity"].as_f64().unwrap() > 0.999, "{out}");
    assert_eq!(out["same"], true);

    // A pair list in LFW's format over the sample: matched then mismatched pairs.
    let pairs = dir.path().join("pairs.txt");
    std::fs::write(
        &pairs,
        "4\nColin_Powell\t1\t2\nLaura_Bush\t1\t3\nHugo_Chavez\t2\t4\nSerena_Williams\t1\t2\n\
         Colin_Powell\t1\tLaura_Bush\t2\nHugo_Chavez\t1\tSerena_Williams\t3\n\
         Junichiro_Koizumi\t2\tGloria_Macapagal_Arroyo\t4\nLaura_Bush\t5\tHugo_Chavez\t5\n",
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let data = sample();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "eval",
            "--data",
            data.to_str().unwrap(),
            "--pairs",
            pairs.to_str().unwrap(),
            "--model",
            m,
            "--cache",
            cache.to_str().unwrap(),
            "--json",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let r = json(&args(&[]));
    assert_eq!(r["pairs"], 8);
    assert_eq!(r["missing_pairs"], 0);
    for key in ["accuracy", "best_accuracy", "auc"] {
        let v = r[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key}: {r}");
    }
    assert!(r["best_accuracy"].as_f64() >= r["accuracy"].as_f64(), "{r}");
    assert!(r["tar_at_far"]["1e-2"].is_number() && r["tar_at_far"]["1e-3"].is_number());
    assert!(r.get("fold_accuracy_mean").is_none());
    // The second run reads the cached embeddings and gives the same numbers.
    let again = json(&args(&[]));
    assert_eq!(r, again);
    // --csv writes every scored pair.
    let csv = dir.path().join("scores.csv");
    json(&args(&["--csv", csv.to_str().unwrap()]));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 9, "{text}");
    assert!(text.starts_with("a,b,same,fold,similarity,said_same\n"));
    // --sample keeps the first N matched and N mismatched pairs.
    let r = json(&args(&["--sample", "2"]));
    assert_eq!(r["pairs"], 4);
    // --save-threshold stores the best threshold on these pairs in model.json; then the
    // accuracy at the model's threshold is the best one.
    let o = args(&["--save-threshold"]);
    let saved = json(&o);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(m).join("model.json")).unwrap()).unwrap();
    assert!(
        (meta["threshold"].as_f64().unwrap() - saved["best_threshold"].as_f64().unwrap()).abs()
            < 1e-6
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("stored threshold"));
    let r = json(&args(&[]));
    assert_eq!(r["accuracy"], r["best_accuracy"], "{r}");
    // Folds must match the list's.
    let o = args(&["--folds", "10"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has 1 fold(s), not 10"));

    // embed: JSON lines with unit vectors, or a .npy of shape (N, 128).
    let o = run(&["embed", &photo("Hugo_Chavez", 1), "--model", m]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e: Vec<f64> = line["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(e.len(), 128);
    assert!((e.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-3);
    let npy = dir.path().join("e.npy");
    let o = run(&[
        "embed",
        &photo("Hugo_Chavez", 1),
        &photo("Laura_Bush", 1),
        "--model",
        m,
        "--npy",
        npy.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&npy).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..80]).contains("'shape': (2, 128)"));

    // A photo without a face is an error that names it.
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(200, 200, image::Rgb([120, 120, 120]))
        .save(&blank)
        .unwrap();
    let o = run(&[
        "compare",
        blank.to_str().unwrap(),
        &photo("Laura_Bush", 1),
        "--model",
        m,
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("blank.png: no face found"), "{err}");
    // So is a file that is not an image.
    let o = run(&["compare", m, &photo("Laura_Bush", 1), "--model", m]);
    assert!(!o.status.success());
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let o = run(&[
        "compare",
        &photo("Laura_Bush", 1),
        &photo("Laura_Bush", 2),
        "--model",
        "/nonexistent/model",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no model at /nonexistent/model"), "{err}");
}

/// The shipped default model (no --model) on photos of LFW DevTest people, whom it never
/// saw in training: two photos of one person are the same, of two people different.
#[test]
fn the_default_model_tells_unseen_people_apart() {
    let Some(lfw) = common::lfw_dir() else { return };
    let split = siamese_face::Dataset::open(&lfw)
        .unwrap()
        .dev_split()
        .unwrap();
    let img = |name: &str, n: u32| {
        assert!(split.test.contains(name) && !split.train.contains(name));
        lfw.join(format!("lfw-deepfunneled/{name}/{name}_{n:04}.jpg"))
            .display()
            .to_string()
    };
    let cases = [
        (img("Alvaro_Uribe", 1), img("Alvaro_Uribe", 2), true),
        (img("Abdullah_Gul", 1), img("Abdullah_Gul", 5), true),
        (img("Adrien_Brody", 1), img("Adrien_Brody", 2), true),
        (img("Alvaro_Uribe", 2), img("Alan_Greenspan", 1), false),
        (img("Abdullah_Gul", 1), img("Alan_Greenspan", 1), false),
        (img("Abdullah_Gul", 5), img("Adrien_Brody", 1), false),
    ];
    for (a, b, same) in &cases {
        let out = json(&run(&["compare", a, b, "--json"]));
        assert_eq!(out["same"], *same, "{a} vs {b}: {out}");
        // The shipped model reads its threshold as DevTrain's error rates: a few in a
        // hundred at most, never nothing.
        let rates = &out["error_rates"];
        assert_eq!(rates["pairs"], "pairsDevTrain", "{out}");
        let far = rates["false_accept_rate"].as_f64().unwrap_or(1.0);
        assert!(far > 0.0 && far < 0.03, "{out}");
    }
}

/// `eval`'s embedding cache answers only for what it was computed from: a replaced image is
/// embedded again, a model.json changed in a way that changes embeddings gets its own cache,
/// and a cached run reports the same centre-cropped images as the run that made them.
#[test]
fn the_eval_cache_follows_images_models_and_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let model = train_model(dir.path());
    // A copy of the sample to change.
    let data = dir.path().join("data");
    for person in std::fs::read_dir(sample()).unwrap() {
        let person = person.unwrap().path();
        if !person.is_dir() {
            continue;
        }
        let to = data.join(person.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for image in std::fs::read_dir(&person).unwrap() {
            let image = image.unwrap().path();
            std::fs::copy(&image, to.join(image.file_name().unwrap())).unwrap();
        }
    }
    let pairs = dir.path().join("pairs.txt");
    std::fs::write(
        &pairs,
        "2\nHugo_Chavez\t2\t4\nSerena_Williams\t1\t2\n\
         Colin_Powell\t1\tLaura_Bush\t2\nHugo_Chavez\t1\tSerena_Williams\t3\n",
    )
    .unwrap();
    let eval = |model: &Path, cache: &str| {
        json(&run(&[
            "eval",
            "--data",
            data.to_str().unwrap(),
            "--pairs",
            pairs.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--cache",
            dir.path().join(cache).to_str().unwrap(),
            "--json",
        ]))
    };
    let first = eval(&model, "cache");
    assert_eq!(
        first,
        eval(&model, "cache"),
        "a cached run gives the same figures"
    );
    // Hugo Chavez's 4th photo becomes Serena Williams's 1st: the cached run must see it and
    // agree with a run on an empty cache.
    let hugo = data.join("Hugo_Chavez/Hugo_Chavez_0004.jpg");
    std::fs::copy(data.join("Serena_Williams/Serena_Williams_0001.jpg"), &hugo).unwrap();
    let replaced = eval(&model, "cache");
    assert_eq!(replaced, eval(&model, "fresh-cache"));
    assert_ne!(replaced["auc"], first["auc"], "{first} {replaced}");
    // A photo without a face is centre-cropped, and a cached run still says so.
    let blank = image::RgbImage::from_pixel(250, 250, image::Rgb([120, 120, 120]));
    blank
        .save_with_format(
            data.join("Serena_Williams/Serena_Williams_0002.jpg"),
            image::ImageFormat::Png,
        )
        .unwrap();
    let with_blank = eval(&model, "cache");
    assert_eq!(with_blank["fallback_crops"], 1, "{with_blank}");
    assert_eq!(eval(&model, "cache")["fallback_crops"], 1);
    // The same weights with another model.json (no flip averaging) are another model.
    let copy = dir.path().join("model-copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(model.join("model.bpk"), copy.join("model.bpk")).unwrap();
    let mut meta = common::model_json(&model);
    meta["flip_average"] = serde_json::json!(!meta["flip_average"].as_bool().unwrap());
    std::fs::write(copy.join("model.json"), meta.to_string()).unwrap();
    let flipped = eval(&copy, "cache");
    assert_eq!(flipped, eval(&copy, "fresh-cache-2"));
    let caches = std::fs::read_dir(dir.path().join("cache/embeddings"))
        .unwrap()
        .count();
    assert_eq!(caches, 2, "one embedding cache per model.json");
}

/// A photo cropped inside the face (forehead and chin cut by the frame) gets a verdict with
/// the shipped model, and the output says it is a close crop; a photo with no face still
/// says there is none.
#[test]
fn a_photo_cropped_close_to_the_face_gets_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let whole = siamese_face::imageio::load_rgb(Path::new(&photo("Laura_Bush", 1))).unwrap();
    // The inner 80 % of Laura Bush's face box, scaled to 150 px.
    let inner = image::imageops::crop_imm(&whole, 89, 78, 78, 99).to_image();
    let close = dir.path().join("close.jpg");
    image::imageops::resize(&inner, 150, 150, image::imageops::FilterType::Triangle)
        .save(&close)
        .unwrap();
    let out = json(&run(&[
        "compare",
        close.to_str().unwrap(),
        &photo("Laura_Bush", 3),
        "--json",
    ]));
    assert_eq!(out["faces"][0]["close_crop"], true, "{out}");
    assert_eq!(out["faces"][1]["close_crop"], false, "{out}");
    assert!(out["similarity"].as_f64().unwrap() > 0.5, "{out}");
    let blank = dir.path().join("blank.jpg");
    image::RgbImage::from_pixel(150, 150, image::Rgb([128, 120, 110]))
        .save(&blank)
        .unwrap();
    let o = run(&["compare", blank.to_str().unwrap(), &photo("Laura_Bush", 3)]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no face"));
}
