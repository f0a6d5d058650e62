//! `shoal create`: make a .torrent file from a file or folder.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use shoal::{create_torrent, CreateOptions};

use crate::util::{byte_bar, human, parse_size};

/// Arguments of `shoal create`.
#[derive(clap::Args)]
pub struct Args {
    /// The file or folder to share.
    path: PathBuf,
    /// Where to write the torrent [default: <name>.torrent in the current folder].
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Piece size, a power of two from 16K to 64M (e.g. 262144, 256K, 4M)
    /// [default: automatic, about 1,000-2,000 pieces].
    #[arg(short = 'p', long, value_parser = parse_size)]
    piece_size: Option<u64>,
    /// Tracker URL; repeat for more tiers, or separate URLs of one tier with commas.
    #[arg(short, long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// Web seed URL (BEP 19); repeat for more.
    #[arg(short, long = "web-seed", value_name = "URL")]
    web_seeds: Vec<String>,
    /// Mark the torrent private (BEP 27): peers come from the trackers only.
    #[arg(long)]
    private: bool,
    /// A comment stored in the torrent.
    #[arg(short, long)]
    comment: Option<String>,
    /// A source tag (private trackers use it to make the info hash unique).
    #[arg(short, long)]
    source: Option<String>,
    /// Hashing threads [default: one per core, plus one].
    #[arg(long)]
    threads: Option<usize>,
    /// Leave out the creation date (for reproducible torrents).
    #[arg(long)]
    no_date: bool,
}

/// Runs `shoal create`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = CreateOptions {
        piece_length: args.piece_size,
        trackers: args
            .trackers
            .iter()
            .map(|t| {
                t.split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect()
            })
            .collect(),
        web_seeds: args.web_seeds,
        private: args.private,
        comment: args.comment,
        source: args.source,
        threads: args.threads,
        creation_date: None,
    };
    let bar = byte_bar(0, "hashing");
    let mut meta = create_torrent(&args.path, &options, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .with_context(|| format!("cannot create a torrent from {}", args.path.display()))?;
    bar.finish_and_clear();
    if args.no_date {
        meta.creation_date = None;
    }
    let out = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", meta.info.name)));
    std::fs::write(&out, meta.to_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("name: {}", meta.info.name);
    println!("info hash: {}", meta.info_hash);
    println!("size: {}", human(meta.info.total_length()));
    println!("piece size: {}", human(meta.info.piece_length));
    println!("pieces: {}", meta.info.num_pieces());
    println!("files: {}", meta.info.files.len());
    println!("written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
