use super::*;
use burn::optim::{AdamConfig, GradientsParams};
use std::path::Path;
use std::sync::Arc;

use crate::Dataset;
use crate::triplets;
use train::{Control, TrainConfig, TrainData, TrainEvent, TrainJob, train};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn unit_norms(e: Tensor<2>) -> Vec<f32> {
    e.powi_scalar(2)
        .sum_dim(1)
        .into_data()
        .try_to_vec()
        .unwrap()
}

#[test]
fn embeddings_are_unit_vectors_for_every_backbone() {
    let device = Device::flex();
    for kind in BackboneKind::ALL {
        let s = kind.min_input().max(100) as u32;
        let img = RgbImage::from_fn(s, s, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let net = EmbeddingNet::new(kind, &device).valid();
        let x = crops_to_tensor(&[&img, &img], &kind.normalisation(), &device);
        let e = net.forward(x);
        assert_eq!(e.dims(), [2, EMBEDDING_DIM], "{kind}");
        for n in unit_norms(e) {
            assert!((n - 1.0).abs() < 1e-4, "{kind}: norm {n}");
        }
    }
}

/// The architectures have exactly the tensors of torchvision's / timm's models (without their
/// classifiers), so that ImageNet files load tensor for tensor.
#[test]
fn backbones_have_the_reference_parameter_counts() {
    let device = Device::flex();
    let count = |kind| Backbone::new(kind, &device).num_params();
    // Burn counts BatchNorm's running mean and variance too, so the references are the
    // state dicts' sizes without num_batches_tracked (and without the classifiers):
    // torchvision.models.mobilenet_v2().features
    assert_eq!(count(BackboneKind::MobileNetV2), 2_257_984);
    // torchvision.models.vgg19().features
    assert_eq!(count(BackboneKind::Vgg19), 20_024_384);
    // timm.create_model("inception_resnet_v2") without `classif`
    assert_eq!(count(BackboneKind::InceptionResnetV2), 54_367_008);
}

/// The converted ImageNet MobileNetV2 computes what torchvision computes on a real face
/// crop (reference made by scripts/mobilenet_reference.py).
#[test]
fn built_in_mobilenet_v2_matches_torchvision() {
    let device = Device::flex();
    let (backbone, what) =
        pretrained::backbone(BackboneKind::MobileNetV2, &Default::default(), &device).unwrap();
    assert!(what.contains("ImageNet"), "{what}");
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("mobilenetv2_reference.json")).unwrap())
            .unwrap();
    let expected: Vec<f32> = reference["pooled_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let crop = crate::imageio::load_rgb(&fixture("face_crop.png")).unwrap();
    let x = crops_to_tensor(&[&crop], &Normalisation::IMAGENET, &device);
    let pooled: Vec<f32> = backbone
        .valid()
        .forward(x)
        .mean_dim(2)
        .mean_dim(3)
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(pooled.len(), 1280);
    let worst = pooled
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-3, "largest difference from torchvision {worst}");
}

#[test]
fn dlib_resnet_port_matches_dlib_on_its_own_face_chips() {
    // Chips cut and embedded by dlib itself (face_recognition's pipeline; see
    // scripts/dlib_reference.py). face-api's weights are uint8-quantised, so the port is
    // close to dlib, not equal: cosine >= 0.99 per chip, and the embedding's scale kept.
    let device = Device::flex();
    let (backbone, what) =
        pretrained::backbone(BackboneKind::DlibResnet, &Default::default(), &device).unwrap();
    assert!(what.contains("dlib"), "{what}");
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("dlib_reference.json")).unwrap()).unwrap();
    let chips = reference["chips"].as_array().unwrap();
    assert!(chips.len() >= 8);
    let images: Vec<_> = chips
        .iter()
        .map(|c| {
            let name = c["file"].as_str().unwrap();
            crate::imageio::load_rgb(&fixture(&format!("dlib_chips/{name}"))).unwrap()
        })
        .collect();
    let refs: Vec<&_> = images.iter().collect();
    let x = crops_to_tensor(&refs, &BackboneKind::DlibResnet.normalisation(), &device);
    let out: Vec<f32> = backbone.forward(x).into_data().try_to_vec().unwrap();
    assert_eq!(out.len(), 128 * chips.len());
    for (c, got) in chips.iter().zip(out.chunks_exact(128)) {
        let expected: Vec<f32> = c["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let dot: f32 = got.iter().zip(&expected).map(|(a, b)| a * b).sum();
        let cos = dot / (norm(got) * norm(&expected));
        assert!(cos >= 0.99, "{}: cosine {cos} to dlib", c["file"]);
        let ratio = norm(got) / norm(&expected);
        assert!(
            (0.97..1.03).contains(&ratio),
            "{}: norm ratio {ratio}",
            c["file"]
        );
    }
}

