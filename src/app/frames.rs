//! What the UI costs while a job runs: the app's own frame code, the whole frame as the
//! window measures it (rendering included), and the CPU share of the UI thread together
//! with the software renderer's threads. The first alone hid most of the cost: with Mesa's
//! llvmpipe the rendering took well over a core while the frame code took under a
//! millisecond.

use std::time::{Duration, Instant};

/// Per-frame durations and the UI's CPU time, sampled as frames are drawn.
#[derive(Debug, Default)]
pub struct FrameStats {
    /// The app's frame code (ms).
    code: Vec<f32>,
    /// The whole previous frame, rendering included (ms), where the window measures it.
    whole: Vec<f32>,
    /// (when, UI CPU seconds so far), taken at most once a second.
    cpu: Vec<(Instant, f64)>,
}

/// Where a measurement starts (see [`FrameStats::mark`]).
#[derive(Debug, Clone, Copy)]
pub struct FrameMark {
    code: usize,
    whole: usize,
    cpu: usize,
}

impl FrameStats {
    const CAP: usize = 1_000_000;
    const CPU_EVERY: Duration = Duration::from_secs(1);

    pub fn record(&mut self, code: Duration, whole_secs: Option<f32>) {
        if self.code.len() < Self::CAP {
            self.code.push(code.as_secs_f32() * 1000.0);
            if let Some(w) = whole_secs {
                self.whole.push(w * 1000.0);
            }
        }
        let due = self
            .cpu
            .last()
            .is_none_or(|(t, _)| t.elapsed() >= Self::CPU_EVERY);
        if due
            && self.cpu.len() < Self::CAP
            && let Some(secs) = ui_cpu_seconds()
        {
            self.cpu.push((Instant::now(), secs));
        }
    }

    pub fn mark(&self) -> FrameMark {
        FrameMark {
            code: self.code.len(),
            whole: self.whole.len(),
            cpu: self.cpu.len().saturating_sub(1),
        }
    }

    /// [`FrameStats::summary_since`] over the last `n` frames.
    pub fn recent(&self, n: usize) -> Option<String> {
        let start = FrameMark {
            code: self.code.len().saturating_sub(n),
            whole: self.whole.len().saturating_sub(n),
            cpu: self.cpu.len().saturating_sub(n.div_ceil(60).max(2)),
        };
        self.summary_since(start)
    }

    /// "frame code median 0.6 ms; whole frame median 40 ms, p99 90 ms; CPU 12 % of a core
    /// over 240 frames" for the frames since `start`.
    pub fn summary_since(&self, start: FrameMark) -> Option<String> {
        let code = quantiles(self.code.get(start.code..)?)?;
        let mut text = format!("frame code median {:.1} ms", code.0);
        if let Some(w) = self.whole.get(start.whole..).and_then(quantiles) {
            text += &format!("; whole frame median {:.0} ms, p99 {:.0} ms", w.0, w.1);
        }
        if let (Some(a), Some(b)) = (self.cpu.get(start.cpu), self.cpu.last()) {
            let wall = b.0.duration_since(a.0).as_secs_f64();
            if wall >= 1.0 {
                text += &format!("; UI CPU {:.0} % of a core", 100.0 * (b.1 - a.1) / wall);
            }
        }
        Some(text + &format!(" ({} frames)", self.code.len() - start.code))
    }
}

/// (median, p99) of a series.
fn quantiles(v: &[f32]) -> Option<(f32, f32)> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some((at(0.5), at(0.99)))
}

/// CPU seconds used so far by this process's UI: the main thread (the app's code and the
/// renderer's calls) and Mesa's software-rendering threads. Linux only (/proc).
fn ui_cpu_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let pid = std::process::id();
        let mut ticks = 0u64;
        for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let tid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = &stat[open + 1..close];
            let renderer = ["llvmpipe", "lavapipe", "lp:", "gallium"]
                .iter()
                .any(|p| name.starts_with(p));
            if tid != pid && !renderer {
                continue;
            }
            // Fields after the name: state is the 3rd field of stat, utime the 14th.
            let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
            let field = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok());
            ticks += field(14)? + field(15)?;
        }
        // The kernel's USER_HZ, fixed at 100 on Linux for /proc.
        Some(ticks as f64 / 100.0)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reports_code_whole_frame_and_cpu() {
        let mut f = FrameStats::default();
        let start = f.mark();
        assert_eq!(f.summary_since(start), None);
        for ms in [1u64, 2, 3] {
            f.record(Duration::from_millis(ms), Some(ms as f32 * 0.010));
        }
        let text = f.summary_since(start).unwrap_or_default();
        assert!(text.starts_with("frame code median 2.0 ms"), "{text}");
        assert!(
            text.contains("whole frame median 20 ms, p99 30 ms"),
            "{text}"
        );
        assert!(text.ends_with("(3 frames)"), "{text}");
        // The UI thread's own CPU time is readable where /proc is.
        if cfg!(target_os = "linux") {
            assert!(ui_cpu_seconds().is_some_and(|s| s >= 0.0));
        }
    }
}
