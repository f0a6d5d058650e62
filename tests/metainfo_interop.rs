//! Interop of .torrent files with real tools, both ways: torrents made by
//! mktorrent, transmission-create and libtorrent parse here with the info
//! hash each reports; torrents we make are accepted by libtorrent and
//! transmission-show with our info hash, and their pieces match the data.

mod common;

use std::path::Path;
use std::process::Command;

use common::tools::{
    content_folder, field, libtorrent_check, libtorrent_hash, lt_tool, run_ok, transmission_hash,
};
use shoal::storage::verify;
use shoal::{create_torrent, CreateOptions, Metainfo};

fn load(path: &Path) -> Metainfo {
    Metainfo::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

/// Every byte of `content_folder`, hidden file included.
const ALL: u64 = 100_000 + 40_000 + 18 + 10;

/// Checks a foreign torrent of `content` against our parser and verifier.
fn check_foreign(torrent: &Path, save_dir: &Path, tool_hash: &str, content_bytes: u64) {
    let m = load(torrent);
    assert_eq!(m.info_hash.to_hex(), tool_hash, "{}", torrent.display());
    assert_eq!(m.info.name, "content");
    let good = verify(&m.info, save_dir, |_, _| {}).unwrap();
    assert!(
        good.iter().all(|&g| g),
        "our verify rejects {}",
        torrent.display()
    );
    let real: u64 = m
        .info
        .files
        .iter()
        .filter(|f| !f.pad)
        .map(|f| f.length)
        .sum();
    assert_eq!(real, content_bytes);
}

#[test]
fn mktorrent_torrent_parses_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let content = content_folder(dir.path());
    let t = dir.path().join("mk.torrent");
    run_ok(
        Command::new("mktorrent")
            .args([
                "-l",
                "15",
                "-a",
                "http://127.0.0.1:6969/announce",
                "-c",
                "hi",
                "-o",
            ])
            .arg(&t)
            .arg(&content),
    );
    // mktorrent prints no hash; the reference tools compute it.
    let lt = libtorrent_hash(&t);
    assert_eq!(transmission_hash(&t), lt);
    check_foreign(&t, dir.path(), &lt, ALL);
    let m = load(&t);
    assert_eq!(m.info.piece_length, 32768);
    assert_eq!(m.comment.as_deref(), Some("hi"));
    assert_eq!(
        m.trackers(),
        vec![vec!["http://127.0.0.1:6969/announce".to_string()]]
    );
}

#[test]
fn transmission_create_torrent_parses_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let content = content_folder(dir.path());
    let t = dir.path().join("tr.torrent");
    run_ok(
        Command::new("transmission-create")
            .args([
                "-s",
                "16",
                "-t",
                "http://127.0.0.1:6969/announce",
                "-p",
                "-o",
            ])
            .arg(&t)
            .arg(&content),
    );
    let hash = transmission_hash(&t);
    // transmission-create leaves hidden files out.
    check_foreign(&t, dir.path(), &hash, ALL - 10);
    assert!(load(&t).info.private);
    assert_eq!(libtorrent_hash(&t), hash);
}

#[test]
fn libtorrent_torrents_parse_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let content = content_folder(dir.path());
    for kind in ["v1", "hybrid"] {
        let t = dir.path().join(format!("lt-{kind}.torrent"));
        let out = lt_tool(&[
            "create",
            content.to_str().unwrap(),
            t.to_str().unwrap(),
            "16384",
            kind,
        ]);
        let hash = field(&out, "info hash:");
        check_foreign(&t, dir.path(), &hash, ALL);
        let m = load(&t);
        if kind == "hybrid" {
            // Hybrid torrents align files to pieces with BEP 47 pad files.
            assert!(m.info.files.iter().any(|f| f.pad), "no pad files in {kind}");
            for f in m.info.files.iter().filter(|f| f.pad) {
                assert!(
                    !dir.path().join(&f.path).exists(),
                    "pad file written to disk"
                );
            }
        }
    }
}

