//! The `shoal` command line: one module per subcommand. Errors end the
//! process with a non-zero status and a one-line reason on stderr.

mod create;
mod info;
mod transfer;
mod util;
mod verify;
mod why;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Shoal: a fast BitTorrent engine.
#[derive(Parser)]
#[command(name = "shoal", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a .torrent file from a file or a folder.
    Create(create::Args),
    /// Show what a .torrent file or a magnet link holds.
    Info(info::Args),
    /// Check downloaded data against a .torrent file.
    Verify(verify::Args),
    /// Download a torrent into a folder.
    Download(transfer::DownloadArgs),
    /// Seed a torrent whose content is in a folder.
    Seed(transfer::SeedArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, warnings only unless RUST_LOG says otherwise.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let result = match cli.command {
        Command::Create(args) => create::run(args),
        Command::Info(args) => info::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Download(args) => transfer::download(args),
        Command::Seed(args) => transfer::seed(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shoal: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the
/// message before it already includes.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}
