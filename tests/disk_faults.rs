//! Disk faults: a disk that fills up mid-download, a save folder that is
//! read-only, a file deleted while seeding. Each stops the torrent with an
//! error that names the file; resuming it keeps every verified piece (no
//! check runs again) and the transfer goes on once the fault is gone.
//! The disks are small tmpfs mounts (`common::tmpfs`, root).

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::data;
use common::procs::{self, wait_for, Libtorrent, Proc};
use common::swarm::{complete, config, local, seeding};
use common::tmpfs::Tmpfs;
use shoal::bitfield::Bitfield;
use shoal::resume::Resume;
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentState};
use shoal::Metainfo;

const LIMIT: Duration = Duration::from_secs(60);

/// Polls `done` every 10 ms until it holds, at most `LIMIT`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(LIMIT, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// The torrent's error message, once it has one.
async fn error_of(h: &TorrentHandle) -> String {
    let mut msg = String::new();
    until("the torrent's error", || match h.stats().state {
        TorrentState::Error(e) => {
            msg = e;
            true
        }
        _ => false,
    })
    .await;
    msg
}

fn read_record(state: &Path, meta: &Metainfo) -> Option<Resume> {
    let path = state.join(format!("torrents/{}.resume", meta.info_hash.to_hex()));
    Resume::from_bytes(&fs::read(&path).ok()?, &path).ok()
}

/// The pieces a record calls verified.
fn recorded(r: &Resume, n: u32) -> Bitfield {
    let v = r.verified.as_ref().expect("verified pieces recorded");
    Bitfield::from_bytes(&v.pieces, n).expect("bitfield of the right size")
}

/// Asserts that every piece in `pieces` holds the right data under `dir`.
fn assert_intact(meta: &Metainfo, dir: &Path, pieces: &Bitfield) {
    let good = shoal::storage::verify(&meta.info, dir, |_, _| {}).expect("verify");
    for p in pieces.iter_ones() {
        assert!(good[p.as_usize()], "piece {} was recorded but is bad", p.0);
    }
}

/// Records, from a watch of the torrent's stats, the fewest verified
/// pieces seen and whether it ever went back to checking.
fn watch_after_error(h: &TorrentHandle) -> (Arc<Mutex<(u32, bool)>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new((u32::MAX, false)));
    let mut rx = h.subscribe();
    let s = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            {
                let st = rx.borrow_and_update();
                let mut g = s.lock().unwrap();
                g.0 = g.0.min(st.pieces_have);
                g.1 |= st.state == TorrentState::Checking;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
    (seen, task)
}

/// The disk fills up mid-download from a libtorrent seeder: `shoal
/// download` prints an error naming the file, its resume record keeps the
/// verified pieces, and once a filler file is deleted it resumes (no check
/// again) and completes with the right bytes. Fails without the retry of
/// an errored torrent: resuming it did nothing, only a restart helped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_download_and_resume_goes_on_once_space_is_freed() {
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let file = src.join("big.bin");
    data::write_file(&file, 6 << 20, 21);
    let piece_len: u64 = 64 * 1024;
    let meta = data::torrent_of(&file, piece_len);
    let n = meta.info.num_pieces();
    let torrent = tmp.path().join("big.torrent");
    fs::write(&torrent, meta.to_bytes()).unwrap();
    let state = tmp.path().join("state");

    // 8 MiB of disk, 4 MiB taken by a filler: the 6 MiB download stops
    // about halfway.
    let disk = Tmpfs::mount(&tmp.path().join("dl"), 8 << 20, false);
    let dl = disk.path().to_owned();
    let filler = dl.join("filler.bin");
    fs::write(&filler, vec![7u8; 4 << 20]).unwrap();

    let seeder = Libtorrent::seeding(&torrent, &src, Some(3 << 20)).await;
    let mut cmd = procs::shoal_download(&torrent, &dl, seeder.addr());
    cmd.arg("--state-dir")
        .arg(&state)
        .args(["--resume-interval", "0.2", "--retry-after", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut leecher = Proc::spawn("shoal download", &mut cmd);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stderr = leecher.stderr();
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });

    // The error, as the CLI prints it: what failed, on which file.
    let message = tokio::task::block_in_place(|| {
        wait_for("the disk-full error in the output", LIMIT, || {
            let l = lines.lock().unwrap();
            l.iter().find(|s| s.contains("trying again")).cloned()
        })
    });
    println!("{message}");
    assert!(message.contains("No space left on device"), "{message}");
    assert!(message.contains("big.bin"), "{message}");
    let at_error: u32 = tokio::task::block_in_place(|| {
        wait_for("the error's status line", LIMIT, || {
            let l = lines.lock().unwrap();
            l.iter().find_map(|s| {
                s.strip_prefix("error: ")?
                    .split(" of ")
                    .next()?
                    .parse()
                    .ok()
            })
        })
    });
    assert!(
        at_error > 0 && at_error < n,
        "stopped midway: {at_error} of {n}"
    );
    // The record keeps the verified pieces, and they are intact.
    let before = tokio::task::block_in_place(|| {
        wait_for(
            "a record of the pieces verified before the error",
            LIMIT,
            || {
                let r = read_record(&state, &meta)?;
                (recorded(&r, n).count_ones() >= at_error).then(|| recorded(&r, n))
            },
        )
    });
    assert_intact(&meta, &dl, &before);

    // Space freed: the retries go on and the download completes.
    fs::remove_file(&filler).unwrap();
    let status = tokio::task::block_in_place(|| {
        wait_for("the download to complete", LIMIT, || leecher.try_status())
    });
    let out = lines.lock().unwrap().clone();
    assert!(status.success(), "shoal download failed: {out:#?}");
    assert!(data::same_content(&file, &dl.join("big.bin")));
    // Resumed without a check, and never fewer pieces than before.
    let first_error = out.iter().position(|s| s.starts_with("error: ")).unwrap();
    for line in &out[first_error..] {
        assert!(!line.starts_with("checking:"), "checked again: {out:#?}");
        if let Some(c) = line
            .split_once(": ")
            .and_then(|(_, r)| r.split(" of ").next()?.parse::<u32>().ok())
        {
            assert!(c >= at_error, "verified pieces lost: {line} ({out:#?})");
        }
    }
    let after = recorded(&read_record(&state, &meta).expect("final record"), n);
    assert_eq!(after.count_ones(), n);
    for p in before.iter_ones() {
        assert!(after.get(p));
    }
    println!(
        "disk full at {at_error} of {n} pieces; {} recorded then; {} retries",
        before.count_ones(),
        out.iter().filter(|s| s.contains("trying again")).count()
    );
}

