//! Rate limits between two of our own sessions on 127.0.0.1: a seeder's
//! session-wide upload limit, a leecher's per-torrent download limit, a
//! session limit changed while the transfer runs, and the command line's
//! `--upload-limit`. Only lower bounds on time are asserted (a slow machine
//! is never a failure).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::data;
use common::procs::{self, free_port, wait_for, Proc};
use common::swarm::{complete, config, local, seeding};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentHandle};
use shoal::Metainfo;

const MIB: u64 = 1024 * 1024;
/// The content: six times the limit, so a limited transfer takes at least
/// five seconds after the first second's burst.
const SIZE: usize = 6 * MIB as usize;
/// The limit under test, bytes per second.
const LIMIT: u64 = MIB;
/// The least a limited transfer of `SIZE` may take: five seconds in
/// theory, less a margin for the bucket's slack and TCP buffers.
const AT_LEAST: Duration = Duration::from_secs(4);
/// Bound on every transfer.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A file of `SIZE` bytes and its torrent, under `dir/src`.
fn content(dir: &Path) -> (PathBuf, Metainfo) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = src.join("payload.bin");
    data::write_file(&file, SIZE, 7);
    let opts = CreateOptions {
        piece_length: Some(256 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&file, &opts, |_, _| {}).expect("create the torrent");
    (src, meta)
}

/// A session seeding `meta` from `src`; its address.
async fn seeder(cfg: SessionConfig, meta: &Metainfo, src: &Path) -> (Session, SocketAddr) {
    let s = Session::new(cfg).await.expect("seeder session");
    seeding(&s, meta, src).await;
    let addr = local(s.listen_port());
    (s, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeders_upload_limit_holds_the_transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, meta) = content(tmp.path());
    let seed_cfg = SessionConfig {
        upload_limit: Some(LIMIT),
        ..config()
    };
    let (seed, seed_addr) = seeder(seed_cfg, &meta, &src).await;
    assert_eq!(seed.rate_limits(), (None, Some(LIMIT)));

    let leech = Session::new(config()).await.unwrap();
    let dir = tmp.path().join("leech");
    let mut add = AddTorrent::new(meta.clone(), &dir);
    add.peers = vec![seed_addr];
    let t0 = Instant::now();
    let h = leech.add_torrent(add).unwrap();
    complete(&h, TIMEOUT).await;
    let took = t0.elapsed();

    held_and_whole(took, &src, &dir, &h);
    leech.shutdown().await;
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrents_download_limit_holds_the_transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, meta) = content(tmp.path());
    let (seed, seed_addr) = seeder(config(), &meta, &src).await;

    let leech = Session::new(config()).await.unwrap();
    let dir = tmp.path().join("leech");
    let mut add = AddTorrent::new(meta.clone(), &dir);
    add.peers = vec![seed_addr];
    add.download_limit = Some(LIMIT);
    let t0 = Instant::now();
    let h = leech.add_torrent(add).unwrap();
    assert_eq!(h.rate_limits(), (Some(LIMIT), None));
    assert_eq!(leech.rate_limits(), (None, None), "the session has none");
    complete(&h, TIMEOUT).await;
    let took = t0.elapsed();

    held_and_whole(took, &src, &dir, &h);
    leech.shutdown().await;
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_limit_changes_while_the_transfer_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, meta) = content(tmp.path());
    let (seed, seed_addr) = seeder(config(), &meta, &src).await;

    // 64 KiB/s: the whole file would take a minute and a half.
    let slow = 64 * 1024;
    let leech = Session::new(config()).await.unwrap();
    leech.set_rate_limits(Some(slow), None);
    assert_eq!(leech.rate_limits(), (Some(slow), None));
    let dir = tmp.path().join("leech");
    let mut add = AddTorrent::new(meta.clone(), &dir);
    add.peers = vec![seed_addr];
    let t0 = Instant::now();
    let h = leech.add_torrent(add).unwrap();
    tokio::time::timeout(TIMEOUT, async {
        while h.stats().downloaded == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the transfer starts");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = h.stats().downloaded;
    let took = t0.elapsed();
    // A full bucket, the rate since, and what sits in socket buffers.
    let most = slow + (slow as f64 * took.as_secs_f64()) as u64 + 256 * 1024;
    assert!(got <= most, "{got} bytes in {took:?} at 64 KiB/s");

    leech.set_rate_limits(None, None);
    assert_eq!(leech.rate_limits(), (None, None));
    // At 64 KiB/s this would outlast the timeout.
    complete(&h, TIMEOUT).await;
    assert!(data::same_content(
        &src.join("payload.bin"),
        &dir.join("payload.bin")
    ));
    leech.shutdown().await;
    seed.shutdown().await;
}

#[test]
fn the_command_lines_upload_limit_holds_the_transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, _) = content(tmp.path());
    let file = src.join("payload.bin");
    let torrent = tmp.path().join("p.torrent");
    let shoal = || Command::new(env!("CARGO_BIN_EXE_shoal"));
    let created = shoal()
        .arg("create")
        .arg(&file)
        .arg("-o")
        .arg(&torrent)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(created.success());

    let port = free_port();
    let _seed = procs::shoal_seed(&torrent, &src, port, &["--upload-limit", "1024"]);

    let dst = tmp.path().join("dst");
    let mut dl = procs::shoal_download(&torrent, &dst, ([127, 0, 0, 1], port).into());
    dl.args(["--download-limit", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let t0 = Instant::now();
    let mut child = Proc::spawn("shoal download", &mut dl);
    let status = wait_for("the download to exit", TIMEOUT, || child.try_status());
    let took = t0.elapsed();
    assert!(status.success(), "download exits 0: {status:?}");
    assert!(took >= AT_LEAST, "6 MiB at 1024 KiB/s took only {took:?}");
    assert!(data::same_content(&file, &dst.join("payload.bin")));
}

/// The transfer took at least what the limit allows, and the bytes are
/// the seeder's.
fn held_and_whole(took: Duration, src: &Path, dir: &Path, h: &TorrentHandle) {
    assert!(took >= AT_LEAST, "6 MiB at 1 MiB/s took only {took:?}");
    assert!(data::same_content(
        &src.join("payload.bin"),
        &dir.join("payload.bin")
    ));
    assert_eq!(h.stats().hash_failures, 0);
}
