//! A seeder's start-up: while it checks its data it keeps the peers that
//! dial it (they are answered, and hear what it has once the check is
//! done), and trackers, which hear of it from the start, learn that it is
//! a seed as soon as the check has said so.
//!
//! The payload is a sparse file of 512 MiB: nothing to write, but hashing
//! it takes the seeder long enough that the test's peer reaches it while
//! it is still checking (asserted, so a check too quick to test fails
//! loudly instead of passing).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Framed;

use common::opentracker::Opentracker;
use common::swarm::{config, local, wait_seeding};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::Session;
use shoal::torrent::{AddTorrent, TorrentState};
use shoal::wire::{Geometry, Handshake, Message, PeerCodec};
use shoal::{InfoHash, Metainfo, PeerId};

const PAYLOAD: u64 = 512 << 20;
const LIMIT: Duration = Duration::from_secs(60);

/// A sparse payload `root/src/zeros.bin` and its torrent (4 MiB pieces).
fn sparse_torrent(root: &std::path::Path) -> (std::path::PathBuf, Metainfo) {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = std::fs::File::create(src.join("zeros.bin")).unwrap();
    file.set_len(PAYLOAD).unwrap();
    let meta = create_torrent(
        &src.join("zeros.bin"),
        &CreateOptions {
            piece_length: Some(4 << 20),
            ..Default::default()
        },
        |_, _| {},
    )
    .unwrap();
    (src, meta)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checking_seeder_keeps_the_peers_that_dial_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, meta) = sparse_torrent(tmp.path());
    let seeder = Session::new(config()).await.unwrap();
    let h = seeder
        .add_torrent(AddTorrent::new(meta.clone(), &src))
        .unwrap();

    let mut sock = tokio::net::TcpStream::connect(local(seeder.listen_port()))
        .await
        .unwrap();
    let ours = Handshake::new(meta.info_hash, PeerId(*b"-XX0001-startup-test"));
    sock.write_all(&ours.encode()).await.unwrap();
    let mut reply = [0u8; Handshake::LEN];
    let answered = tokio::time::timeout(LIMIT, sock.read_exact(&mut reply))
        .await
        .expect("the seeder answers or closes in time");
    let state = h.stats().state;
    assert!(
        answered.is_ok(),
        "the seeder closed our connection instead of answering (its state: {state:?})"
    );
    assert_eq!(
        state,
        TorrentState::Checking,
        "the check ended before the test could dial: the payload is too small to test this"
    );
    assert_eq!(Handshake::decode(&reply).unwrap().info_hash, meta.info_hash);

    // Once the check is done, the first message says it has every piece.
    let geometry = Geometry::from_info(&meta.info).unwrap();
    let mut framed = Framed::new(sock, PeerCodec::new(Some(geometry)));
    let first = tokio::time::timeout(LIMIT, async {
        loop {
            match framed.next().await {
                Some(Ok(Message::KeepAlive | Message::Extended { .. })) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the seeder speaks once its check is done");
    match first {
        Some(Ok(Message::HaveAll)) => {}
        Some(Ok(Message::Bitfield(bits))) => {
            assert!(bits.iter().all(|b| *b == 0xff), "a full bitfield")
        }
        other => panic!("expected the seeder's pieces, got {other:?}"),
    }
    assert_eq!(h.stats().state, TorrentState::Seeding);
    seeder.shutdown().await;
}

/// Seeds and leechers of `hash` as the tracker counts them, by HTTP scrape
/// (none before anyone announced it).
fn scrape(tracker: &Opentracker, hash: &InfoHash) -> (u64, u64) {
    let encoded: String = hash.0.iter().map(|b| format!("%{b:02x}")).collect();
    let mut conn = TcpStream::connect(("127.0.0.1", tracker.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(conn, "GET /scrape?info_hash={encoded} HTTP/1.0\r\n\r\n").unwrap();
    let mut body = Vec::new();
    conn.read_to_end(&mut body).unwrap();
    let count = |key: &str| -> u64 {
        let key = format!("{}:{key}i", key.len());
        let text = String::from_utf8_lossy(&body);
        let Some(at) = text.find(&key) else {
            assert!(text.ends_with("d5:filesdee"), "a scrape answer: {text}");
            return 0;
        };
        text[at + key.len()..]
            .split('e')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a count")
    };
    (count("complete"), count("incomplete"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checked_seeder_is_a_seed_to_the_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, mut meta) = sparse_torrent(tmp.path());
    let tracker = Opentracker::start(&[meta.info_hash]);
    meta.announce = Some(tracker.http_url());
    let seeder = Session::new(config()).await.unwrap();
    let h = seeder
        .add_torrent(AddTorrent::new(meta.clone(), &src))
        .unwrap();
    wait_seeding(&h).await;
    // An announce made during the check counts it as a leecher; the one
    // right after the check must make it a seed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let counts = loop {
        let counts = scrape(&tracker, &meta.info_hash);
        if counts == (1, 0) || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        counts,
        (1, 0),
        "the tracker should count the seeder as one seed and no leecher (complete, incomplete)"
    );
    seeder.shutdown().await;
}
