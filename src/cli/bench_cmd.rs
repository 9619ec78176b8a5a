//! `siamese-face bench ...`: `backends` times a small triplet-loss training step on each
//! compute backend compiled in (to choose the CPU backend by measurement); `detect` times
//! MTCNN per image; `embed` times a model per face; `search` times the face index's exact
//! search.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::Device;
use clap::Subcommand;
use siamese_face::backend::{self, BackendKind, BackendRequest};
use siamese_face::bench::{self, StepTiming};
use siamese_face::detect::{Detector, DetectorConfig};
use siamese_face::embed::BackboneKind;
use siamese_face::{Dataset, imageio};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Training-step time of a small conv net on flex (and ndarray, and wgpu when asked).
    Backends {
        /// Timed steps per backend (after one warm-up step).
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Triplets per batch.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Also time wgpu on whatever adapter exists (a software one compiles kernels for minutes).
        #[arg(long)]
        wgpu: bool,
        /// One JSON object per backend, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Training throughput of the embedding network (triplets/s) on random crops; compare
    /// with scripts/bench_train_torch.py (PyTorch, same architecture).
    Train {
        #[arg(long, default_value = "small-cnn", value_parser = |s: &str| s.parse::<BackboneKind>())]
        backbone: BackboneKind,
        /// Triplets per step.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Crop size.
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Timed steps (after the warm-up ones).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Embedding time per face of a model (default: the shipped one) on the first image of
    /// each person of peopleDevTest, the faces scripts/dlib_reference.py bench times dlib on.
    Embed {
        /// Dataset folder (LFW).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Model folder (default: the shipped model).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// Faces timed.
        #[arg(long, default_value_t = 100)]
        images: usize,
        /// Batch size of the batched timing.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Exact cosine search of the face index over synthetic unit vectors (128-d): one
    /// probe at a time, and a batch of probes in one matrix product.
    Search {
        /// Faces in the searched matrix.
        #[arg(long, default_value_t = 1_000_000)]
        faces: usize,
        /// Probes timed.
        #[arg(long, default_value_t = 20)]
        probes: usize,
        /// Best faces kept per probe.
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        json: bool,
    },
    /// Median MTCNN time per image on a spread of a dataset's images (decoding excluded).
    Detect {
        /// Dataset folder (LFW: 250x250 images).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Images timed, spread evenly over the sorted image list.
        #[arg(long, default_value_t = 200)]
        images: usize,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: BenchCommand, request: BackendRequest) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Backends {
            steps,
            batch,
            wgpu,
            json,
        } => backends(steps, batch, wgpu, json),
        BenchCommand::Detect { data, images, json } => detect(&data, images, request, json),
        BenchCommand::Search {
            faces,
            probes,
            k,
            json,
        } => {
            let t = bench::search(faces, probes, k);
            if json {
                println!("{}", serde_json::to_string(&t)?);
            } else {
                println!(
                    "search of {} faces ({}-d, top {}): one probe {:.1} ms median (min {:.1}, max {:.1}); \
                     {} probes batched {:.2} ms per probe; {} bytes per face",
                    t.faces,
                    t.dim,
                    t.k,
                    t.single_ms[1],
                    t.single_ms[0],
                    t.single_ms[2],
                    t.probes,
                    t.batched_ms_per_probe,
                    t.bytes_per_face
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Embed {
            data,
            model,
            images,
            batch,
            json,
        } => embed(&data, model, images, batch, request, json),
        BenchCommand::Train {
            backbone,
            batch,
            size,
            steps,
            warmup,
            json,
        } => {
            let sel = backend::select(request)?;
            let t = bench::train_throughput(
                backbone,
                &sel.label(),
                &sel.device,
                batch,
                size,
                steps,
                warmup,
            )?;
            if json {
                println!("{}", serde_json::to_string(&t)?);
            } else {
                println!(
                    "{} on {}: batch {} of {}x{} triplets, {:.3} s/step, {:.1} triplets/s ({} timed steps)",
                    t.arch,
                    t.backend,
                    t.batch,
                    t.size,
                    t.size,
                    t.seconds_per_step,
                    t.triplets_per_s,
                    t.steps
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn detect(data: &Path, n: usize, request: BackendRequest, json: bool) -> anyhow::Result<ExitCode> {
    let dataset = Dataset::open(data)?;
    let sample = bench::spread_sample(&dataset.sorted_images(), n);
    anyhow::ensure!(!sample.is_empty(), "{} holds no images", data.display());
    let images = sample
        .iter()
        .map(|rel| imageio::load_rgb(&dataset.image_root.join(rel)))
        .collect::<Result<Vec<_>, _>>()?;
    let selection = backend::select(request)?;
    let detector = Detector::new(&selection.device)?;
    let t = bench::detection(
        &selection.label(),
        &detector,
        &images,
        &DetectorConfig::default(),
    )?;
    if json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        println!(
            "{}: {} images, {} faces; per image median {:.1} ms, mean {:.1} ms, p90 {:.1} ms",
            t.backend, t.images, t.faces, t.median_ms, t.mean_ms, t.p90_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn embed(
    data: &Path,
    model: Option<PathBuf>,
    n: usize,
    batch: usize,
    request: BackendRequest,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let dataset = Dataset::open(data)?;
    let people = dataset
        .people_list("peopleDevTest")
        .ok_or_else(|| anyhow::anyhow!("{} has no peopleDevTest list", data.display()))?;
    let images = people
        .list
        .names()
        .filter_map(|name| dataset.person(name)?.images.first())
        .take(n)
        .map(|i| imageio::load_rgb(&i.path))
        .collect::<Result<Vec<_>, _>>()?;
    let selection = backend::select(request)?;
    let dir = model.unwrap_or_else(siamese_face::verify::default_model_dir);
    let verifier = siamese_face::verify::Verifier::load(&dir, &selection.device)?;
    let t = bench::embedding(&selection.label(), &verifier, &images, batch)?;
    if json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        println!(
            "{} on {}: {} faces; crop + embed median {:.1} ms (mean {:.1}), embed alone {:.1} ms, batches of {} {:.1} ms/face; detection {:.1} ms/image (not included)",
            t.model,
            t.backend,
            t.faces,
            t.crop_embed_median_ms,
            t.crop_embed_mean_ms,
            t.embed_median_ms,
            t.batch,
            t.batched_ms_per_face,
            t.detect_median_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn backends(steps: usize, batch: usize, wgpu: bool, json: bool) -> anyhow::Result<ExitCode> {
    let mut devices: Vec<(String, Device)> = vec![("flex".into(), Device::flex())];
    #[cfg(feature = "ndarray-backend")]
    #[allow(deprecated)] // measured precisely because it is the deprecated alternative
    devices.push(("ndarray".into(), Device::ndarray()));
    #[cfg(not(feature = "ndarray-backend"))]
    if !json {
        println!("(ndarray not compiled in; build with --features ndarray-backend to time it)");
    }
    if wgpu {
        let sel = backend::select(BackendRequest::Wgpu)?;
        debug_assert_eq!(sel.kind, BackendKind::Wgpu);
        devices.push((sel.label(), sel.device));
    }
    for (name, device) in devices {
        let t: StepTiming = bench::training_steps(&name, &device, batch, steps);
        if json {
            println!("{}", serde_json::to_string(&t)?);
        } else {
            println!(
                "{:<40} first step {:>7.3} s   median step {:>7.3} s   {:>7.1} triplets/s",
                t.backend, t.first_step_s, t.median_step_s, t.triplets_per_s
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
