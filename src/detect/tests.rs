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
