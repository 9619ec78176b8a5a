//! `siamese-face`: with no subcommand, the desktop app; with one, the headless CLI.

mod app;
mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match args.command {
        Some(command) => cli::run(command, &args.global),
        None => match app::run(args.global) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
