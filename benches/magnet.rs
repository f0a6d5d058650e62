//! Magnet benchmark (`make bench`, or `cargo bench --bench magnet`): the time
//! from adding a magnet link whose `x.pe` names a seeder to verified
//! metadata, Shoal against libtorrent, on loopback, from the same seeders.
//!
//! The torrent has 4,096 pieces, so its info dictionary (about 82 KB) takes
//! six ut_metadata pieces. Two seeders serve it: a libtorrent one
//! (tests/support/lt_peer.py) and one of ours. For each seeder and trial:
//! - Shoal: a fresh session adds the magnet; timed from `add_torrent` to the
//!   torrent leaving the fetching-metadata state (the metadata hashed and
//!   parsed). Also timed: the fetch alone, from dialling to verified bytes
//!   (`shoal::metadata::fetch`), which is what "within 50 ms of connecting"
//!   is about.
//! - libtorrent: lt_peer.py adds the magnet; timed from `add_torrent` to its
//!   `metadata_received_alert`.
//!
//! Not a test: it asserts nothing about times. Under `cargo test` it does
//! nothing (cargo passes `--bench` only when benchmarking).

#[path = "../tests/common/dht.rs"]
mod common_dht;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common_dht::{free_port, LtPeer};
use shoal::create::{create_torrent, CreateOptions};
use shoal::peer::PeerSetup;
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentState};
use shoal::{Magnet, Metainfo, PeerId};

const TRIALS: usize = 7;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn config() -> SessionConfig {
    SessionConfig {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    }
}

async fn ours_add(meta: &Metainfo, seeder: SocketAddr, dir: &Path) -> f64 {
    let s = Session::new(config()).await.unwrap();
    let magnet = Magnet::parse(&format!(
        "magnet:?xt=urn:btih:{}&x.pe={seeder}",
        meta.info_hash.to_hex()
    ))
    .unwrap();
    let t0 = Instant::now();
    let h = s.add_torrent(AddTorrent::magnet(magnet, dir)).unwrap();
    let mut rx = h.subscribe();
    let ms = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if rx.borrow_and_update().state != TorrentState::FetchingMetadata {
                return t0.elapsed().as_secs_f64() * 1000.0;
            }
            if rx.changed().await.is_err() {
                return f64::NAN;
            }
        }
    })
    .await
    .unwrap_or(f64::NAN);
    s.shutdown().await;
    ms
}

async fn ours_fetch(meta: &Metainfo, seeder: SocketAddr) -> f64 {
    let setup = PeerSetup {
        info_hash: meta.info_hash,
        our_id: PeerId::generate(),
        encryption: shoal::peer::EncryptionPolicy::new(shoal::peer::Encryption::Off),
    };
    let t0 = Instant::now();
    match shoal::metadata::fetch(seeder, setup, 6881).await {
        Ok(bytes) if bytes == meta.info_bytes => t0.elapsed().as_secs_f64() * 1000.0,
        _ => f64::NAN,
    }
}

fn libtorrent_add(meta: &Metainfo, seeder: SocketAddr, dir: &Path) -> f64 {
    let uri = format!("magnet:?xt=urn:btih:{}", meta.info_hash.to_hex());
    let args = vec![
        "--peer".to_string(),
        seeder.to_string(),
        "--timeout".into(),
        "30".into(),
    ];
    let lt = LtPeer::start(Path::new(&uri), dir, free_port(), &args);
    let line = lt.wait_for_line("metadata_ms", Duration::from_secs(30));
    let v: f64 = line
        .split(':')
        .nth(1)
        .and_then(|x| x.trim().trim_end_matches('}').trim().parse().ok())
        .unwrap_or(f64::NAN);
    v
}

async fn run() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let content = tmp.path().join("src").join("payload");
    std::fs::create_dir_all(&content).unwrap();
    // 64 MiB in 16 KiB pieces: 4,096 piece hashes in the info dictionary.
    let block: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut data = Vec::with_capacity(64 << 20);
    for i in 0..64u8 {
        data.extend(block.iter().map(|b| b ^ i));
    }
    std::fs::write(content.join("data.bin"), &data).unwrap();
    let opts = CreateOptions {
        piece_length: Some(16 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).expect("create");
    let torrent = tmp.path().join("payload.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();

    let seed = Session::new(config()).await.unwrap();
    let sh = seed
        .add_torrent(AddTorrent::new(meta.clone(), tmp.path().join("src")))
        .unwrap();
    while sh.stats().state != TorrentState::Seeding {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let our_seed = SocketAddr::from(([127, 0, 0, 1], seed.listen_port()));
    let lt_seed_args: Vec<String> = ["--seed", "--stay", "--timeout", "600"]
        .map(String::from)
        .to_vec();
    let lt_seed = LtPeer::start(
        &torrent,
        &tmp.path().join("src"),
        free_port(),
        &lt_seed_args,
    );
    lt_seed.wait_for_line("progress", Duration::from_secs(30));
    let lt_addr = lt_seed.addr();

    println!(
        "magnet bench: info dictionary {} bytes ({} ut_metadata pieces), {} trials, median ms",
        meta.info_bytes.len(),
        meta.info_bytes.len().div_ceil(16384),
        TRIALS
    );
    println!(
        "{:<22} {:>16} {:>16} {:>16} {:>8}",
        "seeder", "Shoal add->meta", "Shoal fetch", "lt add->meta", "lt/Shoal"
    );
    for (name, addr) in [("libtorrent", lt_addr), ("Shoal", our_seed)] {
        let (mut add, mut fetch, mut lt) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..TRIALS {
            let d = tmp.path().join(format!("o{name}{i}"));
            add.push(ours_add(&meta, addr, &d).await);
            fetch.push(ours_fetch(&meta, addr).await);
            let d = tmp.path().join(format!("l{name}{i}"));
            let m = meta.clone();
            lt.push(
                tokio::task::spawn_blocking(move || libtorrent_add(&m, addr, &d))
                    .await
                    .unwrap_or(f64::NAN),
            );
        }
        let (a, f, l) = (median(add), median(fetch), median(lt));
        println!("{name:<22} {a:>16.2} {f:>16.2} {l:>16.2} {:>8.2}", l / a);
    }
    println!("(target: Shoal's metadata within 50 ms of connecting)");
    seed.shutdown().await;
    drop(lt_seed);
}
