//! A session's state folder: torrents, settings and verified pieces survive
//! a restart and a kill -9; files changed on disk are checked again, files
//! unchanged are trusted; removing a torrent forgets it (and deletes only
//! its own data when asked).

mod common;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::data;
use common::procs::{self, wait_for, Libtorrent, Proc};
use common::swarm::{complete, config, local, seeding};
use shoal::bitfield::Bitfield;
use shoal::magnet::Magnet;
use shoal::picker::Priority;
use shoal::resume::Resume;
use shoal::session::{Session, SessionConfig, SessionError};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentState};
use shoal::Metainfo;

const LIMIT: Duration = Duration::from_secs(60);

fn make_torrent(content: &Path, piece_length: u64) -> Metainfo {
    data::torrent_of(content, piece_length)
}

fn with_state(dir: &Path) -> SessionConfig {
    SessionConfig {
        state_dir: Some(dir.to_owned()),
        ..config()
    }
}

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

/// Waits until the torrent has finished checking (its state is no longer
/// `Checking`) and returns that state.
async fn checked(h: &TorrentHandle) -> TorrentState {
    until("the check", || h.stats().state != TorrentState::Checking).await;
    h.stats().state
}

fn record(state: &Path, meta: &Metainfo) -> Resume {
    let path = state.join(format!("torrents/{}.resume", meta.info_hash.to_hex()));
    Resume::from_bytes(&fs::read(&path).expect("resume record"), &path).expect("valid record")
}

