//! Our HTTP and UDP tracker clients and the announce task against a real
//! opentracker on loopback, and against trackers that are dead, silent or
//! oversized.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::opentracker::{free_port, Opentracker};
use shoal::tracker::{
    announce, http, udp, AnnounceRequest, Announcer, Event, TrackerError, TrackerState,
    TrackerStatus, TransferStats, MAX_RESPONSE_LEN,
};
use shoal::{InfoHash, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

fn random_hash() -> InfoHash {
    InfoHash(rand::random())
}

fn request(hash: InfoHash, port: u16, event: Event) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: hash,
        peer_id: PeerId::generate(),
        port,
        uploaded: 0,
        downloaded: 0,
        left: 1000,
        event,
        numwant: Some(50),
        key: rand::random(),
        ipv6: None,
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {WAIT:?}"))
}

/// Two peers announce; the second sees the first; after the first stops, it
/// is gone from the list.
async fn two_peers_then_stopped(url: &str, hash: InfoHash) {
    let a = request(hash, 7001, Event::Started);
    let b = request(hash, 7002, Event::Started);

    let first = bounded("first announce", announce(url, &a)).await.unwrap();
    assert!(first.interval >= Duration::from_secs(30));
    assert!(!first.peers.contains(&local(7002)));

    let second = bounded("second announce", announce(url, &b)).await.unwrap();
    assert!(second.peers.contains(&local(7001)), "{:?}", second.peers);
    assert_eq!(second.leechers, Some(2));
    assert_eq!(second.seeders, Some(0));

    let stop = AnnounceRequest {
        event: Event::Stopped,
        ..a.clone()
    };
    bounded("stopped announce", announce(url, &stop))
        .await
        .unwrap();

    let again = AnnounceRequest {
        event: Event::None,
        ..b.clone()
    };
    let third = bounded("third announce", announce(url, &again))
        .await
        .unwrap();
    assert!(!third.peers.contains(&local(7001)), "{:?}", third.peers);
    assert_eq!(third.leechers, Some(1));
}

#[tokio::test]
async fn http_peers_see_each_other_and_stopped_removes() {
    let hash = random_hash();
    let tracker = Opentracker::start(&[hash]);
    two_peers_then_stopped(&tracker.http_url(), hash).await;
}

#[tokio::test]
async fn udp_peers_see_each_other_and_stopped_removes() {
    let hash = random_hash();
    let tracker = Opentracker::start(&[hash]);
    two_peers_then_stopped(&tracker.udp_url(), hash).await;
}

#[tokio::test]
async fn http_and_udp_share_one_swarm() {
    let hash = random_hash();
    let tracker = Opentracker::start(&[hash]);
    let a = request(hash, 7101, Event::Started);
    bounded("HTTP announce", http::announce(&tracker.http_url(), &a))
        .await
        .unwrap();
    let b = request(hash, 7102, Event::Started);
    let r = bounded("UDP announce", udp::announce(&tracker.udp_url(), &b))
        .await
        .unwrap();
    assert!(r.peers.contains(&local(7101)), "{:?}", r.peers);
}

