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
//! (waiting until the announce is stored), then, for each client, starts a
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

    let announcer = Dht::start(DhtConfig::testnet(&bootstrap))
        .await
        .expect("announcing node");
    assert!(
        announcer.bootstrapped().await.unwrap_or(false),
        "announcing node did not join"
    );
    let want = SocketAddr::from(([127, 0, 0, 1], ANNOUNCED_PORT));

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for trial in 0..TRIALS {
        let info_hash = InfoHash(rand::random());
        announcer
            .announce(info_hash, Some(ANNOUNCED_PORT))
            .await
            .expect("announce");

        let t_ours = shoal_first_peer(&bootstrap, info_hash, want).await;
        let t_theirs = libtorrent_first_peer(&lt_nodes.nodes, info_hash);
        println!(
            "trial {}: shoal {:>8.2} ms   libtorrent {:>8.2} ms",
            trial + 1,
            ms(t_ours),
            ms(t_theirs)
        );
        ours.push(t_ours);
        theirs.push(t_theirs);
    }

    let (o, t) = (median(&mut ours), median(&mut theirs));
    println!();
    println!(
        "DHT first peer ({MAINLINE_NODES} mainline + {LIBTORRENT_NODES} libtorrent nodes on 127.0.0.1, {TRIALS} trials)"
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
    println!(
        "ratio shoal/libtorrent (median): {:.3} (below 1: Shoal is faster)",
        o.as_secs_f64() / t.as_secs_f64()
    );
}

/// A fresh node of ours: join, then time `DhtAnnouncer` to the first peer.
async fn shoal_first_peer(bootstrap: &[String], info_hash: InfoHash, want: SocketAddr) -> Duration {
    let dht = Dht::start(DhtConfig::testnet(bootstrap))
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

/// A fresh libtorrent session: join, add a magnet, time to the first peer.
fn libtorrent_first_peer(bootstrap: &[String], info_hash: InfoHash) -> Duration {
    let save = tempfile::tempdir().expect("temp dir");
    let magnet = format!("magnet:?xt=urn:btih:{}", info_hash.to_hex());
    let mut args: Vec<String> = ["--wait-dht", "--report-dht", "--timeout", "90"]
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
    let line = lt.wait_for_line("dht_first_peer_ms", LIMIT + Duration::from_secs(30));
    let value = line
        .rsplit(':')
        .next()
        .and_then(|v| v.trim().trim_end_matches('}').trim().parse::<f64>().ok())
        .expect("dht_first_peer_ms line");
    Duration::from_secs_f64(value / 1000.0)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
