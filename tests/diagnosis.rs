//! "Why is it slow?" made to happen for real: each test builds the
//! situation with real peers on 127.0.0.1 (our own sessions, libtorrent,
//! opentracker) and checks the cause the engine names, and the numbers in
//! its evidence. Every wait is bounded; the situation is asserted, never a
//! duration.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::data;
use common::opentracker::Opentracker;
use common::procs::{free_port, Proc};
use common::swarm::{config, local, seeding};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::{Session, SessionConfig};
use shoal::torrent::diagnosis::{Cause, Diagnosis};
use shoal::torrent::{AddTorrent, TorrentHandle};
use shoal::Metainfo;

/// The longest any situation may take to show.
const LIMIT: Duration = Duration::from_secs(60);
const KIB: u64 = 1024;

/// A torrent of `files` (name, size) in a folder `dir/src/content`, with
/// 64 KiB pieces; returns the parent to seed from and the metainfo.
fn content(dir: &Path, files: &[(&str, usize)]) -> (PathBuf, Metainfo) {
    let src = dir.join("src");
    let root = src.join("content");
    for (i, (name, len)) in files.iter().enumerate() {
        data::write_file(&root.join(name), *len, i as u64 + 1);
    }
    let opts = CreateOptions {
        piece_length: Some(64 * KIB),
        ..Default::default()
    };
    let meta = create_torrent(&root, &opts, |_, _| {}).expect("create the torrent");
    (src, meta)
}

