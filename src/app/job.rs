//! The one background-job type of the panels: a worker thread that runs a library
//! workflow, its reports forwarded to the UI thread (throttled, so a fast loop neither floods
//! the UI nor makes it repaint more than a few times a second), stop and pause switches
//! honoured at every report (so every phase pauses, not only the training steps), the
//! current stage's ETA, and a typed result.

use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use eframe::egui;
use siamese_face::embed::train::{Control, TrainEvent};
use siamese_face::workflow::Report;

/// The newest progress of a preparation stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub stage: String,
    pub done: usize,
    pub total: usize,
    /// A dataset preprocessing's counts, when that is the work.
    pub crops: Option<siamese_face::preprocess::Progress>,
}

/// What the UI thread receives besides progress, in order.
pub enum Update<T> {
    Note(String),
    Train(TrainEvent),
    Done(T),
}

enum Msg<T> {
    Progress(Progress),
    Update(Update<T>),
}

pub struct Job<T> {
    rx: mpsc::Receiver<Msg<T>>,
    control: Arc<Control>,
    progress: Option<Progress>,
    started: Instant,
    /// When the current stage began, and how much of it was done then (the ETA's base).
    stage_start: Option<(Instant, usize)>,
}

/// Progress is sent, and the UI woken, at most this often (and always at a stage's end):
/// every wake-up is a full repaint, which costs a software renderer a good part of a core.
const THROTTLE: Duration = Duration::from_millis(500);

/// Blocks the worker while the job is paused (and not stopped).
fn wait_while_paused(control: &Control) {
    while control.pause.load(Ordering::Relaxed) && !control.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a thread named `name`; `work` gets the job's switches and a sink
    /// for its workflow's reports. The UI is woken for every message.
    pub fn spawn(
        name: &str,
        ctx: &egui::Context,
        work: impl FnOnce(&Control, &mut dyn FnMut(Report<'_>)) -> T + Send + 'static,
    ) -> Result<Job<T>, String> {
        let control = Arc::new(Control::default());
        let (tx, rx) = mpsc::channel();
        let (ctx, job_control) = (ctx.clone(), control.clone());
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let send = |m: Msg<T>| {
                    let done = matches!(m, Msg::Update(Update::Done(_)));
                    // The panel may have dropped the job (the app closing): nobody to tell.
                    let _ = tx.send(m);
                    // Wake-ups within one throttle period make one repaint.
                    if done {
                        ctx.request_repaint();
                    } else {
                        ctx.request_repaint_after(THROTTLE);
                    }
                };
                let mut last: Option<Instant> = None;
                let mut sink = |r: Report<'_>| {
                    let progress = match r {
                        Report::Progress { stage, done, total } => Progress {
                            stage: stage.to_string(),
                            done,
                            total,
                            crops: None,
                        },
                        Report::Crops(p) => Progress {
                            stage: "images".into(),
                            done: p.done,
                            total: p.total,
                            crops: Some(p.clone()),
                        },
                        Report::Note(line) => {
                            return send(Msg::Update(Update::Note(line.to_string())));
                        }
                        Report::Train(e) => {
                            send(Msg::Update(Update::Train(e.clone())));
                            // The training loop pauses between steps itself; its feature
                            // pass pauses here.
                            if matches!(e, TrainEvent::Features { .. }) {
                                wait_while_paused(&job_control);
                            }
                            return;
                        }
                    };
                    let due = last.is_none_or(|l| l.elapsed() >= THROTTLE);
                    if due || progress.done == progress.total {
                        last = Some(Instant::now());
                        send(Msg::Progress(progress));
                    }
                    wait_while_paused(&job_control);
                };
                let result = work(&job_control, &mut sink);
                send(Msg::Update(Update::Done(result)));
            })
            .map_err(|e| format!("cannot start a background thread: {e}"))?;
        Ok(Job {
            rx,
            control,
            progress: None,
            started: Instant::now(),
            stage_start: None,
        })
    }
}

impl<T> Job<T> {
    /// The updates received since the last call (the newest progress is kept).
    pub fn poll(&mut self) -> Vec<Update<T>> {
        let mut updates = Vec::new();
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Msg::Progress(p) => {
                    let same_stage = self
                        .progress
                        .as_ref()
                        .is_some_and(|old| old.stage == p.stage && old.done <= p.done);
                    if !same_stage {
                        self.stage_start = Some((Instant::now(), p.done));
                    }
                    self.progress = Some(p);
                }
                Msg::Update(u) => updates.push(u),
            }
        }
        updates
    }

    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    pub fn clear_progress(&mut self) {
        self.progress = None;
        self.stage_start = None;
    }

    /// The time the current stage still needs at its pace so far (None until it has one).
    pub fn eta(&self) -> Option<Duration> {
        let p = self.progress.as_ref()?;
        let (since, done_then) = self.stage_start?;
        eta(
            since.elapsed(),
            p.done.checked_sub(done_then)?,
            p.total - p.done.min(p.total),
        )
    }

    /// The job in a few words for the status bar: its progress, or "working" before any.
    pub fn status(&self) -> String {
        self.progress_text().unwrap_or_else(|| "working".into())
    }

    /// "stage: 120 / 6219, about 4 min left" (or "paused" instead of the ETA).
    pub fn progress_text(&self) -> Option<String> {
        let p = self.progress.as_ref()?;
        let pace = if self.paused() {
            ", paused".to_string()
        } else {
            self.eta().map_or(String::new(), |d| {
                format!(", about {} left", duration_text(d))
            })
        };
        Some(format!("{}: {} / {}{pace}", p.stage, p.done, p.total))
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Asks the worker to stop (a workflow cancels, or a training run stops and keeps what
    /// it learnt).
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::Relaxed);
        self.control.pause.store(false, Ordering::Relaxed);
    }

    pub fn paused(&self) -> bool {
        self.control.pause.load(Ordering::Relaxed)
    }

    pub fn set_paused(&self, paused: bool) {
        self.control.pause.store(paused, Ordering::Relaxed);
    }
}

/// The rest of a job at the pace so far: `elapsed` for `done` units, `left` to go.
pub fn eta(elapsed: Duration, done: usize, left: usize) -> Option<Duration> {
    (done > 0 && elapsed > Duration::ZERO).then(|| elapsed.mul_f64(left as f64 / done as f64))
}

/// "45 s", "3 min", "1 h 05 min": as precise as an estimate deserves.
pub fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=89 => format!("{s} s"),
        90..=3599 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_follows_the_pace_and_reads_plainly() {
        let ten = Duration::from_secs(10);
        assert_eq!(eta(ten, 0, 5), None);
        assert_eq!(eta(ten, 5, 15), Some(Duration::from_secs(30)));
        assert_eq!(eta(ten, 5, 0), Some(Duration::ZERO));
        assert_eq!(duration_text(Duration::from_secs(45)), "45 s");
        assert_eq!(duration_text(Duration::from_secs(200)), "3 min");
        assert_eq!(duration_text(Duration::from_secs(3900)), "1 h 05 min");
    }
}
