//! Choosing where tensors live: Burn's wgpu backend on a hardware GPU, else the flex CPU
//! backend.
//!
//! A software adapter (Mesa's llvmpipe/lavapipe) is never chosen automatically: measured on
//! a 2-core machine it compiled kernels for ~3 minutes before the first training step and was
//! then ~10x slower than flex (docs/stack.md). It can still be forced with `--backend wgpu`.

use std::fmt;
use std::str::FromStr;

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};
use serde::Serialize;

/// Environment variable that forces a backend, like the CLI's `--backend`.
pub const BACKEND_ENV: &str = "SIAMESE_FACE_BACKEND";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendRequest {
    /// wgpu on a hardware adapter if there is one, else CPU.
    #[default]
    Auto,
    Wgpu,
    Cpu,
}

impl FromStr for BackendRequest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Self::Auto),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            "cpu" | "flex" => Ok(Self::Cpu),
            other => Err(format!(
                "unknown backend {other:?}; expected auto, wgpu or cpu"
            )),
        }
    }
}

impl BackendRequest {
    /// The request from [`BACKEND_ENV`], or `Auto` when it is unset.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(BACKEND_ENV) {
            Ok(v) => v.parse().map_err(|e| format!("{BACKEND_ENV}: {e}")),
            Err(_) => Ok(Self::Auto),
        }
    }
}

/// The backend that was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Wgpu,
    /// Burn's flex backend (SIMD + rayon on the CPU).
    Cpu,
}

/// A graphics adapter as wgpu reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdapterSummary {
    pub name: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
    pub device_type: String,
    /// Graphics API: Vulkan, Metal, Dx12, Gl.
    pub api: String,
    pub driver: String,
    /// A real GPU rather than a software rasteriser.
    pub hardware: bool,
}

/// The outcome of [`select`]: the device to put tensors on, and why.
#[derive(Debug, Clone)]
pub struct BackendSelection {
    pub kind: BackendKind,
    pub device: Device,
    /// The adapter wgpu will use, for the wgpu backend.
    pub adapter: Option<AdapterSummary>,
    /// Every adapter the probe saw.
    pub adapters: Vec<AdapterSummary>,
    /// One line for the status bar / logs saying why this backend was chosen.
    pub reason: String,
}

impl BackendSelection {
    /// Short label such as `wgpu · NVIDIA GeForce RTX 3060 (Vulkan)` or `CPU (flex)`.
    pub fn label(&self) -> String {
        match (&self.kind, &self.adapter) {
            (BackendKind::Wgpu, Some(a)) => format!("wgpu · {} ({})", a.name, a.api),
            (BackendKind::Wgpu, None) => "wgpu".into(),
            (BackendKind::Cpu, _) => {
                format!("CPU (flex, {} threads)", rayon::current_num_threads())
            }
        }
    }
}

impl fmt::Display for BackendSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label(), self.reason)
    }
}

/// Lists the adapters wgpu can see on its primary APIs (Vulkan, Metal, DX12); GL is left out,
/// as Burn does not pick it by itself and it only duplicates the same devices. It loads the
/// graphics drivers (tens of milliseconds here, more on a real GPU), so the GUI calls it off
/// the UI thread.
pub fn probe_adapters() -> Vec<AdapterSummary> {
    let adapters = quiet_stderr(|| {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
    });
    let mut seen: Vec<AdapterSummary> = adapters
        .iter()
        .map(|a| {
            let info = a.get_info();
            let hardware = matches!(
                info.device_type,
                wgpu::DeviceType::DiscreteGpu
                    | wgpu::DeviceType::IntegratedGpu
                    | wgpu::DeviceType::VirtualGpu
            );
            AdapterSummary {
                name: info.name,
                device_type: format!("{:?}", info.device_type),
                api: format!("{:?}", info.backend),
                driver: info.driver,
                hardware,
            }
        })
        .collect();
    // Best first: discrete, integrated, virtual, then software.
    seen.sort_by_key(|a| match a.device_type.as_str() {
        "DiscreteGpu" => 0,
        "IntegratedGpu" => 1,
        "VirtualGpu" => 2,
        _ => 3,
    });
    seen
}

/// Runs `f` with the process's stderr sent to a temporary file, then logs what was written
/// there at debug level. Loading the graphics drivers makes libwayland print "error:
/// XDG_RUNTIME_DIR is invalid..." on every command run outside a desktop session, although
/// nothing is wrong; `RUST_LOG=debug` still shows it.
#[cfg(unix)]
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    use std::io::{Read, Seek};
    use std::os::fd::AsRawFd;
    let Ok(mut sink) = tempfile::tempfile() else {
        return f();
    };
    // SAFETY: plain descriptor calls on descriptors this function owns (the saved copy of 2
    // and the sink); 2 is restored before returning.
    let saved = unsafe { libc::dup(2) };
    if saved < 0 || unsafe { libc::dup2(sink.as_raw_fd(), 2) } < 0 {
        if saved >= 0 {
            unsafe { libc::close(saved) };
        }
        return f();
    }
    let result = f();
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    let mut said = String::new();
    if sink.rewind().is_ok() && sink.read_to_string(&mut said).is_ok() {
        for line in said.lines().filter(|l| !l.trim().is_empty()) {
            log::debug!("while probing graphics adapters: {line}");
        }
    }
    result
}

