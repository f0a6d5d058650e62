//! Running the real peer tools (mktorrent, transmission-*, libtorrent via
//! Debian's python3) with a timeout, and fixtures they all work on.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any tool may run before the test fails.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// Kills and reaps a child process when dropped, so no test leaves one behind.
pub struct ChildGuard(pub Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs a command to completion within [`TOOL_TIMEOUT`]. A missing tool or a
/// timeout fails the test loudly.
pub fn run(cmd: &mut Command) -> Output {
    let desc = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {desc} (is the tool installed? run scripts/setup.sh): {e}")
        });
    let mut guard = ChildGuard(Some(child));
    let child = guard.0.as_mut().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TOOL_TIMEOUT {
            panic!("{desc} did not finish within {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    guard.0 = None;
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let desc = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{desc} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `tests/lt_tool.py` under Debian's python3 (where python3-libtorrent lives).
pub fn lt_tool(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lt_tool.py");
    run_ok(Command::new("/usr/bin/python3").arg(script).args(args))
}

/// The value of the first line starting with `prefix` (after trimming).
pub fn field(text: &str, prefix: &str) -> String {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"))
        .trim()
        .to_string()
}

/// The info hash transmission-show reports for a torrent.
pub fn transmission_hash(torrent: &Path) -> String {
    field(
        &run_ok(Command::new("transmission-show").arg(torrent)),
        "Hash:",
    )
}

/// The info hash libtorrent computes for a torrent.
pub fn libtorrent_hash(torrent: &Path) -> String {
    field(&lt_tool(&["hash", torrent.to_str().unwrap()]), "info hash:")
}

/// `(good, total)` pieces libtorrent finds when it checks `save_dir`.
pub fn libtorrent_check(torrent: &Path, save_dir: &Path) -> (u32, u32) {
    let out = lt_tool(&[
        "check",
        torrent.to_str().unwrap(),
        save_dir.to_str().unwrap(),
    ]);
    let v = field(&out, "pieces:");
    let (a, b) = v.split_once(" of ").unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

/// A folder `<parent>/content` with nested files whose sizes do not line up
/// with pieces, a hidden file and an empty file. Returns its path.
pub fn content_folder(parent: &Path) -> PathBuf {
    let root = parent.join("content");
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("a.bin"), bytes(100_000, 1)).unwrap();
    std::fs::write(root.join("sub/b.bin"), bytes(40_000, 2)).unwrap();
    std::fs::write(root.join("sub/deeper/c.txt"), b"a small text file\n").unwrap();
    std::fs::write(root.join(".hidden"), bytes(10, 3)).unwrap();
    std::fs::write(root.join("empty.txt"), b"").unwrap();
    root
}