#[test]
fn our_torrents_are_accepted_by_libtorrent_and_transmission() {
    let dir = tempfile::tempdir().unwrap();
    let content = content_folder(dir.path());
    let cases = [
        CreateOptions {
            piece_length: Some(16384),
            trackers: vec![
                vec!["http://127.0.0.1:6969/announce".into()],
                vec![
                    "udp://127.0.0.1:6969".into(),
                    "http://127.0.0.1:7070/a".into(),
                ],
            ],
            comment: Some("made by shoal".into()),
            ..Default::default()
        },
        CreateOptions {
            private: true,
            source: Some("TEST".into()),
            threads: Some(1),
            ..Default::default()
        },
    ];
    for (i, opts) in cases.iter().enumerate() {
        let m = create_torrent(&content, opts, |_, _| {}).unwrap();
        let t = dir.path().join(format!("ours-{i}.torrent"));
        std::fs::write(&t, m.to_bytes()).unwrap();
        let ours = m.info_hash.to_hex();
        assert_eq!(transmission_hash(&t), ours);
        assert_eq!(libtorrent_hash(&t), ours);
        let (good, total) = libtorrent_check(&t, dir.path());
        assert_eq!((good, total), (m.info.num_pieces(), m.info.num_pieces()));
        let shown = run_ok(Command::new("transmission-show").arg(&t));
        if opts.private {
            assert!(shown.contains("Private torrent"), "{shown}");
        }
    }

    // A single file.
    let file = content.join("a.bin");
    let m = create_torrent(&file, &CreateOptions::default(), |_, _| {}).unwrap();
    let t = dir.path().join("single.torrent");
    std::fs::write(&t, m.to_bytes()).unwrap();
    assert_eq!(libtorrent_hash(&t), m.info_hash.to_hex());
    assert_eq!(transmission_hash(&t), m.info_hash.to_hex());
    let (good, total) = libtorrent_check(&t, &content);
    assert_eq!(good, total);
}

#[test]
fn unsorted_and_unknown_info_keys_keep_libtorrents_hash() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::tools::bytes(20_000, 9);
    std::fs::write(dir.path().join("x.bin"), &data).unwrap();
    let mut pieces = Vec::new();
    for c in data.chunks(16384) {
        use sha1::Digest;
        pieces.extend_from_slice(&sha1::Sha1::digest(c));
    }
    // Keys out of order plus an unknown one, as some old tools wrote them.
    let mut info =
        b"d4:name5:x.bin12:piece lengthi16384e6:lengthi20000e7:zzextra3:abc6:pieces40:".to_vec();
    info.extend_from_slice(&pieces);
    info.push(b'e');
    let mut file = b"d4:info".to_vec();
    file.extend_from_slice(&info);
    file.extend_from_slice(b"8:announce30:http://127.0.0.1:6969/announcee");
    let t = dir.path().join("odd.torrent");
    std::fs::write(&t, &file).unwrap();
    let m = load(&t);
    assert_eq!(m.info_hash.to_hex(), libtorrent_hash(&t));
    // Writing it back keeps the hash.
    let t2 = dir.path().join("odd2.torrent");
    std::fs::write(&t2, m.to_bytes()).unwrap();
    assert_eq!(libtorrent_hash(&t2), m.info_hash.to_hex());
    assert_eq!(load(&t2).info_hash, m.info_hash);
}

#[test]
fn many_chunk_torrent_matches_mktorrent_byte_for_byte() {
    // Enough data for several hashing chunks and pieces across file ends.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("multi");
    std::fs::create_dir_all(root.join("b")).unwrap();
    std::fs::write(root.join("a.bin"), common::tools::bytes(9_000_001, 4)).unwrap();
    std::fs::write(root.join("b/c.bin"), common::tools::bytes(13_000_000, 5)).unwrap();
    std::fs::write(root.join("b/d"), b"x").unwrap();
    std::fs::write(root.join("e.bin"), common::tools::bytes(14_999_999, 6)).unwrap();
    let opts = CreateOptions {
        piece_length: Some(32768),
        ..Default::default()
    };
    let ours = create_torrent(&root, &opts, |_, _| {}).unwrap();
    let t = dir.path().join("ours.torrent");
    std::fs::write(&t, ours.to_bytes()).unwrap();
    let (good, total) = libtorrent_check(&t, dir.path());
    assert_eq!(good, total);
    assert_eq!(total as usize, 37_000_001usize.div_ceil(32768));

    // mktorrent puts the same keys in the info dictionary and the files in
    // the same order here, so the info hashes must agree exactly.
    let mk = dir.path().join("mk.torrent");
    run_ok(
        Command::new("mktorrent")
            .args(["-l", "15", "-t", "2", "-o"])
            .arg(&mk)
            .arg(&root),
    );
    assert_eq!(load(&mk).info_hash, ours.info_hash);
}
