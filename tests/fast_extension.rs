//! The fast extension's Allowed Fast and Suggest Piece (BEP 6), both ways:
//! a seeding Shoal grants a newcomer it chokes its allowed fast set and
//! serves it; a downloading Shoal fetches the allowed pieces of a peer
//! that chokes it (a scripted peer, and a libtorrent seeder with no
//! unchoke slots), and fetches suggested pieces first; a seeding Shoal
//! points a joining peer to its rarest pieces.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::data;
use common::hostile::{block, id, piece, Attacker};
use common::procs::{self, free_port, wait_for, Libtorrent, LtOptions, Proc};

/// One block per piece.
const PIECE_LEN: u64 = 16 * 1024;
/// 300 pieces.
const PAYLOAD_LEN: usize = 300 * PIECE_LEN as usize;
/// BEP 6 message ids the scripted peer reads and sends.
const SUGGEST_PIECE: u8 = 13;
const HAVE_NONE: u8 = 15;
const REJECT_REQUEST: u8 = 16;
const ALLOWED_FAST: u8 = 17;
/// Bound on every wait.
const LIMIT: Duration = Duration::from_secs(30);

fn payload(dir: &Path) -> (PathBuf, PathBuf, shoal::Metainfo) {
    let src = dir.join("src");
    let content = src.join("payload.bin");
    data::write_file(&content, PAYLOAD_LEN, 6);
    let meta = data::torrent_of(&content, PIECE_LEN);
    let torrent = dir.join("payload.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    (src, torrent, meta)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Reads messages until `n` distinct pieces have come in messages `id`
/// (allowed fast or suggest piece, whose body is a piece index).
fn pieces_sent(a: &mut Attacker, id: u8, n: usize) -> BTreeSet<u32> {
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + LIMIT;
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {got:?} in messages {id}");
        let (msg, body) = a.read_msg().expect("the seeder's messages");
        if msg == Some(id) {
            got.insert(u32_at(&body, 0));
        }
    }
    got
}

/// Dials the seeder from `from`, says it has nothing, and collects the
/// allowed fast pieces the seeder sends until `want` have come.
fn allowed_set(
    from: Ipv4Addr,
    seeder: SocketAddr,
    ih: &[u8; 20],
    want: usize,
) -> (Attacker, BTreeSet<u32>) {
    let mut a = Attacker::dial(from, seeder, ih, false).expect("dial the seeder");
    a.send(HAVE_NONE, &[]).unwrap();
    let set = pieces_sent(&mut a, ALLOWED_FAST, want);
    (a, set)
}

#[test]
fn a_choked_newcomer_is_granted_and_served_its_allowed_fast_set() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = payload(tmp.path());
    let port = free_port();
    let _seeder = procs::shoal_seed(&torrent, &src, port, &["--no-lsd"]);
    let seeder = SocketAddr::from(([127, 0, 0, 1], port));
    let ih = meta.info_hash.0;

    let (mut a, set) = allowed_set(Ipv4Addr::new(127, 0, 5, 10), seeder, &ih, 10);
    // The set is the address's /24's, the same on every connection.
    let (_b, again) = allowed_set(Ipv4Addr::new(127, 0, 5, 77), seeder, &ih, 10);
    assert_eq!(set, again, "one /24, one set");
    let (_c, other) = allowed_set(Ipv4Addr::new(127, 0, 6, 10), seeder, &ih, 10);
    assert_ne!(set, other, "another /24, another set");

    // Never interested, so never unchoked: an allowed piece is served and
    // any other is refused.
    let data = std::fs::read(src.join("payload.bin")).unwrap();
    let allowed = *set.iter().next().unwrap();
    let refused = (0..300).find(|p| !set.contains(p)).unwrap();
    a.send(id::REQUEST, &block(allowed, 0, PIECE_LEN as u32))
        .unwrap();
    a.send(id::REQUEST, &block(refused, 0, PIECE_LEN as u32))
        .unwrap();
    let (mut served, mut rejected) = (false, false);
    let deadline = Instant::now() + LIMIT;
    while !(served && rejected) {
        assert!(
            Instant::now() < deadline,
            "served {served}, rejected {rejected}"
        );
        let (msg, body) = a.read_msg().expect("answers to the requests");
        match msg {
            Some(id::PIECE) => {
                assert_eq!(u32_at(&body, 0), allowed, "only the allowed piece is sent");
                let at = allowed as usize * PIECE_LEN as usize;
                assert!(
                    body[8..] == data[at..at + PIECE_LEN as usize],
                    "the piece's bytes"
                );
                served = true;
            }
            Some(REJECT_REQUEST) => {
                assert_eq!(u32_at(&body, 0), refused, "only the other piece is refused");
                rejected = true;
            }
            Some(id::UNCHOKE) => panic!("a peer that is not interested was unchoked"),
            _ => {}
        }
    }
}

#[test]
fn a_joining_peer_is_pointed_to_the_rarest_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = payload(tmp.path());
    let port = free_port();
    let _seeder = procs::shoal_seed(&torrent, &src, port, &["--no-lsd"]);
    let seeder = SocketAddr::from(([127, 0, 0, 1], port));
    let ih = meta.info_hash.0;

    // A has every piece but 5 and 9: those two are what it is pointed to.
    let mut a = Attacker::dial(Ipv4Addr::new(127, 0, 7, 10), seeder, &ih, false).unwrap();
    let mut bits = vec![0xffu8; 300usize.div_ceil(8)];
    bits[300 / 8] = 0xf0; // pieces 296..300; the spare bits stay clear
    bits[0] &= !(0x80 >> 5);
    bits[1] &= !(0x80 >> 1);
    a.send(id::BITFIELD, &bits).unwrap();
    assert_eq!(
        pieces_sent(&mut a, SUGGEST_PIECE, 2),
        BTreeSet::from([5, 9])
    );

    // B has nothing: 5 and 9, which no other peer has, come first.
    let mut b = Attacker::dial(Ipv4Addr::new(127, 0, 8, 10), seeder, &ih, false).unwrap();
    b.send(HAVE_NONE, &[]).unwrap();
    let got = pieces_sent(&mut b, SUGGEST_PIECE, 4);
    assert!(got.contains(&5) && got.contains(&9), "suggested {got:?}");
}

