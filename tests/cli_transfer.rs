//! `shoal seed` and `shoal download` as a user runs them: the download
//! exits 0 once the data is complete and verified, and a failure exits
//! non-zero with one line saying why.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::data;
use common::procs::{self, free_port, wait_for, Proc};

fn shoal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
}

#[test]
fn download_from_seed_exits_zero_when_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = data::multi_file_folder(&src, "content");
    let torrent = tmp.path().join("c.torrent");
    let st = shoal()
        .arg("create")
        .arg(&content)
        .arg("-o")
        .arg(&torrent)
        .args(["--piece-size", "32K"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());

    let port = free_port();
    let _seed = procs::shoal_seed(&torrent, &src, port, &[]);

    let dst = tmp.path().join("dst");
    let mut dl = procs::shoal_download(&torrent, &dst, ([127, 0, 0, 1], port).into());
    dl.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = Proc::spawn("shoal download", &mut dl);
    let status = wait_for("the download to exit", Duration::from_secs(60), || {
        child.try_status()
    });
    assert!(status.success(), "download exits 0: {status:?}");
    data::assert_same_tree(&content, &dst.join("content"));
}

#[test]
fn download_of_a_bad_torrent_fails_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = tmp.path().join("bad.torrent");
    std::fs::write(&torrent, b"d4:infod4:name1:xee").unwrap();
    let out = shoal()
        .arg("download")
        .arg(&torrent)
        .arg("-o")
        .arg(tmp.path())
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dht",
            "--no-port-mapping",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("bad.torrent"), "names the file: {err}");
}

#[test]
fn seed_without_the_content_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("c");
    data::write_file(&content.join("x.bin"), 40_000, 3);
    let torrent = tmp.path().join("c.torrent");
    assert!(shoal()
        .arg("create")
        .arg(&content)
        .arg("-o")
        .arg(&torrent)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success());
    let out = shoal()
        .arg("seed")
        .arg(&torrent)
        .arg(tmp.path().join("elsewhere"))
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dht",
            "--no-port-mapping",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold"));
}