#[test]
fn a_residual_head_starts_at_the_backbone_embedding() {
    // dlib-resnet's dense block adds to the descriptor and its last layer starts at zero,
    // so an untrained network is dlib's (normalised) descriptor.
    let device = Device::flex();
    let (backbone, _) =
        pretrained::backbone(BackboneKind::DlibResnet, &Default::default(), &device).unwrap();
    let net = EmbeddingNet::with_backbone(backbone, &device);
    let chip = crate::imageio::load_rgb(&fixture("dlib_chips/AJ_Cook_0001.png")).unwrap();
    let x = crops_to_tensor(&[&chip], &BackboneKind::DlibResnet.normalisation(), &device);
    let raw: Vec<f32> = net.features(x.clone()).into_data().try_to_vec().unwrap();
    let emb: Vec<f32> = net.forward(x).into_data().try_to_vec().unwrap();
    let n = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
    for (r, e) in raw.iter().zip(&emb) {
        assert!((r / n - e).abs() < 1e-5);
    }
}

#[test]
fn a_state_dict_of_another_architecture_is_refused() {
    let device = Device::flex();
    let e = pretrained::from_pytorch(
        BackboneKind::Vgg19,
        &fixture("tiny_state_dict.pth"),
        &device,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("vgg19"), "{e}");
    let e = pretrained::from_pytorch(BackboneKind::SmallCnn, &fixture("cmyk.jpg"), &device)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cmyk.jpg"), "{e}");
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

/// A job on `data` without validation, checkpoints or resume.
fn job(data: &TrainData, config: TrainConfig) -> TrainJob<'_> {
    TrainJob {
        data,
        data_source: "sample".into(),
        config,
        validation: None,
        checkpoints: None,
        resume: None,
        initial: None,
        plan: None,
    }
}

fn sample_data(count: usize, seed: u64, size: u32) -> TrainData {
    let crops = sample_triplet_crops(count, seed, size);
    TrainData::Triplets(Arc::new(triplets::TripletArray::from_crops(&crops, size)))
}

