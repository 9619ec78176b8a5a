use super::*;
use burn::optim::{AdamConfig, GradientsParams};
use std::path::Path;

use crate::Dataset;
use crate::triplets;

#[test]
fn embeddings_are_unit_vectors() {
    let device = Device::flex();
    let net = SmallCnn::new(&device);
    let img = RgbImage::from_fn(100, 100, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let e = net.forward(crops_to_tensor(&[&img, &img], &device));
    assert_eq!(e.dims(), [2, EMBEDDING_DIM]);
    let norms: Vec<f32> = e
        .powi_scalar(2)
        .sum_dim(1)
        .into_data()
        .try_to_vec()
        .unwrap();
    for n in norms {
        assert!((n - 1.0).abs() < 1e-4, "{n}");
    }
}

#[test]
fn triplet_loss_matches_a_hand_computed_case() {
    let device = Device::flex();
    let t = |v: [f32; 4]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [2, 2]), &device);
    // Row 1: d_ap = 0, d_an = 2 -> max(0, 0 - 2 + 0.5) = 0 (inactive).
    // Row 2: d_ap = 2, d_an = 0 -> max(0, 2 - 0 + 0.5) = 2.5 (active).
    let a = t([1.0, 0.0, 1.0, 0.0]);
    let p = t([1.0, 0.0, 0.0, 1.0]);
    let n = t([0.0, 1.0, 1.0, 0.0]);
    let (loss, active) = triplet_loss(a, p, n, 0.5);
    assert!((loss.into_scalar::<f32>() - 1.25).abs() < 1e-6);
    assert!((active.into_scalar::<f32>() - 0.5).abs() < 1e-6);
}

/// `count` triplets of the bundled sample's photos as `size`-pixel centre crops.
fn sample_triplet_crops(count: usize, seed: u64, size: u32) -> Vec<[RgbImage; 3]> {
    let ds =
        Dataset::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces")).unwrap();
    let people = ds.people.iter().map(|p| p.name.clone()).collect();
    let crop = |rel: &str| {
        let img = crate::imageio::load_rgb(&ds.image_root.join(rel)).unwrap();
        crate::crop::centre_crop(&img, size, 0.6)
    };
    triplets::draw(&ds, &people, count, seed)
        .unwrap()
        .iter()
        .map(|s| [crop(&s.anchor), crop(&s.positive), crop(&s.negative)])
        .collect()
}

/// The real network on real faces: a few dozen Adam steps on triplets of the sample's
/// centre crops drive the loss down (it learns, gradients flow through every layer).
#[test]
fn small_cnn_learns_on_real_face_crops() {
    let crops = sample_triplet_crops(16, 1, 64);
    let device = Device::flex().autodiff();
    let batch =
        |k: usize| crops_to_tensor(&crops.iter().map(|t| &t[k]).collect::<Vec<_>>(), &device);
    let (a, p, n) = (batch(0), batch(1), batch(2));
    let mut net = SmallCnn::new(&device);
    let mut optim = AdamConfig::new().init();
    let mut losses = Vec::new();
    for _ in 0..30 {
        let (loss, _) = triplet_loss(
            net.forward(a.clone()),
            net.forward(p.clone()),
            net.forward(n.clone()),
            0.5,
        );
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(1e-3, net, grads);
    }
    let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
    let last: f32 = losses[25..].iter().sum::<f32>() / 5.0;
    assert!(last < 0.5 * first, "loss did not fall: {losses:?}");
}

#[test]
fn trains_on_a_triplet_array_saves_and_reloads_the_model() {
    use std::sync::atomic::AtomicBool;
    use train::{ModelMeta, TrainConfig, TrainEvent, load_model, save_model, train};
    let crops = sample_triplet_crops(12, 2, 48);
    let data = triplets::TripletArray::from_crops(&crops, 48);
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 6,
        ..TrainConfig::default()
    };
    let mut events = Vec::new();
    let stop = AtomicBool::new(false);
    let (net, summary) = train(&data, &cfg, &Device::flex(), &stop, |e| {
        events.push(e.clone())
    })
    .unwrap();
    assert_eq!(summary.steps, 6);
    assert!(!summary.stopped);
    let steps = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Step { .. }))
        .count();
    let epochs = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Epoch { .. }))
        .count();
    assert_eq!((steps, epochs), (6, 3));

    let dir = tempfile::tempdir().unwrap();
    let meta = ModelMeta {
        backbone: "small-cnn".into(),
        input_size: 48,
        normalisation: "x / 127.5 - 1".into(),
        embedding_dim: EMBEDDING_DIM,
        train: cfg,
        triplets: data.len(),
        threshold: None,
    };
    save_model(&net, &meta, dir.path()).unwrap();
    let device = Device::flex();
    let (loaded, meta2) = load_model(dir.path(), &device).unwrap();
    assert_eq!(meta2, meta);
    let x = crops_to_tensor(&[&crops[0][0]], &device);
    let before: Vec<f32> = net.forward(x.clone()).into_data().try_to_vec().unwrap();
    let after: Vec<f32> = loaded.forward(x).into_data().try_to_vec().unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert!((b - a).abs() < 1e-5);
    }

    // Stopping before the first step trains nothing and says so.
    let stop = AtomicBool::new(true);
    let (_, summary) = train(&data, &cfg, &Device::flex(), &stop, |_| {}).unwrap();
    assert!(summary.stopped && summary.steps == 0);

    // Metadata of another architecture is refused with a clear message.
    let mut other = meta.clone();
    other.backbone = "vgg19".into();
    std::fs::write(
        dir.path().join("model.json"),
        serde_json::to_vec(&other).unwrap(),
    )
    .unwrap();
    let e = load_model(dir.path(), &device).unwrap_err().to_string();
    assert!(e.contains("backbone vgg19"), "{e}");
}
