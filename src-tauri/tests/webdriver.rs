//! Drives the real desktop app through WebDriver under Xvfb, with its HOME,
//! XDG and Shoal folders in a sandbox, listening on loopback, DHT off:
//!
//! 1. a bad magnet link gives a clear message;
//! 2. a .torrent made by mktorrent, added by typing its path, shows the info
//!    hash transmission-show reports; then it is removed;
//! 3. a magnet link pointing (`x.pe`) at a seeding Shoal session in this test
//!    process downloads to completion, with the right bytes;
//! 4. its Peers tab shows the seeder's address and client; a web seed added
//!    there is listed (idle: the torrent is complete), and a refused one
//!    gives a toast saying why;
//! 5. a torrent created from a folder in the Create dialog is seeded;
//! 6. pause and resume;
//! 7. a second launch with a .torrent path hands it to the running app
//!    (over a private D-Bus session bus) and exits; the app shows it in the
//!    Add dialog and adds nothing until the user confirms; Cancel adds
//!    nothing (`webdriver/opening.rs`);
//! 8. the list: filter counts, search, sorting, the row menu (pause,
//!    resume, copy the info hash and magnet link), the column chooser,
//!    shortcuts, the dark theme (`webdriver/list.rs`);
//! 9. file priorities (High, Low, don't download) from the menu and keys;
//! 10. a torrent whose name, files and comment are markup, template syntax,
//!     bidi overrides and line breaks, and a magnet with a 10,000-character
//!     name, show as text everywhere (`webdriver/opening.rs`); with "add
//!     without asking" a forwarded magnet is added at once;
//! 12. "why is it slow?" for three torrents held back by different causes
//!     (no peers, a peer refusing our dials, a slow seeder), in the state
//!     column's tooltip and the Overview tab (`webdriver/diagnosis.rs`);
//! 11. after the app is closed and started again, with a magnet link on its
//!     command line (the Add dialog asks; Cancel), the same torrents are
//!     listed, the downloaded one complete, in the order sorted before,
//!     with the same columns and theme.
//!
//! Saves screenshots of the jobs, the filtered list, the dark theme and the
//! Files tab to assets/screenshots/.

mod common;

#[path = "webdriver/steps.rs"]
mod steps;

#[path = "webdriver/list.rs"]
mod list;

#[path = "webdriver/opening.rs"]
mod opening;

#[path = "webdriver/diagnosis.rs"]
mod diagnosis;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::desktop::{Driver, Sandbox, SessionBus, Xvfb};
use steps::Seeder;

/// Bound on the whole test, start-up included.
const TEST_TIMEOUT: Duration = Duration::from_secs(420);

#[test]
fn desktop_app_downloads_seeds_creates_and_shows_peers() {
    let work = tempfile::tempdir().expect("temp dir");
    let (torrent, expected_hash) = make_torrent(work.path());

    // Order matters on drop: the driver (and the app under it) before X.
    let xvfb = Xvfb::start();
    let sandbox = Sandbox::new();
    let bus = SessionBus::start(&sandbox);
    let driver = Driver::start(&xvfb, &sandbox);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let app = PathBuf::from(env!("CARGO_BIN_EXE_shoal-desktop"));
    runtime.block_on(async {
        let seeder = Seeder::start(work.path()).await;
        let ctx = steps::Ctx {
            driver: &driver,
            app: &app,
            sandbox: &sandbox,
            display: xvfb.display,
            work: work.path(),
            torrent: &torrent,
            expected_hash: &expected_hash,
            seeder: &seeder,
        };
        let outcome = tokio::time::timeout(TEST_TIMEOUT, steps::run(&ctx)).await;
        seeder.session.shutdown().await;
        outcome.expect("the WebDriver test did not finish in time");
    });
    drop(driver);
    drop(bus);
    drop(xvfb);
}

/// Makes a two-file torrent with mktorrent and asks transmission-show for its
/// info hash, so the expected value comes from tools other than ours.
fn make_torrent(dir: &Path) -> (PathBuf, String) {
    let content = dir.join("sample");
    std::fs::create_dir_all(content.join("sub")).expect("mkdir");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(content.join("a.bin"), data).expect("write a.bin");
    std::fs::write(content.join("sub/b.txt"), b"hello from shoal\n").expect("write b.txt");
    let torrent = dir.join("sample.torrent");
    let out = Command::new("mktorrent")
        .args([
            "-l",
            "15",
            "-a",
            "http://127.0.0.1:6969/announce",
            "-c",
            "desktop test",
            "-o",
        ])
        .arg(&torrent)
        .arg(&content)
        .output()
        .expect("mktorrent is not installed: apt-get install mktorrent (make test does)");
    assert!(
        out.status.success(),
        "mktorrent failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("transmission-show")
        .arg(&torrent)
        .output()
        .expect(
            "transmission-show is not installed: apt-get install transmission-cli (make test does)",
        );
    assert!(out.status.success(), "transmission-show failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hash = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Hash: "))
        .unwrap_or_else(|| panic!("no hash in transmission-show output: {stdout}"))
        .trim()
        .to_string();
    (torrent, hash)
}