/// A scripted seeder that has every piece and a downloading Shoal that
/// dials it; returns both once the handshakes are done.
fn scripted_seeder(tmp: &Path, torrent: &Path, ih: &[u8; 20]) -> (Attacker, Proc) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cmd = procs::shoal_download(torrent, &tmp.join("dst"), addr);
    cmd.arg("--no-lsd")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let shoal = Proc::spawn("shoal download", &mut cmd);
    let mut a = Attacker::accept(&listener, ih).expect("Shoal dials the seeder");
    a.send(id::HAVE_ALL, &[]).unwrap();
    (a, shoal)
}

/// Answers Shoal's requests with the right bytes until it announces
/// `pieces` with `have`; every request must be for one of `pieces`.
fn serve_until_had(a: &mut Attacker, data: &[u8], pieces: &[u32]) -> Vec<u32> {
    let mut requested = Vec::new();
    let mut had = BTreeSet::new();
    let deadline = Instant::now() + LIMIT;
    while had.len() < pieces.len() {
        assert!(
            Instant::now() < deadline,
            "requested {requested:?}, had {had:?}"
        );
        let (msg, body) = a.read_msg().expect("Shoal's messages");
        match msg {
            Some(id::REQUEST) => {
                let (index, begin, len) = (u32_at(&body, 0), u32_at(&body, 4), u32_at(&body, 8));
                assert!(
                    pieces.contains(&index),
                    "requested piece {index}, not one of {pieces:?}"
                );
                requested.push(index);
                let at = index as usize * PIECE_LEN as usize + begin as usize;
                a.send(
                    id::PIECE,
                    &piece(index, begin, &data[at..at + len as usize]),
                )
                .unwrap();
            }
            Some(id::HAVE) => {
                had.insert(u32_at(&body, 0));
            }
            _ => {}
        }
    }
    requested
}

#[test]
fn a_peer_that_chokes_us_gives_its_allowed_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = payload(tmp.path());
    let data = std::fs::read(src.join("payload.bin")).unwrap();
    let (mut a, _shoal) = scripted_seeder(tmp.path(), &torrent, &meta.info_hash.0);
    // Never unchoked: only these two may be fetched.
    for p in [17u32, 212] {
        a.send(ALLOWED_FAST, &p.to_be_bytes()).unwrap();
    }
    serve_until_had(&mut a, &data, &[17, 212]);
}

#[test]
fn suggested_pieces_are_fetched_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (_src, torrent, meta) = payload(tmp.path());
    let (mut a, _shoal) = scripted_seeder(tmp.path(), &torrent, &meta.info_hash.0);
    for p in [251u32, 3, 140] {
        a.send(SUGGEST_PIECE, &p.to_be_bytes()).unwrap();
    }
    // Shoal's interest, then the unchoke: its first requests must be the
    // suggested pieces.
    let deadline = Instant::now() + LIMIT;
    loop {
        assert!(Instant::now() < deadline, "Shoal never became interested");
        if a.read_msg().expect("Shoal's messages").0 == Some(id::INTERESTED) {
            break;
        }
    }
    a.send(id::UNCHOKE, &[]).unwrap();
    let mut first = Vec::new();
    while first.len() < 3 {
        assert!(Instant::now() < deadline, "requests so far {first:?}");
        let (msg, body) = a.read_msg().expect("Shoal's requests");
        if msg == Some(id::REQUEST) {
            first.push(u32_at(&body, 0));
        }
    }
    first.sort();
    assert_eq!(
        first,
        [3, 140, 251],
        "the first requests are the suggested pieces"
    );
}

/// How many pieces of `copy` hold the right bytes.
fn good_pieces(original: &[u8], copy: &Path) -> usize {
    let Ok(got) = std::fs::read(copy) else {
        return 0;
    };
    original
        .chunks(PIECE_LEN as usize)
        .zip(got.chunks(PIECE_LEN as usize))
        .filter(|(a, b)| a == b)
        .count()
}

#[test]
fn a_libtorrent_seeder_with_no_unchoke_slots_gives_its_allowed_fast_set() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, _meta) = payload(tmp.path());
    let data = std::fs::read(src.join("payload.bin")).unwrap();
    let lt = Libtorrent::start(
        torrent.to_str().unwrap(),
        &src,
        LtOptions {
            seed: true,
            stay: true,
            unchoke_nobody: true,
            settings: vec!["allowed_fast_set_size=5".into()],
            ..Default::default()
        },
    );
    let dst = tmp.path().join("dst");
    let mut cmd = procs::shoal_download(&torrent, &dst, lt.addr());
    cmd.arg("--no-lsd")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _shoal = Proc::spawn("shoal download", &mut cmd);
    let copy = dst.join("payload.bin");
    let n = wait_for("pieces fetched while choked", LIMIT, || {
        let n = good_pieces(&data, &copy);
        (n >= 5).then_some(n)
    });
    eprintln!("{n} pieces fetched from a seeder that unchokes nobody");
}
