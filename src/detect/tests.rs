use super::*;
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::Distribution;

/// Our strided-slice pooling equals Burn's ceil-mode max pooling on every shape MTCNN uses
/// (and odd ones), up to the rounding of `m + relu(x - m)`.
#[test]
fn max_pool_matches_burns_ceil_mode_pooling() {
    let device = Device::flex();
    for (k, s, h, w) in [
        (2, 2, 151, 151),
        (2, 2, 149, 150),
        (3, 2, 22, 22),
        (3, 2, 9, 9),
        (3, 2, 46, 46),
        (3, 2, 21, 21),
        (2, 2, 8, 8),
        (3, 2, 3, 4),
    ] {
        let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 3.0), &device);
        let ours = read(nets::MaxPool::new(k, s).forward(x.clone())).unwrap();
        let burn = MaxPool2dConfig::new([k, k])
            .with_strides([s, s])
            .with_ceil_mode(true)
            .init()
            .forward(x);
        assert_eq!(
            ours.len(),
            burn.shape().num_elements(),
            "{k}/{s} on {h}x{w}"
        );
        let burn = read(burn).unwrap();
        let worst = ours
            .iter()
            .zip(&burn)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{k}/{s} on {h}x{w}: off by {worst}");
    }
}

#[test]
fn box_helpers_follow_the_reference() {
    // rerec: a 10x20 box becomes a 20x20 square on the same centre.
    assert_eq!(square([0.0, 0.0, 10.0, 20.0]), [-5.0, 0.0, 15.0, 20.0]);
    // bbreg uses pixel-inclusive sizes (w + 1).
    assert_eq!(
        regress([0.0, 0.0, 9.0, 19.0], [0.1, 0.0, -0.1, 0.5]),
        [1.0, 0.0, 8.0, 29.0]
    );
}

#[test]
fn invalid_settings_are_refused() {
    let ok = DetectorConfig::default();
    assert!(ok.validate().is_ok());
    for bad in [
        DetectorConfig {
            min_face_size: 0.0,
            ..ok
        },
        DetectorConfig {
            thresholds: [0.6, 1.5, 0.7],
            ..ok
        },
        DetectorConfig { factor: 1.0, ..ok },
    ] {
        assert!(matches!(bad.validate(), Err(DetectError::InvalidConfig(_))));
    }
}

#[test]
fn empty_and_tiny_images_have_no_faces() {
    let detector = Detector::new(&Device::flex()).unwrap();
    for (w, h) in [(1, 1), (11, 500), (30, 30)] {
        let img = RgbImage::new(w, h);
        let d = detector.detect(&img, &DetectorConfig::default()).unwrap();
        assert!(d.faces.is_empty());
        assert_eq!((d.width, d.height), (w, h));
    }
}

#[test]
fn huge_images_start_the_pyramid_coarser() {
    let detector = Detector::new(&Device::flex()).unwrap();
    // 4000x1500 = 6 MP; at scale 0.6 the first level would be 2.16 MP (under the cap),
    // while 8000x3000 (24 MP -> 8.6 MP) must start coarser.
    let d = detector
        .detect(&RgbImage::new(4000, 1500), &DetectorConfig::default())
        .unwrap();
    assert_eq!(d.min_face_size_used, 20.0);
    let d = detector
        .detect(&RgbImage::new(8000, 3000), &DetectorConfig::default())
        .unwrap();
    let expected = 12.0 / (MAX_PYRAMID_PIXELS as f64 / 24e6).sqrt();
    assert!((d.min_face_size_used as f64 - expected).abs() < 0.01);
}

