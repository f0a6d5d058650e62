//! DHT benchmark (`make bench`, or `cargo bench --bench dht`): the time from
//! starting a lookup for an info hash to the first peer found, Shoal against
//! libtorrent, on one loopback test network.
//!
//! The network: a 50-node `mainline::Testnet` plus 10 libtorrent DHT nodes
//! (tests/support/lt_dht_nodes.py). The libtorrent nodes are needed because
//! `mainline` 8.x drops KRPC messages whose transaction id is not 4 bytes, and
//! libtorrent's are 2 bytes: on mainline nodes alone libtorrent finds nothing.
//!
//! Each trial announces a fresh random info hash from a separate node of ours
//! and from a libtorrent peer (waiting until both announces are stored), then, for each client, starts a
//! fresh node, waits until it has joined the DHT, starts the lookup and
//! records when the first peer arrives. Our node joins through every node of
//! the network; libtorrent through the libtorrent nodes only (the mainline
//! ones would only be timeouts to it):
//! - Shoal: `DhtAnnouncer::spawn` to the first batch on its peer channel;
//! - libtorrent (tests/support/lt_peer.py with a magnet link): `add_torrent`
//!   to its first `dht_reply_alert` carrying peers.
//!
//! Not a test: it asserts nothing about times. Under `cargo test` it does
//! nothing (cargo passes `--bench` only when benchmarking).

#[path = "../tests/common/dht.rs"]
mod common_dht;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common_dht::{free_port, LtDhtNodes, LtPeer};
use shoal::dht::{Dht, DhtAnnouncer, DhtConfig};
use shoal::InfoHash;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const MAINLINE_NODES: usize = 50;
const LIBTORRENT_NODES: usize = 10;
const TRIALS: usize = 7;
const ANNOUNCED_PORT: u16 = 46_881;
const LIMIT: Duration = Duration::from_secs(60);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("dht bench: run with `cargo bench --bench dht` (or `make bench`)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let net = mainline::Testnet::builder(MAINLINE_NODES)
        .build()
        .expect("mainline testnet on 127.0.0.1");
    let lt_nodes = LtDhtNodes::start(LIBTORRENT_NODES, &[]);
    let mut bootstrap = net.bootstrap.clone();
    bootstrap.extend(lt_nodes.nodes.iter().cloned());

    let announcer = Dht::start(client_config(&bootstrap))
        .await
        .expect("announcing node");
    assert!(
        announcer.bootstrapped().await.unwrap_or(false),
        "announcing node did not join"
    );
    let want = SocketAddr::from(([127, 0, 0, 1], ANNOUNCED_PORT));

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut theirs_missed = 0;
    for trial in 0..TRIALS {
        let info_hash = InfoHash(rand::random());
        // The peer, announced to both kinds of node: by our node (it stores
        // on the closest nodes, mostly mainline ones) and by a libtorrent
        // peer (it can only reach the libtorrent nodes). Wait until a lookup
        // sees the libtorrent peer, so that its announce is stored.
        announcer
            .announce(info_hash, Some(ANNOUNCED_PORT))
            .await
            .expect("announce");
        let lt_peer = announce_with_libtorrent(&lt_nodes.nodes, info_hash);
        if !wait_until_found(&announcer, info_hash, lt_peer.addr()).await {
            println!(
                "trial {}: the libtorrent peer's announce did not land; skipped",
                trial + 1
            );
            continue;
        }

        let t_ours = shoal_first_peer(&bootstrap, info_hash, want).await;
        let Some(t_theirs) = libtorrent_first_peer(&lt_nodes.nodes, info_hash) else {
            println!(
                "trial {}: shoal {:>8.2} ms   libtorrent found no peer within {LIMIT:?}",
                trial + 1,
                ms(t_ours)
            );
            ours.push(t_ours);
            theirs_missed += 1;
            continue;
        };
        println!(
            "trial {}: shoal {:>8.2} ms   libtorrent {:>8.2} ms",
            trial + 1,
            ms(t_ours),
            ms(t_theirs)
        );
        ours.push(t_ours);
        theirs.push(t_theirs);
        drop(lt_peer);
    }

    if ours.is_empty() || theirs.is_empty() {
        println!("DHT first peer: too few completed trials to compare");
        return;
    }
    let (o, t) = (median(&mut ours), median(&mut theirs));
    println!();
    println!(
        "DHT first peer ({MAINLINE_NODES} mainline + {LIBTORRENT_NODES} libtorrent nodes on 127.0.0.1; {} of {TRIALS} trials for shoal, {} for libtorrent)",
        ours.len(),
        theirs.len()
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10}",
        "client", "median ms", "min ms", "max ms"
    );
    for (name, v, m) in [("shoal", &ours, o), ("libtorrent", &theirs, t)] {
        println!(
            "{:<12} {:>10.2} {:>10.2} {:>10.2}",
            name,
            ms(m),
            ms(*v.iter().min().unwrap_or(&m)),
            ms(*v.iter().max().unwrap_or(&m))
        );
    }
    if theirs_missed > 0 {
        println!("libtorrent found no peer within {LIMIT:?} in {theirs_missed} trial(s) (left out above)");
    }
    println!(
        "ratio shoal/libtorrent (median): {:.3} (below 1: Shoal is faster)",
        o.as_secs_f64() / t.as_secs_f64()
    );
}