fn with_state(dir: &Path) -> SessionConfig {
    SessionConfig {
        state_dir: Some(dir.to_owned()),
        ..config()
    }
}

/// A save folder that turns read-only between two runs: the restarted
/// torrent stops with an error naming the file (through the engine's
/// stats, which the window shows), keeps its verified pieces, and once the
/// folder is writable again `resume` (the window's button) finishes the
/// download without checking again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_folder_stops_with_an_error_and_loses_nothing() {
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let file = src.join("big.bin");
    data::write_file(&file, 4 << 20, 22);
    let meta = data::torrent_of(&file, 64 * 1024);
    let n = meta.info.num_pieces();
    let state = tmp.path().join("state");
    let disk = Tmpfs::mount(&tmp.path().join("dl"), 16 << 20, false);
    let dl = disk.path().to_owned();

    let seeder = Session::new(config()).await.unwrap();
    let seed = seeding(&seeder, &meta, &src).await;
    seed.set_rate_limits(None, Some(2 << 20));

    // First run: part of the download, then a clean stop.
    let s = Session::new(with_state(&state)).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), &dl);
    add.peers = vec![local(seeder.listen_port())];
    let h = s.add_torrent(add).unwrap();
    until("a third of the pieces", || h.stats().pieces_have >= n / 3).await;
    s.shutdown().await;
    let had = recorded(&read_record(&state, &meta).expect("record"), n);
    assert!(had.count_ones() < n, "stopped midway");

    // Second run on a read-only folder.
    disk.remount(true);
    let s = Session::new(with_state(&state)).await.unwrap();
    let h = s.torrent(&meta.info_hash).expect("restored");
    h.add_peers(vec![local(seeder.listen_port())]).await;
    let msg = error_of(&h).await;
    println!("{msg}");
    assert!(msg.contains("Read-only file system"), "{msg}");
    assert!(msg.contains("big.bin"), "{msg}");
    let have = h.pieces().await;
    let have = Bitfield::from_bytes(&have.have, n).unwrap();
    for p in had.iter_ones() {
        assert!(have.get(p), "piece {} lost", p.0);
    }

    disk.remount(false);
    let (seen, watch) = watch_after_error(&h);
    h.resume().await;
    until("the retry", || {
        !matches!(h.stats().state, TorrentState::Error(_))
    })
    .await;
    complete(&h, LIMIT).await;
    watch.abort();
    let (fewest, checked) = *seen.lock().unwrap();
    assert!(!checked, "resume checked the data again");
    assert!(fewest >= had.count_ones(), "verified pieces lost: {fewest}");
    s.shutdown().await;
    assert!(data::same_content(&file, &dl.join("big.bin")));
    seeder.shutdown().await;
}

/// A file deleted under a seeding torrent: the torrent shows an error
/// naming it (before, the peer asking for it was only dropped and the
/// torrent went on "seeding" what it could not read); once the file is
/// back, resume serves it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_deleted_while_seeding_shows_an_error_and_resume_recovers() {
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("album");
    data::write_file(&content.join("one.bin"), 300_000, 23);
    data::write_file(&content.join("two.bin"), 500_000, 24);
    let meta = data::torrent_of(&content, 32 * 1024);
    let n = meta.info.num_pieces();

    let seeder = Session::new(config()).await.unwrap();
    let seed = seeding(&seeder, &meta, &src).await;
    // Gone before any peer asked for it (no handle open yet).
    let two = content.join("two.bin");
    let aside = tmp.path().join("two.bin.aside");
    fs::rename(&two, &aside).unwrap();

    let leecher = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), tmp.path().join("dl"));
    add.peers = vec![local(seeder.listen_port())];
    let h = leecher.add_torrent(add).unwrap();
    let msg = error_of(&seed).await;
    println!("{msg}");
    assert!(msg.contains("two.bin"), "{msg}");
    assert!(msg.contains("No such file"), "{msg}");
    until("the seeder's connections closed", || {
        seed.stats().peers == 0
    })
    .await;
    assert!(h.stats().pieces_have < n);

    // The file is back: resume, and the seeder serves all of it.
    fs::rename(&aside, &two).unwrap();
    seed.resume().await;
    until("seeding again", || {
        seed.stats().state == TorrentState::Seeding
    })
    .await;
    seed.add_peers(vec![local(leecher.listen_port())]).await;
    complete(&h, LIMIT).await;
    assert!(data::same_content(
        &two,
        &tmp.path().join("dl/album/two.bin")
    ));
    leecher.shutdown().await;
    seeder.shutdown().await;
}
