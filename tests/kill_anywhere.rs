//! Crashes at any moment: `shoal download --state-dir` is killed with
//! SIGKILL at 20 points of one download, chosen by a seeded random number
//! generator (the seed is printed; `SHOAL_KILL_SEED=N` replays a run), and
//! restarted each time on the same state folder. Some points are taken
//! during the start check of the partly downloaded torrent, some while a
//! resume record is being written (the process pauses there through the
//! `SHOAL_TEST_STALL` hook, so the kill lands inside), two just after a
//! record whose pieces were taken while more arrived (the seeder paused
//! before the kill, so the record's file stamps still hold and it is
//! trusted on restart), the rest at random times of the transfer.
//!
//! After every kill the data on disk is hashed: no piece the record calls
//! verified may be bad (no corrupt piece accepted), and the restarted
//! process must find every good piece (no verified piece fetched again:
//! pieces found by the check are never requested). At the end the file is
//! byte-identical and no temporary file is left in the state or save
//! folder.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::data;
use common::procs::{self, Proc};
use common::swarm::{config, local, seeding};
use shoal::bitfield::Bitfield;
use shoal::resume::Resume;
use shoal::session::Session;
use shoal::Metainfo;

const KILLS: usize = 20;
/// Longest wait for any one line of the downloader's output.
const LINE_LIMIT: Duration = Duration::from_secs(30);

/// xorshift64*: small, seeded, good enough to pick kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A duration in `lo..hi` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// Where a run is killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Point {
    /// While the start check runs (paused before hashing).
    Check,
    /// While a resume record is written (paused before its rename).
    Record,
    /// At a random time of the transfer.
    Transfer,
    /// Right after a record whose verified pieces were taken while more
    /// pieces arrived, the transfer stopped meanwhile (the seeder paused),
    /// so the record's file stamps still hold when the process dies.
    AfterRecord,
}

/// A running `shoal download` and its stderr, line by line.
struct Run {
    proc: Proc,
    lines: mpsc::Receiver<String>,
}

impl Run {
    fn start(torrent: &Path, dl: &Path, state: &Path, seeder: u16, stall: Option<&str>) -> Run {
        let mut cmd = procs::shoal_download(torrent, dl, local(seeder));
        cmd.arg("--state-dir")
            .arg(state)
            .args(["--resume-interval", "0.3"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(s) = stall {
            cmd.env("SHOAL_TEST_STALL", s);
        }
        let mut proc = Proc::spawn("shoal download", &mut cmd);
        let (tx, lines) = mpsc::channel();
        let stderr = proc.stderr();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Run { proc, lines }
    }

    /// Waits for a line that `f` accepts; panics after `LINE_LIMIT` or
    /// if the output ends.
    fn expect<T>(&self, what: &str, mut f: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + LINE_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(v) = f(&line) {
                        return v;
                    }
                }
                Err(e) => panic!("no {what} from shoal download: {e:?}"),
            }
        }
    }
}

/// The verified count of a status line `LABEL: N of M pieces verified`
/// whose label is not `checking`.
fn checked_count(line: &str) -> Option<u32> {
    let (label, rest) = line.split_once(": ")?;
    if label == "checking" || !rest.ends_with("pieces verified") {
        return None;
    }
    rest.split(" of ").next()?.parse().ok()
}

fn read_record(state: &Path, meta: &Metainfo) -> Option<Resume> {
    let path = state.join(format!("torrents/{}.resume", meta.info_hash.to_hex()));
    Resume::from_bytes(&fs::read(&path).ok()?, &path).ok()
}

