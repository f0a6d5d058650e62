//! `make bench`: torrent creation speed, side by side with mktorrent and
//! transmission-create in one run, against the machine's SHA-1 speed.
//!
//! Data sets (generated in a temporary folder, page cache warmed before
//! timing): 4 files of 512 MiB (2 GiB), and 10,000 small files of about
//! 20 KiB (about 200 MiB) in 100 folders. Each tool runs `BENCH_RUNS` times
//! (default 5, alternating between tools) and its best time counts. All tools use the same piece size.
//! Set `BENCH_DIR` to put the data somewhere other than the system temp dir.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`;
    // the benchmark runs only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark skipped: run it with `make bench` (cargo bench --bench create)");
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let base = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("shoal-bench-")
        .tempdir_in(base)
        .expect("temp dir");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let sha = sha1_speed();
    println!(
        "machine: {cores} cores, load average {}; single-core SHA-1 (sha1 crate, per CPU second): {:.0} MB/s; limit with {cores} cores: {:.0} MB/s",
        load.split_whitespace().next().unwrap_or("?"),
        sha / 1e6,
        cores as f64 * sha / 1e6
    );
    println!("\"% of limit\" = MB/s over {cores}x the single-core SHA-1 speed; \"CPU eff.\" = the share of the tool's CPU time (user+sys) that SHA-1 alone needs");
    println!();

    let big = tmp.path().join("big");
    make_big(&big);
    let small = tmp.path().join("small");
    make_small(&small);

    println!(
        "{:<28} {:<20} {:>7} {:>7} {:>8} {:>11} {:>9} {:>9}",
        "data set", "tool", "best s", "CPU s", "MB/s", "% of limit", "CPU eff.", "shoal is"
    );
    for (label, dir, piece_log2) in [
        ("2 GiB, 4 files", &big, 21u32),
        ("10,000 small files, 200 MiB", &small, 17u32),
    ] {
        let bytes = dir_bytes(dir);
        warm(dir);
        let out = tmp.path().join("out.torrent");
        let out_shoal = tmp.path().join("shoal.torrent");
        let out_mk = tmp.path().join("mktorrent.torrent");
        let piece = 1u64 << piece_log2;
        let shoal_bin = env!("CARGO_BIN_EXE_shoal");
        let tools: Vec<(&str, Command)> = vec![
            ("shoal create", {
                let mut c = Command::new(shoal_bin);
                c.arg("create")
                    .arg(dir)
                    .arg("-o")
                    .arg(&out_shoal)
                    .arg("--piece-size")
                    .arg(piece.to_string());
                c
            }),
            ("mktorrent -t 2", {
                let mut c = Command::new("mktorrent");
                c.args(["-t", "2", "-l", &piece_log2.to_string(), "-o"])
                    .arg(&out_mk)
                    .arg(dir);
                c
            }),
            ("transmission-create", {
                let mut c = Command::new("transmission-create");
                c.args(["-s", &(piece / 1024).to_string(), "-o"])
                    .arg(&out)
                    .arg(dir);
                c
            }),
        ];
        // Runs alternate between the tools so that each sees the same
        // background load; the best run of each counts.
        let mut tools = tools;
        let mut results: Vec<(&str, Duration, f64)> = tools
            .iter()
            .map(|(n, _)| (*n, Duration::MAX, f64::MAX))
            .collect();
        for _ in 0..runs {
            for (i, (name, cmd)) in tools.iter_mut().enumerate() {
                let _ = std::fs::remove_file([&out_shoal, &out_mk, &out][i.min(2)]);
                let cpu0 = children_cpu();
                let start = Instant::now();
                let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
                let t = start.elapsed();
                match status {
                    Ok(s) if s.success() => {}
                    other => panic!("{name} failed: {other:?}"),
                }
                results[i].1 = results[i].1.min(t);
                results[i].2 = results[i].2.min(children_cpu() - cpu0);
            }
        }
        // Both put the same keys in the info dictionary and order files
        // alike, so equal hashes show the pieces were hashed right.
        let hash = |p: &Path| {
            shoal::Metainfo::from_bytes(&std::fs::read(p).expect("torrent written"))
                .expect("valid torrent")
                .info_hash
        };
        let same = hash(&out_shoal) == hash(&out_mk);
        println!(
            "{label}: info hash {} mktorrent's",
            if same { "equals" } else { "DIFFERS FROM" }
        );
        let shoal_t = results[0].1.as_secs_f64();
        for (name, t, cpu) in &results {
            let secs = t.as_secs_f64();
            let mbs = bytes as f64 / secs / 1e6;
            let pct = 100.0 * (bytes as f64 / secs) / (cores as f64 * sha);
            let eff = 100.0 * (bytes as f64 / sha) / cpu;
            let ratio = if *name == "shoal create" {
                String::from("-")
            } else {
                format!("{:.2}x", secs / shoal_t)
            };
            println!(
                "{label:<28} {name:<20} {secs:>7.3} {cpu:>7.3} {mbs:>8.0} {pct:>10.1}% {eff:>8.1}% {ratio:>9}"
            );
        }
    }
    println!();
    println!(
        "(\"shoal is\" = the tool's best time / shoal's best time: above 1.00x shoal is faster)"
    );
    println!(
        "load average at the end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

/// Best of several runs hashing a 64 MiB buffer on one core, in bytes per
/// second of this thread's CPU time (so other load on the machine does not
/// lower the limit).
fn sha1_speed() -> f64 {
    let buf = fill(64 << 20, 42);
    let mut best = f64::MAX;
    for _ in 0..7 {
        let start = thread_cpu();
        let mut h = Sha1::new();
        for c in buf.chunks(1 << 20) {
            h.update(c);
        }
        std::hint::black_box(h.finalize());
        best = best.min(thread_cpu() - start);
    }
    buf.len() as f64 / best
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// User plus system CPU time of all waited-for children, in seconds.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes one rusage we own.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut r) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

/// Pseudo-random bytes (incompressible enough, fast to make).
fn fill(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn make_big(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let chunk = fill(8 << 20, 7);
    for i in 0..4 {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join(format!("file{i}.bin"))).unwrap(),
        );
        for j in 0..64u64 {
            // Vary each 8 MiB block a little so pieces differ.
            let mut block = chunk.clone();
            block[..8].copy_from_slice(&(i as u64 * 1000 + j).to_le_bytes());
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
}

fn make_small(dir: &Path) {
    let data = fill(64 << 10, 11);
    let mut x: u64 = 12345;
    for i in 0..10_000u64 {
        let sub = dir.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&sub).unwrap();
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 10 * 1024 + (x % (20 * 1024)) as usize + (i as usize % 7);
        let off = (x >> 32) as usize % (data.len() - len);
        std::fs::write(sub.join(format!("f{i:05}.dat")), &data[off..off + len]).unwrap();
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    total
}

/// Reads every file so the page cache holds the data set.
fn warm(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            warm(&e.path());
        } else {
            std::hint::black_box(std::fs::read(e.path()).unwrap());
        }
    }
}
