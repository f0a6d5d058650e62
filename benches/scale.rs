//! Scale benchmark (`make bench`, or `cargo bench --bench scale`): one
//! process, many torrents, on loopback with the DHT off.
//!
//! 1. Idle: 1,000 single-file torrents (64 KiB to 1 MiB each) seeding in
//!    one `Session` with no peers. Time to add them and until every one
//!    seeds (their data checked), memory per torrent (resident memory
//!    after, less before, over the count), CPU and thread wake-ups over
//!    60 idle seconds (goal: under 1% of one core).
//! 2. Restart: the session shut down and started again on its state
//!    folder; time until every torrent seeds again.
//! 3. Connections: three leecher processes (sessions of ours) download 100
//!    of the torrents each from the restarted session: 300 connections.
//!    Held open at a trickle first (memory and CPU of the seeder with 300
//!    connections), then at full speed until every copy is complete. The
//!    trickle is the leechers' own download limit: the seeder still fills
//!    each loopback socket's buffers, so the full-speed step moves only
//!    what is left.
//! 4. libtorrent: the same 1,000 torrents in one python-libtorrent session
//!    (bench/lt_many.py), measured like step 1, from outside its process.
//!
//! Counts and times can be changed with `SCALE_TORRENTS`, `SCALE_IDLE_SECS`,
//! `SCALE_LEECHERS` and `SCALE_LEECH_TORRENTS`. Not a test: it asserts
//! nothing about times. Under `cargo test` it does nothing.

#[path = "scale/leecher.rs"]
mod leecher;
#[path = "scale/procstat.rs"]
mod procstat;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use procstat::{cpu_percent, me, sample, switches_per_sec, ChildGuard, Sample};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentState};
use shoal::Metainfo;

/// Longest any step may take before the bench gives up.
const STEP_LIMIT: Duration = Duration::from_secs(600);
/// Session download limit of each leecher while the connections are held.
const HOLD_LIMIT: u64 = 16 * 1024;
/// How long the 300 connections are watched while held.
const HOLD_WINDOW: Duration = Duration::from_secs(10);

