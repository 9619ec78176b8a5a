//! Native file dialogs, each on its own thread (they block the thread that opens them).
//!
//! rfd asks the desktop's portal (xdg-desktop-portal over D-Bus) and falls back to zenity;
//! with neither it returns nothing, exactly as a cancel does, and the button seemed dead.
//! So the app checks first and says what is missing, and every page also takes a typed
//! path or a dropped file.

use std::path::Path;
use std::sync::{OnceLock, mpsc};

use eframe::egui;

/// Why no file dialog can open here (None: one can, as far as can be told).
pub fn unavailable() -> Option<&'static str> {
    static WHY: OnceLock<Option<&'static str>> = OnceLock::new();
    *WHY.get_or_init(|| {
        if cfg!(not(target_os = "linux")) || on_path("zenity") || session_bus() {
            None
        } else {
            Some(
                "No file dialog is available: it needs a desktop portal (xdg-desktop-portal, \
                 part of GNOME and KDE) or zenity (`apt install zenity`). Type the path into \
                 the page's path box instead, or drop the file or folder on the window.",
            )
        }
    })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// A D-Bus session bus, where a desktop portal would answer.
fn session_bus() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists())
}

/// The notice the app shows when a dialog could not open (see [`take_notice`]).
fn notice_id() -> egui::Id {
    egui::Id::unique("file-dialog-unavailable")
}

/// What a failed dialog left to say, once.
pub fn take_notice(ctx: &egui::Context) -> Option<String> {
    ctx.data_mut(|d| d.remove_temp::<String>(notice_id()))
}

/// Runs `dialog` on a new thread and wakes the UI when it returns. Where no dialog can
/// open, answers "nothing picked" at once and leaves a notice saying why.
pub fn spawn<T: Send + Default + 'static>(
    ctx: &egui::Context,
    dialog: impl FnOnce() -> T + Send + 'static,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    if let Some(why) = unavailable() {
        ctx.data_mut(|d| d.insert_temp(notice_id(), why.to_string()));
        let _ = tx.send(T::default());
        return rx;
    }
    let ctx = ctx.clone();
    std::thread::spawn(move || {
        let _ = tx.send(dialog());
        ctx.request_repaint();
    });
    rx
}
