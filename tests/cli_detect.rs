//! `detect`, `crop` and `preprocess` end to end on real photos and on bad input: each bad
//! file gets a clear outcome on its own line, and nothing panics.

mod common;

use std::path::{Path, PathBuf};

use common::run;

fn sample(person: &str, n: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/sample-faces")
        .join(person)
        .join(format!("{person}_{n:04}.jpg"))
}

fn lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn faces(v: &serde_json::Value) -> usize {
    v["faces"]
        .as_array()
        .unwrap_or_else(|| panic!("no faces in {v}"))
        .len()
}

#[test]
fn detect_reports_each_file_and_fails_only_for_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "this is not a JPEG").unwrap();
    let tiny = dir.path().join("tiny.png");
    image::RgbImage::new(1, 1).save(&tiny).unwrap();
    let missing = dir.path().join("missing.jpg");
    let good = sample("Colin_Powell", 1);
    let out = run(&[
        "detect",
        "--json",
        good.to_str().unwrap(),
        text.to_str().unwrap(),
        tiny.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "a file failed, so exit 1");
    let l = lines(&out);
    assert_eq!(l.len(), 4, "one line per image: {l:?}");
    assert_eq!(l[0]["path"], good.to_str().unwrap());
    assert_eq!(
        (l[0]["width"].as_u64(), l[0]["height"].as_u64()),
        (Some(250), Some(250))
    );
    assert_eq!(faces(&l[0]), 1);
    let face = &l[0]["faces"][0];
    assert_eq!(face["box"].as_array().unwrap().len(), 4);
    assert!(face["score"].as_f64().unwrap() > 0.99);
    assert_eq!(face["landmarks"].as_array().unwrap().len(), 5);
    assert!(
        l[1]["error"]
            .as_str()
            .unwrap()
            .contains("not an image in a supported format"),
        "{}",
        l[1]
    );
    assert_eq!(faces(&l[2]), 0, "a 1x1 image simply has no face");
    assert!(
        l[3]["error"].as_str().unwrap().contains("cannot open"),
        "{}",
        l[3]
    );
}