fn main() {
    if std::env::var_os("SHOAL_SCALE_LEECHER").is_some() {
        leecher::run();
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The .torrent files of `dir`, by name.
fn torrent_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("torrent folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "torrent"))
        .collect();
    v.sort();
    v
}

/// Writes `n` files of 64 KiB to 1 MiB into `content` and a .torrent of
/// each into `torrents`.
fn make_torrents(n: usize, content: &Path, torrents: &Path) -> (Vec<Metainfo>, u64) {
    std::fs::create_dir_all(content).expect("content folder");
    std::fs::create_dir_all(torrents).expect("torrent folder");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let opts = CreateOptions {
        creation_date: Some(0),
        ..Default::default()
    };
    let mut metas = Vec::with_capacity(n);
    let mut total = 0;
    for i in 0..n {
        let len = 64 * 1024 + (next() % (960 * 1024)) as usize;
        let mut data = Vec::with_capacity(len + 8);
        while data.len() < len {
            data.extend_from_slice(&next().to_le_bytes());
        }
        data.truncate(len);
        let path = content.join(format!("f{i:04}.bin"));
        std::fs::write(&path, &data).expect("write content");
        let meta = create_torrent(&path, &opts, |_, _| {}).expect("create torrent");
        std::fs::write(torrents.join(format!("t{i:04}.torrent")), meta.to_bytes())
            .expect("write .torrent");
        total += len as u64;
        metas.push(meta);
    }
    (metas, total)
}

fn config(state: &Path) -> SessionConfig {
    SessionConfig {
        listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        state_dir: Some(state.to_path_buf()),
        // The leechers stand for hundreds of hosts but all dial from
        // 127.0.0.1: no session or per-address cap in their way.
        max_session_connections: 100_000,
        max_connections_per_ip: 100_000,
        max_handshakes_per_ip: 100_000,
        ..Default::default()
    }
}

/// Waits until every torrent seeds; returns how many do.
async fn wait_all_seeding(handles: &[TorrentHandle]) -> usize {
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        let n = handles
            .iter()
            .filter(|h| h.stats().state == TorrentState::Seeding)
            .count();
        if n == handles.len() || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Times the tokio workers parked (went to sleep) so far: each is a wake-up
/// of the runtime.
fn parks() -> u64 {
    let m = tokio::runtime::Handle::current().metrics();
    (0..m.num_workers()).map(|w| m.worker_park_count(w)).sum()
}

/// One row of the printed table.
struct Row {
    what: String,
    shoal: String,
    libtorrent: String,
}

fn row(what: &str, shoal: String, libtorrent: String) -> Row {
    Row {
        what: what.to_string(),
        shoal,
        libtorrent,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Idle figures between two samples: CPU %, wake-ups per second.
fn idle(a: &Sample, b: &Sample) -> (String, String) {
    (
        format!("{:.2} %", cpu_percent(a, b)),
        format!("{:.0}", switches_per_sec(a, b)),
    )
}

async fn run() {
    let n = env_num("SCALE_TORRENTS", 1000);
    let idle_secs = env_num("SCALE_IDLE_SECS", 60) as u64;
    let leechers = env_num("SCALE_LEECHERS", 3);
    let leech_torrents = env_num("SCALE_LEECH_TORRENTS", 100).min(n);
    let tmp = tempfile::tempdir().expect("temp dir");
    let content = tmp.path().join("content");
    let torrents = tmp.path().join("torrents");
    let state = tmp.path().join("state");

    eprintln!("scale: writing {n} files and torrents");
    let (metas, total) = make_torrents(n, &content, &torrents);
    eprintln!("scale: {} MiB of content", total >> 20);
    let mut rows = Vec::new();

    // 1. Idle.
    let session = Session::new(config(&state)).await.expect("session");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = me();
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for m in &metas {
        handles.push(
            session
                .add_torrent(AddTorrent::new(m.clone(), &content))
                .expect("add"),
        );
    }
    let add_time = t0.elapsed();
    let seeding = wait_all_seeding(&handles).await;
    let seed_time = t0.elapsed();
    eprintln!("scale: {seeding}/{n} seeding after {seed_time:?}; idle {idle_secs} s");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_a = me();
    let parks_a = parks();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let idle_b = me();
    let parks_b = parks();
    let per_torrent = (idle_a.rss_kib.saturating_sub(before.rss_kib)) as f64 / n as f64;
    let (cpu, wakes) = idle(&idle_a, &idle_b);
    rows.push(row(
        &format!("add {n} torrents (calls)"),
        ms(add_time),
        "-".into(),
    ));
    rows.push(row(
        &format!("add until {n} seed (data checked)"),
        format!("{} ({seeding} seed)", ms(seed_time)),
        String::new(),
    ));
    rows.push(row(
        "memory per torrent (RSS delta / n)",
        format!("{per_torrent:.1} KiB"),
        String::new(),
    ));
    rows.push(row(
        "RSS with every torrent seeding",
        format!("{} MiB", idle_a.rss_kib >> 10),
        String::new(),
    ));
    rows.push(row("threads", idle_a.threads.to_string(), String::new()));
    rows.push(row(
        &format!("idle CPU over {idle_secs} s (one core)"),
        cpu,
        String::new(),
    ));
    rows.push(row("idle thread wake-ups per second", wakes, String::new()));
    rows.push(row(
        "idle tokio worker wake-ups per second",
        format!(
            "{:.0}",
            (parks_b - parks_a) as f64 / idle_b.at.duration_since(idle_a.at).as_secs_f64()
        ),
        "-".into(),
    ));

    // 2. Restart on the state folder.
    let t0 = Instant::now();
    session.shutdown().await;
    let shutdown_time = t0.elapsed();
    drop(handles);
    drop(session);
    let cpu_a = me();
    let t0 = Instant::now();
    let session = Session::new(config(&state)).await.expect("session");
    let new_time = t0.elapsed();
    let handles = session.torrents();
    let seeding = wait_all_seeding(&handles).await;
    let restart_time = t0.elapsed();
    let cpu_b = me();
    rows.push(row(
        "shutdown (final resume records)",
        ms(shutdown_time),
        "-".into(),
    ));
    rows.push(row(
        &format!("restart: Session::new with {} records", handles.len()),
        ms(new_time),
        "-".into(),
    ));
    rows.push(row(
        "restart until every torrent seeds",
        format!(
            "{} ({seeding} seed, {:.2} CPU-s)",
            ms(restart_time),
            cpu_b.cpu.saturating_sub(cpu_a.cpu).as_secs_f64()
        ),
        "-".into(),
    ));

    // 3. Connections from leecher processes.
    if leechers > 0 {
        connections(
            &session,
            &torrents,
            tmp.path(),
            leechers,
            leech_torrents,
            &mut rows,
        )
        .await;
    }
    session.shutdown().await;
    drop(session);

    // 4. libtorrent, the same torrents and data.
    libtorrent(&torrents, &content, idle_secs, n, &mut rows[..]);

    println!();
    println!(
        "Scale: {n} torrents ({} MiB), one process, loopback, DHT off",
        total >> 20
    );
    println!("{:<46} {:>28} {:>22}", "", "Shoal", "libtorrent 2.0");
    for r in &rows {
        println!("{:<46} {:>28} {:>22}", r.what, r.shoal, r.libtorrent);
    }
}

/// Reads a child's output lines on a thread; they arrive on the channel.
fn lines_of(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line starting with `prefix` (other lines are skipped).
fn expect_line(rx: &mpsc::Receiver<String>, prefix: &str) -> Option<String> {
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        if line.starts_with(prefix) {
            return Some(line);
        }
        if line.starts_with("failed") || line.starts_with("timeout") || line.contains("error") {
            eprintln!("scale: child said {line}");
            return None;
        }
    }
}

fn peers_of(handles: &[TorrentHandle]) -> usize {
    handles.iter().map(|h| h.stats().peers).sum()
}

async fn connections(
    session: &Session,
    torrents: &Path,
    tmp: &Path,
    leechers: usize,
    count: usize,
    rows: &mut Vec<Row>,
) {
    let handles = session.torrents();
    let want = leechers * count;
    let before = me();
    let exe = std::env::current_exe().expect("own executable");
    let mut children = Vec::new();
    let mut outputs = Vec::new();
    let t0 = Instant::now();
    for i in 0..leechers {
        let args = leecher::LeecherArgs {
            seeder: SocketAddr::from(([127, 0, 0, 1], session.listen_port())),
            torrents: torrents.to_path_buf(),
            count,
            save: tmp.join(format!("leech{i}")),
            hold_limit: HOLD_LIMIT,
        };
        let mut cmd = Command::new(&exe);
        args.to_command(&mut cmd);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a leecher");
        outputs.push(lines_of(child.stdout.take().expect("stdout")));
        children.push(ChildGuard(child));
    }
    for rx in &outputs {
        expect_line(rx, "added");
    }
    // Until every connection is up (or the step's limit).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak = 0;
    while Instant::now() < deadline {
        peak = peak.max(peers_of(&handles));
        if peak >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_time = t0.elapsed();
    let held_a = me();
    tokio::time::sleep(HOLD_WINDOW).await;
    let held_b = me();
    let held_peers = peers_of(&handles);
    rows.push(row(
        &format!("{want} connections over {count} torrents"),
        format!("{peak} up in {}", ms(connect_time)),
        "-".into(),
    ));
    rows.push(row(
        "  held (trickle): RSS delta per connection",
        format!(
            "{:.1} KiB",
            held_b.rss_kib.saturating_sub(before.rss_kib) as f64 / held_peers.max(1) as f64
        ),
        "-".into(),
    ));
    rows.push(row(
        "  held (trickle): CPU, wake-ups/s",
        format!(
            "{:.2} %, {:.0} ({held_peers} open)",
            cpu_percent(&held_a, &held_b),
            switches_per_sec(&held_a, &held_b)
        ),
        "-".into(),
    ));
    // Full speed.
    let go_a = me();
    let sent_before: u64 = handles.iter().map(|h| h.stats().uploaded).sum();
    let t0 = Instant::now();
    for c in &mut children {
        if let Some(stdin) = c.0.stdin.as_mut() {
            let _ = writeln!(stdin, "go");
        }
    }
    let mut done = 0;
    for rx in &outputs {
        if expect_line(rx, "complete").is_some() {
            done += 1;
        }
    }
    let full_time = t0.elapsed();
    let go_b = me();
    // Stats are published every second: let the last figures in.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bytes = handles.iter().map(|h| h.stats().uploaded).sum::<u64>() - sent_before;
    rows.push(row(
        "  full speed: until every copy is complete",
        format!("{} ({done}/{leechers} leechers)", ms(full_time)),
        "-".into(),
    ));
    rows.push(row(
        "  full speed: seeder CPU, MB sent",
        format!(
            "{:.0} %, {:.0} MB",
            cpu_percent(&go_a, &go_b),
            bytes as f64 / 1e6
        ),
        "-".into(),
    ));
    for c in &mut children {
        drop(c.0.stdin.take());
    }
    for mut c in children {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && matches!(c.0.try_wait(), Ok(None)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn libtorrent(torrents: &Path, content: &Path, idle_secs: u64, n: usize, rows: &mut [Row]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/lt_many.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(torrents)
        .arg(content)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start bench/lt_many.py (python3-libtorrent)");
    let pid = child.id();
    let rx = lines_of(child.stdout.take().expect("stdout"));
    let mut guard = ChildGuard(child);
    if expect_line(&rx, "{\"session\"").is_none() {
        return;
    }
    std::thread::sleep(Duration::from_secs(1));
    let before = sample(pid);
    if let Some(stdin) = guard.0.stdin.as_mut() {
        let _ = writeln!(stdin, "add");
    }
    let added = expect_line(&rx, "{\"added\"");
    let seeded = expect_line(&rx, "{\"seeding\"");
    let num = |line: &Option<String>, key: &str| -> Option<f64> {
        let l = line.as_deref()?;
        let at = l.find(&format!("\"{key}\": "))? + key.len() + 4;
        l[at..]
            .trim_end_matches('}')
            .split(',')
            .next()?
            .trim()
            .parse()
            .ok()
    };
    eprintln!("scale: libtorrent seeding; idle {idle_secs} s");
    std::thread::sleep(Duration::from_secs(5));
    let a = sample(pid);
    std::thread::sleep(Duration::from_secs(idle_secs));
    let b = sample(pid);
    drop(guard);
    let (cpu, wakes) = idle(&a, &b);
    let per_torrent = a.rss_kib.saturating_sub(before.rss_kib) as f64 / n as f64;
    let ms_of = |v: Option<f64>| v.map_or("failed".into(), |v| format!("{v:.0} ms"));
    for r in rows.iter_mut() {
        let value = match r.what.as_str() {
            w if w.starts_with("add until") => ms_of(num(&seeded, "seeding_ms")),
            w if w.starts_with("add ") => {
                format!("{} (alerts)", ms_of(num(&added, "add_ms")))
            }
            "memory per torrent (RSS delta / n)" => format!("{per_torrent:.1} KiB"),
            "RSS with every torrent seeding" => format!("{} MiB", a.rss_kib >> 10),
            "threads" => a.threads.to_string(),
            w if w.starts_with("idle CPU") => cpu.clone(),
            "idle thread wake-ups per second" => wakes.clone(),
            _ => continue,
        };
        r.libtorrent = value;
    }
}