#[tokio::test]
async fn unlisted_hash_gives_the_trackers_failure_reason() {
    let tracker = Opentracker::start(&[random_hash()]);
    let req = request(random_hash(), 7201, Event::Started);
    // Over HTTP opentracker says why; over UDP it sends a bare header.
    for (url, reason_part) in [
        (tracker.http_url(), "not authorized"),
        (tracker.udp_url(), "does not serve this torrent"),
    ] {
        match bounded("refused announce", announce(&url, &req)).await {
            Err(TrackerError::Failure(reason)) => {
                assert!(reason.contains(reason_part), "{url}: {reason}")
            }
            other => panic!("{url}: expected the tracker's failure reason, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn dead_trackers_fail_promptly() {
    let port = free_port();
    let req = request(random_hash(), 7301, Event::Started);
    let http_url = format!("http://127.0.0.1:{port}/announce");
    let result = bounded("dead HTTP tracker", announce(&http_url, &req)).await;
    assert!(matches!(result, Err(TrackerError::Http(_))), "{result:?}");
    let udp_url = format!("udp://127.0.0.1:{port}/announce");
    let result = bounded("dead UDP tracker", announce(&udp_url, &req)).await;
    assert!(matches!(result, Err(TrackerError::Io(_))), "{result:?}");
}

/// A tracker that accepts the connection and never answers runs into the
/// request timeout.
#[tokio::test]
async fn silent_http_tracker_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        // Hold the connection open, unanswered, until the client gives up.
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    let req = request(random_hash(), 7401, Event::Started);
    let result = bounded("silent HTTP tracker", announce(&url, &req)).await;
    assert!(
        matches!(result, Err(TrackerError::Timeout(_))),
        "{result:?}"
    );
    bounded("the client hangs up", holder).await.unwrap();
}

/// A response body past the limit is refused while it is being read, with
/// or without a `Content-Length` announcing it.
#[tokio::test]
async fn oversized_http_response_is_refused() {
    for with_length in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/announce", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return 0,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body_len = 64 * MAX_RESPONSE_LEN;
            let head = if with_length {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
                )
            } else {
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn
                .write_all(format!("d5:peers{}:", body_len - 20).as_bytes())
                .await;
            let chunk = vec![0u8; 64 * 1024];
            let mut sent = 0;
            while sent < body_len {
                if conn.write_all(&chunk).await.is_err() {
                    break; // the client hung up, as it should
                }
                sent += chunk.len();
            }
            sent
        });
        let req = request(random_hash(), 7501, Event::Started);
        let result = bounded("oversized response", announce(&url, &req)).await;
        assert!(
            matches!(result, Err(TrackerError::TooBig { limit }) if limit == MAX_RESPONSE_LEN),
            "{result:?}"
        );
        let sent = bounded("the client hangs up", server).await.unwrap();
        assert!(
            sent < 64 * MAX_RESPONSE_LEN,
            "the client read the whole body"
        );
    }
}

/// Waits until the announcer's status satisfies `ok`, or fails with the last status.
async fn wait_status(
    rx: &mut watch::Receiver<Vec<TrackerStatus>>,
    what: &str,
    ok: impl Fn(&[TrackerStatus]) -> bool,
) -> Vec<TrackerStatus> {
    let reached = match tokio::time::timeout(WAIT, rx.wait_for(|s| ok(s))).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    reached.unwrap_or_else(|| panic!("{what}: status never got there: {:#?}", *rx.borrow()))
}

