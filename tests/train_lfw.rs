//! Acceptance for training: the small CNN on a few hundred real LFW face crops (MTCNN, as the
//! app makes them) learns on the CPU backend: the loss falls and the validation accuracy on
//! 100 + 100 DevTrain pairs ends well above chance and above untrained networks'.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use burn::tensor::Device;
use siamese_face::Dataset;
use siamese_face::detect::Detector;
use siamese_face::embed::train::{self, Control, TrainConfig, TrainData, TrainEvent, TrainJob};
use siamese_face::embed::validation::ValidationSet;
use siamese_face::embed::{BackboneKind, EmbeddingNet};
use siamese_face::preprocess::{CropCache, PreprocessSettings};
use siamese_face::triplets;

#[test]
fn small_cnn_learns_on_real_lfw_crops() {
    let Some(lfw) = common::lfw_dir() else { return };
    let ds = Dataset::open(&lfw).unwrap();
    let device = Device::flex();
    let cache_root = tempfile::tempdir().unwrap();
    let settings = PreprocessSettings::default();
    let mut cache = CropCache::open(
        &CropCache::dir_for(cache_root.path(), &ds, &settings),
        &ds,
        &settings,
    )
    .unwrap();
    let detector = Detector::new(&device).unwrap();
    let cancel = AtomicBool::new(false);
    let sources = triplets::draw(&ds, &ds.dev_split().unwrap().train, 320, 7).unwrap();
    let array = triplets::crops(&ds, &sources, &mut cache, &detector, &cancel, |_, _| {})
        .unwrap()
        .array;
    let val = ValidationSet::from_pair_list(
        &ds,
        "pairsDevTrain",
        100,
        &mut cache,
        &detector,
        &cancel,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(val.len(), 200);

    // Untrained networks of the same architecture, for what "chance" looks like here.
    let untrained = (0..3)
        .map(|_| {
            val.evaluate(
                &EmbeddingNet::new(BackboneKind::SmallCnn, &device),
                false,
                &device,
            )
            .accuracy
        })
        .fold(0f64, f64::max);

    let data = TrainData::Triplets(Arc::new(array));
    let cfg = TrainConfig {
        epochs: 4,
        batch_size: 32,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let job = TrainJob {
        data: &data,
        data_source: "320 LFW DevTrain triplets".into(),
        config: cfg,
        validation: Some(&val),
        checkpoints: None,
        resume: None,
        initial: None,
        plan: None,
    };
    let (mut losses, mut accuracy, mut maps) = (Vec::new(), Vec::new(), Vec::new());
    let (_, summary) = train::train(job, &device, &Control::default(), |e| match e {
        TrainEvent::Step { loss, .. } => losses.push(*loss),
        TrainEvent::Validation {
            accuracy: a, map, ..
        } => {
            accuracy.push(*a);
            maps.extend(map.clone());
        }
        _ => {}
    })
    .unwrap();
    // Each validation carries the faces' map (the Training page draws it): one point per
    // validation photo, spread out, and the 200 pairs.
    assert_eq!(maps.len(), 4);
    for m in &maps {
        assert_eq!((m.points.len(), m.pairs.len()), (val.len_crops(), 200));
        let xs: Vec<f32> = m.points.iter().map(|p| p[0]).collect();
        let spread = xs.iter().cloned().fold(f32::MIN, f32::max)
            - xs.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread > 1e-3, "the map is one point");
    }
    eprintln!(
        "losses {losses:?}\nvalidation accuracy per epoch {accuracy:?} (best untrained {untrained:.3}); {:.0} s",
        summary.seconds
    );
    assert_eq!(losses.len(), 40);
    assert_eq!(accuracy.len(), 4);
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    assert!(
        mean(&losses[30..]) < 0.9 * mean(&losses[..10]),
        "the loss did not fall: {losses:?}"
    );
    let last = *accuracy.last().unwrap();
    assert!(
        last >= 0.62,
        "validation accuracy {last} is not clearly above chance"
    );
    assert!(
        last > untrained + 0.02,
        "validation accuracy {last} is no better than untrained networks ({untrained})"
    );
}
