//! The one background-job type of the panels: a worker thread that runs a library
//! workflow, its reports forwarded to the UI thread (progress throttled, so a fast loop
//! does not flood the UI), stop and pause switches, and a typed result.

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
}

/// Progress is sent at most this often (and always at a stage's end).
const THROTTLE: Duration = Duration::from_millis(100);

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
                    // The panel may have dropped the job (the app closing): nobody to tell.
                    let _ = tx.send(m);
                    ctx.request_repaint();
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
                        Report::Train(e) => return send(Msg::Update(Update::Train(e.clone()))),
                    };
                    let due = last.is_none_or(|l| l.elapsed() >= THROTTLE);
                    if due || progress.done == progress.total {
                        last = Some(Instant::now());
                        send(Msg::Progress(progress));
                    }
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
        })
    }
}

impl<T> Job<T> {
    /// The updates received since the last call (the newest progress is kept).
    pub fn poll(&mut self) -> Vec<Update<T>> {
        let mut updates = Vec::new();
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Msg::Progress(p) => self.progress = Some(p),
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
