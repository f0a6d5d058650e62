//! Hostile connections. Against a seeding and a downloading Shoal (the
//! command line, in a process of its own, so that its peak memory is read
//! from /proc and its log counted in bytes) while an honest libtorrent peer
//! transfers with it: slowloris handshakes (100 connections that send a
//! byte every two seconds) and 200 connections from one address. Each
//! attacker dials from a loopback address of its own. And the session's
//! connection limits on their own: per address, for the whole session, and
//! a useless peer giving its place to a newcomer when slots are short.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::{free_port, wait_for, Libtorrent, LtOptions, Proc};
use shoal::session::{
    Session, SessionConfig, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_HANDSHAKES_PER_IP,
};
use shoal::types::InfoHash;
use shoal::wire::Handshake;
use shoal::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The torrent's size: enough for the transfer to overlap the attack.
const PAYLOAD: usize = 8 * 1024 * 1024;
/// Longest wait for an honest transfer, or for anything else.
const LIMIT: Duration = Duration::from_secs(120);
/// The seeder's upload rate while Shoal downloads, so that the download
/// lasts through the attack (about eight seconds).
const SLOW_SEED: u64 = 1024 * 1024;
/// How long the attack runs before the honest peer starts, so that it
/// meets the attack at full strength.
const HEAD_START: Duration = Duration::from_secs(3);
/// A connection counts as held by Shoal once it has stayed open this long:
/// a refused one is closed at once.
const HELD_AFTER: Duration = Duration::from_secs(1);
/// Shoal's peak resident memory (VmHWM) during an attack, at most. Measured
/// with the limits in place (debug build, 8 MiB torrent): 18.5 MiB seeding
/// and 10.5 MiB downloading, for either attack. The bound leaves twice
/// that for the allocator and a busy machine.
const PEAK_RSS_KIB: u64 = 40 * 1024;
/// What Shoal may log at `info` during an attack, at most: a few lines of
/// its own (a completed download), nothing per attacking connection.
const LOG_BYTES: u64 = 1024;

// ---------- the process under attack ----------

/// A Shoal command-line process with its log (stderr) in a file.
struct Target {
    proc: Proc,
    port: u16,
    log: PathBuf,
}

impl Target {
    fn start(mut cmd: Command, port: u16, log: PathBuf) -> Target {
        let file = std::fs::File::create(&log).unwrap();
        cmd.env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        let proc = Proc::spawn("shoal", &mut cmd);
        wait_for("shoal to listen", LIMIT, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Target { proc, port, log }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Peak resident memory so far, in KiB (VmHWM).
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.pid()))
            .expect("shoal is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn shoal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
}

fn net_args(cmd: &mut Command, port: u16) {
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--no-dht", "--no-port-mapping", "--no-lsd"]);
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    torrent: PathBuf,
    content: PathBuf,
    info_hash: InfoHash,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let content = src.join("payload.bin");
    common::data::write_file(&content, PAYLOAD, 10);
    let meta = common::data::torrent_of(&content, 256 * 1024);
    let torrent = root.join("payload.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        torrent,
        content: src,
        info_hash: meta.info_hash,
    }
}

// ---------- the attacks ----------

/// What an attack does on each of its connections once open.
#[derive(Clone, Copy)]
enum Kind {
    /// Sends a handshake one byte every two seconds.
    Slowloris,
    /// Sends a whole, valid handshake, then holds the connection, reading.
    Handshake,
}

/// An attack of `n` connections from `from` to `target`, each reopened
/// when Shoal closes it, until dropped. Counts the connections Shoal
/// holds (open for `HELD_AFTER`) at its peak, and how many it closed.
struct Attack {
    stop: Arc<AtomicBool>,
    /// When each connection was opened, if it is open now.
    open_since: Arc<Mutex<Vec<Option<Instant>>>>,
    closed: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Attack {
    async fn start(target: SocketAddr, from: IpAddr, n: usize, kind: Kind, ih: InfoHash) -> Attack {
        let stop = Arc::new(AtomicBool::new(false));
        let open_since = Arc::new(Mutex::new(vec![None; n]));
        let closed = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..n {
            let (stop, open_since, closed) = (stop.clone(), open_since.clone(), closed.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Some(mut s) = connect_from(from, target).await else {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    };
                    open_since.lock().unwrap()[i] = Some(Instant::now());
                    hold(&mut s, kind, ih, &stop).await;
                    open_since.lock().unwrap()[i] = None;
                    closed.fetch_add(1, Ordering::Relaxed);
                    // Reopen, as an attacker would, at a bounded rate.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }));
        }
        Attack {
            stop,
            open_since,
            closed,
            tasks,
        }
    }

    /// Connections open for at least `HELD_AFTER` now.
    fn held(&self) -> usize {
        let now = Instant::now();
        self.open_since
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.is_some_and(|t| now.duration_since(t) >= HELD_AFTER))
            .count()
    }

    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
        self.closed.load(Ordering::Relaxed)
    }
}

async fn connect_from(from: IpAddr, to: SocketAddr) -> Option<TcpStream> {
    let sock = TcpSocket::new_v4().ok()?;
    sock.bind(SocketAddr::new(from, 0)).ok()?;
    tokio::time::timeout(Duration::from_secs(5), sock.connect(to))
        .await
        .ok()?
        .ok()
}

/// Plays the attacker on one connection until Shoal closes it (or the
/// attack stops).
async fn hold(s: &mut TcpStream, kind: Kind, ih: InfoHash, stop: &AtomicBool) {
    let hs = Handshake::new(ih, PeerId::generate()).encode();
    let mut sent = 0;
    if let Kind::Handshake = kind {
        if s.write_all(&hs).await.is_err() {
            return;
        }
        sent = hs.len();
    }
    let mut buf = vec![0u8; 4096];
    let mut drip = tokio::time::interval(Duration::from_secs(2));
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = drip.tick() => {
                if sent < hs.len() && s.write_all(&hs[sent..sent + 1]).await.is_err() {
                    return;
                }
                sent += 1;
            }
        }
    }
}