/// Waits until the torrent's diagnosis names `cause`; panics with the last
/// diagnosis after `LIMIT`.
async fn wait_cause(h: &TorrentHandle, cause: Cause) -> Diagnosis {
    let mut last = h.stats().diagnosis;
    let found = tokio::time::timeout(LIMIT, async {
        loop {
            let d = h.stats().diagnosis;
            if d.cause == cause {
                return d;
            }
            last = d;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    match found {
        Ok(d) => {
            println!("{d}");
            d
        }
        Err(_) => panic!("no {cause:?} within {LIMIT:?}; last: {last}"),
    }
}

/// A leecher session (DHT off, as in every test) downloading `meta` into
/// `dir` from `peers`, with the session's limits `(down, up)`.
async fn leecher(
    meta: &Metainfo,
    dir: &Path,
    peers: Vec<SocketAddr>,
    limits: (Option<u64>, Option<u64>),
) -> (Session, TorrentHandle) {
    let s = Session::new(SessionConfig {
        download_limit: limits.0,
        upload_limit: limits.1,
        ..config()
    })
    .await
    .expect("leecher session");
    let mut add = AddTorrent::new(meta.clone(), dir);
    add.peers = peers;
    let h = s.add_torrent(add).expect("add the torrent");
    (s, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_peers_names_the_failing_tracker_and_the_dht_off() {
    let tmp = tempfile::tempdir().unwrap();
    let (_src, mut meta) = content(tmp.path(), &[("a.bin", 256 * KIB as usize)]);
    // A real tracker that does not serve this torrent.
    let tracker = Opentracker::start(&[]);
    meta.announce = Some(tracker.http_url());
    let (s, h) = leecher(&meta, &tmp.path().join("leech"), vec![], (None, None)).await;

    let d = wait_cause(&h, Cause::NoPeers).await;
    // The tracker's error arrives with its answer.
    let d = if d.evidence.contains("failing") {
        d
    } else {
        tokio::time::timeout(LIMIT, async {
            loop {
                let d = h.stats().diagnosis;
                if d.evidence.contains("failing") {
                    return d;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the tracker's failure is never named: {d}"))
    };
    assert_eq!(d.cause, Cause::NoPeers, "{d}");
    assert!(
        d.evidence
            .contains(&format!("1 of 1 tracker failing ({}", tracker.http_url())),
        "{d}"
    );
    assert!(d.evidence.contains("The DHT is off."), "{d}");
    assert!(d.fix.contains("Turn on the DHT"), "{d}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_refuse_every_dial_are_unreachable() {
    let tmp = tempfile::tempdir().unwrap();
    let (_src, meta) = content(tmp.path(), &[("a.bin", 256 * KIB as usize)]);
    // Nothing listens on these ports.
    let dead = vec![local(free_port()), local(free_port())];
    let (s, h) = leecher(&meta, &tmp.path().join("leech"), dead, (None, None)).await;

    let d = wait_cause(&h, Cause::PeersUnreachable).await;
    assert!(d.evidence.starts_with("2 peers known; "), "{d}");
    assert!(d.evidence.contains("refused"), "{d}");
    assert!(d.evidence.contains("No peer has dialled us"), "{d}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_seed_leaves_the_missing_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    // Piece-aligned files: a.bin is pieces 0-3, b.bin pieces 4-7.
    let (src, meta) = content(
        tmp.path(),
        &[("a.bin", 256 * KIB as usize), ("b.bin", 256 * KIB as usize)],
    );
    // A peer of ours that has only a.bin.
    std::fs::remove_file(src.join("content/b.bin")).unwrap();
    let partial = Session::new(config()).await.unwrap();
    let ph = partial
        .add_torrent(AddTorrent::new(meta.clone(), &src))
        .unwrap();
    tokio::time::timeout(LIMIT, async {
        while ph.stats().pieces_have < 4 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the partial peer checks its data");

    let peers = vec![local(partial.listen_port())];
    let (s, h) = leecher(&meta, &tmp.path().join("leech"), peers, (None, None)).await;
    let d = wait_cause(&h, Cause::PiecesMissing).await;
    assert!(
        d.evidence
            .contains("None of the 1 connected peer has any of the 4 pieces we still need"),
        "{d}"
    );
    assert!(d.evidence.contains("(pieces 4-7)"), "{d}");
    assert!(d.evidence.contains("content/b.bin"), "{d}");
    assert!(!d.evidence.contains("a.bin"), "{d}");
    s.shutdown().await;
    partial.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_at_our_limit_blames_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, meta) = content(tmp.path(), &[("a.bin", 8 << 20)]);
    let seed = Session::new(config()).await.unwrap();
    seeding(&seed, &meta, &src).await;
    let peers = vec![local(seed.listen_port())];
    let limit = 128 * KIB;
    let (s, h) = leecher(&meta, &tmp.path().join("leech"), peers, (Some(limit), None)).await;

    let d = wait_cause(&h, Cause::DownloadLimit).await;
    assert!(
        d.evidence.contains("our download limit is 128.0 KiB/s"),
        "{d}"
    );
    s.shutdown().await;
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_seeder_is_simply_this_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, meta) = content(tmp.path(), &[("a.bin", 8 << 20)]);
    // The peer sends slowly; nothing on our side holds us back.
    let seed = Session::new(SessionConfig {
        upload_limit: Some(128 * KIB),
        ..config()
    })
    .await
    .unwrap();
    seeding(&seed, &meta, &src).await;
    let peers = vec![local(seed.listen_port())];
    let (s, h) = leecher(&meta, &tmp.path().join("leech"), peers, (None, None)).await;

    // Wait until bytes flow, so the answer is about a running transfer.
    tokio::time::timeout(LIMIT, async {
        while h.stats().download_rate == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the transfer starts");
    let d = wait_cause(&h, Cause::Fine).await;
    assert!(
        d.evidence.starts_with("1 of 1 connected peer send to us"),
        "{d}"
    );
    assert!(d.fix.is_empty(), "{d}");
    s.shutdown().await;
    seed.shutdown().await;
}

/// A peer that has every piece and never unchokes anyone (a client whose
/// upload slots all go to others): with no upload limit of ours the
/// answer is "choked"; with an upload limit of 1 KiB/s the limit is
/// blamed. The peer speaks the wire protocol from tests/common/hostile.rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_chokes_us_and_our_low_upload_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let (_src, meta) = content(tmp.path(), &[("a.bin", 512 * KIB as usize)]);
    let choker = Choker::start(meta.info_hash.0);

    let (s, h) = leecher(
        &meta,
        &tmp.path().join("a"),
        vec![choker.addr],
        (None, None),
    )
    .await;
    let d = wait_cause(&h, Cause::Choked).await;
    assert!(
        d.evidence
            .contains("All 1 connected peer with pieces we need choke us"),
        "{d}"
    );
    assert_eq!(h.stats().have_bytes, 0, "a choking peer sent nothing");
    s.shutdown().await;

    let (s, h) = leecher(
        &meta,
        &tmp.path().join("b"),
        vec![choker.addr],
        (None, Some(KIB)),
    )
    .await;
    let d = wait_cause(&h, Cause::UploadLimit).await;
    assert!(d.evidence.contains("our upload limit is 1.0 KiB/s"), "{d}");
    s.shutdown().await;
}

/// A listening peer that answers every connection with `have all` and
/// then only reads; stops on drop.
struct Choker {
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Choker {
    fn start(info_hash: [u8; 20]) -> Choker {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let flag = flag.clone();
                        std::thread::spawn(move || serve_choked(stream, info_hash, &flag));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Choker { addr, stop }
    }
}

impl Drop for Choker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn serve_choked(
    stream: std::net::TcpStream,
    info_hash: [u8; 20],
    stop: &std::sync::atomic::AtomicBool,
) {
    use common::hostile::{handshake, id, Attacker};
    use std::io::Read;
    let mut a = Attacker { stream };
    let _ = a.stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut theirs = [0u8; 68];
    if a.stream.read_exact(&mut theirs).is_err()
        || a.stream.write_all(&handshake(&info_hash)).is_err()
        || a.send(id::HAVE_ALL, &[]).is_err()
    {
        return;
    }
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        match a.read_msg() {
            Ok(_) => {}
            Err(e) if common::hostile::timed_out(&e) => {}
            Err(_) => return,
        }
    }
}

/// `shoal download` prints the diagnosis by itself once the download has
/// stood still for `--why-after` seconds, and again on a typed `w`.
#[test]
fn the_command_line_prints_why_on_a_stall_and_on_w() {
    let tmp = tempfile::tempdir().unwrap();
    let (_src, meta) = content(tmp.path(), &[("a.bin", 256 * KIB as usize)]);
    let torrent = tmp.path().join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    let dead = local(free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("download")
        .arg(&torrent)
        .arg("-o")
        .arg(tmp.path().join("leech"))
        .args(["--bind", "127.0.0.1", "--port", "0", "--no-dht"])
        .args(["--no-port-mapping", "--no-lsd", "--why-after", "2"])
        .args(["--peer", &dead.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut shoal = Proc::spawn("shoal download", &mut cmd);
    let mut stdin = shoal.stdin();
    let lines = read_lines(shoal.stdout());

    let first = wait_line(&lines, |l| l.starts_with("why: "));
    assert_eq!(
        first, "why: Peers known but none reachable [peers-unreachable]",
        "the stall report"
    );
    let evidence = wait_line(&lines, |_| true);
    assert!(evidence.contains("1 peer known;"), "{evidence}");
    let fix = wait_line(&lines, |_| true);
    assert!(fix.starts_with("  fix: "), "{fix}");

    // Once per stall: a second report only because we ask.
    writeln!(stdin, "w").unwrap();
    stdin.flush().unwrap();
    let again = wait_line(&lines, |l| l.starts_with("why: "));
    assert!(again.contains("[peers-unreachable]"), "{again}");
    shoal.stop();
}

/// Lines of a child's output, read on a thread.
fn read_lines(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line that `pred` accepts, within `LIMIT`.
fn wait_line(lines: &mpsc::Receiver<String>, pred: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if pred(&l) => return l,
            Ok(_) => {}
            Err(e) => panic!("no expected line within {LIMIT:?}: {e}"),
        }
    }
}

/// A disk slower than the peer: `shoal download` whose disk workers pause
/// 30 ms on each write (the `write` stall point) from a fast seeder of
/// ours. Asked with `w`, it blames the disk.
#[test]
fn a_slow_disk_is_the_bottleneck() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, meta) = content(tmp.path(), &[("a.bin", 64 << 20)]);
    let torrent = tmp.path().join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    let seed_port = free_port();
    let _seed = common::procs::shoal_seed(&torrent, &src, seed_port, &["--no-lsd"]);
    let mut cmd =
        common::procs::shoal_download(&torrent, &tmp.path().join("leech"), local(seed_port));
    cmd.args(["--no-lsd", "--why-after", "600"])
        .env("SHOAL_TEST_STALL", "write:30")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut shoal = Proc::spawn("shoal download", &mut cmd);
    let mut stdin = shoal.stdin();
    let lines = read_lines(shoal.stdout());

    // Ask every second until the answer is the disk (the first seconds
    // are connecting).
    let deadline = std::time::Instant::now() + LIMIT;
    let evidence = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the disk is never blamed"
        );
        writeln!(stdin, "w").unwrap();
        stdin.flush().unwrap();
        let title = wait_line(&lines, |l| l.starts_with("why: "));
        let evidence = wait_line(&lines, |_| true);
        if title.ends_with("[disk]") {
            break evidence;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    println!("{evidence}");
    assert!(evidence.contains("The disk write queue is"), "{evidence}");
    assert!(evidence.contains("% full"), "{evidence}");
    shoal.stop();
}

/// In the network lab: we sit behind a NAT router without a port forward
/// or port mapping, so no peer can dial us. One seeder is public and
/// accepts our dial; the other sits behind a NAT of its own, so neither of
/// us can reach the other. After a minute with no incoming connection and
/// a failed dial, the answer is "not connectable" (the public seeder's
/// link is capped so the download is still running then).
#[test]
fn behind_a_nat_we_are_not_connectable() {
    use common::lab::clients::{self, PORT};
    use common::lab::swarm::Payload;
    use common::lab::{Caps, Lab, MIB};

    let mut lab = Lab::new();
    let public = lab.host("pub", Caps::up(256 * KIB));
    let mut their_router = lab.router("r2", Caps::none());
    let hidden = lab.home_host(&mut their_router, "hid", Caps::up(256 * KIB));
    let mut our_router = lab.router("r1", Caps::none());
    let us = lab.home_host(&mut our_router, "us", Caps::none());
    let payload = Payload::new(&lab, "big.bin", 64 * MIB, 256 * KIB, &[], 9);
    lab.spawn(&public, "seed", clients::shoal_seed(&public, &payload, &[]));
    lab.spawn(&hidden, "seed", clients::shoal_seed(&hidden, &payload, &[]));
    lab.wait_listening(&public, PORT, LIMIT);

    let meta = payload.meta.clone();
    let save = us.dir.clone();
    let listen = SocketAddr::from((us.ip, PORT));
    let peers = vec![
        SocketAddr::from((public.ip, PORT)),
        // Where the hidden seeder's NAT is: nothing forwards it inward.
        SocketAddr::from((their_router.host.ip, PORT)),
    ];
    let d = lab.in_host(&us, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let s = Session::new(SessionConfig {
                listen_addr: listen,
                ..SessionConfig::default()
            })
            .await
            .expect("session in the lab");
            let mut add = AddTorrent::new(meta, &save);
            add.peers = peers;
            let h = s.add_torrent(add).expect("add");
            // A minute must pass before "nobody dialled us" is evidence.
            let limit =
                Duration::from_secs(shoal::torrent::diagnosis::CONNECTABLE_AFTER_SECS) + LIMIT;
            let d = tokio::time::timeout(limit, async {
                loop {
                    let d = h.stats().diagnosis;
                    if d.cause == Cause::NotConnectable || h.stats().complete {
                        return d;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
            .await;
            let last = h.stats();
            s.shutdown().await;
            d.unwrap_or_else(|_| panic!("never not connectable; last: {}", last.diagnosis))
        })
    });
    println!("{d}");
    assert_eq!(d.cause, Cause::NotConnectable, "{d}");
    assert!(d.evidence.contains("No peer has dialled us in "), "{d}");
    assert!(d.evidence.contains("(1 connected)"), "{d}");
    assert!(d.evidence.contains("Port mapping is off."), "{d}");
}
