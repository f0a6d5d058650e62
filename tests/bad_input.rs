//! Hostile .torrent files and magnet links: each is refused with its own
//! clear error, and no path outside the target folder can come out of the
//! metainfo layer.

use std::path::{Component, Path};

use shoal::bencode::{BencodeError, MAX_DEPTH};
use shoal::magnet::{Magnet, MagnetError};
use shoal::metainfo::{safe_join, Metainfo, MetainfoError, PathError, MAX_METAINFO_LEN};
use shoal::types::HashParseError;

/// A multi-file torrent whose `files` value is `files` (raw bencode).
fn multi(files: &[u8], pieces: usize) -> Vec<u8> {
    let mut t = b"d8:announce20:http://127.0.0.1:1/a4:infod5:files".to_vec();
    t.extend_from_slice(files);
    t.extend_from_slice(b"4:name4:root12:piece lengthi16384e6:pieces");
    t.extend_from_slice(format!("{}:", pieces * 20).as_bytes());
    t.extend(std::iter::repeat_n(7u8, pieces * 20));
    t.extend_from_slice(b"ee");
    t
}

/// A file list with one file at `path` (list of raw components).
fn one_file(path: &[&[u8]]) -> Vec<u8> {
    let mut f = b"ld6:lengthi100e4:pathl".to_vec();
    for p in path {
        f.extend_from_slice(format!("{}:", p.len()).as_bytes());
        f.extend_from_slice(p);
    }
    f.extend_from_slice(b"eee");
    f
}

fn parse(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
    Metainfo::from_bytes(bytes)
}

#[test]
fn truncated() {
    let good = multi(&one_file(&[b"a"]), 1);
    assert!(parse(&good).is_ok());
    for cut in [1, 10, good.len() / 2, good.len() - 1] {
        let e = parse(&good[..cut]).unwrap_err();
        assert!(
            matches!(e, MetainfoError::Bencode(BencodeError::Truncated(_))),
            "cut at {cut}: {e}"
        );
    }
}

#[test]
fn oversized() {
    let mut big = multi(&one_file(&[b"a"]), 1);
    big.resize(MAX_METAINFO_LEN + 1, b'x');
    assert_eq!(
        parse(&big).unwrap_err(),
        MetainfoError::TooLarge {
            len: MAX_METAINFO_LEN + 1,
            max: MAX_METAINFO_LEN
        }
    );
    assert!(parse(&big).unwrap_err().to_string().contains("more than"));
}

#[test]
fn too_deep() {
    let n = MAX_DEPTH * 4;
    let mut t = b"d7:comment".to_vec();
    t.extend(std::iter::repeat_n(b'l', n));
    t.extend(std::iter::repeat_n(b'e', n));
    t.push(b'e');
    assert_eq!(
        parse(&t).unwrap_err(),
        MetainfoError::Bencode(BencodeError::TooDeep { max: MAX_DEPTH })
    );
}

#[test]
fn wrong_piece_count() {
    // 100 bytes need one piece of 16 KiB.
    assert_eq!(
        parse(&multi(&one_file(&[b"a"]), 2)).unwrap_err(),
        MetainfoError::WrongPieceCount {
            expected: 1,
            got: 2
        }
    );
    assert_eq!(
        parse(&multi(&one_file(&[b"a"]), 0)).unwrap_err(),
        MetainfoError::WrongPieceCount {
            expected: 1,
            got: 0
        }
    );
}

#[test]
fn overflowing_lengths() {
    let max = i64::MAX;
    let files = format!("ld6:lengthi{max}e4:pathl1:aeed6:lengthi1e4:pathl1:beee");
    assert_eq!(
        parse(&multi(files.as_bytes(), 1)).unwrap_err(),
        MetainfoError::LengthOverflow
    );
    let files = b"ld6:lengthi-1e4:pathl1:aeee";
    assert_eq!(
        parse(&multi(files, 1)).unwrap_err(),
        MetainfoError::NegativeLength(-1)
    );
    let files = b"ld6:lengthi18446744073709551616e4:pathl1:aeee";
    assert!(matches!(
        parse(&multi(files, 1)).unwrap_err(),
        MetainfoError::Bencode(BencodeError::IntegerOverflow(_))
    ));
}