/// Samples `attack.held()` every 100 ms while `honest` runs; returns its
/// result and the peak.
async fn watch<T: Send + 'static>(
    attack: &Attack,
    honest: tokio::task::JoinHandle<T>,
) -> (T, usize) {
    let mut peak = 0;
    tokio::pin!(honest);
    loop {
        tokio::select! {
            r = &mut honest => return (r.expect("the honest peer's task"), peak),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                peak = peak.max(attack.held());
            }
        }
    }
}

// ---------- the scenarios ----------

/// Shoal seeds; the attack starts, then libtorrent downloads.
async fn against_a_seeder(kind: Kind, n: usize, from: [u8; 4]) -> Report {
    let f = fixture();
    let port = free_port();
    let mut cmd = shoal();
    cmd.arg("seed").arg(&f.torrent).arg(&f.content);
    net_args(&mut cmd, port);
    let target = Target::start(cmd, port, f.root.join("shoal.log"));
    let log_before = target.log_len();
    let attack = Attack::start(target.addr(), IpAddr::from(from), n, kind, f.info_hash).await;
    tokio::time::sleep(HEAD_START).await;
    let torrent = f.torrent.clone();
    let save = f.root.join("lt");
    let seeder = target.addr();
    let honest = tokio::task::spawn_blocking(move || {
        let mut lt = Libtorrent::start(
            torrent.to_str().unwrap(),
            &save,
            LtOptions {
                peers: vec![seeder],
                ..Default::default()
            },
        );
        lt.wait_done(LIMIT);
    });
    let ((), held) = watch(&attack, honest).await;
    let closed = attack.stop().await;
    assert!(
        common::data::same_tree(&f.content, &f.root.join("lt")),
        "libtorrent's copy differs"
    );
    report(&target, log_before, held, closed, target.peak_rss_kib())
}

/// libtorrent seeds, slowly; Shoal downloads from it, and the attack
/// starts once Shoal listens.
async fn against_a_downloader(kind: Kind, n: usize, from: [u8; 4]) -> Report {
    let f = fixture();
    let lt = Libtorrent::seeding(&f.torrent, &f.content, Some(SLOW_SEED)).await;
    let port = free_port();
    let out = f.root.join("out");
    let mut cmd = shoal();
    cmd.arg("download").arg(&f.torrent).arg("-o").arg(&out);
    net_args(&mut cmd, port);
    cmd.args(["--peer", &lt.addr().to_string()]);
    let mut target = Target::start(cmd, port, f.root.join("shoal.log"));
    let log_before = target.log_len();
    let attack = Attack::start(target.addr(), IpAddr::from(from), n, kind, f.info_hash).await;
    let pid = target.proc.pid();
    // The download exits on completion: wait for it, sampling its peak
    // memory while it runs (the kernel forgets it once reaped).
    let peak = Arc::new(AtomicUsize::new(0));
    let (peak2, target_log) = (peak.clone(), target.log.clone());
    let done = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                if let Some(kib) = s
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
                {
                    peak2.fetch_max(kib, Ordering::Relaxed);
                }
            }
            if Instant::now() > deadline {
                return false;
            }
            // Reaped by the test below once it exits: stop when the status
            // shows a zombie or is gone.
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Ok(st) if !st.contains(") Z ") => {}
                _ => return true,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let (exited, held) = watch(&attack, done).await;
    let closed = attack.stop().await;
    let status = target.proc.try_status();
    assert!(
        exited && status.is_some_and(|s| s.success()),
        "the download did not complete: {status:?}\n{}",
        std::fs::read_to_string(&target_log).unwrap_or_default()
    );
    drop(lt);
    assert!(
        common::data::same_tree(&f.content, &out),
        "Shoal's copy differs"
    );
    report(
        &target,
        log_before,
        held,
        closed,
        peak.load(Ordering::Relaxed) as u64,
    )
}

