//! Scrapes (BEP 48) against a real opentracker on loopback, over HTTP and
//! UDP, and against HTTP servers that answer a scrape with something else.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::opentracker::Opentracker;
use shoal::tracker::scrape::{scrape, ScrapeCounts};
use shoal::tracker::{announce, AnnounceRequest, Event, TrackerError};
use shoal::{InfoHash, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {WAIT:?}"))
}

fn request(hash: InfoHash, port: u16, left: u64, event: Event) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: hash,
        peer_id: PeerId::generate(),
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event,
        numwant: Some(50),
        key: rand::random(),
        ipv6: None,
    }
}

/// A seeder (which also reports `completed`) and a leecher announce; a
/// scrape then counts one of each and one finished download, and a scrape
/// for another whitelisted torrent counts nobody.
async fn seeder_and_leecher_are_counted(url: &str, hash: InfoHash, other: InfoHash) {
    let seeder = request(hash, 7301, 0, Event::Started);
    bounded("seeder announce", announce(url, &seeder))
        .await
        .unwrap();
    let completed = AnnounceRequest {
        event: Event::Completed,
        ..seeder.clone()
    };
    bounded("completed announce", announce(url, &completed))
        .await
        .unwrap();
    let leecher = request(hash, 7302, 1000, Event::Started);
    bounded("leecher announce", announce(url, &leecher))
        .await
        .unwrap();

    let counts = bounded("scrape", scrape(url, &hash)).await.unwrap();
    assert_eq!(
        counts,
        ScrapeCounts {
            seeders: 1,
            leechers: 1,
            completed: Some(1)
        },
        "{url}"
    );
    let counts = bounded("scrape of an empty swarm", scrape(url, &other))
        .await
        .unwrap();
    assert_eq!((counts.seeders, counts.leechers), (0, 0), "{url}");
}

#[tokio::test]
async fn http_scrape_counts_seeders_and_leechers() {
    let (hash, other) = (InfoHash(rand::random()), InfoHash(rand::random()));
    let tracker = Opentracker::start(&[hash, other]);
    seeder_and_leecher_are_counted(&tracker.http_url(), hash, other).await;
}

#[tokio::test]
async fn udp_scrape_counts_seeders_and_leechers() {
    let (hash, other) = (InfoHash(rand::random()), InfoHash(rand::random()));
    let tracker = Opentracker::start(&[hash, other]);
    seeder_and_leecher_are_counted(&tracker.udp_url(), hash, other).await;
}

/// Serves one canned HTTP response on a fresh port; the task yields the
/// request it received.
async fn serve_once(response: Vec<u8>) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = conn.write_all(&response).await;
        let _ = conn.shutdown().await;
        request
    });
    (addr, task)
}

fn http_ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// The scrape goes to the `scrape` path with the passkey kept, and an
/// answer that is not a scrape dictionary is a clear error.
#[tokio::test]
async fn malformed_scrape_answers_are_clear_errors() {
    let hash = InfoHash([0xab; 20]);
    let (addr, task) = serve_once(http_ok(b"<html>Scrape disabled</html>")).await;
    let result = bounded(
        "scrape",
        scrape(&format!("http://{addr}/x/announce.php?pk=1"), &hash),
    )
    .await;
    match result {
        Err(e @ TrackerError::Malformed(_)) => {
            assert!(e.to_string().contains("scrape answer"), "{e}")
        }
        other => panic!("expected a malformed answer, got {other:?}"),
    }
    let sent = String::from_utf8(bounded("request", task).await.unwrap()).unwrap();
    let line = sent.lines().next().unwrap();
    assert!(
        line.starts_with(&format!(
            "GET /x/scrape.php?pk=1&info_hash={} ",
            "%AB".repeat(20)
        )),
        "{line}"
    );

    // An entry for our hash without the counts.
    let mut body = b"d5:filesd20:".to_vec();
    body.extend_from_slice(&hash.0);
    body.extend_from_slice(b"d10:downloadedi3eeee");
    let (addr, _task) = serve_once(http_ok(&body)).await;
    let result = bounded("scrape", scrape(&format!("http://{addr}/announce"), &hash)).await;
    assert!(
        matches!(&result, Err(TrackerError::Malformed(m)) if m.contains("no `complete` count")),
        "{result:?}"
    );

    // A tracker URL without `announce` is not scraped at all.
    let result = bounded("scrape", scrape("http://127.0.0.1:1/tracker", &hash)).await;
    assert!(
        matches!(&result, Err(TrackerError::NoScrape(_))),
        "{result:?}"
    );
}

