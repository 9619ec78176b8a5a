//! Native file dialogs, each on its own thread (they block the thread that opens them).

use std::sync::mpsc;

use eframe::egui;

/// Runs `dialog` on a new thread and wakes the UI when it returns.
pub fn spawn<T: Send + 'static>(
    ctx: &egui::Context,
    dialog: impl FnOnce() -> T + Send + 'static,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    let ctx = ctx.clone();
    std::thread::spawn(move || {
        let _ = tx.send(dialog());
        ctx.request_repaint();
    });
    rx
}
