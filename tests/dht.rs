//! The DHT on a loopback `mainline::Testnet`, never the public network: our
//! nodes find each other's announces, find a libtorrent seeder's, and report
//! their state.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::dht::{free_port, make_torrent, testnet, LtDhtNodes, LtPeer};
use futures::StreamExt;
use shoal::dht::{Dht, DhtAnnouncer, DhtConfig, DhtSchedule};
use shoal::InfoHash;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Upper bound for anything that should take a second on loopback.
const WAIT: Duration = Duration::from_secs(30);

async fn start(bootstrap: &[String]) -> Dht {
    let dht = Dht::start(DhtConfig::testnet(bootstrap)).await.unwrap();
    let joined = timeout(WAIT, dht.bootstrapped()).await.unwrap().unwrap();
    assert!(joined, "DHT node did not join the testnet");
    dht
}

/// Runs lookups until one yields `want`, within `limit`; returns every peer
/// seen.
async fn look_until(
    dht: &Dht,
    info_hash: InfoHash,
    want: SocketAddr,
    limit: Duration,
) -> HashSet<SocketAddr> {
    let mut seen = HashSet::new();
    let found = timeout(limit, async {
        loop {
            let mut lookup = dht.get_peers(info_hash);
            while let Some(batch) = lookup.next().await {
                seen.extend(batch);
                if seen.contains(&want) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "{want} not found within {limit:?}; saw {seen:?}"
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announce_then_get_peers_on_a_testnet() {
    let net = testnet(10);
    let a = start(&net.bootstrap).await;
    let b = start(&net.bootstrap).await;
    let info_hash = InfoHash([0x5a; 20]);
    let port = 45_678;

    timeout(WAIT, a.announce(info_hash, Some(port)))
        .await
        .expect("announce did not finish")
        .expect("announce failed");

    let want = SocketAddr::from(([127, 0, 0, 1], port));
    let seen = look_until(&b, info_hash, want, WAIT).await;
    assert!(seen.iter().all(|p| p.port() != 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcer_streams_peers_and_announces() {
    let net = testnet(10);
    let a = start(&net.bootstrap).await;
    let b = start(&net.bootstrap).await;
    let info_hash = InfoHash([0xa7; 20]);
    let cancel = CancellationToken::new();
    let schedule = DhtSchedule {
        min_lookup_gap: Duration::from_millis(100),
        ..DhtSchedule::default()
    };

    // `a` announces port 40001 through its announcer; `b`'s announcer looks
    // up the same torrent until it sees `a` (an early lookup may run before
    // the announce landed, so ask again on an empty result).
    let (a_tx, _a_rx) = mpsc::channel(16);
    let a_task =
        DhtAnnouncer::spawn_with(a.clone(), info_hash, 40_001, a_tx, cancel.clone(), schedule);
    let (b_tx, mut b_rx) = mpsc::channel(16);
    let b_task =
        DhtAnnouncer::spawn_with(b.clone(), info_hash, 40_002, b_tx, cancel.clone(), schedule);

    let want = SocketAddr::from(([127, 0, 0, 1], 40_001));
    let found = timeout(WAIT, async {
        loop {
            tokio::select! {
                batch = b_rx.recv() => {
                    if batch.expect("announcer stopped").contains(&want) {
                        return;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(300)) => b_task.lookup_now(),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "b's announcer did not find a's announce");

    cancel.cancel();
    timeout(WAIT, a_task.join())
        .await
        .expect("a's announcer did not stop");
    timeout(WAIT, b_task.join())
        .await
        .expect("b's announcer did not stop");
    let state = b.state().await.unwrap();
    assert_eq!(state.lookups_in_flight, 0);
    assert_eq!(state.announces_in_flight, 0);
}

/// The testnet holds libtorrent DHT nodes beside the mainline ones, and the
/// libtorrent seeder joins through those: mainline (8.x) drops KRPC messages
/// with libtorrent's 2-byte transaction ids, so libtorrent's announce can
/// only land on libtorrent nodes, and every mainline node in its lookups is
/// a 15 s timeout to it. Our node joins through both kinds and queries both
/// (libtorrent echoes our 4-byte ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_a_libtorrent_seeder() {
    let net = testnet(10);
    let lt_nodes = LtDhtNodes::start(4, &[]);

    let dir = tempfile::tempdir().unwrap();
    let (torrent, info_hash, save) = make_torrent(dir.path());
    let mut args: Vec<String> = ["--seed", "--stay", "--timeout", "120"]
        .map(String::from)
        .to_vec();
    for node in &lt_nodes.nodes {
        args.push("--dht-bootstrap".into());
        args.push(node.clone());
    }
    let lt = LtPeer::start(&torrent, &save, free_port(), &args);

    let mut bootstrap = net.bootstrap.clone();
    bootstrap.extend(lt_nodes.nodes.iter().cloned());
    let ours = start(&bootstrap).await;

    // libtorrent announces once its lookup is done, which on a busy machine
    // can take most of a minute (each mainline node is a 15 s timeout to
    // it); keep looking until then, within its own 120 s.
    look_until(&ours, info_hash, lt.addr(), Duration::from_secs(110)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_reports_id_and_routing_table() {
    let net = testnet(10);
    let dht = start(&net.bootstrap).await;
    let state = dht.state().await.unwrap();

    assert_eq!(state.node_id.len(), 40);
    assert!(state.node_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(state.local_addr, dht.local_addr());
    assert!(state.local_addr.ip().is_loopback());
    assert!(state.bootstrapped);
    assert!(state.nodes > 0, "empty routing table: {state:?}");
    assert!(state.nodes <= 10);
    // The join's own-id lookup taught us the ids of the nearest nodes.
    let bucketed: usize = state.buckets.iter().map(|b| b.nodes.len()).sum();
    assert!(bucketed > 0 && bucketed <= state.nodes, "{state:?}");
    assert!(state
        .buckets
        .windows(2)
        .all(|w| w[0].shared_prefix_bits < w[1].shared_prefix_bits));
    assert_eq!(state.lookups_in_flight, 0);

    // A lookup counts as in flight until its stream ends or is dropped.
    let lookup = dht.get_peers(InfoHash([1; 20]));
    assert_eq!(dht.state().await.unwrap().lookups_in_flight, 1);
    drop(lookup);
    assert_eq!(dht.state().await.unwrap().lookups_in_flight, 0);
}

#[tokio::test]
async fn bad_bootstrap_entry_is_refused() {
    let err = Dht::start(DhtConfig::testnet(&["no-port-here"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-port-here"), "{err}");
}

/// A ping from `sock` to `node`; whether the node answered within 5 s.
async fn pings_back(sock: &tokio::net::UdpSocket, node: SocketAddr, tid: &[u8; 4]) -> bool {
    // `mainline` 8 takes only 4-byte transaction ids.
    let mut ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t4:".to_vec();
    ping.extend_from_slice(tid);
    ping.extend_from_slice(b"1:y1:qe");
    sock.send_to(&ping, node).await.unwrap();
    let mut buf = [0u8; 2048];
    let answer = timeout(Duration::from_secs(5), async {
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.unwrap();
            let reply = &buf[..n];
            let mut want = b"1:t4:".to_vec();
            want.extend_from_slice(tid);
            if from == node && reply.windows(want.len()).any(|w| w == want.as_slice()) {
                return;
            }
        }
    })
    .await;
    answer.is_ok()
}

/// `mainline` parses datagrams with serde_bencode, which recurses without a
/// depth limit, on its node thread. Our relay in front of it checks every
/// datagram with the bounded `bencode::scan` first and drops deep ones. A
/// datagram nested 4,096 deep, in several places a value can go, leaves the
/// node answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deepest_datagram_does_not_crash_a_node() {
    let dht = Dht::start(DhtConfig::testnet::<&str>(&[])).await.unwrap();
    let node = dht.local_addr();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert!(
        pings_back(&sock, node, b"ping").await,
        "the node answers a ping"
    );
    let depth = 4096;
    let prefixes: [&[u8]; 4] = [
        b"d1:a",
        b"d1:ad2:id20:abcdefghij0123456789",
        b"d1:q4:ping1:t4:xxxx1:y1:q1:ad2:id20:abcdefghij01234567896:target",
        b"d1:t4:xxxx1:y1:r1:rd2:id20:abcdefghij01234567895:nodes",
    ];
    for (i, prefix) in prefixes.iter().enumerate() {
        for open in [b'l', b'd'] {
            let mut datagram = prefix.to_vec();
            // Lists in lists, or dictionaries of lists of ... with one-byte keys.
            for _ in 0..depth {
                if open == b'd' {
                    datagram.extend_from_slice(b"d1:k");
                } else {
                    datagram.push(b'l');
                }
            }
            datagram.extend(std::iter::repeat_n(b'e', depth + 1));
            sock.send_to(&datagram, node).await.unwrap();
            let tid = [
                b'p',
                b'i',
                b'n',
                b'0' + (2 * i as u8 + u8::from(open == b'd')),
            ];
            assert!(
                pings_back(&sock, node, &tid).await,
                "the node stopped answering after a datagram {} bytes deep ({} in {:?})",
                depth,
                open as char,
                String::from_utf8_lossy(prefix)
            );
        }
    }
}