/// A libtorrent peer that announces `info_hash` (a magnet; it never gets
/// metadata, which does not matter here) through the libtorrent nodes.
fn announce_with_libtorrent(lt_nodes: &[String], info_hash: InfoHash) -> LtPeer {
    let save = std::env::temp_dir().join(format!("shoal-dht-bench-{}", info_hash.to_hex()));
    let magnet = format!("magnet:?xt=urn:btih:{}", info_hash.to_hex());
    let mut args: Vec<String> = ["--stay", "--timeout", "300"].map(String::from).to_vec();
    for node in lt_nodes {
        args.push("--dht-bootstrap".into());
        args.push(node.clone());
    }
    LtPeer::start(std::path::Path::new(&magnet), &save, free_port(), &args)
}

/// Repeats lookups from `dht` until one returns `want`; false if none does
/// within the limit.
async fn wait_until_found(dht: &Dht, info_hash: InfoHash, want: SocketAddr) -> bool {
    use futures::StreamExt;
    let found = tokio::time::timeout(LIMIT, async {
        loop {
            let mut lookup = dht.get_peers(info_hash);
            while let Some(batch) = lookup.next().await {
                if batch.contains(&want) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    found.is_ok()
}

/// A fresh node of ours: join, then time `DhtAnnouncer` to the first peer.
async fn shoal_first_peer(bootstrap: &[String], info_hash: InfoHash, want: SocketAddr) -> Duration {
    let dht = Dht::start(client_config(bootstrap))
        .await
        .expect("our node");
    assert!(
        dht.bootstrapped().await.unwrap_or(false),
        "our node did not join"
    );
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let task = DhtAnnouncer::spawn(dht, info_hash, free_port(), tx, cancel.clone());
    let elapsed = tokio::time::timeout(LIMIT, async {
        loop {
            let batch = rx.recv().await.expect("announcer stopped");
            if batch.contains(&want) {
                return start.elapsed();
            }
        }
    })
    .await
    .expect("Shoal found no peer within the limit");
    cancel.cancel();
    task.join().await;
    elapsed
}

/// A fresh libtorrent session: join, add a magnet, time to the first peer;
/// `None` if it finds none within the limit.
fn libtorrent_first_peer(bootstrap: &[String], info_hash: InfoHash) -> Option<Duration> {
    let save = tempfile::tempdir().expect("temp dir");
    let magnet = format!("magnet:?xt=urn:btih:{}", info_hash.to_hex());
    let mut args: Vec<String> = ["--wait-dht", "--report-dht", "--timeout", "120"]
        .map(String::from)
        .to_vec();
    for node in bootstrap {
        args.push("--dht-bootstrap".into());
        args.push(node.clone());
    }
    let lt = LtPeer::start(
        std::path::Path::new(&magnet),
        save.path(),
        free_port(),
        &args,
    );
    let line = lt.try_wait_for_line("dht_first_peer_ms", LIMIT)?;
    let value = line
        .rsplit(':')
        .next()
        .and_then(|v| v.trim().trim_end_matches('}').trim().parse::<f64>().ok())
        .expect("dht_first_peer_ms line");
    Some(Duration::from_secs_f64(value / 1000.0))
}

/// Our nodes run as clients (BEP 43 read-only): libtorrent nodes then keep
/// them out of their routing tables. As servers they would be listed there
/// and handed to libtorrent's lookups, where, mute to libtorrent's 2-byte
/// transaction ids, each costs libtorrent a timeout.
fn client_config(bootstrap: &[String]) -> DhtConfig {
    DhtConfig {
        server_mode: false,
        ..DhtConfig::testnet(bootstrap)
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
