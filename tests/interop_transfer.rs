//! Transfers with real clients, both directions: Transmission 3.00, aria2
//! and libtorrent each download from our seeder, and we download from each.
//! Every result is compared byte for byte with the original.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::data;
use common::procs::{self, free_port, wait_for, Libtorrent, LtOptions};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::Session;
use shoal::torrent::{AddTorrent, TorrentHandle};
use shoal::Metainfo;

const LIMIT: Duration = Duration::from_secs(120);

use common::swarm::config;

/// A multi-file folder and its torrent written to `root/t.torrent`.
fn fixture(root: &Path) -> (PathBuf, PathBuf, Metainfo) {
    let src = root.join("src");
    let content = data::multi_file_folder(&src, "content");
    let opts = CreateOptions {
        piece_length: Some(32 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).expect("create torrent");
    let torrent = root.join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    (src, torrent, meta)
}

async fn our_seeder(meta: &Metainfo, src: &Path) -> (Session, TorrentHandle) {
    let s = Session::new(config()).await.unwrap();
    let h = common::swarm::seeding(&s, meta, src).await;
    (s, h)
}

async fn our_leecher(meta: &Metainfo, dir: &Path, peer: SocketAddr) -> (Session, TorrentHandle) {
    let s = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), dir);
    add.peers = vec![peer];
    let h = s.add_torrent(add).unwrap();
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("our leecher completes in time")
        .expect("our leecher completes");
    (s, h)
}

/// Waits until our torrent counts `n` bytes uploaded (stats are published
/// once a second).
async fn wait_uploaded(h: &TorrentHandle, n: u64) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while h.stats().uploaded < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("our seeder counts what it uploaded");
}

use common::swarm::local;

/// Waits until a folder written by another client holds the original's
/// bytes (zero-length files aside: Transmission does not create them).
async fn wait_same(original: &Path, copy: &Path) {
    let (a, b) = (original.to_path_buf(), copy.to_path_buf());
    tokio::task::spawn_blocking(move || {
        wait_for("the other client's download to match", LIMIT, || {
            data::same_content(&a, &b).then_some(())
        })
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_downloads_from_us() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let (s, h) = our_seeder(&meta, &src).await;
    let dst = tmp.path().join("lt");
    let mut lt = Libtorrent::start(
        torrent.to_str().unwrap(),
        &dst,
        LtOptions {
            peers: vec![local(s.listen_port())],
            ..Default::default()
        },
    );
    tokio::task::spawn_blocking(move || {
        lt.wait_done(LIMIT);
        lt
    })
    .await
    .unwrap();
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    wait_uploaded(&h, meta.info.total_length()).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_libtorrent() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let lt = Libtorrent::seeding(&torrent, &src, None).await;
    let addr = lt.addr();
    let dst = tmp.path().join("ours");
    let (s, h) = our_leecher(&meta, &dst, addr).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    let peers = h.peers().await;
    assert!(
        peers
            .iter()
            .all(|p| p.client.to_lowercase().contains("libtorrent")),
        "client named from peer id/v: {peers:?}"
    );
    s.shutdown().await;
    drop(lt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmission_downloads_from_us() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let (s, h) = our_seeder(&meta, &src).await;
    let dst = tmp.path().join("tr");
    std::fs::create_dir_all(&dst).unwrap();
    let port = free_port();
    let _tr = procs::transmission(&torrent, &dst, &tmp.path().join("trcfg"), port);
    // Transmission ignores tracker peers on 127.0.0.1, so we dial it; it
    // needs a moment to open its port.
    common::swarm::wait_listening(port).await;
    h.add_peers(vec![local(port)]).await;
    wait_same(&src.join("content"), &dst.join("content")).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_transmission() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let port = free_port();
    let _tr = procs::transmission(&torrent, &src, &tmp.path().join("trcfg"), port);
    let dst = tmp.path().join("ours");
    let s = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), &dst);
    add.peers = vec![local(port)];
    let h = s.add_torrent(add).unwrap();
    // Transmission checks its data before it serves; our peer list retries.
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("we complete from transmission in time")
        .expect("we complete from transmission");
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2_downloads_from_us() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let (s, h) = our_seeder(&meta, &src).await;
    let dst = tmp.path().join("aria2");
    let port = free_port();
    let _a = procs::aria2(&torrent, &dst, port, false);
    common::swarm::wait_listening(port).await;
    h.add_peers(vec![local(port)]).await;
    wait_same(&src.join("content"), &dst.join("content")).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_aria2() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let port = free_port();
    let _a = procs::aria2(&torrent, &src, port, true);
    let dst = tmp.path().join("ours");
    let (s, _h) = our_leecher(&meta, &dst, local(port)).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    s.shutdown().await;
}
