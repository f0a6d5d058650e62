//! Keeping the DHT joined, on loopback or inside a network namespace of the
//! test's own, never the public network: a session keeps trying to join
//! while its bootstrap node is not up yet and says so; one that started
//! offline keeps its DHT on; the routing table is saved in the state folder
//! and a later start joins through it; a corrupt or oversized nodes file is
//! reported and ignored; a read-only node starts serving when told.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::dht::testnet;
use futures::StreamExt;
use shoal::dht::{saved, Dht, DhtConfig, DhtState};
use shoal::session::{Session, SessionConfig};
use shoal::InfoHash;
use tokio::time::timeout;

/// Upper bound for anything that takes a second or a few on loopback; the
/// first join retry runs 5 s after start.
const WAIT: Duration = Duration::from_secs(60);

/// A session on loopback with only the given DHT configuration.
async fn session(dht: DhtConfig, state_dir: Option<&Path>) -> Session {
    Session::new(SessionConfig {
        listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        dht: Some(dht),
        state_dir: state_dir.map(Path::to_path_buf),
        ..SessionConfig::default()
    })
    .await
    .expect("session starts")
}

/// Polls the node's state until `done` holds; panics with the last state
/// after [`WAIT`].
async fn state_until(dht: &Dht, what: &str, done: impl Fn(&DhtState) -> bool) -> DhtState {
    let mut last = None;
    let got = timeout(WAIT, async {
        loop {
            if let Ok(s) = dht.state().await {
                if done(&s) {
                    return s;
                }
                last = Some(s);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    match got {
        Ok(s) => s,
        Err(_) => panic!("DHT never {what}; last state: {last:#?}"),
    }
}

/// Looks up `info_hash` until `want` is among the peers found.
async fn find_peer(dht: &Dht, info_hash: InfoHash, want: SocketAddr) {
    let found = timeout(WAIT, async {
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
    assert!(found.is_ok(), "{want} was never found for {info_hash}");
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// Joins `count` nodes to `bootstrap` and announces `info_hash` on `port`
/// from the first; returns the nodes (they stop when dropped).
async fn announce_from_new_nodes(
    bootstrap: &[String],
    count: usize,
    info_hash: InfoHash,
    port: u16,
) -> Vec<Dht> {
    let mut nodes = Vec::new();
    for _ in 0..count {
        let d = Dht::start(DhtConfig::testnet(bootstrap)).await.unwrap();
        assert!(timeout(WAIT, d.bootstrapped()).await.unwrap().unwrap());
        nodes.push(d);
    }
    timeout(WAIT, nodes[0].announce(info_hash, Some(port)))
        .await
        .expect("announce finished")
        .expect("announce succeeded");
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_retrying_until_a_late_bootstrap_node_is_up() {
    let port = free_udp_port();
    let router = format!("127.0.0.1:{port}");
    let s = session(DhtConfig::testnet(&[router.as_str()]), None).await;
    let dht = s.dht().expect("the DHT runs").clone();
    assert!(s.dht_error().is_none());

    // Nobody answers yet: the state says so and when it tries again.
    let waiting = state_until(&dht, "reported a retry", |st| {
        !st.bootstrapped && st.retry_in.is_some()
    })
    .await;
    assert!(waiting.retry_in.unwrap() <= shoal::dht::RETRY_FIRST);
    let tried = state_until(&dht, "reported a failed attempt", |st| {
        st.join_attempts >= 1 && st.join_problem.is_some()
    })
    .await;
    assert!(
        tried.join_problem.as_deref().unwrap().contains("answered"),
        "{tried:#?}"
    );

    // The bootstrap node comes up (the first node of a new DHT), others
    // join it, one announces.
    let late = Dht::start(DhtConfig {
        port,
        ..DhtConfig::testnet::<&str>(&[])
    })
    .await
    .unwrap();
    assert_eq!(late.local_addr().to_string(), router);
    let info_hash = InfoHash([0x3c; 20]);
    let _others =
        announce_from_new_nodes(std::slice::from_ref(&router), 4, info_hash, 45_111).await;

    let joined = state_until(&dht, "joined", |st| st.bootstrapped).await;
    assert_eq!(joined.retry_in, None);
    assert_eq!(joined.join_problem, None);
    find_peer(&dht, info_hash, SocketAddr::from(([127, 0, 0, 1], 45_111))).await;
    s.shutdown().await;
}

/// Runs `body` on a thread of its own inside a new network namespace with
/// only loopback up: whatever it sends beyond 127.0.0.0/8 fails at once
/// ("network unreachable"), as on a laptop with no network. The namespace
/// goes away with the thread's sockets and threads.
fn offline<F>(body: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare takes a flag set and touches only this thread's
        // namespaces; every thread and socket made later on this thread
        // (the runtime's, mainline's) lives in the new one.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        let up = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("ip (iproute2) is missing: run scripts/setup.sh");
        assert!(up.success(), "ip link set lo up");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(body());
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// A laptop that starts offline: the default bootstrap routers' names do
/// not resolve. The DHT stays on, and says it is connecting and why.
#[test]
fn starting_offline_keeps_the_dht_on_and_says_why() {
    offline(|| async {
        let config = DhtConfig {
            bind: std::net::Ipv4Addr::LOCALHOST,
            ..DhtConfig::default()
        };
        let s = session(config, None).await;
        assert_eq!(s.dht_error(), None, "the DHT is not off");
        let dht = s.dht().expect("the DHT runs while offline").clone();
        let st = state_until(&dht, "said why it is not joined", |st| {
            st.join_problem.is_some() && st.retry_in.is_some()
        })
        .await;
        assert!(!st.bootstrapped);
        let problem = st.join_problem.unwrap();
        // The default routers are named: none of them resolves offline.
        let named = shoal::dht::DEFAULT_BOOTSTRAP_NODES
            .iter()
            .any(|node| problem.contains(node.split(':').next().unwrap_or(node)));
        assert!(problem.contains("resolve") && named, "{problem}");
        s.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_routing_table_joins_the_next_start() {
    let net = testnet(10);
    let state = tempfile::tempdir().unwrap();
    let first = session(DhtConfig::testnet(&net.bootstrap), Some(state.path())).await;
    let dht = first.dht().unwrap().clone();
    state_until(&dht, "joined", |st| st.nodes >= 3).await;
    drop(dht);
    first.shutdown().await;
    drop(first);
    let file = state.path().join(saved::NODES_FILE);
    let kept = saved::load(&file).expect("a readable nodes file");
    assert!(!kept.is_empty() && kept.len() <= saved::MAX_SAVED_NODES);

    // Nothing to bootstrap from but the saved nodes.
    let info_hash = InfoHash([0x4d; 20]);
    let _others = announce_from_new_nodes(&net.bootstrap, 1, info_hash, 45_222).await;
    let second = session(DhtConfig::testnet::<&str>(&[]), Some(state.path())).await;
    let dht = second.dht().unwrap().clone();
    state_until(&dht, "joined through the saved nodes", |st| st.bootstrapped).await;
    find_peer(&dht, info_hash, SocketAddr::from(([127, 0, 0, 1], 45_222))).await;
    second.shutdown().await;
}

/// Log lines written while it is alive, for checking what the user is
/// told.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A corrupt nodes file, then an oversized one: each start logs why the
/// file is ignored, joins through its bootstrap nodes all the same, and
/// replaces the file with a good one at shutdown.
#[tokio::test(flavor = "current_thread")]
async fn a_corrupt_or_oversized_nodes_file_is_reported_and_ignored() {
    let net = testnet(5);
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join(saved::NODES_FILE);
    let oversized = "127.0.0.1:1\n".repeat(2000);
    for (content, says) in [
        (
            "127.0.0.1:6881\nthis is not a node\n".to_string(),
            "corrupt",
        ),
        (oversized, "more than"),
    ] {
        std::fs::write(&file, &content).unwrap();
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        // This runtime has one thread, so the session's start logs here.
        let _guard = tracing::subscriber::set_default(subscriber);
        let s = session(DhtConfig::testnet(&net.bootstrap), Some(state.path())).await;
        let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
        let line = text
            .lines()
            .find(|l| l.contains("WARN") && l.contains(saved::NODES_FILE))
            .unwrap_or_else(|| panic!("no warning about the nodes file in {text:?}"));
        assert!(line.contains(says) && line.contains("ignored"), "{line}");
        let dht = s.dht().expect("the DHT runs").clone();
        state_until(&dht, "joined", |st| st.bootstrapped).await;
        drop(dht);
        s.shutdown().await;
        let kept = saved::load(&file).expect("a good file replaced the bad one");
        assert!(!kept.is_empty());
        assert!(kept.iter().all(|a| a.port() > 2), "{kept:?}");
    }
}

/// A ping from a socket of ours; whether `node` answered it within 5 s.
async fn answers_ping(node: SocketAddr) -> bool {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t4:pong1:y1:qe";
    sock.send_to(ping, node).await.unwrap();
    let mut buf = [0u8; 2048];
    timeout(Duration::from_secs(5), async {
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.unwrap();
            if from == node && buf[..n].windows(7).any(|w| w == b"1:t4:po") {
                return;
            }
        }
    })
    .await
    .is_ok()
}

/// A read-only node (BEP 43) that learns it is connectable starts
/// answering on the same port and stays joined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_node_serves_once_connectable() {
    let net = testnet(10);
    let dht = Dht::start(DhtConfig {
        server_mode: false,
        ..DhtConfig::testnet(&net.bootstrap)
    })
    .await
    .unwrap();
    let before = state_until(&dht, "joined", |st| st.bootstrapped).await;
    assert!(!before.server_mode, "read-only until told");
    let addr = dht.local_addr();

    timeout(WAIT, dht.serve()).await.unwrap().unwrap();
    let after = state_until(&dht, "joined as a server", |st| {
        st.bootstrapped && st.server_mode
    })
    .await;
    assert_eq!(after.local_addr, addr, "same port");
    assert!(answers_ping(addr).await, "a server answers a ping");
    let info_hash = InfoHash([0x6e; 20]);
    let _others = announce_from_new_nodes(&net.bootstrap, 1, info_hash, 45_333).await;
    find_peer(&dht, info_hash, SocketAddr::from(([127, 0, 0, 1], 45_333))).await;
}

/// A child process killed and reaped on drop, its stdout lines on a
/// channel.
struct Child {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Child {
    fn spawn(cmd: &mut std::process::Command) -> Child {
        use std::io::BufRead;
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("cannot run /usr/bin/python3 (python3-libtorrent): run scripts/setup.sh");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Child { child, lines }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// libtorrent sends KRPC queries with 2-byte transaction ids, which
/// `mainline` alone cannot decode. A libtorrent DHT node that knows only
/// our node (no public router) looks up a torrent a node of ours announced
/// to it: its queries reach us, our answers reach it, with the peer, and
/// our node enters its routing table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_libtorrent_node_queries_us_and_gets_our_peers() {
    let ours = Dht::start(DhtConfig::testnet::<&str>(&[])).await.unwrap();
    let node = ours.local_addr().to_string();
    let info_hash = InfoHash([0x71; 20]);
    // The only node to store the announce at is ours.
    let _announcer =
        announce_from_new_nodes(std::slice::from_ref(&node), 1, info_hash, 45_444).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht_query.py");
    let lt = Child::spawn(
        std::process::Command::new("/usr/bin/python3")
            .arg(script)
            .args(["--node", &node, "--info-hash", &info_hash.to_hex()])
            .args(["--timeout", "120"]),
    );
    let want = "127.0.0.1:45444";
    let (mut got_peer, mut in_table) = (false, false);
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while !(got_peer && in_table) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line =
            tokio::task::block_in_place(|| lt.lines.recv_timeout(left)).unwrap_or_else(|e| {
                panic!("libtorrent: {e:?}; peer {got_peer}, table {in_table}; lines {seen:?}")
            });
        got_peer |= line.contains("\"peers\"") && line.contains(want);
        in_table |= line
            .strip_prefix("{\"table_nodes\": ")
            .and_then(|n| n.trim_end_matches('}').parse::<u32>().ok())
            .is_some_and(|n| n > 0);
        if seen.len() > 10 {
            seen.remove(0);
        }
        seen.push(line);
    }
}