#[cfg(not(unix))]
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    f()
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the wgpu backend was requested but wgpu found no graphics adapter at all")]
    NoAdapter,
}

/// Chooses the backend for `request` from the adapters a probe found.
pub fn select(request: BackendRequest) -> Result<BackendSelection, BackendError> {
    // Probing starts the graphics drivers (slow, and chatty on stderr without a desktop
    // session): only done when the answer matters.
    let adapters = match request {
        BackendRequest::Cpu => Vec::new(),
        BackendRequest::Auto | BackendRequest::Wgpu => probe_adapters(),
    };
    select_from(request, adapters)
}

/// The decision of [`select`], separated from probing so it can be tested.
pub fn select_from(
    request: BackendRequest,
    adapters: Vec<AdapterSummary>,
) -> Result<BackendSelection, BackendError> {
    let hardware = adapters.iter().find(|a| a.hardware).cloned();
    let cpu = |reason: String, adapters: Vec<AdapterSummary>| BackendSelection {
        kind: BackendKind::Cpu,
        device: Device::flex(),
        adapter: None,
        adapters,
        reason,
    };
    match (request, hardware) {
        (BackendRequest::Cpu, _) => Ok(cpu("CPU backend requested".into(), adapters)),
        (BackendRequest::Auto | BackendRequest::Wgpu, Some(adapter)) => Ok(BackendSelection {
            kind: BackendKind::Wgpu,
            device: Device::wgpu(device_kind(&adapter)),
            reason: format!("hardware GPU adapter found: {}", adapter.name),
            adapter: Some(adapter),
            adapters,
        }),
        (BackendRequest::Auto, None) => {
            let reason = if adapters.is_empty() {
                "no GPU adapter found; using the CPU backend".to_owned()
            } else {
                let names: Vec<&str> = adapters.iter().map(|a| a.name.as_str()).collect();
                format!(
                    "no hardware GPU adapter (only software: {}); using the CPU backend",
                    names.join(", ")
                )
            };
            Ok(cpu(reason, adapters))
        }
        (BackendRequest::Wgpu, None) => {
            let adapter = adapters.first().cloned().ok_or(BackendError::NoAdapter)?;
            Ok(BackendSelection {
                kind: BackendKind::Wgpu,
                device: Device::wgpu(DeviceKind::Cpu),
                reason: format!(
                    "wgpu requested; only a software adapter exists ({}), expect slow first steps",
                    adapter.name
                ),
                adapter: Some(adapter),
                adapters,
            })
        }
    }
}

fn device_kind(adapter: &AdapterSummary) -> DeviceKind {
    match adapter.device_type.as_str() {
        "DiscreteGpu" => DeviceKind::DiscreteGpu(0),
        "IntegratedGpu" => DeviceKind::IntegratedGpu(0),
        "VirtualGpu" => DeviceKind::VirtualGpu(0),
        _ => DeviceKind::DefaultDevice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, device_type: &str, hardware: bool) -> AdapterSummary {
        AdapterSummary {
            name: name.into(),
            device_type: device_type.into(),
            api: "Vulkan".into(),
            driver: String::new(),
            hardware,
        }
    }

    #[test]
    fn parses_requests() {
        assert_eq!("WGPU".parse(), Ok(BackendRequest::Wgpu));
        assert_eq!("cpu".parse(), Ok(BackendRequest::Cpu));
        assert_eq!("auto".parse(), Ok(BackendRequest::Auto));
        assert!("cuda".parse::<BackendRequest>().is_err());
    }

    #[test]
    fn auto_never_picks_a_software_adapter() {
        let sel = select_from(
            BackendRequest::Auto,
            vec![adapter("llvmpipe (LLVM 15.0.6, 256 bits)", "Cpu", false)],
        )
        .unwrap();
        assert_eq!(sel.kind, BackendKind::Cpu);
        assert!(sel.reason.contains("llvmpipe"), "{}", sel.reason);
    }

    #[test]
    fn auto_picks_hardware_and_cpu_wins_when_forced() {
        let adapters = vec![adapter("RTX", "DiscreteGpu", true)];
        let sel = select_from(BackendRequest::Auto, adapters.clone()).unwrap();
        assert_eq!(sel.kind, BackendKind::Wgpu);
        assert_eq!(sel.adapter.unwrap().name, "RTX");
        let sel = select_from(BackendRequest::Cpu, adapters).unwrap();
        assert_eq!(sel.kind, BackendKind::Cpu);
    }

    #[test]
    fn forced_wgpu_without_any_adapter_is_an_error() {
        assert!(select_from(BackendRequest::Wgpu, vec![]).is_err());
        let sel = select_from(BackendRequest::Auto, vec![]).unwrap();
        assert_eq!(sel.kind, BackendKind::Cpu);
    }
}