/// Tiers [[dead HTTP], [dead UDP], [silent UDP], [opentracker]]: peers from
/// the working tier arrive promptly, while the silent tracker is still being
/// waited for; the dead ones show as errors; `completed` reaches the tracker;
/// and shutdown sends `stopped`.
#[tokio::test]
async fn announcer_works_past_dead_tiers_and_stops_on_shutdown() {
    let hash = random_hash();
    let tracker = Opentracker::start(&[hash]);
    let dead = free_port();
    let dead_http = format!("http://127.0.0.1:{dead}/announce");
    let dead_udp = format!("udp://127.0.0.1:{dead}/announce");
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let silent_udp = format!("udp://{}/announce", silent.local_addr().unwrap());

    // Another peer already in the swarm.
    let other = request(hash, 7602, Event::Started);
    bounded("other peer", announce(&tracker.http_url(), &other))
        .await
        .unwrap();

    let (stats_tx, stats_rx) = watch::channel(TransferStats {
        uploaded: 0,
        downloaded: 0,
        left: 1000,
    });
    let (peers_tx, mut peers_rx) = mpsc::channel(8);
    let handle = Announcer::spawn(
        vec![
            vec![dead_http.clone()],
            vec![dead_udp.clone()],
            vec![silent_udp.clone()],
            vec![tracker.http_url()],
        ],
        hash,
        PeerId::generate(),
        7601,
        stats_rx,
        peers_tx,
        CancellationToken::new(),
    );

    let peers = bounded("peers from the working tier", peers_rx.recv())
        .await
        .expect("peers");
    assert!(peers.contains(&local(7602)), "{peers:?}");

    let mut rx = handle.subscribe();
    let status = wait_status(&mut rx, "dead tiers in error, live tier working", |s| {
        s.len() == 4
            && s[0].state == TrackerState::Error
            && s[1].state == TrackerState::Error
            && s[3].state == TrackerState::Working
    })
    .await;
    assert_eq!(status[0].url, dead_http);
    assert_eq!(status[1].url, dead_udp);
    assert_eq!(status[2].url, silent_udp);
    assert_eq!(
        status.iter().map(|s| s.tier).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(status[0].message.is_some() && status[1].message.is_some());
    assert!(status[0].next_announce.is_some(), "a retry is scheduled");
    assert_eq!(
        status[2].state,
        TrackerState::Updating,
        "still waiting for the silent tracker"
    );
    assert!(status[3].last_announce.is_some());
    assert!(status[3].peers >= 1);
    assert_eq!(status[3].message, None);

    // opentracker's `min interval` is minutes: a forced announce waits for it.
    let next = status[3].next_announce.unwrap();
    handle.announce_now();
    let status = wait_status(&mut rx, "forced announce rescheduled", |s| {
        s[3].next_announce.is_some_and(|n| n < next)
    })
    .await;
    let wait = status[3]
        .next_announce
        .unwrap()
        .duration_since(std::time::SystemTime::now());
    assert!(
        wait.is_ok_and(|w| w > Duration::from_secs(60)),
        "announce_now ignored `min interval`: {status:#?}"
    );
    // The other peer sees us.
    let seen = bounded(
        "other peer re-announces",
        announce(
            &tracker.http_url(),
            &AnnounceRequest {
                event: Event::None,
                ..other.clone()
            },
        ),
    )
    .await
    .unwrap();
    assert!(seen.peers.contains(&local(7601)), "{:?}", seen.peers);
    assert_eq!(seen.seeders, Some(0));

    // Completion reaches the tracker: we count as a seeder.
    stats_tx.send_replace(TransferStats {
        uploaded: 0,
        downloaded: 1000,
        left: 0,
    });
    handle.completed();
    let mut seeders = None;
    for _ in 0..100 {
        let r = bounded(
            "other peer re-announces",
            announce(
                &tracker.http_url(),
                &AnnounceRequest {
                    event: Event::None,
                    ..other.clone()
                },
            ),
        )
        .await
        .unwrap();
        seeders = r.seeders;
        if seeders == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seeders,
        Some(1),
        "the tracker never learnt of our completion"
    );

    bounded("shutdown", handle.shutdown()).await;
    let after = bounded(
        "other peer re-announces",
        announce(
            &tracker.http_url(),
            &AnnounceRequest {
                event: Event::None,
                ..other.clone()
            },
        ),
    )
    .await
    .unwrap();
    assert!(!after.peers.contains(&local(7601)), "{:?}", after.peers);
    assert_eq!(after.seeders, Some(0));
}

/// Within one tier, a dead tracker is skipped for a working one, which then
/// goes to the front; a UDP tracker works through the task as well.
#[tokio::test]
async fn announcer_fails_over_within_a_tier() {
    let hash = random_hash();
    let tracker = Opentracker::start(&[hash]);
    let dead = format!("http://127.0.0.1:{}/announce", free_port());
    let other = request(hash, 7702, Event::Started);
    bounded("other peer", announce(&tracker.udp_url(), &other))
        .await
        .unwrap();
    let (_stats_tx, stats_rx) = watch::channel(TransferStats {
        left: 1000,
        ..TransferStats::default()
    });
    let (peers_tx, mut peers_rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let handle = Announcer::spawn(
        vec![vec![dead.clone(), tracker.udp_url()]],
        hash,
        PeerId::generate(),
        7701,
        stats_rx,
        peers_tx,
        cancel.clone(),
    );
    let peers = bounded("peers", peers_rx.recv()).await.expect("peers");
    assert!(peers.contains(&local(7702)), "{peers:?}");
    let mut rx = handle.subscribe();
    let status = wait_status(&mut rx, "UDP tracker working", |s| {
        s.len() == 2 && s[1].state == TrackerState::Working
    })
    .await;
    assert_eq!(status[0].url, dead);
    assert_eq!(status[1].url, tracker.udp_url());
    assert!(
        status[1].next_announce.is_some(),
        "the working tracker is next in line"
    );
    assert_eq!(status[1].seeders, Some(0));
    // UDP trackers have no `min interval`: a forced announce goes out at once.
    let last = status[1].last_announce.unwrap();
    handle.announce_now();
    wait_status(&mut rx, "forced announce done", |s| {
        s[1].state == TrackerState::Working && s[1].last_announce.is_some_and(|t| t > last)
    })
    .await;
    // Cancelling the caller's token stops the task the same way.
    cancel.cancel();
    bounded("shutdown", handle.shutdown()).await;
    let after = bounded(
        "other peer re-announces",
        announce(
            &tracker.udp_url(),
            &AnnounceRequest {
                event: Event::None,
                ..other.clone()
            },
        ),
    )
    .await
    .unwrap();
    assert!(!after.peers.contains(&local(7701)), "{:?}", after.peers);
}

/// Serves one canned HTTP response on a fresh port; the task yields the
/// request it received.
async fn serve_once(response: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
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
        let _ = conn.write_all(response).await;
        let _ = conn.shutdown().await;
        request
    });
    (addr, task)
}