#[derive(Debug)]
struct Report {
    /// Attacking connections Shoal held at once, at the peak.
    held: usize,
    /// Attacking connections Shoal closed.
    closed: usize,
    peak_rss_kib: u64,
    /// Bytes Shoal logged during the attack.
    logged: u64,
}

fn report(
    target: &Target,
    log_before: u64,
    held: usize,
    closed: usize,
    peak_rss_kib: u64,
) -> Report {
    let r = Report {
        held,
        closed,
        peak_rss_kib,
        logged: target.log_len().saturating_sub(log_before),
    };
    eprintln!("{r:?}");
    assert!(
        r.logged <= LOG_BYTES,
        "{} bytes logged during the attack:\n{}",
        r.logged,
        target.log_text()
    );
    r
}

fn check_memory(r: &Report) {
    assert!(r.peak_rss_kib > 0, "no memory figure read");
    assert!(
        r.peak_rss_kib <= PEAK_RSS_KIB,
        "peak RSS {} KiB above {PEAK_RSS_KIB} KiB",
        r.peak_rss_kib
    );
}

// ---------- slowloris ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_handshakes_against_a_seeder() {
    let r = against_a_seeder(Kind::Slowloris, 100, [127, 0, 0, 77]).await;
    check_memory(&r);
    assert!(
        r.held <= DEFAULT_MAX_HANDSHAKES_PER_IP,
        "{} slow handshakes held at once",
        r.held
    );
    assert!(r.closed >= 100 - DEFAULT_MAX_HANDSHAKES_PER_IP);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_handshakes_against_a_downloader() {
    let r = against_a_downloader(Kind::Slowloris, 100, [127, 0, 0, 78]).await;
    check_memory(&r);
    assert!(
        r.held <= DEFAULT_MAX_HANDSHAKES_PER_IP,
        "{} slow handshakes held at once",
        r.held
    );
    assert!(r.closed >= 100 - DEFAULT_MAX_HANDSHAKES_PER_IP);
}

// ---------- 200 connections from one address ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_connections_from_one_address_against_a_seeder() {
    let r = against_a_seeder(Kind::Handshake, 200, [127, 0, 0, 88]).await;
    check_memory(&r);
    assert!(
        r.held <= DEFAULT_MAX_CONNECTIONS_PER_IP,
        "{} connections from one address held at once",
        r.held
    );
    assert!(r.closed >= 200 - DEFAULT_MAX_CONNECTIONS_PER_IP);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_connections_from_one_address_against_a_downloader() {
    let r = against_a_downloader(Kind::Handshake, 200, [127, 0, 0, 89]).await;
    check_memory(&r);
    assert!(
        r.held <= DEFAULT_MAX_CONNECTIONS_PER_IP,
        "{} connections from one address held at once",
        r.held
    );
    assert!(r.closed >= 200 - DEFAULT_MAX_CONNECTIONS_PER_IP);
}

// ---------- the limits on their own ----------

/// A seeding session of ours with `config`, and its torrent's info hash.
async fn seeder(dir: &Path, config: SessionConfig) -> (Session, InfoHash) {
    let content = dir.join("one.bin");
    common::data::write_file(&content, 64 * 1024, 3);
    let meta = common::data::torrent_of(&content, 16 * 1024);
    let s = Session::new(SessionConfig {
        listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..config
    })
    .await
    .unwrap();
    common::swarm::seeding(&s, &meta, dir).await;
    (s, meta.info_hash)
}