#[test]
fn path_traversal() {
    let cases: &[(&[&[u8]], PathError)] = &[
        (&[b"..", b"etc", b"passwd"], PathError::ParentDir),
        (&[b"a", b"..", b"..", b"x"], PathError::ParentDir),
        (&[b"/etc/passwd"], PathError::Absolute),
        (&[b"C:\\Windows"], PathError::Absolute),
        (&[b"a", b"", b"b"], PathError::Empty),
        (&[], PathError::NoComponents),
        (&[b"a\0b"], PathError::Nul),
        (&[b"a/../../b"], PathError::Separator),
        (&[b"a\\..\\b"], PathError::Separator),
        (&[b"."], PathError::CurrentDir),
    ];
    for (path, want) in cases {
        match parse(&multi(&one_file(path), 1)) {
            Err(MetainfoError::BadPath { error, .. }) => assert_eq!(error, *want, "{path:?}"),
            other => panic!("{path:?}: {other:?}"),
        }
    }
    // The name is a path component too.
    let t = b"d4:infod6:lengthi1e4:name2:..12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
    assert!(matches!(
        parse(t).unwrap_err(),
        MetainfoError::BadName {
            error: PathError::ParentDir,
            ..
        }
    ));
}

/// A bencoded list of path components.
fn parts(path: &[&[u8]]) -> Vec<u8> {
    let mut l = b"l".to_vec();
    for p in path {
        l.extend_from_slice(format!("{}:", p.len()).as_bytes());
        l.extend_from_slice(p);
    }
    l.push(b'e');
    l
}

/// BEP 47 link entries (attr `l`): never created on disk; one whose target
/// leaves the torrent, that has no target or that claims data is refused.
#[test]
fn link_entries() {
    // A file of 100 bytes, then the link entry `l` with `length` and `target`.
    let with_link = |length: u64, target: Option<&[&[u8]]>| {
        let mut f = b"ld6:lengthi100e4:pathl1:aeed4:attr1:l".to_vec();
        f.extend_from_slice(format!("6:lengthi{length}e4:pathl1:le").as_bytes());
        if let Some(t) = target {
            f.extend_from_slice(b"12:symlink path");
            f.extend_from_slice(&parts(t));
        }
        f.extend_from_slice(b"ee");
        multi(&f, 1)
    };
    // (length, target, why it is refused)
    type Case<'a> = (u64, Option<&'a [&'a [u8]]>, &'a str);
    let refused: &[Case] = &[
        (
            0,
            Some(&[b"..", b"..", b"etc", b"passwd"]),
            "leaves the torrent",
        ),
        (0, Some(&[b"a", b"..", b"..", b"x"]), "leaves the torrent"),
        (0, Some(&[b"/etc/passwd"]), "leaves the torrent"),
        (0, Some(&[]), "leaves the torrent"),
        (0, None, "no target"),
        (5, Some(&[b"a"]), "holds no data"),
    ];
    for (length, target, why) in refused {
        match parse(&with_link(*length, *target)) {
            Err(e @ MetainfoError::BadSymlink { .. }) => {
                assert!(e.to_string().contains(why), "{target:?}: {e}")
            }
            other => panic!("{target:?}: {other:?}"),
        }
    }
    // A link inside the torrent is accepted, and never put on disk.
    let m = parse(&with_link(0, Some(&[b"a"]))).unwrap();
    let link = &m.info.files[1];
    assert!(link.attr.contains('l') && link.pad && link.length == 0);
    // A single-file torrent cannot be a link.
    let t = b"d4:infod4:attr1:l6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
    assert!(matches!(
        parse(t).unwrap_err(),
        MetainfoError::BadSymlink { .. }
    ));
}