/// Flips one byte in the middle of `path`; keeps its modification time
/// when `keep_mtime`.
fn corrupt(path: &Path, keep_mtime: bool) {
    let before = fs::metadata(path).unwrap().modified().unwrap();
    let mut bytes = fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(path, &bytes).unwrap();
    if keep_mtime {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(before)
            .unwrap();
    } else {
        // Coarse file systems: make sure the time moves.
        let later = before + Duration::from_secs(2);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_restores_torrents_and_trusts_only_unchanged_files() {
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("set");
    fs::create_dir_all(&content).unwrap();
    data::write_file(&content.join("a.bin"), 300 * 1024 + 11, 1);
    data::write_file(&content.join("b.bin"), 200 * 1024, 2);
    data::write_file(&content.join("c.bin"), 100 * 1024, 3);
    let meta = make_torrent(&content, 32 * 1024);
    let n = meta.info.num_pieces();
    let state = tmp.path().join("state");
    let dl = tmp.path().join("dl");

    let seeder = Session::new(config()).await.unwrap();
    seeding(&seeder, &meta, &src).await;

    // First run: download everything but c.bin, then pause.
    let s = Session::new(with_state(&state)).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), &dl);
    add.peers = vec![local(seeder.listen_port())];
    add.file_priorities = vec![Priority::High, Priority::Normal, Priority::Skip];
    let h = s.add_torrent(add).unwrap();
    complete(&h, LIMIT).await;
    let have = h.stats().pieces_have;
    assert!(have < n, "c.bin was skipped");
    h.set_rate_limits(Some(500_000), None);
    h.pause().await;
    until("the pause", || h.stats().state == TorrentState::Paused).await;
    s.shutdown().await;
    assert!(state
        .join(format!("torrents/{}.torrent", meta.info_hash.to_hex()))
        .exists());
    let r = record(&state, &meta);
    assert!(r.paused);
    assert_eq!(r.verified.as_ref().map(|v| v.count()), Some(have));
    assert!(r.downloaded >= h.stats().have_bytes);

    // Second run: the same torrent, paused, same priorities and pieces,
    // all-time counters carried over.
    let s = Session::new(with_state(&state)).await.unwrap();
    assert!(s.restore_errors().is_empty(), "{:?}", s.restore_errors());
    let h2 = s.torrent(&meta.info_hash).expect("restored");
    assert_eq!(checked(&h2).await, TorrentState::Paused);
    assert_eq!(h2.stats().pieces_have, have);
    assert!(h2.stats().total_downloaded >= h2.stats().have_bytes);
    assert_eq!(h2.stats().downloaded, 0);
    assert_eq!(h2.rate_limits(), (Some(500_000), None));
    let prios: Vec<Priority> = h2.files().await.iter().map(|f| f.priority).collect();
    assert_eq!(
        prios,
        vec![Priority::High, Priority::Normal, Priority::Skip]
    );
    s.shutdown().await;

    // A byte changed behind the file's back (same size, same time) is not
    // seen: unchanged stamps are trusted, not hashed.
    let a = dl.join("set/a.bin");
    corrupt(&a, true);
    let s = Session::new(with_state(&state)).await.unwrap();
    let h3 = s.torrent(&meta.info_hash).expect("restored");
    checked(&h3).await;
    assert_eq!(h3.stats().pieces_have, have, "trusted without hashing");
    s.shutdown().await;

    // A file whose time changed is checked again: its bad piece is found.
    corrupt(&dl.join("set/b.bin"), false);
    let s = Session::new(with_state(&state)).await.unwrap();
    let h4 = s.torrent(&meta.info_hash).expect("restored");
    checked(&h4).await;
    // The corrupt pieces of a.bin and b.bin both fail the check.
    assert_eq!(h4.stats().pieces_have, have - 2);
    // Resumed, it fetches them again and the data is whole.
    h4.resume().await;
    h4.add_peers(vec![local(seeder.listen_port())]).await;
    complete(&h4, LIMIT).await;
    assert!(data::same_content(&content.join("a.bin"), &a));
    assert!(data::same_content(
        &content.join("b.bin"),
        &dl.join("set/b.bin")
    ));
    s.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_magnet_waiting_for_its_metadata_is_remembered() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hash = "0123456789abcdef0123456789abcdef01234567";
    let magnet = Magnet::parse(&format!("magnet:?xt=urn:btih:{hash}&dn=waiting")).unwrap();
    let s = Session::new(with_state(&state)).await.unwrap();
    let mut add = AddTorrent::magnet(magnet.clone(), tmp.path().join("dl"));
    add.paused = true;
    s.add_torrent(add).unwrap();
    let path = state.join(format!("torrents/{hash}.resume"));
    until("the record", || path.exists()).await;
    s.shutdown().await;

    let s = Session::new(with_state(&state)).await.unwrap();
    let h = s.torrent(&magnet.info_hash).expect("restored");
    let st = h.stats();
    assert_eq!(st.name, "waiting");
    assert_eq!(st.state, TorrentState::FetchingMetadata);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_forgets_the_torrent_and_deletes_only_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dl = tmp.path().join("dl");
    let content = dl.join("album");
    fs::create_dir_all(content.join("cd1")).unwrap();
    data::write_file(&content.join("cd1/one.bin"), 70_000, 4);
    data::write_file(&content.join("two.bin"), 50_000, 5);
    let meta = make_torrent(&content, 16 * 1024);
    let state = tmp.path().join("state");
    // The user's own files beside the torrent's.
    fs::write(content.join("notes.txt"), b"mine").unwrap();
    fs::write(dl.join("other.txt"), b"also mine").unwrap();

    let s = Session::new(with_state(&state)).await.unwrap();
    seeding(&s, &meta, &dl).await;
    let resume = state.join(format!("torrents/{}.resume", meta.info_hash.to_hex()));
    until("the record", || resume.exists()).await;

    // Keeping the data.
    s.remove(&meta.info_hash, false).await.unwrap();
    assert!(s.torrent(&meta.info_hash).is_none());
    assert!(!resume.exists());
    assert!(content.join("two.bin").exists());
    assert!(matches!(
        s.remove(&meta.info_hash, false).await,
        Err(SessionError::NotFound(_))
    ));

    // Deleting it: the torrent's files go, the user's stay.
    seeding(&s, &meta, &dl).await;
    s.remove(&meta.info_hash, true).await.unwrap();
    assert!(!content.join("two.bin").exists());
    assert!(!content.join("cd1").exists());
    assert!(content.join("notes.txt").exists());
    assert!(dl.join("other.txt").exists());
    s.shutdown().await;

    let s = Session::new(with_state(&state)).await.unwrap();
    assert!(s.torrents().is_empty());
    s.shutdown().await;
}

