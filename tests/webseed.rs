//! Web seeds (BEP 19) against real HTTP servers on 127.0.0.1: nginx
//! (ranged requests), Python's `http.server` (ignores `Range`, answers 200
//! with the whole file), a server that serves one file's bytes wrong, a
//! missing folder (404), and a web seed beside a libtorrent peer.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::data;
use common::http;
use common::procs::Libtorrent;
use common::swarm::{config, local};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::Session;
use shoal::torrent::{AddTorrent, TorrentHandle};
use shoal::webseed::{WebSeedSnapshot, WebSeedState};
use shoal::Metainfo;

const LIMIT: Duration = Duration::from_secs(120);

/// Content under `root/pub/` with names that need percent-encoding, and
/// its torrent (web seeds `urls`).
fn multi_file(root: &Path, urls: Vec<String>) -> (PathBuf, Metainfo) {
    let served = root.join("pub");
    let content = served.join("Top Dir");
    data::write_file(&content.join("a b.bin"), 300_000, 1);
    data::write_file(&content.join("c#d/e%f.bin"), 700_001, 2);
    data::write_file(&content.join("ü/empty.txt"), 0, 3);
    data::write_file(&content.join("ü/g.bin"), 1_234_567, 4);
    let opts = CreateOptions {
        piece_length: Some(32 * 1024),
        web_seeds: urls,
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).expect("create torrent");
    (served, meta)
}

/// One file `root/files/disc image.iso` and its torrent.
fn single_file(root: &Path, urls: Vec<String>) -> (PathBuf, Metainfo) {
    let served = root.join("files");
    let file = served.join("disc image.iso");
    data::write_file(&file, 2_500_001, 9);
    let opts = CreateOptions {
        piece_length: Some(64 * 1024),
        web_seeds: urls,
        ..Default::default()
    };
    let meta = create_torrent(&file, &opts, |_, _| {}).expect("create torrent");
    (served, meta)
}

/// Adds `meta` to a fresh session (no peers) saving into `dir`.
async fn leecher(meta: &Metainfo, dir: &Path) -> (Session, TorrentHandle) {
    let s = Session::new(config()).await.unwrap();
    let h = s.add_torrent(AddTorrent::new(meta.clone(), dir)).unwrap();
    (s, h)
}

async fn complete(h: &TorrentHandle) {
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("the download completes in time")
        .expect("the download completes");
}

