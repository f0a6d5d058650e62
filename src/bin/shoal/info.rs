//! `shoal info`: show what a .torrent file or magnet link holds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use shoal::{Magnet, Metainfo};

use crate::util::{human, load_torrent, utc_date};

/// Arguments of `shoal info`.
#[derive(clap::Args)]
pub struct Args {
    /// A .torrent file or a magnet link.
    torrent: String,
}

/// Runs `shoal info`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args
        .torrent
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        let m = Magnet::parse(&args.torrent).context("not a usable magnet link")?;
        print_magnet(&m);
    } else {
        print_torrent(&load_torrent(&PathBuf::from(&args.torrent))?);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_magnet(m: &Magnet) {
    println!(
        "name: {}",
        m.display_name.as_deref().unwrap_or("(not given)")
    );
    println!("info hash: {}", m.info_hash);
    println!("trackers:");
    for t in &m.trackers {
        println!("  {t}");
    }
    println!("peers:");
    for p in &m.peers {
        println!("  {p}");
    }
}

fn print_torrent(m: &Metainfo) {
    let info = &m.info;
    println!("name: {}", info.name);
    println!("info hash: {}", m.info_hash);
    println!("size: {}", human(info.total_length()));
    println!("piece size: {}", human(info.piece_length));
    println!("pieces: {}", info.num_pieces());
    println!("private: {}", if info.private { "yes" } else { "no" });
    if let Some(c) = &m.comment {
        println!("comment: {c}");
    }
    if let Some(c) = &m.created_by {
        println!("created by: {c}");
    }
    if let Some(d) = m.creation_date {
        println!("creation date: {}", utc_date(d));
    }
    if let Some(s) = &info.source {
        println!("source: {s}");
    }
    println!("files: {}", info.files.iter().filter(|f| !f.pad).count());
    for f in &info.files {
        if f.pad {
            continue;
        }
        println!("  {}  {}", f.path.display(), f.length);
    }
    println!("trackers:");
    for (i, tier) in m.trackers().iter().enumerate() {
        for url in tier {
            println!("  tier {}: {url}", i + 1);
        }
    }
    if !m.url_list.is_empty() {
        println!("web seeds:");
        for u in &m.url_list {
            println!("  {u}");
        }
    }
    println!("magnet: {}", Magnet::from_metainfo(m).to_uri());
}
