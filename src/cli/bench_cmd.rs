//! `siamese-face bench backends`: times a small triplet-loss training step on each compute
//! backend compiled in, to choose the CPU backend by measurement.

use std::process::ExitCode;

use burn::tensor::Device;
use clap::Subcommand;
use siamese_face::backend::{self, BackendKind, BackendRequest};
use siamese_face::bench::{self, StepTiming};

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
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    let BenchCommand::Backends {
        steps,
        batch,
        wgpu,
        json,
    } = cmd;
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