/// Dials from `from` and handshakes: `Some(stream)` if Shoal answered with
/// its handshake, `None` if it closed the connection instead.
async fn handshake_from(from: [u8; 4], to: SocketAddr, ih: InfoHash) -> Option<TcpStream> {
    let mut s = connect_from(IpAddr::from(from), to)
        .await
        .expect("TCP connect");
    s.write_all(&Handshake::new(ih, PeerId::generate()).encode())
        .await
        .ok()?;
    let mut theirs = [0u8; 68];
    tokio::time::timeout(Duration::from_secs(15), s.read_exact(&mut theirs))
        .await
        .expect("Shoal answers or closes")
        .ok()?;
    Some(s)
}

/// Whether Shoal has closed `s` (reading what it sent meanwhile).
async fn is_closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_and_session_limits_refuse() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, ih) = seeder(
        tmp.path(),
        SessionConfig {
            max_connections_per_ip: 2,
            max_session_connections: 4,
            ..Default::default()
        },
    )
    .await;
    let to = SocketAddr::from(([127, 0, 0, 1], s.listen_port()));
    let a1 = handshake_from([127, 0, 2, 1], to, ih).await;
    let a2 = handshake_from([127, 0, 2, 1], to, ih).await;
    assert!(
        a1.is_some() && a2.is_some(),
        "two from one address are served"
    );
    assert!(
        handshake_from([127, 0, 2, 1], to, ih).await.is_none(),
        "a third from the same address is refused"
    );
    let b = handshake_from([127, 0, 2, 2], to, ih).await;
    let c = handshake_from([127, 0, 2, 3], to, ih).await;
    assert!(b.is_some() && c.is_some(), "other addresses are served");
    assert!(
        handshake_from([127, 0, 2, 4], to, ih).await.is_none(),
        "a fifth connection is over the session's limit"
    );
    // A place freed is a place taken.
    drop(c);
    let again = wait_for_async("a freed place", || handshake_from([127, 0, 2, 4], to, ih)).await;
    drop((a1, a2, b, again));
    s.shutdown().await;
}

async fn wait_for_async<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Two idle peers (they want nothing from a seed, it nothing from them)
/// fill the limit; once they have been useless for the timeout, a newcomer
/// takes the place of one of them.
async fn useless_peer_gives_its_place(config: SessionConfig) {
    let tmp = tempfile::tempdir().unwrap();
    let (s, ih) = seeder(
        tmp.path(),
        SessionConfig {
            useless_peer_timeout: Duration::from_secs(1),
            ..config
        },
    )
    .await;
    let to = SocketAddr::from(([127, 0, 0, 1], s.listen_port()));
    let mut idle = vec![
        handshake_from([127, 0, 3, 1], to, ih)
            .await
            .expect("served"),
        handshake_from([127, 0, 3, 2], to, ih)
            .await
            .expect("served"),
    ];
    let mut newcomer = wait_for_async("the newcomer to be served", || {
        handshake_from([127, 0, 3, 3], to, ih)
    })
    .await;
    let mut closed = 0;
    for c in &mut idle {
        if is_closed(c).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 1, "one useless peer made room");
    assert!(!is_closed(&mut newcomer).await, "the newcomer stays");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_useless_peer_gives_its_place_when_the_session_is_full() {
    useless_peer_gives_its_place(SessionConfig {
        max_session_connections: 2,
        ..Default::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_useless_peer_gives_its_place_when_the_torrent_is_full() {
    useless_peer_gives_its_place(SessionConfig {
        max_connections: 2,
        ..Default::default()
    })
    .await;
}

/// A peer that connects and never completes its handshake is closed by
/// the handshake timeout (10 s for the whole handshake, however slowly its
/// bytes come), and its place is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_completes_is_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, ih) = seeder(
        tmp.path(),
        SessionConfig {
            max_handshakes_per_ip: 1,
            ..Default::default()
        },
    )
    .await;
    let to = SocketAddr::from(([127, 0, 0, 1], s.listen_port()));
    let mut slow = connect_from(IpAddr::from([127, 0, 4, 1]), to)
        .await
        .expect("TCP connect");
    let hs = Handshake::new(ih, PeerId::generate()).encode();
    // The first bytes of a handshake, then a byte every two seconds: the
    // whole would take over two minutes.
    slow.write_all(&hs[..8]).await.unwrap();
    let closed = tokio::time::timeout(LIMIT, async {
        for b in &hs[8..] {
            if is_closed(&mut slow).await {
                return true;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            if slow.write_all(std::slice::from_ref(b)).await.is_err() {
                return true;
            }
        }
        false
    })
    .await
    .expect("closed or complete in time");
    assert!(closed, "the slow handshake was never closed");
    // Its place is free again: a prompt peer from that address is served.
    assert!(handshake_from([127, 0, 4, 1], to, ih).await.is_some());
    s.shutdown().await;
}
