//! Links planted under the save folder while a torrent runs, or while the
//! session is stopped, never send a write or a read outside the folder: the
//! torrent goes to Error with a message naming the link, and the files the
//! link points at stay byte for byte as they were. A libtorrent seeder,
//! rate-limited so that each download lasts a few seconds, serves the data.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::data;
use common::procs::Libtorrent;
use common::swarm::{config, local};
use shoal::session::{Session, SessionConfig, SessionError};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentState};
use shoal::Metainfo;

/// The longest any wait of these tests lasts.
const LIMIT: Duration = Duration::from_secs(90);
/// Bytes per second the seeder sends: the 1.7 MB torrent takes about six
/// seconds, and `a.bin` (first in order) about three and a half.
const SEED_RATE: u64 = 300_000;
/// Sizes of the torrent's files (in torrent order).
const A_LEN: usize = 1024 * 1024 + 17;
const B_LEN: usize = 400_000;
const Z_LEN: usize = 300_000;

/// The torrent `t` of `a.bin`, `sub/b.bin`, `z.bin` (in this order) under
/// `src`, its .torrent file, and a libtorrent seeder of it.
struct Fixture {
    tmp: tempfile::TempDir,
    meta: Metainfo,
    seeder: Libtorrent,
}

impl Fixture {
    async fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let content = tmp.path().join("src/t");
        data::write_file(&content.join("a.bin"), A_LEN, 1);
        data::write_file(&content.join("sub/b.bin"), B_LEN, 2);
        data::write_file(&content.join("z.bin"), Z_LEN, 3);
        let meta = data::torrent_of(&content, 16 * 1024);
        let names: Vec<String> = meta
            .info
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert_eq!(names, ["t/a.bin", "t/sub/b.bin", "t/z.bin"]);
        let torrent = tmp.path().join("t.torrent");
        fs::write(&torrent, meta.to_bytes()).unwrap();
        let seeder = Libtorrent::seeding(&torrent, &tmp.path().join("src"), Some(SEED_RATE)).await;
        // Files outside the save folder that a link will point at.
        let outside = tmp.path().join("outside");
        data::write_file(&outside.join("victim"), 5000, 9);
        data::write_file(&outside.join("b.bin"), 5000, 10);
        Fixture { tmp, meta, seeder }
    }

    fn dl(&self) -> PathBuf {
        self.tmp.path().join("dl")
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    /// Adds the torrent to `s`, in order, dialling the seeder.
    fn add(&self, s: &Session) -> TorrentHandle {
        let mut add = AddTorrent::new(self.meta.clone(), self.dl());
        add.peers = vec![local(self.seeder.port())];
        add.sequential = true;
        s.add_torrent(add).unwrap()
    }
}

/// A snapshot of every file under `dir`: path and bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    data::list(dir)
        .into_iter()
        .map(|p| {
            let bytes = fs::read(dir.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Polls every 10 ms until `done` holds, at most `LIMIT`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(LIMIT, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// Waits until the torrent fails or has all its data, and returns the
/// error message (panics if it completed instead).
async fn error_of(h: &TorrentHandle) -> String {
    until("an error or the end of the download", || {
        let st = h.stats();
        matches!(st.state, TorrentState::Error(_)) || st.have_bytes == st.total_bytes
    })
    .await;
    match h.stats().state {
        TorrentState::Error(e) => e,
        other => panic!("the torrent went on through the link: {other:?}"),
    }
}

/// Mid-download, a file of the torrent not yet created (`z.bin`, last in
/// order) is replaced by a link to a file outside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_by_a_link_mid_download() {
    let f = Fixture::new().await;
    let before = snapshot(&f.outside());
    let s = Session::new(config()).await.unwrap();
    let h = f.add(&s);
    let t = f.dl().join("t");
    until("the first file", || t.join("a.bin").exists()).await;
    assert!(!t.join("z.bin").exists() && h.stats().have_bytes < A_LEN as u64);
    symlink(f.outside().join("victim"), t.join("z.bin")).unwrap();
    let e = error_of(&h).await;
    let link = t.join("z.bin").display().to_string();
    assert!(e.contains(&format!("{link} is a symbolic link")), "{e}");
    assert_eq!(snapshot(&f.outside()), before, "a file outside was written");
    s.shutdown().await;
}

/// Mid-download, a folder of the torrent not yet created (`sub`) is
/// replaced by a link to a folder outside that holds a file of the same
/// name as the torrent's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_replaced_by_a_link_mid_download() {
    let f = Fixture::new().await;
    let before = snapshot(&f.outside());
    let s = Session::new(config()).await.unwrap();
    let h = f.add(&s);
    let t = f.dl().join("t");
    until("the first file", || t.join("a.bin").exists()).await;
    assert!(!t.join("sub").exists() && h.stats().have_bytes < A_LEN as u64);
    symlink(f.outside(), t.join("sub")).unwrap();
    let e = error_of(&h).await;
    let link = t.join("sub").display().to_string();
    assert!(e.contains(&format!("{link} is a symbolic link")), "{e}");
    assert_eq!(snapshot(&f.outside()), before, "a file outside was written");
    assert!(!f.outside().join("z.bin").exists());
    s.shutdown().await;
}

/// The session stops mid-download; while it is stopped, a folder of the
/// torrent is moved out and a link put in its place (the files behind it
/// have the sizes and times the resume record vouches for). Restarted on the
/// same state folder, the torrent must not trust, read or write through the
/// link. Then removing the torrent with its data deletes nothing outside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_replaced_by_a_link_while_stopped_and_deleted_with_data() {
    let f = Fixture::new().await;
    let state = f.tmp.path().join("state");
    let with_state = || SessionConfig {
        state_dir: Some(state.clone()),
        ..config()
    };
    let t = f.dl().join("t");

    // First run: stop once part of sub/b.bin is verified.
    let s = Session::new(with_state()).await.unwrap();
    let h = f.add(&s);
    let want = (A_LEN + B_LEN / 2) as u64;
    until("half of sub/b.bin", || h.stats().have_bytes >= want).await;
    assert!(h.stats().have_bytes < h.stats().total_bytes);
    s.shutdown().await;
    assert!(t.join("sub/b.bin").exists());

    // While stopped: the folder moves out, a link takes its place.
    let moved = f.outside().join("sub");
    fs::rename(t.join("sub"), &moved).unwrap();
    symlink(&moved, t.join("sub")).unwrap();
    let before = snapshot(&f.outside());

    // Second run on the same state folder.
    let s = Session::new(with_state()).await.unwrap();
    assert!(s.restore_errors().is_empty(), "{:?}", s.restore_errors());
    let h = s.torrent(&f.meta.info_hash).expect("restored");
    h.add_peers(vec![local(f.seeder.port())]).await;
    let e = error_of(&h).await;
    let link = t.join("sub").display().to_string();
    assert!(e.contains(&format!("{link} is a symbolic link")), "{e}");
    assert_eq!(snapshot(&f.outside()), before, "a file outside was written");

    // Removing the torrent with its data: its own files go, the link is
    // not followed, what it points at survives.
    let r = s.remove(&f.meta.info_hash, true).await;
    match r {
        Err(SessionError::DeleteFailed(e)) => {
            assert!(e.contains(&format!("{link} is a symbolic link")), "{e}")
        }
        other => panic!("expected the link to be refused: {other:?}"),
    }
    assert!(!t.join("a.bin").exists());
    assert_eq!(snapshot(&f.outside()), before, "a file outside was deleted");
    s.shutdown().await;
}