#[test]
fn malformed_magnets() {
    let hex = "c9e15763f722f23e98a29decdfae341b98d53056";
    let cases: Vec<(String, MagnetError)> = vec![
        ("https://example/".into(), MagnetError::NotMagnet),
        ("magnet:?dn=x".into(), MagnetError::MissingInfoHash),
        ("magnet:?xt=urn:btmh:1220aa".into(), MagnetError::V2Only),
        (
            "magnet:?xt=urn:ed2k:aa".into(),
            MagnetError::UnsupportedTopic("urn:ed2k:aa".into()),
        ),
        (
            "magnet:?xt=urn:btih:1234".into(),
            MagnetError::BadInfoHash(HashParseError::BadLength(4)),
        ),
        (
            format!("magnet:?xt=urn:btih:{}x", &hex[..39]),
            MagnetError::BadInfoHash(HashParseError::BadChar('x')),
        ),
        (
            format!("magnet:?xt=urn:btih:{hex}&xt=urn:btih:{}", "a".repeat(40)),
            MagnetError::ConflictingInfoHashes,
        ),
        (
            format!("magnet:?xt=urn:btih:{hex}&tr=%%%"),
            MagnetError::BadTracker("%%%".into()),
        ),
        (
            format!("magnet:?xt=urn:btih:{hex}&x.pe=1.2.3.4"),
            MagnetError::BadPeer("1.2.3.4".into()),
        ),
    ];
    for (uri, want) in cases {
        assert_eq!(Magnet::parse(&uri), Err(want), "{uri}");
    }
}

/// A tiny deterministic generator for the property test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Pieces hostile components are built from.
const ATOMS: &[&[u8]] = &[
    b"..",
    b".",
    b"/",
    b"\\",
    b"\0",
    b"a",
    b"b",
    b"..\\",
    b"../",
    b"/..",
    b"C:",
    b"c:\\",
    b"~",
    b"\x01",
    b"\x7f",
    b"\xff\xfe",
    b"\xe2\x80\xae",
    b" ",
    b"%2e%2e",
    b"....",
    b"\n",
    b"$HOME",
];

fn hostile_component(rng: &mut Rng) -> Vec<u8> {
    let mut c = Vec::new();
    for _ in 0..rng.below(4) {
        c.extend_from_slice(ATOMS[rng.below(ATOMS.len() as u64) as usize]);
    }
    if rng.below(50) == 0 {
        c.extend(std::iter::repeat_n(b'x', 300));
    }
    c
}

#[test]
fn no_path_leaves_the_target_folder() {
    let save = tempfile::tempdir().unwrap();
    let save = save.path();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let n = rng.below(5) as usize;
        let parts: Vec<Vec<u8>> = (0..n).map(|_| hostile_component(&mut rng)).collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        let name = hostile_component(&mut rng);
        let mut t = multi(&one_file(&refs), 1);
        // Swap in a hostile name half the time.
        if rng.below(2) == 0 {
            let mut named = b"d4:infod5:files".to_vec();
            named.extend_from_slice(&one_file(&refs));
            named.extend_from_slice(format!("4:name{}:", name.len()).as_bytes());
            named.extend_from_slice(&name);
            named.extend_from_slice(b"12:piece lengthi16384e6:pieces20:");
            named.extend_from_slice(&[1u8; 20]);
            named.extend_from_slice(b"ee");
            t = named;
        }
        match parse(&t) {
            Err(_) => refused += 1,
            Ok(m) => {
                accepted += 1;
                for f in &m.info.files {
                    assert_inside(save, &f.path);
                }
            }
        }
    }
    assert!(accepted > 1000 && refused > 1000, "{accepted} {refused}");
}

fn assert_inside(save: &Path, rel: &Path) {
    assert!(rel.is_relative(), "{rel:?}");
    for c in rel.components() {
        match c {
            Component::Normal(s) => {
                let b = s.as_encoded_bytes();
                assert!(!b.is_empty() && b.len() <= 255, "{rel:?}");
                assert!(
                    !b.contains(&0) && !b.contains(&b'/') && !b.contains(&b'\\'),
                    "{rel:?}"
                );
            }
            other => panic!("{rel:?} has component {other:?}"),
        }
    }
    let joined = safe_join(save, rel).unwrap_or_else(|e| panic!("{rel:?}: {e}"));
    assert!(joined.starts_with(save), "{joined:?}");
    assert!(!joined.components().any(|c| c == Component::ParentDir));
}
