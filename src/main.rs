//! `siamese-face`: with no subcommand, the desktop app; with one, the headless CLI.

mod allocator;
mod app;
mod cli;
// The GUI tests find LFW as the end-to-end tests do; test-only, not part of any API.
#[cfg(test)]
#[path = "../tests/common/lfw.rs"]
mod test_support;
// The CLI and the GUI build the same workflow plans (needs both, so it lives at the root).
#[cfg(test)]
mod plans_agree;

use clap::Parser;

fn main() -> std::process::ExitCode {
    allocator::keep_freed_memory();
    // Burn creates a few tensors on its *default* device rather than a given one (the
    // optimizer state read from a checkpoint on resume), and that default is the GPU: a CPU
    // run resumed there starts the graphics drivers, or panics on a machine without any.
    // The CPU is always there; every other tensor is placed on the chosen device explicitly.
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: first statement of main, before any thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    // `siamese-face ... | head` ends quietly when the reader leaves, as Unix tools do, instead
    // of panicking on the broken pipe (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match args.command {
        Some(command) => cli::run(command, &args.global),
        None => match app::run(args.global) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", cli::describe(&e));
                std::process::ExitCode::FAILURE
            }
        },
    }
}