/// Temporary files anywhere under `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    data::list(dir)
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.ends_with(".tmp"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_20_points_no_corrupt_piece_and_no_verified_piece_fetched_again() {
    common::init_tracing();
    let seed = std::env::var("SHOAL_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("kill points from seed {seed} (SHOAL_KILL_SEED={seed} replays them)");
    let mut rng = Rng(seed | 1);

    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let file = src.join("big.bin");
    let size = 3 << 20;
    data::write_file(&file, size, 31);
    // One block per piece: a piece is on disk whole or not at all.
    let meta = data::torrent_of(&file, 16 * 1024);
    let n = meta.info.num_pieces();
    let torrent = tmp.path().join("big.torrent");
    fs::write(&torrent, meta.to_bytes()).unwrap();
    let state = tmp.path().join("state");
    let dl = tmp.path().join("dl");

    // A seeder sending 128 KiB/s: 24 s of transfer, so 20 kills fit in it.
    let seeder = Session::new(config()).await.unwrap();
    let seed_h = seeding(&seeder, &meta, &src).await;
    seed_h.set_rate_limits(None, Some(128 << 10));
    let port = seeder.listen_port();

    let points: Vec<Point> = (0..KILLS)
        .map(|k| match k % 4 {
            1 => Point::Check,
            3 => Point::Record,
            _ if k % 10 == 6 => Point::AfterRecord,
            _ => Point::Transfer,
        })
        .collect();
    let mut temp_left_by_kills = 0;
    let mut found_after: Vec<u32> = Vec::new();
    // Pieces good on disk after the last kill (`None` before the first).
    let mut good_before: Option<u32> = None;
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        for (k, point) in points.iter().enumerate() {
            let stall = match point {
                Point::Check => Some("check:1000"),
                Point::Record => Some("record:1000"),
                Point::AfterRecord => Some("flush:800"),
                Point::Transfer => None,
            };
            let mut run = Run::start(&torrent, &dl, &state, port, stall);
            if *point == Point::Check && good_before.is_some() {
                run.expect("pause in the check", |l| {
                    (l == "stall: check").then_some(())
                });
                std::thread::sleep(rng.millis(0, 500));
            } else {
                let found = run.expect("the check's verdict", checked_count);
                if let Some(good) = good_before {
                    assert_eq!(
                        found, good,
                        "kill {k}: the check found {found} pieces, {good} were on disk"
                    );
                }
                found_after.push(found);
                assert!(found < n, "kill {k}: the download ended before its kills");
                match point {
                    Point::Record => {
                        run.expect("pause in a record write", |l| {
                            (l == "stall: record").then_some(())
                        });
                        std::thread::sleep(rng.millis(0, 500));
                    }
                    Point::AfterRecord => {
                        run.expect("pause before a record's sync", |l| {
                            (l == "stall: flush").then_some(())
                        });
                        // Pieces arrive during the pause, then the transfer
                        // stops; the record is finished before the kill.
                        std::thread::sleep(Duration::from_millis(400));
                        rt.block_on(seed_h.pause());
                        std::thread::sleep(Duration::from_millis(1200));
                    }
                    _ => std::thread::sleep(rng.millis(200, 1500)),
                }
            }
            assert!(run.proc.running(), "kill {k}: shoal download ended early");
            run.proc.kill9();
            if *point == Point::AfterRecord {
                rt.block_on(seed_h.resume());
            }
            let left = temp_files(&state);
            if *point == Point::Record {
                assert!(!left.is_empty(), "kill {k} was not inside a record write");
                temp_left_by_kills += 1;
            }
            // What is on disk now, and what the record claims.
            let good = shoal::storage::verify(&meta.info, &dl, |_, _| {}).unwrap_or_default();
            let good_count = good.iter().filter(|g| **g).count() as u32;
            let mut note = "";
            if let Some(v) = read_record(&state, &meta).and_then(|r| r.verified) {
                let bits = Bitfield::from_bytes(&v.pieces, n).unwrap();
                for p in bits.iter_ones() {
                    assert!(
                        good[p.as_usize()],
                        "kill {k}: piece {} recorded, bad on disk",
                        p.0
                    );
                }
                if v.still_valid(&dl, &meta.info.files) {
                    note = " (the record's stamps hold: trusted on restart)";
                }
            }
            println!("kill {k:2} {point:?}: {good_count} of {n} pieces good on disk{note}");
            good_before = Some(good_count);
        }

        // The last run completes.
        let mut run = Run::start(&torrent, &dl, &state, port, None);
        let found = run.expect("the check's verdict", checked_count);
        assert_eq!(Some(found), good_before, "the last check lost pieces");
        let deadline = Instant::now() + Duration::from_secs(60);
        while run.proc.running() {
            assert!(Instant::now() < deadline, "the last run did not complete");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(run.proc.try_status().is_some_and(|s| s.success()));
    });
    assert!(data::same_content(&file, &dl.join("big.bin")));
    let r = read_record(&state, &meta).expect("final record");
    assert_eq!(r.verified.map(|v| v.count()), Some(n));
    let left: Vec<String> = temp_files(&state)
        .into_iter()
        .chain(temp_files(&dl))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // The seeder's final count, published as it stops.
    seeder.shutdown().await;
    let sent = seed_h.stats().uploaded;
    println!(
        "{KILLS} kills ({temp_left_by_kills} inside a record write); checks found {found_after:?}; \
         the seeder sent {sent} bytes for {size}"
    );
    // Bytes in flight at a kill are lost (a block per piece: nothing else).
    assert!(
        sent <= size as u64 + KILLS as u64 * 128 * 1024,
        "{sent} bytes sent for {size}"
    );
}
