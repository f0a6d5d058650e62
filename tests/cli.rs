//! The `shoal` binary: create, info and verify, as a user runs them.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::tools::{content_folder, field, libtorrent_hash, run, run_ok, transmission_hash};

fn shoal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Fails unless the command failed with exactly one line on stderr.
fn assert_one_line_failure(o: &Output, contains: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure, got {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("shoal: "), "{err}");
    assert!(err.contains(contains), "{err:?} lacks {contains:?}");
}

fn info_hash_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with("info hash: "))
        .unwrap_or_else(|| panic!("no info hash line in {text}"));
    let hash = &line["info hash: ".len()..];
    assert_eq!(hash.len(), 40, "{line}");
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{line}"
    );
    hash.to_string()
}

#[test]
fn create_info_verify() {
    let dir = tempfile::tempdir().unwrap();
    let content = content_folder(dir.path());
    let t = dir.path().join("out.torrent");
    let created = run_ok(
        shoal()
            .arg("create")
            .arg(&content)
            .arg("-o")
            .arg(&t)
            .args(["--piece-size", "32K", "--private", "--comment", "a comment"])
            .args(["--source", "SRC", "--tracker", "http://127.0.0.1:1/a"])
            .args(["--tracker", "udp://127.0.0.1:2,udp://127.0.0.1:3"]),
    );
    let hash = info_hash_line(&created);
    assert_eq!(libtorrent_hash(&t), hash);
    assert_eq!(transmission_hash(&t), hash);

    let info = run_ok(shoal().arg("info").arg(&t));
    assert_eq!(info_hash_line(&info), hash);
    assert_eq!(field(&info, "name:"), "content");
    assert_eq!(field(&info, "pieces:"), "5");
    assert!(field(&info, "piece size:").contains("32768 bytes"));
    assert!(field(&info, "size:").contains("140028 bytes"));
    assert_eq!(field(&info, "private:"), "yes");
    assert_eq!(field(&info, "files:"), "5");
    assert!(info.contains("content/sub/deeper/c.txt  18"), "{info}");
    assert!(info.contains("tier 1: http://127.0.0.1:1/a"), "{info}");
    assert!(info.contains("tier 2: udp://127.0.0.1:3"), "{info}");

    let ok = run(shoal().arg("verify").arg(&t).arg(dir.path()));
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("pieces: 5 of 5 good"));

    // Damage one byte: that piece goes bad and the exit status says so.
    let a = content.join("a.bin");
    let mut data = std::fs::read(&a).unwrap();
    data[40_000] ^= 1;
    std::fs::write(&a, &data).unwrap();
    let bad = run(shoal().arg("verify").arg(&t).arg(dir.path()));
    assert!(
        stdout(&bad).contains("pieces: 4 of 5 good"),
        "{}",
        stdout(&bad)
    );
    assert_one_line_failure(&bad, "1 of 5 pieces are missing or bad");
}

#[test]
fn info_of_foreign_torrent_and_magnet() {
    let dir = tempfile::tempdir().unwrap();
    let content = content_folder(dir.path());
    let t = dir.path().join("mk.torrent");
    run_ok(Command::new("mktorrent").arg("-o").arg(&t).arg(&content));
    let info = run_ok(shoal().arg("info").arg(&t));
    assert_eq!(info_hash_line(&info), libtorrent_hash(&t));
    // The creation date mktorrent wrote, as a date `date` agrees with.
    let bytes = std::fs::read(&t).unwrap();
    let key = b"13:creation datei";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("mktorrent writes a creation date")
        + key.len();
    let secs: String = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    let date = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%F %T UTC"])
        .output()
        .unwrap();
    let want = String::from_utf8_lossy(&date.stdout).trim().to_string();
    assert_eq!(field(&info, "creation date:"), want, "{info}");

    let magnet = "magnet:?xt=urn:btih:ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW&dn=A+Name&tr=http%3A%2F%2F127.0.0.1%3A1%2Fa";
    let info = run_ok(shoal().arg("info").arg(magnet));
    assert_eq!(
        info_hash_line(&info),
        "c9e15763f722f23e98a29decdfae341b98d53056"
    );
    assert_eq!(field(&info, "name:"), "A Name");
    assert!(info.contains("http://127.0.0.1:1/a"));
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.torrent");
    assert_one_line_failure(&run(shoal().arg("info").arg(&missing)), "cannot read");
    let junk = dir.path().join("junk.torrent");
    std::fs::write(&junk, b"d4:info").unwrap();
    assert_one_line_failure(&run(shoal().arg("info").arg(&junk)), "truncated");
    assert_one_line_failure(
        &run(shoal().args(["info", "magnet:?xt=urn:btih:123"])),
        "info hash is invalid",
    );
    assert_one_line_failure(
        &run(shoal().arg("verify").arg(&junk).arg(dir.path())),
        "not valid bencode",
    );
    assert_one_line_failure(
        &run(shoal().arg("create").arg(dir.path().join("nope"))),
        "No such file",
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_one_line_failure(
        &run(shoal()
            .arg("create")
            .arg(&empty)
            .arg("-o")
            .arg(dir.path().join("e.torrent"))),
        "no data to share",
    );
    let f = dir.path().join("f");
    std::fs::write(&f, b"x").unwrap();
    assert_one_line_failure(
        &run(shoal().arg("create").arg(&f).args(["--piece-size", "1000"])),
        "not a power of two",
    );
    assert!(!Path::new("f.torrent").exists());
}

/// A session raises its soft limit on open files to the hard limit: the
/// usual 1,024 descriptors run out with a few busy torrents.
#[test]
fn the_open_file_limit_is_raised() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("f.bin");
    std::fs::write(&src, vec![7u8; 40_000]).unwrap();
    let torrent = tmp.path().join("f.torrent");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("create")
        .arg(&src)
        .arg("-o")
        .arg(&torrent)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("seed")
        .arg(&torrent)
        .arg(tmp.path())
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dht",
            "--no-port-mapping",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only setrlimit, which is async-signal-safe, runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_cur = lim.rlim_max.min(256);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let limits = || -> Option<(String, String)> {
        let text = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).ok()?;
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        let f: Vec<&str> = line.split_whitespace().collect();
        Some((f[3].to_string(), f[4].to_string()))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (soft, hard) = loop {
        let l = limits().expect("the seeder runs");
        if l.0 == l.1 || std::time::Instant::now() > deadline {
            break l;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        soft, hard,
        "the soft limit (was 256) should be raised to the hard one"
    );
}