#[test]
fn truncated_jpeg_gives_a_clear_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sample("Hugo_Chavez", 1)).unwrap();
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let garbage = dir.path().join("garbage.jpg");
    let mut noisy = bytes[..20].to_vec(); // a JPEG header, then noise
    noisy.extend((0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    std::fs::write(&garbage, &noisy).unwrap();
    let out = run(&[
        "detect",
        "--json",
        cut.to_str().unwrap(),
        garbage.to_str().unwrap(),
    ]);
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    for v in &l {
        // Either decoded (the decoder may recover a partial image) or a decode error.
        assert!(
            v.get("faces").is_some() || v["error"].as_str().unwrap().contains("decode"),
            "{v}"
        );
    }
}

#[test]
fn grey_rgba_and_cmyk_images_are_converted_and_searched() {
    let dir = tempfile::tempdir().unwrap();
    let rgb = image::open(sample("Laura_Bush", 1)).unwrap();
    let grey = dir.path().join("grey.png");
    rgb.to_luma8().save(&grey).unwrap();
    let grey_jpg = dir.path().join("grey.jpg");
    rgb.to_luma8().save(&grey_jpg).unwrap();
    let rgba = dir.path().join("rgba.png");
    let mut with_alpha = rgb.to_rgba8();
    for p in with_alpha.pixels_mut() {
        p.0[3] = 128;
    }
    with_alpha.save(&rgba).unwrap();
    let cmyk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cmyk.jpg");
    let out = run(&[
        "detect",
        "--json",
        grey.to_str().unwrap(),
        grey_jpg.to_str().unwrap(),
        rgba.to_str().unwrap(),
        cmyk.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    for v in lines(&out) {
        assert_eq!(faces(&v), 1, "{v}");
    }
}

#[test]
fn a_12000_pixel_square_photo_is_searched_within_bounded_memory() {
    // A grey 12000x12000 canvas with one face enlarged 4x (1000 px) in it.
    let face = image::open(sample("Serena_Williams", 1))
        .unwrap()
        .to_luma8();
    let face = image::imageops::resize(&face, 1000, 1000, image::imageops::FilterType::Triangle);
    let mut canvas = image::GrayImage::from_pixel(12_000, 12_000, image::Luma([128]));
    image::imageops::overlay(&mut canvas, &face, 7000, 3000);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    let file = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        file,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    );
    canvas.write_with_encoder(encoder).unwrap();
    drop(canvas);
    let out = run(&["detect", "--json", big.to_str().unwrap()]);
    assert!(out.status.success());
    let l = lines(&out);
    assert_eq!(l[0]["width"], 12_000);
    assert_eq!(faces(&l[0]), 1, "{}", l[0]);
    let b: Vec<f64> = l[0]["faces"][0]["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        b[0] > 7000.0 && b[2] < 8000.0 && b[1] > 3000.0 && b[3] < 4000.0,
        "{b:?}"
    );
}

#[test]
fn crop_writes_the_face_at_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("face.png");
    let src = sample("Junichiro_Koizumi", 2);
    let out = run(&[
        "crop",
        src.to_str().unwrap(),
        "--out",
        out_png.to_str().unwrap(),
        "--size",
        "112",
        "--align",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&out_png).unwrap();
    assert_eq!((img.width(), img.height()), (112, 112));

    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(200, 200, image::Rgb([90, 90, 90]))
        .save(&blank)
        .unwrap();
    let out = run(&[
        "crop",
        blank.to_str().unwrap(),
        "--out",
        dir.path().join("x.png").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no face in"), "{stderr}");
    assert!(!dir.path().join("x.png").exists());

    // The extension chooses the format; one without an encoder is refused up front.
    let jpg = dir.path().join("face.jpg");
    let out = run(&[
        "crop",
        src.to_str().unwrap(),
        "--out",
        jpg.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(&std::fs::read(&jpg).unwrap()[..2], &[0xff, 0xd8]);
    let txt = dir.path().join("face.txt");
    let out = run(&[
        "crop",
        src.to_str().unwrap(),
        "--out",
        txt.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the extension chooses the format"));
    assert!(!txt.exists());
}

#[test]
fn preprocess_crops_the_sample_once_then_reuses_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces");
    let args = [
        "preprocess",
        "--data",
        data.to_str().unwrap(),
        "--cache",
        cache.path().to_str().unwrap(),
        "--json",
    ];
    let first = common::json(&run(&args));
    let p = &first["progress"];
    assert_eq!(p["total"], 30);
    assert_eq!(p["cropped"], 30, "{first}");
    assert_eq!(p["cached"], 0);
    let dir = PathBuf::from(first["cache"].as_str().unwrap());
    let crop = image::open(dir.join("crops/Laura_Bush/Laura_Bush_0001.png")).unwrap();
    assert_eq!((crop.width(), crop.height()), (100, 100));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["records"]["Laura_Bush/Laura_Bush_0001.jpg"]["status"],
        "cropped"
    );

    let second = common::json(&run(&args));
    assert_eq!(second["progress"]["cached"], 30, "{second}");
    assert_eq!(second["progress"]["cropped"], 30);

    // Other settings, another cache folder.
    let mut aligned = args.to_vec();
    aligned.push("--align");
    let third = common::json(&run(&aligned));
    assert_ne!(third["cache"], first["cache"]);
    assert_eq!(third["progress"]["cached"], 0);
}

#[test]
fn triplets_are_drawn_cropped_and_saved_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces");
    let make = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = run(&[
            "triplets",
            "--data",
            data.to_str().unwrap(),
            "--count",
            "20",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
            "--cache",
            dir.path().join("cache").to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let a = make("a.npy", "3");
    let b = make("b.npy", "3");
    let c = make("c.npy", "4");
    let array = siamese_face::triplets::TripletArray::load(&a).unwrap();
    assert_eq!(array.0.shape(), &[20, 3, 100, 100, 3]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    let sidecar = siamese_face::triplets::Sidecar::load(&a).unwrap();
    assert_eq!(sidecar.triplets.len(), 20);
    assert_eq!(sidecar.seed, 3);
    assert!(sidecar.fallback_crops.is_empty());
    let t = &sidecar.triplets[0];
    assert_eq!(t.anchor.split('/').next(), t.positive.split('/').next());
}

#[test]
fn the_cpu_backend_starts_no_graphics_driver() {
    // Without a desktop session Mesa's Vulkan driver complains on stderr when probed; with
    // --backend cpu nothing is probed, so a command prints only its own lines.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(["--backend", "cpu", "detect", "--json"])
        .arg(sample("Colin_Powell", 1))
        .env_remove("SIAMESE_FACE_BACKEND")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    // `auto` (the default) must probe, and does so quietly: the drivers' words go to the
    // debug log, not to the user.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(["backend", "--backend", "auto"])
        .env_remove("SIAMESE_FACE_BACKEND")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("backend"));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
}

#[test]
fn thresholds_take_the_comma_form_the_readme_shows() {
    let photo = sample("Colin_Powell", 1);
    let photo = photo.to_str().unwrap();
    let o = run(&["detect", "--json", "--thresholds", "0.6,0.7,0.7", photo]);
    assert_eq!(lines(&o).len(), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["detect", "--thresholds", "0.6,0.7", photo]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("--thresholds takes three values"),
        "{stderr}"
    );
}