/// The real network on real faces: a few dozen Adam steps on triplets of the sample's
/// centre crops drive the loss down (it learns, gradients flow through every layer).
#[test]
fn small_cnn_learns_on_real_face_crops() {
    let crops = sample_triplet_crops(16, 1, 64);
    let device = Device::flex().autodiff();
    let norm = Normalisation::SYMMETRIC;
    let batch = |k: usize| {
        crops_to_tensor(
            &crops.iter().map(|t| &t[k]).collect::<Vec<_>>(),
            &norm,
            &device,
        )
    };
    let (a, p, n) = (batch(0), batch(1), batch(2));
    let mut net = EmbeddingNet::new(BackboneKind::SmallCnn, &device);
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

/// Every float tensor of `net` whose name starts with `prefix`, flattened, in name order.
fn params_under(net: &EmbeddingNet, prefix: &str) -> Vec<f32> {
    params_where(net, |name| name.starts_with(prefix))
}

/// The f32 parameters whose names contain `part`.
fn params_containing(net: &EmbeddingNet, part: &str) -> Vec<f32> {
    params_where(net, |name| name.contains(part))
}

/// The f32 parameters whose names `keep` accepts, in name order, flattened.
fn params_where(net: &EmbeddingNet, keep: impl Fn(&str) -> bool) -> Vec<f32> {
    use burn::store::ModuleSnapshot;
    let mut tensors = net.collect(None, None, false);
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    tensors
        .iter()
        .filter(|t| keep(&t.name) && t.dtype == burn::tensor::DType::F32)
        .flat_map(|t| {
            let bytes = t.to_bytes().unwrap();
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// With `train_last_stage`, a frozen dlib backbone still learns its last stage (trained on
/// cached trunk maps); the rest of the backbone stays as it was.
#[test]
fn the_last_stage_of_a_frozen_backbone_can_learn() {
    let data = sample_data(4, 2, 150);
    let cfg = TrainConfig {
        backbone: BackboneKind::DlibResnet,
        epochs: 1,
        batch_size: 2,
        freeze_backbone_epochs: 1,
        train_last_stage: true,
        augment: augment::Augment::NONE,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let device = Device::flex();
    let (backbone, _) =
        pretrained::backbone(BackboneKind::DlibResnet, &Default::default(), &device).unwrap();
    let before = EmbeddingNet::with_backbone(backbone, &device);
    let (after, _) = train(
        job(&data, cfg.clone()),
        &device,
        &Control::default(),
        |_| {},
    )
    .unwrap();
    for trunk in ["stem", "blocks.0.", "blocks.12."] {
        let p = params_containing(&before, trunk);
        assert!(!p.is_empty(), "{trunk}");
        assert_eq!(params_containing(&after, trunk), p, "{trunk} changed");
    }
    for tail in ["blocks.13.", "fc."] {
        assert_ne!(
            params_containing(&after, tail),
            params_containing(&before, tail),
            "{tail}"
        );
    }
    // Only a backbone with a last stage accepts the setting.
    let cfg = TrainConfig {
        backbone: BackboneKind::SmallCnn,
        ..cfg
    };
    let e = train(
        job(&sample_data(4, 2, 48), cfg),
        &device,
        &Control::default(),
        |_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("last stage"), "{e}");
}

fn params(net: &EmbeddingNet) -> Vec<f32> {
    params_under(net, "")
}

/// With the backbone frozen only the dense block learns: an Adam step on a frozen forward
/// leaves every backbone tensor (weights and BatchNorm statistics) as it was.
#[test]
fn frozen_backbone_steps_change_only_the_dense_block() {
    let crops = sample_triplet_crops(6, 4, 48);
    let device = Device::flex().autodiff();
    let norm = Normalisation::SYMMETRIC;
    let batch = |k: usize| {
        crops_to_tensor(
            &crops.iter().map(|t| &t[k]).collect::<Vec<_>>(),
            &norm,
            &device,
        )
    };
    let net = EmbeddingNet::new(BackboneKind::SmallCnn, &device);
    let (backbone0, head0) = (params_under(&net, "backbone"), params_under(&net, "dense"));
    let (loss, _) = triplet_loss(
        net.forward_frozen(batch(0)),
        net.forward_frozen(batch(1)),
        net.forward_frozen(batch(2)),
        0.5,
    );
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let net = AdamConfig::new().init().step(1e-2, net, grads);
    assert!(!backbone0.is_empty());
    assert_eq!(params_under(&net, "backbone"), backbone0);
    assert_ne!(params_under(&net, "dense"), head0);

    // The trainer freezes exactly the first `freeze_backbone_epochs` epochs.
    let data = sample_data(8, 4, 48);
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 4,
        freeze_backbone_epochs: 1,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let mut frozen = Vec::new();
    train(job(&data, cfg), &Device::flex(), &Control::default(), |e| {
        if let TrainEvent::Step {
            epoch, frozen: f, ..
        } = e
        {
            frozen.push((*epoch, *f));
        }
    })
    .unwrap();
    assert_eq!(frozen, vec![(1, true), (1, true), (2, false), (2, false)]);
}

/// A run whose backbone stays frozen computes each crop's features once and trains the
/// dense block on them: the same losses as embedding the crops at every step.
#[test]
fn cached_backbone_features_train_like_embedding_every_step() {
    let data = sample_data(8, 4, 48);
    let cfg = |epochs| TrainConfig {
        epochs,
        batch_size: 4,
        freeze_backbone_epochs: 1,
        augment: augment::Augment::NONE,
        schedule: train::LrSchedule::Constant,
        warmup_steps: 0,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let run = |epochs| {
        let mut losses = Vec::new();
        let mut features = 0;
        train(
            job(&data, cfg(epochs)),
            &Device::flex(),
            &Control::default(),
            |e| match e {
                TrainEvent::Step { epoch: 1, loss, .. } => losses.push(*loss),
                TrainEvent::Features { .. } => features += 1,
                _ => {}
            },
        )
        .unwrap();
        (losses, features)
    };
    // One epoch, frozen throughout: cached. Two epochs, the second unfrozen: not cached.
    let (cached, events) = run(1);
    let (direct, none) = run(2);
    assert!(events > 0 && none == 0);
    assert_eq!(cached.len(), direct.len());
    for (a, b) in cached.iter().zip(&direct) {
        assert!((a - b).abs() < 1e-4, "{cached:?} vs {direct:?}");
    }
}

#[test]
fn trains_saves_and_reloads_the_model_and_refuses_other_architectures() {
    let data = sample_data(12, 2, 48);
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 6,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let job = |cfg: &TrainConfig| job(&data, cfg.clone());
    let mut events = Vec::new();
    let (net, summary) = train(job(&cfg), &Device::flex(), &Control::default(), |e| {
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
    let meta = crate::model::ModelMeta::new(&cfg, data.summary("sample"), &summary);
    crate::model::save(&net, &meta, dir.path()).unwrap();
    let device = Device::flex();
    let (loaded, meta2) = crate::model::load(dir.path(), &device).unwrap();
    assert_eq!(meta2, meta);
    let TrainData::Triplets(t) = &data else {
        unreachable!()
    };
    let crop = t.crop(0, 0);
    let x = crops_to_tensor(&[&crop], &Normalisation::SYMMETRIC, &device);
    let before: Vec<f32> = net.forward(x.clone()).into_data().try_to_vec().unwrap();
    let after: Vec<f32> = loaded.forward(x).into_data().try_to_vec().unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert!((b - a).abs() < 1e-5);
    }

    // Stopping before the first step trains nothing and says so.
    let control = Control::default();
    control
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (_, summary) = train(job(&cfg), &Device::flex(), &control, |_| {}).unwrap();
    assert!(summary.stopped && summary.steps == 0);

    // A model folder whose weights are of another architecture is refused clearly.
    let mut other = meta.clone();
    other.backbone = BackboneKind::MobileNetV2;
    std::fs::write(
        dir.path().join("model.json"),
        serde_json::to_vec(&other).unwrap(),
    )
    .unwrap();
    let e = crate::model::load(dir.path(), &device)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("does not fit a mobilenetv2 network"), "{e}");
    // So is a folder without metadata.
    let e = crate::model::load(&dir.path().join("nope"), &device)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("model.json"), "{e}");
}

/// A run resumed from its step-4 checkpoint sees the same batches, computes the same losses
/// and ends with the same parameters as the uninterrupted run.
#[test]
fn a_checkpoint_resumes_to_the_same_state() {
    let data = sample_data(16, 5, 48);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 4,
        checkpoint_every: 4,
        warmup_steps: 2,
        ..TrainConfig::default()
    };
    let job = |resume| TrainJob {
        data: &data,
        data_source: "sample".into(),
        config: cfg.clone(),
        validation: None,
        checkpoints: Some(dir.path().join("checkpoints")),
        resume,
        initial: None,
        plan: None,
    };
    let device = Device::flex();
    let mut losses_a = Vec::new();
    let (net_a, summary) = train(job(None), &device, &Control::default(), |e| {
        if let TrainEvent::Step { step, loss, .. } = e {
            losses_a.push((*step, *loss));
        }
    })
    .unwrap();
    assert_eq!(summary.steps, 8);
    let ck_dir = dir.path().join("checkpoints/step-000004");
    let ck = checkpoint::load(&ck_dir, &device.clone().autodiff()).unwrap();
    assert_eq!(ck.state.step, 4);
    assert_eq!(ck.state.history.len(), 5, "4 steps and one epoch");
    // The next batch is the one the uninterrupted run used at step 5.
    assert_eq!(
        train::batch_for_step(&ck.state.config, &data, 4),
        train::batch_for_step(&cfg, &data, 4)
    );
    let mut losses_b = Vec::new();
    let (net_b, summary) = train(job(Some(ck)), &device, &Control::default(), |e| {
        if let TrainEvent::Step { step, loss, .. } = e {
            losses_b.push((*step, *loss));
        }
    })
    .unwrap();
    assert_eq!(summary.steps, 8);
    // Steps 1-4 are replayed from the checkpoint's history, 5-8 computed again.
    assert_eq!(losses_b.len(), 8);
    for ((sa, la), (sb, lb)) in losses_a.iter().zip(&losses_b) {
        assert_eq!(sa, sb);
        assert!((la - lb).abs() < 1e-5, "step {sa}: {la} vs {lb}");
    }
    let (pa, pb) = (params(&net_a), params(&net_b));
    assert_eq!(pa.len(), pb.len());
    let worst = pa
        .iter()
        .zip(&pb)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-5, "parameters differ by {worst}");
    // Resuming with other settings is refused.
    let other = TrainJob {
        config: TrainConfig {
            learning_rate: 0.5,
            ..cfg.clone()
        },
        ..job(Some(
            checkpoint::load(&ck_dir, &device.clone().autodiff()).unwrap(),
        ))
    };
    let e = train(other, &device, &Control::default(), |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("other settings"), "{e}");
}

/// Two runs with the same seed and data give the same losses, step for step: the CPU
/// kernels sum their gradients in a fixed order, whatever the threads do.
#[test]
fn a_training_run_reproduces_its_losses_with_the_same_seed() {
    let data = sample_data(16, 7, 48);
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 8,
        warmup_steps: 1,
        ..TrainConfig::default()
    };
    let run = || {
        let mut losses = Vec::new();
        train(
            job(&data, cfg.clone()),
            &Device::flex(),
            &Control::default(),
            |e| {
                if let TrainEvent::Step { loss, .. } = e {
                    losses.push(*loss);
                }
            },
        )
        .unwrap();
        losses
    };
    let (a, b) = (run(), run());
    assert!(a.len() >= 2, "{a:?}");
    assert_eq!(a, b);
}

/// Online mining trains on batches of people and reports its triplets.
#[test]
fn online_mining_trains_on_identity_batches() {
    let ds =
        Dataset::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces")).unwrap();
    let mut crops = Vec::new();
    let mut people = Vec::new();
    for p in &ds.people {
        let mut idx = Vec::new();
        for i in &p.images {
            let img = crate::imageio::load_rgb(&i.path).unwrap();
            crops.push(crate::crop::centre_crop(&img, 48, 0.6));
            idx.push(crops.len() - 1);
        }
        people.push(idx);
    }
    let names = (0..people.len()).map(|i| format!("person {i}")).collect();
    let data = TrainData::Identities(mining::IdentityPool {
        crops,
        people,
        names,
        fallbacks: 0,
    });
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 8,
        mining: Some(train::Mining {
            images_per_person: 2,
        }),
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let mut rates = Vec::new();
    let (_, summary) = train(
        job(&data, cfg.clone()),
        &Device::flex(),
        &Control::default(),
        |e| {
            if let TrainEvent::Step { loss, .. } = e {
                rates.push(*loss);
            }
        },
    )
    .unwrap();
    assert!(summary.steps >= 1 && rates.iter().all(|l| l.is_finite()));
    let train::BatchPlan::Mined { crops, labels } = train::batch_for_step(&cfg, &data, 0) else {
        panic!("a mined batch")
    };
    assert_eq!(crops.len(), 8);
    assert_eq!(labels, vec![0, 0, 1, 1, 2, 2, 3, 3]);
    // Mining on a triplet file is a configuration error, said clearly.
    let triplets = sample_data(4, 1, 48);
    let e = train(
        job(&triplets, cfg),
        &Device::flex(),
        &Control::default(),
        |_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("mining needs identities"), "{e}");
}

#[test]
fn learning_rate_warms_up_then_decays() {
    let cfg = TrainConfig {
        learning_rate: 1e-3,
        warmup_steps: 10,
        schedule: train::LrSchedule::Cosine,
        ..TrainConfig::default()
    };
    assert!((cfg.lr_at(0, 100) - 1e-4).abs() < 1e-12);
    assert!(cfg.lr_at(9, 100) > 0.95e-3);
    assert!((cfg.lr_at(99, 100) - 1e-5).abs() < 1e-9);
    assert!(cfg.lr_at(50, 100) < cfg.lr_at(20, 100));
    let flat = TrainConfig {
        schedule: train::LrSchedule::Constant,
        warmup_steps: 0,
        ..cfg
    };
    assert_eq!(flat.lr_at(77, 100), 1e-3);
}

/// A diverging run stops at the first non-finite loss with a message that says what to do.
#[test]
fn a_non_finite_loss_stops_training_clearly() {
    let data = sample_data(8, 6, 48);
    let cfg = TrainConfig {
        epochs: 20,
        batch_size: 4,
        learning_rate: 1e38,
        warmup_steps: 0,
        schedule: train::LrSchedule::Constant,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let mut steps = 0;
    let e = train(job(&data, cfg), &Device::flex(), &Control::default(), |e| {
        if matches!(e, TrainEvent::Step { .. }) {
            steps += 1;
        }
    })
    .expect_err("training diverges")
    .to_string();
    assert!(e.contains("lower the learning rate"), "{e}");
    assert!(steps < 40, "stopped only after {steps} steps");
}

/// A pool smaller than a batch of 4 per person (a few enrolled people with two photos
/// each) still gives batches of two people, so every step has negatives.
#[test]
fn a_pool_smaller_than_a_batch_still_mines_two_people() {
    let crop = image::RgbImage::new(8, 8);
    let small = TrainData::Identities(mining::IdentityPool {
        crops: vec![crop; 6],
        people: vec![vec![0, 1], vec![2, 3], vec![4, 5]],
        names: vec!["a".into(), "b".into(), "c".into()],
        fallbacks: 0,
    });
    let four = TrainConfig {
        batch_size: 32,
        mining: Some(train::Mining {
            images_per_person: 4,
        }),
        ..TrainConfig::default()
    };
    let train::BatchPlan::Mined { labels, .. } = train::batch_for_step(&four, &small, 0) else {
        panic!("a mined batch")
    };
    assert_eq!(labels, vec![0, 0, 1, 1], "{labels:?}");
}

#[test]
fn collapse_is_a_spread_gone_not_a_small_one() {
    use super::train::collapsed;
    // All-zero or identical embeddings: collapsed, even on the first step.
    assert!(collapsed(0.0, 0.0));
    // A frozen random backbone on near-uniform crops starts tiny and stays so: not collapsed.
    assert!(!collapsed(4e-8, 0.0) && !collapsed(4e-8, 5e-8));
    // A spread that was 0.05 and fell to 1e-9: collapsed. A trained network's: not.
    assert!(collapsed(1e-9, 0.05));
    assert!(!collapsed(0.3, 0.5));
}
