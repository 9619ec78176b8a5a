//! Agreement with facenet-pytorch 2.6.0's MTCNN on 200 LFW images spread over the alphabet
//! (fixture made by scripts/mtcnn_reference.py), and the detection rate on the first 1000.
//!
//! JPEG decoders legitimately differ by a grey level here and there: PIL uses libjpeg-turbo,
//! the app the `image` crate's pure-Rust decoder. MTCNN's cascade amplifies that (a
//! different candidate wins a suppression and the final box moves by a few pixels), so the
//! exact-agreement test decodes with libjpeg-turbo's algorithm too (the `mozjpeg` crate),
//! giving both detectors the same pixels; a second test measures what the app's own decoder
//! changes, with looser bounds.

mod common;

use burn::tensor::Device;
use serde::Deserialize;
use siamese_face::detect::{Detector, DetectorConfig, Face};
use siamese_face::{Dataset, imageio};

#[derive(Deserialize)]
struct Fixture {
    images: Vec<RefImage>,
}

#[derive(Deserialize)]
struct RefImage {
    path: String,
    width: u32,
    height: u32,
    faces: Vec<Face>,
}

/// RGB pixels exactly as PIL (libjpeg-turbo, islow IDCT, fancy upsampling) decodes them.
fn decode_like_pil(path: &std::path::Path) -> image::RgbImage {
    let d = mozjpeg::Decompress::new_path(path).unwrap();
    let mut started = d.rgb().unwrap();
    let (w, h) = (started.width() as u32, started.height() as u32);
    let pixels: Vec<u8> = started.read_scanlines::<u8>().unwrap();
    started.finish().unwrap();
    image::RgbImage::from_raw(w, h, pixels).unwrap()
}

#[derive(Default)]
struct Agreement {
    problems: Vec<String>,
    worst_iou: f32,
    worst_score: f32,
    worst_landmark: f32,
    faces: usize,
}

/// How close our faces must be to the reference's.
struct Bounds {
    /// Reference faces below this probability may be missing.
    min_reference_score: f32,
    min_iou: f32,
    max_score: f32,
    max_landmark: f32,
    /// Unmatched faces of ours above this probability are errors.
    max_extra_score: f32,
}

/// Matches our faces to the reference ones and collects anything beyond the bounds.
fn compare(
    fixture: &Fixture,
    lfw: &std::path::Path,
    decode: impl Fn(&std::path::Path) -> image::RgbImage,
    bounds: &Bounds,
) -> Agreement {
    let detector = Detector::new(&Device::flex()).unwrap();
    let cfg = DetectorConfig::default();
    let mut a = Agreement {
        worst_iou: 1.0,
        ..Default::default()
    };
    for r in &fixture.images {
        let img = decode(&lfw.join(&r.path));
        assert_eq!((img.width(), img.height()), (r.width, r.height));
        let ours = detector.detect(&img, &cfg).unwrap().faces;
        let mut matched = vec![false; ours.len()];
        for want in r
            .faces
            .iter()
            .filter(|f| f.score >= bounds.min_reference_score)
        {
            a.faces += 1;
            let best = ours
                .iter()
                .enumerate()
                .max_by(|x, y| want.iou(x.1).total_cmp(&want.iou(y.1)));
            let iou = best.map_or(0.0, |(_, f)| want.iou(f));
            a.worst_iou = a.worst_iou.min(iou);
            let Some((i, got)) = best.filter(|_| iou >= bounds.min_iou) else {
                a.problems.push(format!(
                    "{}: reference face {:?} not found (best IoU {iou:.3})",
                    r.path, want.bbox
                ));
                continue;
            };
            matched[i] = true;
            let score = (got.score - want.score).abs();
            let mark = got
                .landmarks
                .iter()
                .zip(&want.landmarks)
                .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
                .fold(0.0f32, f32::max);
            a.worst_score = a.worst_score.max(score);
            a.worst_landmark = a.worst_landmark.max(mark);
            if score > bounds.max_score || mark > bounds.max_landmark {
                a.problems.push(format!(
                    "{}: face {:?}: probability off by {score:.4}, landmarks by {mark:.2} px",
                    r.path, want.bbox
                ));
            }
        }
        for (f, _) in ours
            .iter()
            .zip(&matched)
            .filter(|(f, m)| !**m && f.score > bounds.max_extra_score)
        {
            a.problems.push(format!(
                "{}: extra face {:?} with probability {:.3}",
                r.path, f.bbox, f.score
            ));
        }
    }
    eprintln!(
        "{} reference faces: worst IoU {:.4}, probability difference {:.5}, landmark distance {:.3} px; {} beyond bounds",
        a.faces,
        a.worst_iou,
        a.worst_score,
        a.worst_landmark,
        a.problems.len()
    );
    a
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/mtcnn_reference.json"),
    )
    .unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture.images.len(), 200);
    fixture
}

#[test]
fn agrees_with_facenet_pytorch_on_200_lfw_images() {
    let Some(lfw) = common::lfw_dir() else { return };
    let bounds = Bounds {
        min_reference_score: 0.0,
        min_iou: 0.95,
        max_score: 0.01,
        max_landmark: 2.0,
        max_extra_score: 0.9,
    };
    let a = compare(&fixture(), &lfw, decode_like_pil, &bounds);
    assert_eq!(a.faces, 236);
    assert!(a.problems.is_empty(), "{}", a.problems.join("\n"));
}

/// With the app's own JPEG decoder every confident reference face (p >= 0.95) is still
/// found, boxes still overlap well, and no confident extra face appears; borderline faces
/// (p 0.7-0.9, small or cut by the image edge) may cross a threshold either way.
#[test]
fn app_decoder_moves_boxes_only_slightly() {
    let Some(lfw) = common::lfw_dir() else { return };
    let decode = |p: &std::path::Path| imageio::load_rgb(p).unwrap();
    let bounds = Bounds {
        min_reference_score: 0.95,
        min_iou: 0.75,
        max_score: 0.05,
        max_landmark: 12.0,
        max_extra_score: 0.95,
    };
    let a = compare(&fixture(), &lfw, decode, &bounds);
    assert!(a.problems.is_empty(), "{}", a.problems.join("\n"));
}

#[test]
fn finds_a_face_in_each_of_the_first_1000_lfw_images() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dataset = Dataset::open(&lfw).unwrap();
    let first: Vec<String> = dataset.sorted_images().into_iter().take(1000).collect();
    assert_eq!(first.len(), 1000);
    let detector = Detector::new(&Device::flex()).unwrap();
    let cfg = DetectorConfig::default();
    let mut faces = 0;
    let mut without = Vec::new();
    for rel in &first {
        let img = imageio::load_rgb(&dataset.image_root.join(rel)).unwrap();
        let n = detector.detect(&img, &cfg).unwrap().faces.len();
        if n == 0 {
            without.push(rel.clone());
        }
        faces += n;
    }
    eprintln!(
        "{} faces in 1000 images ({:.3} per image)",
        faces,
        faces as f64 / 1000.0
    );
    assert!(without.is_empty(), "no face found in: {without:?}");
}