/// Waits until web seed `url` is dropped, and returns it.
async fn wait_failed(h: &TorrentHandle, url: &str) -> WebSeedSnapshot {
    tokio::time::timeout(LIMIT, async {
        loop {
            if let Some(w) = h.web_seeds().await.into_iter().find(|w| w.url == url) {
                if matches!(w.state, WebSeedState::Failed(_)) {
                    return w;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the web seed is dropped in time")
}

fn seed<'a>(seeds: &'a [WebSeedSnapshot], url: &str) -> &'a WebSeedSnapshot {
    seeds.iter().find(|w| w.url == url).expect("listed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_a_single_file_torrent_with_ranges() {
    let root = tempfile::tempdir().unwrap();
    let port_dir = root.path().join("www");
    // The URL is the file itself; its name differs from the torrent's.
    std::fs::create_dir_all(&port_dir).unwrap();
    let nginx = http::nginx(&port_dir, None);
    let url = nginx.url("/mirror/image.iso");
    let (served, meta) = single_file(root.path(), vec![url.clone()]);
    std::fs::create_dir_all(port_dir.join("mirror")).unwrap();
    std::fs::copy(
        served.join("disc image.iso"),
        port_dir.join("mirror/image.iso"),
    )
    .unwrap();

    let out = root.path().join("out");
    let (_s, h) = leecher(&meta, &out).await;
    complete(&h).await;
    assert!(data::same_content(&served, &out));
    let seeds = h.web_seeds().await;
    let w = seed(&seeds, &url);
    assert_eq!(w.downloaded, meta.info.total_length());
    assert!(!w.ignores_ranges);
    assert!(!matches!(w.state, WebSeedState::Failed(_)), "{w:?}");
    let log = nginx.access_log();
    assert!(
        log.contains("\"GET /mirror/image.iso HTTP/1.1\" 206 "),
        "{log}"
    );
    assert!(!log.contains("\" 200 "), "every request was ranged: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_a_multi_file_torrent_by_name_and_path() {
    let root = tempfile::tempdir().unwrap();
    let www = root.path().to_path_buf();
    let nginx = http::nginx(&www, None);
    // A folder URL without its trailing slash, as some torrents have it.
    let url = nginx.url("/pub");
    let (served, meta) = multi_file(root.path(), vec![url.clone()]);
    let out = root.path().join("out");
    let (_s, h) = leecher(&meta, &out).await;
    complete(&h).await;
    data::assert_same_tree(&served.join("Top Dir"), &out.join("Top Dir"));
    let seeds = h.web_seeds().await;
    assert_eq!(seed(&seeds, &url).downloaded, meta.info.total_length());
    let log = nginx.access_log();
    for path in [
        "/pub/Top%20Dir/a%20b.bin",
        "/pub/Top%20Dir/c%23d/e%25f.bin",
        "/pub/Top%20Dir/%C3%BC/g.bin",
    ] {
        assert!(
            log.contains(&format!("GET {path} HTTP/1.1\" 206")),
            "{path}: {log}"
        );
    }
    assert!(
        !log.contains("empty.txt"),
        "an empty file is not fetched: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_range_is_read_only_as_far_as_needed() {
    let root = tempfile::tempdir().unwrap();
    let py = http::python_http(root.path());
    let url = py.url("/pub/");
    let (served, meta) = multi_file(root.path(), vec![url.clone()]);
    let out = root.path().join("out");
    let (_s, h) = leecher(&meta, &out).await;
    complete(&h).await;
    data::assert_same_tree(&served.join("Top Dir"), &out.join("Top Dir"));
    let seeds = h.web_seeds().await;
    let w = seed(&seeds, &url);
    assert!(w.ignores_ranges, "{w:?}");
    assert_eq!(w.downloaded, meta.info.total_length());
    assert!(!matches!(w.state, WebSeedState::Failed(_)), "{w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_with_wrong_bytes_is_dropped_and_a_good_seed_completes() {
    let root = tempfile::tempdir().unwrap();
    let bad = http::corrupting_http(root.path(), "/pub/Top Dir/ü/g.bin");
    let bad_url = bad.url("/pub/");
    let (served, meta) = multi_file(root.path(), vec![bad_url.clone()]);
    let out = root.path().join("out");
    let (_s, h) = leecher(&meta, &out).await;
    // Alone, the bad seed must fetch the file it serves wrong.
    let w = wait_failed(&h, &bad_url).await;
    let WebSeedState::Failed(why) = &w.state else {
        unreachable!()
    };
    assert!(why.contains("hash"), "{why}");
    assert!(h.stats().hash_failures >= 2);
    assert!(!h.stats().complete);
    // A good seed added by the user finishes the download.
    let nginx = http::nginx(root.path(), None);
    let good = nginx.url("/pub/");
    h.add_web_seed(&good).await.expect("added");
    assert!(h.add_web_seed(&good).await.is_err(), "listed once");
    let refused = h.add_web_seed("http://localhost:1/x?delete=1").await;
    assert!(refused.unwrap_err().contains("query string"));
    assert_eq!(
        h.web_seeds().await.len(),
        2,
        "a refused URL a user gives is not listed"
    );
    complete(&h).await;
    data::assert_same_tree(&served.join("Top Dir"), &out.join("Top Dir"));
    let seeds = h.web_seeds().await;
    assert!(seed(&seeds, &good).downloaded > 0);
    assert!(matches!(
        seed(&seeds, &bad_url).state,
        WebSeedState::Failed(_)
    ));
    assert_eq!(
        h.stats().banned,
        0,
        "no peer is blamed for a web seed's data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_answering_404_is_dropped_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    let nginx = http::nginx(root.path(), None);
    let missing = nginx.url("/nowhere/");
    let refused = "http://127.0.0.1:1/api?delete=1".to_string();
    let (served, meta) = single_file(root.path(), vec![missing.clone(), refused.clone()]);
    let out = root.path().join("out");
    let (_s, h) = leecher(&meta, &out).await;
    let w = wait_failed(&h, &missing).await;
    let WebSeedState::Failed(why) = &w.state else {
        unreachable!()
    };
    assert!(why.contains("404"), "{why}");
    let r = wait_failed(&h, &refused).await;
    assert!(
        matches!(&r.state, WebSeedState::Failed(m) if m.contains("query")),
        "{r:?}"
    );
    assert_eq!(h.stats().web_seeds_failed, 2);
    h.add_web_seed(&nginx.url("/files/")).await.expect("added");
    complete(&h).await;
    assert!(data::same_content(&served, &out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_and_a_libtorrent_peer_both_contribute() {
    common::init_tracing();
    let root = tempfile::tempdir().unwrap();
    // Both sources slowed so that neither finishes alone before the other
    // starts: nginx 60 KB/s per connection, libtorrent 600 KB/s.
    let nginx = http::nginx(root.path(), Some(60_000));
    let url = nginx.url("/pub/");
    let (served, meta) = multi_file(root.path(), vec![url.clone()]);
    let torrent = root.path().join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    let mut lt = Libtorrent::seeding(&torrent, &served, Some(600_000)).await;
    // Seeding (its check done) before we dial it once.
    let lt = tokio::task::spawn_blocking(move || {
        lt.wait_line(Duration::from_secs(60), |l| {
            l.contains("\"state\": \"seeding\"")
        });
        lt
    })
    .await
    .unwrap();

    let out = root.path().join("out");
    let s = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), &out);
    add.peers = vec![local(lt.port())];
    let h = s.add_torrent(add).unwrap();
    complete(&h).await;
    data::assert_same_tree(&served.join("Top Dir"), &out.join("Top Dir"));

    let total = meta.info.total_length();
    let web = seed(&h.web_seeds().await, &url).downloaded;
    let all = h.stats().downloaded;
    let from_peer = all - web;
    assert!(web > 0, "the web seed sent nothing");
    assert!(
        from_peer > 0,
        "the peer sent nothing ({web} of {all} from the web seed)"
    );
    // Blocks are not asked of both needlessly: duplicates stay few.
    assert!(all < total + total / 4, "{all} bytes received for {total}");
}

/// `shoal create --web-seed` writes the seeds into `url-list`; `shoal
/// download` fetches from the good one alone (no peer) and prints a line
/// for the one it drops, with the reason.
#[test]
fn the_cli_creates_and_downloads_from_web_seeds() {
    use common::tools::run;
    use std::process::Command;
    let root = tempfile::tempdir().unwrap();
    let nginx = http::nginx(root.path(), None);
    let content = root.path().join("files");
    data::write_file(&content.join("data.bin"), 1_000_003, 11);
    let good = nginx.url("/files/data.bin");
    let missing = nginx.url("/gone/data.bin");
    let torrent = root.path().join("t.torrent");
    let shoal = env!("CARGO_BIN_EXE_shoal");
    let out = run(Command::new(shoal)
        .arg("create")
        .arg(content.join("data.bin"))
        .arg("-o")
        .arg(&torrent)
        .args(["--web-seed", &good, "--web-seed", &missing]));
    assert!(out.status.success(), "{out:?}");
    let info = run(Command::new(shoal).arg("info").arg(&torrent));
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains(&good) && info.contains(&missing), "{info}");

    let dir = root.path().join("out");
    let out = run(Command::new(shoal)
        .arg("download")
        .arg(&torrent)
        .arg("-o")
        .arg(&dir)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dht",
            "--no-port-mapping",
            "--no-lsd",
        ]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(data::same_content(&content, &dir));
    assert!(
        stdout.contains(&format!("web seed {missing} failed: ")) && stdout.contains("404"),
        "{stdout}"
    );
}