#[test]
#[ignore = "profiling aid: cargo test --release --lib layer_times -- --ignored --nocapture"]
fn layer_times() {
    let device = Device::flex();
    let time = |name: &str, f: &dyn Fn() -> Vec<f32>| {
        f();
        let t = std::time::Instant::now();
        for _ in 0..20 {
            f();
        }
        eprintln!("{name:<40} {:>8.3} ms", t.elapsed().as_secs_f64() * 50.0);
    };
    let x = Tensor::<4>::random([64, 28, 22, 22], Distribution::Default, &device);
    let burn_pool = MaxPool2dConfig::new([3, 3])
        .with_strides([2, 2])
        .with_ceil_mode(true)
        .init();
    let ours = nets::MaxPool::new(3, 2);
    time("Burn max_pool2d 3/2 on 64x28x22x22", &|| {
        read(burn_pool.forward(x.clone())).unwrap()
    });
    time("our MaxPool 3/2 on 64x28x22x22", &|| {
        read(ours.forward(x.clone())).unwrap()
    });
    let nets = MtcnnNets::new(&device);
    let x24 = Tensor::<4>::random([64, 3, 24, 24], Distribution::Default, &device);
    time("R-Net, 64 crops", &|| {
        read(nets.rnet.forward(x24.clone()).1).unwrap()
    });
    let x48 = Tensor::<4>::random([12, 3, 48, 48], Distribution::Default, &device);
    time("O-Net, 12 crops", &|| {
        read(nets.onet.forward(x48.clone()).1).unwrap()
    });
    let xp = Tensor::<4>::random([1, 3, 151, 151], Distribution::Default, &device);
    time("P-Net, 151x151", &|| {
        read(nets.pnet.forward(xp.clone()).1).unwrap()
    });
}

/// A photo cut inside the face's box (forehead and chin outside the frame, as an avatar or
/// an editor's crop) has no face MTCNN accepts as it is; on a black border it has one, which
/// comes back in the photo's coordinates. A photo without a face still has none.
#[test]
fn a_photo_cropped_inside_the_face_is_found_on_a_padded_canvas() {
    let detector = Detector::new(&Device::flex()).unwrap();
    let cfg = DetectorConfig::default();
    let accepts = |f: &Face| f.score >= 0.9;
    let photo = crate::imageio::load_rgb(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/sample-faces/Laura_Bush/Laura_Bush_0001.jpg"),
    )
    .unwrap();
    // Laura Bush's box is about (79, 66)-(176, 190): keep its inner 80 %, scaled to 150 px.
    let inner = image::imageops::crop_imm(&photo, 89, 78, 78, 99).to_image();
    let close = image::imageops::resize(&inner, 150, 150, image::imageops::FilterType::Triangle);
    assert!(detector.detect(&close, &cfg).unwrap().faces.is_empty());
    let d = detector.detect_or_pad(&close, &cfg, accepts).unwrap();
    assert!(d.padded && d.faces.len() == 1, "{d:?}");
    assert_eq!((d.width, d.height), (150, 150));
    let [x0, y0, x1, y1] = d.faces[0].bbox;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    assert!(
        (50.0..100.0).contains(&cx) && (40.0..110.0).contains(&cy),
        "{:?}",
        d.faces[0]
    );
    // The eyes are in the upper half of the photo, left eye on the left.
    let [le, re, ..] = d.faces[0].landmarks;
    assert!(
        le[0] < re[0] && le[1] < 75.0 && re[1] < 75.0,
        "{:?}",
        d.faces[0]
    );
    // Cut above the eyebrows (LFW's box squared, its top 15 % off): a face is found as it
    // is, but running out of the frame; with the border its eyes land where they are, at
    // y = (112 - 85) / 105 * 150 = 39 px.
    let cut = image::imageops::crop_imm(&photo, 75, 85, 105, 105).to_image();
    let cut = image::imageops::resize(&cut, 150, 150, image::imageops::FilterType::Triangle);
    let d = detector.detect_or_pad(&cut, &cfg, accepts).unwrap();
    assert!(d.padded, "{d:?}");
    let [le, re, ..] = d.faces[0].landmarks;
    assert!(
        (le[1] - 39.0).abs() < 8.0 && (re[1] - 39.0).abs() < 8.0,
        "{:?}",
        d.faces[0]
    );
    // A face the photo shows as it is is not looked for again.
    let d = detector.detect_or_pad(&photo, &cfg, accepts).unwrap();
    assert!(!d.padded && !d.faces.is_empty());
    // No face: none, also with the border.
    let grey = RgbImage::from_pixel(150, 150, image::Rgb([128, 120, 110]));
    let d = detector.detect_or_pad(&grey, &cfg, accepts).unwrap();
    assert!(!d.padded && d.faces.is_empty());
}
