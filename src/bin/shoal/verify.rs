//! `shoal verify`: check downloaded data against a .torrent file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use shoal::storage::{verify, Layout};
use shoal::PieceIndex;

use crate::util::{byte_bar, load_torrent};

/// Arguments of `shoal verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The .torrent file.
    torrent: PathBuf,
    /// The save folder: the content is expected at <dir>/<name>.
    dir: PathBuf,
}

/// Runs `shoal verify`: exit status 0 when every piece is good, 1 otherwise.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let meta = load_torrent(&args.torrent)?;
    let bar = byte_bar(meta.info.total_length(), "checking");
    let good = verify(&meta.info, &args.dir, |done, _| bar.set_position(done))
        .with_context(|| format!("cannot check {}", args.dir.display()))?;
    bar.finish_and_clear();
    let n_good = good.iter().filter(|&&g| g).count();
    println!("info hash: {}", meta.info_hash);
    println!("pieces: {n_good} of {} good", good.len());
    if n_good == good.len() {
        println!("complete");
        return Ok(ExitCode::SUCCESS);
    }
    let layout = Layout::new(&meta.info);
    for (i, f) in layout.files.iter().enumerate() {
        if f.pad {
            continue;
        }
        if let Some((a, b)) = layout.file_pieces(i) {
            let bad = (a.0..=b.0)
                .filter(|&p| !good[PieceIndex(p).as_usize()])
                .count();
            if bad > 0 {
                println!("  incomplete: {} ({bad} bad pieces)", f.path.display());
            }
        }
    }
    eprintln!(
        "shoal: {} of {} pieces are missing or bad",
        good.len() - n_good,
        good.len()
    );
    Ok(ExitCode::FAILURE)
}
