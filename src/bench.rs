//! Micro-benchmarks that choose between compute backends.
//!
//! The network is the one the stack probe used (docs/stack.md): batch of 32 triplets of
//! 3x100x100 inputs, four stride-2 3x3 convolutions, a dense layer to 128, L2 normalisation,
//! triplet margin loss and an Adam step: small, but the same kind of work as training.

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::{Reduction, TripletMarginLossConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;

#[derive(Module, Debug)]
pub struct ProbeNet {
    convs: Vec<Conv2d>,
    fc: Linear,
}

impl ProbeNet {
    pub fn new(device: &Device) -> Self {
        let widths = [3, 16, 32, 64, 128];
        let convs = widths
            .windows(2)
            .map(|w| {
                Conv2dConfig::new([w[0], w[1]], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        // 100 -> 50 -> 25 -> 13 -> 7.
        let fc = LinearConfig::new(128 * 7 * 7, 128).init(device);
        ProbeNet { convs, fc }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.convs.iter().fold(x, |x, conv| relu(conv.forward(x)));
        let x = self.fc.forward(x.flatten::<2>(1, 3));
        let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        x / norm
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub backend: String,
    pub batch: usize,
    pub first_step_s: f64,
    pub median_step_s: f64,
    pub steps_per_s: f64,
    pub triplets_per_s: f64,
}

/// Times `steps` training steps of [`ProbeNet`] on `device` (after one untimed warm-up step,
/// reported separately since GPU backends compile kernels then).
pub fn training_steps(name: &str, device: &Device, batch: usize, steps: usize) -> StepTiming {
    let device = device.clone().autodiff();
    let mut model = ProbeNet::new(&device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = TripletMarginLossConfig::new().with_margin(0.2).init();
    let mut times: Vec<Duration> = Vec::with_capacity(steps + 1);
    for _ in 0..=steps {
        let input = || {
            Tensor::<4>::random(
                [batch, 3, 100, 100],
                Distribution::Uniform(0.0, 1.0),
                &device,
            )
        };
        let start = Instant::now();
        let (a, p, n) = (
            model.forward(input()),
            model.forward(input()),
            model.forward(input()),
        );
        let loss = loss_fn.forward(a, p, n, Reduction::Mean);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        // Reading a parameter back waits for the step to finish on asynchronous backends.
        let _: f32 = model.fc.weight.val().slice([0..1, 0..1]).into_scalar();
        times.push(start.elapsed());
    }
    let first = times.remove(0).as_secs_f64();
    times.sort();
    let median = times
        .get(times.len() / 2)
        .map_or(first, Duration::as_secs_f64);
    StepTiming {
        backend: name.to_owned(),
        batch,
        first_step_s: first,
        median_step_s: median,
        steps_per_s: 1.0 / median,
        triplets_per_s: batch as f64 / median,
    }
}

/// Per-image detection times.
#[derive(Debug, Clone, Serialize)]
pub struct DetectTiming {
    pub backend: String,
    pub images: usize,
    pub faces: usize,
    pub median_ms: f64,
    pub mean_ms: f64,
    pub p90_ms: f64,
}

/// Times MTCNN on each of `images` (already decoded, so only detection is measured), after
/// detecting on the first few untimed to warm up.
pub fn detection(
    name: &str,
    detector: &crate::detect::Detector,
    images: &[image::RgbImage],
    cfg: &crate::detect::DetectorConfig,
) -> Result<DetectTiming, crate::detect::DetectError> {
    for img in images.iter().take(5) {
        detector.detect(img, cfg)?;
    }
    let mut times = Vec::with_capacity(images.len());
    let mut faces = 0;
    for img in images {
        let start = Instant::now();
        faces += detector.detect(img, cfg)?.faces.len();
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(DetectTiming {
        backend: name.to_string(),
        images: images.len(),
        faces,
        median_ms: pick(0.5),
        mean_ms: times.iter().sum::<f64>() / times.len() as f64,
        p90_ms: pick(0.9),
    })
}

/// `n` images spread evenly over `sorted` (index i * len / n), as the reference script picks.
pub fn spread_sample(sorted: &[String], n: usize) -> Vec<String> {
    let n = n.min(sorted.len());
    (0..n)
        .map(|i| sorted[i * sorted.len() / n].clone())
        .collect()
}

/// Training throughput of the real trainer on random crops (what scripts/bench_train_torch.py
/// measures for PyTorch): fixed triplets, no augmentation, constant learning rate.
#[derive(Debug, Clone, Serialize)]
pub struct TrainThroughput {
    pub arch: String,
    pub backend: String,
    pub batch: usize,
    pub size: usize,
    pub steps: usize,
    pub triplets_per_s: f64,
    pub seconds_per_step: f64,
}

pub fn train_throughput(
    kind: crate::embed::BackboneKind,
    backend: &str,
    device: &Device,
    batch: usize,
    size: usize,
    steps: usize,
    warmup: usize,
) -> Result<TrainThroughput, crate::embed::train::TrainError> {
    use crate::embed::augment::Augment;
    use crate::embed::train::{
        self, Control, LrSchedule, TrainConfig, TrainData, TrainEvent, TrainJob,
    };
    use rand::{Rng, SeedableRng};
    let n = batch * (steps + warmup);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut bytes = vec![0u8; n * 3 * size * size * 3];
    rng.fill(&mut bytes[..]);
    let array = ndarray::Array5::from_shape_vec((n, 3, size, size, 3), bytes).expect("sized");
    let data = TrainData::Triplets(std::sync::Arc::new(crate::triplets::TripletArray(array)));
    let cfg = TrainConfig {
        backbone: kind,
        epochs: 1,
        batch_size: batch,
        schedule: LrSchedule::Constant,
        warmup_steps: 0,
        augment: Augment::NONE,
        checkpoint_every: 0,
        ..TrainConfig::default()
    };
    let job = TrainJob {
        data: &data,
        data_source: "random crops".into(),
        config: cfg,
        validation: None,
        checkpoints: None,
        resume: None,
        initial: None,
        plan: None,
    };
    let mut timed = Vec::new();
    let mut last = Instant::now();
    train::train(job, device, &Control::default(), |e| {
        if let TrainEvent::Step { step, .. } = e {
            if *step > warmup {
                timed.push(last.elapsed().as_secs_f64());
            }
            last = Instant::now();
        }
    })?;
    let per_step = timed.iter().sum::<f64>() / timed.len().max(1) as f64;
    Ok(TrainThroughput {
        arch: kind.name().into(),
        backend: backend.into(),
        batch,
        size,
        steps: timed.len(),
        triplets_per_s: batch as f64 / per_step,
        seconds_per_step: per_step,
    })
}

/// Per-face embedding times of a model (what `siamese-face bench embed` prints).
#[derive(Debug, Clone, Serialize)]
pub struct EmbedTiming {
    pub backend: String,
    pub model: String,
    pub faces: usize,
    /// Detection (MTCNN) per image, median: not part of the times below.
    pub detect_median_ms: f64,
    /// Alignment (crop) + embedding of one face at a time, median and mean.
    pub crop_embed_median_ms: f64,
    pub crop_embed_mean_ms: f64,
    /// Embedding of one already cut crop at a time, median.
    pub embed_median_ms: f64,
    /// Embedding crops in batches of `batch`, per face (median over batches).
    pub batch: usize,
    pub batched_ms_per_face: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Times `verifier` on the faces of `images` (decoded beforehand; each image's largest face,
/// detected untimed first), as face_recognition's `face_encodings` is timed with known face
/// locations: crop + embed, embed alone, and batched.
pub fn embedding(
    name: &str,
    verifier: &crate::verify::Verifier,
    images: &[image::RgbImage],
    batch: usize,
) -> Result<EmbedTiming, crate::verify::VerifyError> {
    let mut detect = Vec::new();
    let mut faces = Vec::new();
    for img in images {
        let start = Instant::now();
        let found = verifier.faces(img)?;
        detect.push(start.elapsed().as_secs_f64() * 1e3);
        if let Some(f) = found.into_iter().next() {
            faces.push((img, f));
        }
    }
    // Warm-up: the first calls allocate the network's buffers.
    for (img, f) in faces.iter().take(3) {
        verifier.embed(&[&verifier.crop_of(img, f)]);
    }
    let mut crop_embed = Vec::new();
    let mut crops = Vec::new();
    for (img, f) in &faces {
        let start = Instant::now();
        let crop = verifier.crop_of(img, f);
        verifier.embed(&[&crop]);
        crop_embed.push(start.elapsed().as_secs_f64() * 1e3);
        crops.push(crop);
    }
    let embed: Vec<f64> = crops
        .iter()
        .map(|c| {
            let start = Instant::now();
            verifier.embed(&[c]);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let refs: Vec<&image::RgbImage> = crops.iter().collect();
    let batch = batch.max(1);
    let batched: Vec<f64> = refs
        .chunks_exact(batch)
        .map(|chunk| {
            let start = Instant::now();
            verifier.embed(chunk);
            start.elapsed().as_secs_f64() * 1e3 / batch as f64
        })
        .collect();
    let mean = crop_embed.iter().sum::<f64>() / crop_embed.len().max(1) as f64;
    Ok(EmbedTiming {
        backend: name.to_string(),
        model: verifier.dir.display().to_string(),
        faces: faces.len(),
        detect_median_ms: median(detect),
        crop_embed_median_ms: median(crop_embed),
        crop_embed_mean_ms: mean,
        embed_median_ms: median(embed),
        batch,
        batched_ms_per_face: median(batched),
    })
}

/// Exact search time over a face index's matrix of `faces` random unit vectors (128-d).
#[derive(Debug, Clone, Serialize)]
pub struct SearchTiming {
    pub faces: usize,
    pub dim: usize,
    pub k: usize,
    pub probes: usize,
    /// One probe at a time (an interactive search): min / median / max ms.
    pub single_ms: [f64; 3],
    /// All probes in one matrix product (a folder being identified): ms per probe.
    pub batched_ms_per_probe: f64,
    /// Memory of the matrix per face (embedding only; the caller adds its ids).
    pub bytes_per_face: usize,
}

/// Times [`crate::face_index::search::top_k`] on a synthetic gallery (seeded, so every
/// run searches the same vectors).
pub fn search(faces: usize, probes: usize, k: usize) -> SearchTiming {
    use crate::face_index::search::{Matrix, top_k};
    use rand::{Rng, SeedableRng};
    let dim = crate::embed::EMBEDDING_DIM;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let mut random = |n: usize| {
        let mut m = Matrix::new(dim);
        let mut v = vec![0.0f32; dim];
        for _ in 0..n {
            v.iter_mut().for_each(|x| *x = rng.random::<f32>() - 0.5);
            m.push(&v);
        }
        m
    };
    let (gallery, queries) = (random(faces), random(probes.max(1)));
    let mut single = Vec::new();
    for p in 0..queries.len() {
        let mut one = Matrix::new(dim);
        one.push(queries.row(p));
        let t = Instant::now();
        std::hint::black_box(top_k(&gallery, &one, k));
        single.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let t = Instant::now();
    std::hint::black_box(top_k(&gallery, &queries, k));
    let batched = t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64;
    let (min, max) = single
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
    SearchTiming {
        faces,
        dim,
        k,
        probes: queries.len(),
        single_ms: [min, median(single), max],
        batched_ms_per_probe: batched,
        bytes_per_face: gallery.bytes_per_row(),
    }
}