/// The acceptance test of resuming: `shoal download --state-dir` is killed
/// with SIGKILL mid-download; a session restarted on the same state folder
/// completes the download with the right bytes, and no piece the killed
/// process had recorded as verified is downloaded again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_restart_fetches_no_verified_piece_again() {
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let file = src.join("big.bin");
    data::write_file(&file, 24 * 1024 * 1024, 9);
    let piece_len: u64 = 64 * 1024;
    let meta = make_torrent(&file, piece_len);
    let n = meta.info.num_pieces();
    let torrent = tmp.path().join("big.torrent");
    fs::write(&torrent, meta.to_bytes()).unwrap();
    let state = tmp.path().join("state");
    let dl = tmp.path().join("dl");

    // A libtorrent seeder sending 3 MiB/s, so the download takes a while.
    let seeder = Libtorrent::seeding(&torrent, &src, Some(3 * 1024 * 1024)).await;
    let seeder_addr: SocketAddr = seeder.addr();

    let mut leecher = Proc::spawn(
        "shoal download",
        procs::shoal_download(&torrent, &dl, seeder_addr)
            .arg("--state-dir")
            .arg(&state)
            .args(["--resume-interval", "2"]),
    );
    // Kill it once its record says a quarter of the pieces are verified
    // and more data has been written since (the files no longer match the
    // record's stamps, as after most crashes).
    let record_path = state.join(format!("torrents/{}.resume", meta.info_hash.to_hex()));
    let read_record = || -> Option<Resume> {
        let bytes = fs::read(&record_path).ok()?;
        Resume::from_bytes(&bytes, &record_path).ok()
    };
    let started = Instant::now();
    tokio::task::block_in_place(|| {
        wait_for(
            "a quarter of the pieces recorded, and more written",
            LIMIT,
            || {
                assert!(leecher.running(), "shoal download ended early");
                let v = read_record()?.verified?;
                (v.count() >= n / 4 && !v.still_valid(&dl, &meta.info.files)).then_some(())
            },
        )
    });
    leecher.kill9();
    let killed_after = started.elapsed();
    let at_kill = read_record().expect("the record survives the kill");
    let recorded = at_kill.verified.clone().expect("verified pieces recorded");
    let recorded_bits = Bitfield::from_bytes(&recorded.pieces, n).unwrap();
    let trusted = recorded.still_valid(&dl, &meta.info.files);
    assert!(recorded_bits.count_ones() < n, "killed before the end");

    // Restart on the same state folder.
    let s = Session::new(with_state(&state)).await.unwrap();
    assert!(s.restore_errors().is_empty(), "{:?}", s.restore_errors());
    let h = s.torrent(&meta.info_hash).expect("restored after kill -9");
    let check_started = Instant::now();
    checked(&h).await;
    let check_time = check_started.elapsed();
    let found = h.pieces().await;
    let found_bits = Bitfield::from_bytes(&found.have, n).unwrap();
    for i in recorded_bits.iter_ones() {
        assert!(found_bits.get(i), "recorded piece {} found again", i.0);
    }
    let found_count = found_bits.count_ones();
    h.add_peers(vec![seeder_addr]).await;
    complete(&h, Duration::from_secs(120)).await;
    let downloaded = h.stats().downloaded;
    let fetched_pieces = n - found_count;
    // Every byte received went into a piece missing after the check
    // (endgame may fetch a few blocks twice).
    let slack = 8 * 16 * 1024;
    assert!(
        downloaded <= fetched_pieces as u64 * piece_len + slack,
        "downloaded {downloaded} bytes for {fetched_pieces} missing pieces"
    );
    s.shutdown().await;
    assert!(data::same_content(&file, &dl.join("big.bin")));
    // Which of the recorded pieces were fetched again: none, since every
    // one was present after the check and pieces present are never asked for.
    let refetched = recorded_bits
        .iter_ones()
        .filter(|p| !found_bits.get(*p))
        .count();
    println!(
        "kill -9 after {:.1} s: {} of {n} pieces recorded verified; after restart the check \
         ({:.2} s, {}) found {found_count}; \
         {fetched_pieces} pieces fetched after restart ({downloaded} bytes); \
         recorded pieces fetched again: {refetched}",
        killed_after.as_secs_f64(),
        recorded_bits.count_ones(),
        check_time.as_secs_f64(),
        if trusted {
            "files as recorded: pieces trusted"
        } else {
            "files written after the record: every piece hashed"
        },
    );
    assert_eq!(refetched, 0);
    drop(seeder);
}