/// The request line carries the raw bytes percent-encoded, and the HTTP
/// status decides between a tracker's refusal and a plain HTTP error.
#[tokio::test]
async fn http_request_encoding_and_status_errors() {
    let mut req = request(InfoHash([0xab; 20]), 7801, Event::Completed);
    req.peer_id = PeerId(*b"-SH0100-~ .%/abcdefg");
    let (addr, task) =
        serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found").await;
    let result = bounded(
        "404",
        announce(&format!("http://{addr}/announce?pk=1"), &req),
    )
    .await;
    assert!(
        matches!(result, Err(TrackerError::HttpStatus(404))),
        "{result:?}"
    );
    let sent = String::from_utf8(bounded("request", task).await.unwrap()).unwrap();
    let line = sent.lines().next().unwrap();
    assert!(
        line.starts_with("GET /announce?pk=1&info_hash=%AB%AB%AB"),
        "{line}"
    );
    assert!(
        line.contains("&peer_id=-SH0100-~%20.%25%2Fabcdefg&"),
        "{line}"
    );
    assert!(line.contains("&event=completed"), "{line}");

    let (addr, _task) = serve_once(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 27\r\n\r\nd14:failure reason6:bannede",
    )
    .await;
    let result = bounded("403", announce(&format!("http://{addr}/announce"), &req)).await;
    assert!(
        matches!(&result, Err(TrackerError::Failure(m)) if m == "banned"),
        "{result:?}"
    );
}

/// `https` trackers are spoken to over TLS: the first bytes on the wire are
/// a TLS handshake record.
#[tokio::test]
async fn https_trackers_get_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 1];
        conn.read_exact(&mut first).await.unwrap();
        first[0]
    });
    let req = request(random_hash(), 7901, Event::Started);
    let result = bounded("https", announce(&format!("https://{addr}/announce"), &req)).await;
    assert!(matches!(result, Err(TrackerError::Http(_))), "{result:?}");
    assert_eq!(
        bounded("server", server).await.unwrap(),
        0x16,
        "a TLS handshake record"
    );
}

/// A web service on 127.0.0.1 for the SSRF test: it records the path of
/// every request; `/announce` redirects to `/admin`, `/real/announce` and
/// `/admin` answer as a tracker would (so that, without the rule, announces
/// to them succeed), anything else is a 404.
async fn local_service() -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
            let path = target.split('?').next().unwrap_or_default().to_owned();
            let _ = tx.send(path.clone());
            let body = "d8:intervali1800e5:peers0:e";
            let reply = match path.as_str() {
                "/announce" => format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://{addr}/admin\r\nContent-Length: 0\r\n\r\n"
                ),
                "/real/announce" | "/admin" => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
                _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
            };
            let _ = conn.write_all(reply.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
    });
    (addr, rx)
}

/// A tracker URL from a torrent cannot be used against a service on this
/// machine: on loopback only an announce path is requested, also through a
/// redirect, and a URL with announce parameters already in it is refused.
#[tokio::test]
async fn tracker_urls_do_not_reach_local_services() {
    let (addr, mut requests) = local_service().await;
    let port = addr.port();
    let req = request(random_hash(), 8001, Event::Started);
    for url in [
        format!("http://{addr}/admin"),
        format!("http://localhost:{port}/admin?x=1"),
        format!("http://[::ffff:127.0.0.1]:{port}/admin"),
        format!("http://{addr}/real/announce?info_hash=%00&port=1"),
    ] {
        let result = bounded("refused announce", announce(&url, &req)).await;
        assert!(
            matches!(result, Err(TrackerError::Refused { .. })),
            "{url}: {result:?}"
        );
    }
    assert_eq!(
        requests.try_recv().ok(),
        None,
        "a refused URL reached the service"
    );

    // An announce path is requested, but its redirect to /admin is not followed.
    let url = format!("http://{addr}/announce");
    let result = bounded("redirected announce", announce(&url, &req)).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(requests.try_recv().ok().as_deref(), Some("/announce"));
    assert_eq!(
        requests.try_recv().ok(),
        None,
        "the redirect reached the service"
    );

    // A tracker on loopback keeps working.
    let url = format!("http://{addr}/real/announce");
    let result = bounded("local tracker", announce(&url, &req)).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(requests.try_recv().ok().as_deref(), Some("/real/announce"));
}
