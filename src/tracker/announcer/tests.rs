//! Tests of the announce task: tiers, intervals, events, and trackers
//! that misbehave.

use super::*;

#[test]
fn retry_delay_doubles_up_to_the_cap() {
    assert_eq!(retry_delay(1), Duration::from_secs(15));
    assert_eq!(retry_delay(2), Duration::from_secs(30));
    assert_eq!(retry_delay(3), Duration::from_secs(60));
    assert_eq!(retry_delay(8), Duration::from_secs(1920).min(RETRY_MAX));
    assert_eq!(retry_delay(1000), RETRY_MAX);
}

/// A tracker on 127.0.0.1 that answers every announce with `body` and
/// reports each request line it received.
async fn scripted_tracker(
    body: &'static [u8],
) -> (String, mpsc::UnboundedReceiver<String>, JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&head);
            let _ = tx.send(line.lines().next().unwrap_or_default().to_owned());
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.write_all(body).await;
            let _ = stream.shutdown().await;
        }
    });
    (url, rx, task)
}

/// A `min interval` too large for a clock neither ends the task nor
/// stops it from announcing: the tracker is shown working, and the task
/// still sends `stopped` at shutdown.
#[tokio::test]
async fn a_huge_min_interval_does_not_end_the_task() {
    let (url, mut requests, server) =
        scripted_tracker(b"d8:intervali1800e12:min intervali9223372036854775807e5:peers0:e").await;
    let (_stats_tx, stats) = watch::channel(TransferStats::default());
    let (peers_tx, _peers_rx) = mpsc::channel(4);
    let handle = Announcer::spawn(
        vec![vec![url]],
        InfoHash([7; 20]),
        PeerId([8; 20]),
        6881,
        stats,
        peers_tx,
        CancellationToken::new(),
    );
    let first = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), requests.recv())
            .await
            .expect("an announce within 10 s")
            .expect("server alive");
        if !line.starts_with("GET /scrape?") {
            break line;
        }
    };
    assert!(first.contains("event=started"), "{first}");
    let mut rx = handle.subscribe();
    let working = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|s| s.first().is_some_and(|t| t.state == TrackerState::Working)),
    )
    .await
    // The guard `wait_for` returns holds the status lock: drop it at once.
    .is_ok_and(|r| r.is_ok());
    assert!(
        working,
        "the announce task ended or never saw the answer: {:?}",
        handle.status()
    );
    let next = handle.status()[0].next_announce.expect("a next announce");
    assert!(
        next <= SystemTime::now() + MAX_INTERVAL,
        "the next announce is beyond the longest interval we accept"
    );
    // The task is alive: it sends `stopped` at shutdown.
    tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
        .await
        .expect("shutdown within 10 s");
    // The scrape at start may reach the tracker in between.
    let mut rest = Vec::new();
    while let Ok(line) = requests.try_recv() {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l.contains("event=stopped")),
        "a `stopped` announce: {rest:?}"
    );
    server.abort();
}

/// Unknown schemes fail every round without stalling the task, and
/// shutdown ends it promptly without sending anything.
#[tokio::test]
async fn failing_trackers_show_errors_and_shutdown_is_prompt() {
    let (_stats_tx, stats) = watch::channel(TransferStats::default());
    let (peers_tx, _peers_rx) = mpsc::channel(4);
    let handle = Announcer::spawn(
        vec![
            vec!["wss://a.example/announce".into(), "foo://b".into()],
            vec![],
            vec!["not a url".into()],
        ],
        InfoHash([7; 20]),
        PeerId([8; 20]),
        6881,
        stats,
        peers_tx,
        CancellationToken::new(),
    );
    let mut rx = handle.subscribe();
    let all_failed =
        |s: &Vec<TrackerStatus>| s.len() == 3 && s.iter().all(|t| t.state == TrackerState::Error);
    tokio::time::timeout(Duration::from_secs(10), rx.wait_for(all_failed))
        .await
        .expect("errors within 10 s")
        .expect("task alive");
    let status = handle.status();
    assert_eq!(status[0].url, "wss://a.example/announce");
    assert_eq!(status[0].tier, 0);
    assert_eq!(status[1].url, "foo://b");
    assert_eq!(status[2].tier, 1, "the empty tier is dropped");
    assert!(status[0]
        .message
        .as_deref()
        .unwrap()
        .contains("unsupported"));
    // The tier's retry is scheduled and shown on the tracker tried first.
    let tier0_next: Vec<_> = status[..2].iter().filter_map(|s| s.next_announce).collect();
    assert_eq!(tier0_next.len(), 1);
    tokio::time::timeout(Duration::from_secs(2), handle.shutdown())
        .await
        .expect("shutdown is prompt when no tracker needs `stopped`");
}