/// A torrent on a session learns the swarm's counts from its tracker's
/// scrape before any peer is connected: a seeder and a leecher that
/// announced (on ports nobody listens on) are counted, and the `completed`
/// count, which only a scrape gives, shows in the tracker's status.
async fn counts_before_any_peer(url_of: impl Fn(u16) -> String) {
    use common::swarm::config;
    use shoal::create::{create_torrent, CreateOptions};
    use shoal::session::Session;
    use shoal::torrent::AddTorrent;

    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = common::data::multi_file_folder(&src, "content");
    let port = common::opentracker::free_port();
    let url = url_of(port);
    let opts = CreateOptions {
        piece_length: Some(16 * 1024),
        trackers: vec![vec![url.clone()]],
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).expect("create torrent");
    let _tracker = Opentracker::start_on(port, &[meta.info_hash]);
    let seeder = request(
        meta.info_hash,
        common::opentracker::free_port(),
        0,
        Event::Started,
    );
    bounded("seeder announce", announce(&url, &seeder))
        .await
        .unwrap();
    bounded(
        "completed announce",
        announce(
            &url,
            &AnnounceRequest {
                event: Event::Completed,
                ..seeder
            },
        ),
    )
    .await
    .unwrap();
    let leecher = request(
        meta.info_hash,
        common::opentracker::free_port(),
        1000,
        Event::Started,
    );
    bounded("leecher announce", announce(&url, &leecher))
        .await
        .unwrap();

    let session = Session::new(config()).await.unwrap();
    let h = session
        .add_torrent(AddTorrent::new(meta.clone(), tmp.path().join("dl")))
        .unwrap();
    let mut stats = h.subscribe();
    let seen = bounded(
        "swarm counts",
        stats.wait_for(|s| s.swarm_seeders.is_some() && s.swarm_leechers.is_some()),
    )
    .await
    .map(|s| s.clone())
    .expect("torrent alive");
    assert_eq!(seen.swarm_seeders, Some(1), "{seen:?}");
    // The torrent's own announce may have made it a leecher too.
    assert!(
        matches!(seen.swarm_leechers, Some(1 | 2)),
        "{:?}",
        seen.swarm_leechers
    );
    assert_eq!(seen.seeds, 0, "no seed is connected: {seen:?}");
    let trackers = bounded("tracker status", async {
        loop {
            let t = h.trackers().await;
            if t.first().is_some_and(|t| t.last_scrape.is_some()) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(trackers[0].completed, Some(1), "{:?}", trackers[0]);
    assert_eq!(trackers[0].seeders, Some(1), "{:?}", trackers[0]);
    assert_eq!(trackers[0].scrape_error, None);
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_shows_http_scrape_counts_before_any_peer() {
    counts_before_any_peer(|port| format!("http://127.0.0.1:{port}/announce")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_shows_udp_scrape_counts_before_any_peer() {
    counts_before_any_peer(|port| format!("udp://127.0.0.1:{port}/announce")).await;
}

/// A tracker that does not scrape (404 on `/scrape`) keeps the counts of
/// its announce answers and works on; the failed scrape is shown apart.
#[tokio::test]
async fn a_tracker_without_scrape_keeps_its_announce_counts() {
    use shoal::tracker::{Announcer, TrackerState, TransferStats};
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            let reply = if line.starts_with("GET /announce?") {
                http_ok(b"d8:intervali1800e8:completei4e10:incompletei5e5:peers0:e")
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = seen_tx.send(line);
            let _ = conn.write_all(&reply).await;
            let _ = conn.shutdown().await;
        }
    });
    let (_stats_tx, stats) = watch::channel(TransferStats::default());
    let (peers_tx, _peers_rx) = mpsc::channel(4);
    let handle = Announcer::spawn(
        vec![vec![format!("http://{addr}/announce")]],
        InfoHash([3; 20]),
        PeerId::generate(),
        6881,
        stats,
        peers_tx,
        CancellationToken::new(),
    );
    let mut lines = vec![
        bounded("first request", seen.recv()).await.unwrap(),
        bounded("second request", seen.recv()).await.unwrap(),
    ];
    lines.sort();
    assert!(lines[0].starts_with("GET /announce?"), "{lines:?}");
    assert!(lines[1].starts_with("GET /scrape?info_hash="), "{lines:?}");
    let mut rx = handle.subscribe();
    let status = bounded(
        "announce and scrape answered",
        rx.wait_for(|s| {
            s.first()
                .is_some_and(|t| t.state == TrackerState::Working && t.scrape_error.is_some())
        }),
    )
    .await
    .map(|s| s.clone())
    .unwrap();
    assert_eq!(handle.swarm_counts(), (Some(4), Some(5)));
    assert_eq!(status[0].last_scrape, None);
    let error = status[0].scrape_error.as_deref().unwrap_or_default();
    assert!(error.contains("404"), "{error}");
    assert_eq!(status[0].message, None, "the announce itself is fine");
    handle.shutdown().await;
    server.abort();
}
