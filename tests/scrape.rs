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
