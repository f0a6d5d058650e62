//! Hostile peers against a `shoal` process: each attack of
//! `common::hostile` runs, all at once and each from its own loopback
//! address, against a downloading Shoal (an honest Shoal seeder serving
//! it) and against a seeding Shoal (an honest Shoal downloader taking
//! data), and metadata bombs against a magnet download. For each target:
//! the honest transfer completes byte for byte, every attacker's
//! connection is closed by Shoal within `DROP_WAIT`, Shoal's peak memory
//! stays under `PEAK_KIB` and its output (stdout and stderr at the default
//! log level) under `LOG_BYTES`. The last test floods one connection with
//! PEX and reads the peer list's size from a session in this process.

mod common;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::data;
use common::hostile::{self, block, frame, id, piece, Attacker, Flood};
use common::procs::{self, free_port, wait_for, Proc};

/// Piece length of the payload: 16 KiB, one block per piece.
const PIECE_LEN: u64 = 16 * 1024;
/// The payload: 257 pieces, so its bitfield has spare bits.
const PAYLOAD_LEN: usize = 256 * PIECE_LEN as usize + 12_345;
/// The honest peer's rate limit (KiB/s), so the transfer lasts while the
/// attacks run.
const HONEST_RATE_KIB: &str = "512";
/// How long Shoal may take to close an attacker's connection.
const DROP_WAIT: Duration = Duration::from_secs(20);
/// Bound on any wait for a transfer.
const LIMIT: Duration = Duration::from_secs(60);
/// Bound on Shoal's peak resident memory (VmHWM) under attack, in KiB.
const PEAK_KIB: u64 = 32 * 1024;
/// Bound on what Shoal writes to stdout and stderr during the attacks.
const LOG_BYTES: u64 = 4096;

/// What each attack needs to know of the torrent.
#[derive(Clone, Copy)]
struct Target {
    addr: SocketAddr,
    info_hash: [u8; 20],
    pieces: u32,
}

#[derive(Clone, Copy, Debug)]
enum Attack {
    /// A length prefix of 2 GiB.
    OversizedLength,
    /// A bitfield one byte too long.
    BitfieldLength,
    /// A bitfield of the right length with its spare bits set.
    BitfieldSpareBits,
    /// `have` of a piece past the end.
    HaveOutOfRange,
    /// `request` of a piece past the end.
    RequestOutOfRange,
    /// `piece` of a piece past the end.
    PieceOutOfRange,
    /// A block nobody asked for.
    Unrequested,
    /// Claims every piece and answers requests with garbage.
    WrongData,
    /// Requests as fast as it can, never reading.
    RequestFlood,
    /// Cancels of blocks it never asked for, never reading.
    CancelFlood,
    /// A `metadata_size` of 1 TiB and ut_metadata pieces of 60 KiB.
    MetadataBomb,
    /// ut_pex messages with thousands of addresses, as fast as it can.
    PexFlood,
    /// A handshake for a torrent Shoal does not have.
    WrongInfoHash,
}

const EVERY_ATTACK: [Attack; 13] = [
    Attack::OversizedLength,
    Attack::BitfieldLength,
    Attack::BitfieldSpareBits,
    Attack::HaveOutOfRange,
    Attack::RequestOutOfRange,
    Attack::PieceOutOfRange,
    Attack::Unrequested,
    Attack::WrongData,
    Attack::RequestFlood,
    Attack::CancelFlood,
    Attack::MetadataBomb,
    Attack::PexFlood,
    Attack::WrongInfoHash,
];

/// Reads until Shoal's extension handshake: its ut_metadata and ut_pex ids.
fn their_ext_ids(a: &mut Attacker) -> (Option<u8>, Option<u8>) {
    for _ in 0..16 {
        let Ok((Some(id::EXTENDED), body)) = a.read_msg() else {
            continue;
        };
        if body.first() != Some(&0) {
            continue;
        }
        return ext_ids(&body);
    }
    (None, None)
}

/// The ut_metadata and ut_pex ids in an extension handshake's body.
fn ext_ids(body: &[u8]) -> (Option<u8>, Option<u8>) {
    let find = |key: &[u8]| {
        let at = body.windows(key.len()).position(|w| w == key)? + key.len();
        let end = at + body[at..].iter().position(|b| *b == b'e')?;
        std::str::from_utf8(&body[at..end]).ok()?.parse().ok()
    };
    (find(b"11:ut_metadatai"), find(b"6:ut_pexi"))
}

/// `count` loopback addresses no one listens on, starting at `first`.
fn junk_addrs(first: u32, count: u32) -> Vec<SocketAddrV4> {
    (first..first + count)
        .map(|i| SocketAddrV4::new(Ipv4Addr::from(0x7f01_0000 + i), 1))
        .collect()
}

/// Runs one attack from `from`; `Err` says what went wrong for the test.
fn attack(kind: Attack, from: Ipv4Addr, t: Target) -> Result<String, String> {
    if let Attack::WrongInfoHash = kind {
        let mut a = Attacker::connect(from, t.addr, false)
            .map_err(|e| format!("{kind:?}: cannot connect: {e}"))?;
        let wrong = t.info_hash.map(|b| !b);
        let _ = a.raw(&hostile::handshake(&wrong));
        return if a.closed_within(DROP_WAIT) {
            Ok(format!("{kind:?}: dropped"))
        } else {
            Err(format!("{kind:?}: still connected after {DROP_WAIT:?}"))
        };
    }
    let small = matches!(kind, Attack::RequestFlood | Attack::CancelFlood);
    let mut a = Attacker::dial(from, t.addr, &t.info_hash, small)
        .map_err(|e| format!("{kind:?}: cannot connect: {e}"))?;
    let out_of_range = t.pieces + 10;
    let zeros = vec![0u8; PIECE_LEN as usize];
    let sent = match kind {
        Attack::OversizedLength => a.raw(&[0x7f, 0xff, 0xff, 0xff, id::PIECE, 0, 0, 0, 0]),
        Attack::BitfieldLength => {
            a.send(id::BITFIELD, &vec![0xff; t.pieces.div_ceil(8) as usize + 1])
        }
        Attack::BitfieldSpareBits => {
            a.send(id::BITFIELD, &vec![0xff; t.pieces.div_ceil(8) as usize])
        }
        Attack::HaveOutOfRange => a.send(id::HAVE, &out_of_range.to_be_bytes()),
        Attack::RequestOutOfRange => a
            .send(id::INTERESTED, &[])
            .and_then(|_| a.send(id::REQUEST, &block(out_of_range, 0, 16384))),
        Attack::PieceOutOfRange => a.send(id::PIECE, &piece(out_of_range, 0, &zeros)),
        Attack::Unrequested => a.send(id::PIECE, &piece(0, 0, &zeros)),
        Attack::WrongData => wrong_data(&mut a),
        Attack::RequestFlood | Attack::CancelFlood => {
            let mut chunk = frame(id::INTERESTED, &[]);
            let msg = if matches!(kind, Attack::RequestFlood) {
                id::REQUEST
            } else {
                id::CANCEL
            };
            // Whole blocks of every piece but the short last one.
            for i in 0..4096u32 {
                chunk.extend(frame(msg, &block(i % (t.pieces - 1), 0, 16384)));
            }
            let (how, bytes) = a.flood(&chunk, Duration::from_secs(15), Duration::from_secs(5));
            if how != Flood::Closed {
                return Err(format!(
                    "{kind:?}: not dropped: {how:?} after {} KiB",
                    bytes >> 10
                ));
            }
            return Ok(format!("{kind:?}: dropped after {} KiB", bytes >> 10));
        }
        Attack::MetadataBomb => metadata_bomb(&mut a),
        Attack::PexFlood => pex_flood(&mut a),
        Attack::WrongInfoHash => unreachable!("handled above"),
    };
    match sent {
        // Shoal may hang up while we still write or read: that is the drop.
        Err(e) if !hostile::timed_out(&e) => {
            return Ok(format!("{kind:?}: closed while sending ({e})"))
        }
        _ => {}
    }
    if a.closed_within(DROP_WAIT) {
        Ok(format!("{kind:?}: dropped"))
    } else {
        Err(format!("{kind:?}: still connected after {DROP_WAIT:?}"))
    }
}

/// Claims every piece, unchokes, and answers each request with garbage.
fn wrong_data(a: &mut Attacker) -> std::io::Result<()> {
    a.send(id::HAVE_ALL, &[])?;
    a.send(id::UNCHOKE, &[])?;
    loop {
        let (msg, body) = a.read_msg()?;
        if msg == Some(id::REQUEST) && body.len() == 12 {
            let index = u32::from_be_bytes(body[0..4].try_into().unwrap());
            let begin = u32::from_be_bytes(body[4..8].try_into().unwrap());
            let len = u32::from_be_bytes(body[8..12].try_into().unwrap()) as usize;
            a.send(id::PIECE, &piece(index, begin, &vec![0x5a; len.min(16384)]))?;
        }
    }
}

/// A 1 TiB `metadata_size`, then ut_metadata pieces of 60 KiB that nobody
/// asked for.
fn metadata_bomb(a: &mut Attacker) -> std::io::Result<()> {
    a.send(
        id::EXTENDED,
        &[&[0u8][..], &hostile::ext_handshake(Some(1 << 40))].concat(),
    )?;
    let (their_metadata, _) = their_ext_ids(a);
    let their_metadata = their_metadata.unwrap_or(2);
    let big = vec![b'x'; 60 * 1024];
    for p in 0..64 {
        let msg = hostile::metadata_msg(1, p, Some(1 << 40), &big);
        a.send(id::EXTENDED, &[&[their_metadata][..], &msg].concat())?;
    }
    Ok(())
}

/// 1,000 ut_pex messages of 1,000 fresh addresses each, as fast as the
/// socket takes them.
fn pex_flood(a: &mut Attacker) -> std::io::Result<()> {
    a.send(
        id::EXTENDED,
        &[&[0u8][..], &hostile::ext_handshake(None)].concat(),
    )?;
    let (_, their_pex) = their_ext_ids(a);
    let their_pex = their_pex.ok_or_else(|| std::io::Error::other("Shoal offers no ut_pex"))?;
    for m in 0..1000 {
        let msg = hostile::pex_msg(&junk_addrs(m * 1000, 1000));
        a.send(id::EXTENDED, &[&[their_pex][..], &msg].concat())?;
    }
    Ok(())
}

/// Runs `attacks` in parallel, attacker `i` from 127.0.<net>.(10 + i);
/// panics with every failure.
fn run_attacks(attacks: &[Attack], net: u8, t: Target) {
    let handles: Vec<_> = attacks
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let (kind, from) = (*kind, Ipv4Addr::new(127, 0, net, 10 + i as u8));
            thread::spawn(move || attack(kind, from, t))
        })
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        match h.join().expect("attack thread") {
            Ok(note) => eprintln!("{note}"),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "attacks not dropped: {failures:#?}");
}

/// A `shoal` process under attack, its output in files.
struct Shoal {
    proc: Proc,
    out: PathBuf,
    err: PathBuf,
}

impl Shoal {
    fn spawn(name: &str, dir: &Path, cmd: &mut Command) -> Shoal {
        let out = dir.join(format!("{name}.stdout"));
        let err = dir.join(format!("{name}.stderr"));
        // The default log level is the one under test.
        cmd.env_remove("RUST_LOG")
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()));
        Shoal {
            proc: Proc::spawn(name, cmd),
            out,
            err,
        }
    }

    /// Checks the memory and output bounds; call while it still runs.
    fn check_bounds(&mut self, what: &str) {
        assert!(self.proc.running(), "{what}: Shoal exited under attack");
        let (peak, anon) = hostile::memory_kib(self.proc.pid());
        let log = std::fs::metadata(&self.out).unwrap().len()
            + std::fs::metadata(&self.err).unwrap().len();
        eprintln!("{what}: peak RSS {peak} KiB, anonymous {anon} KiB, output {log} bytes");
        assert!(
            peak < PEAK_KIB,
            "{what}: peak memory {peak} KiB over {PEAK_KIB} KiB"
        );
        assert!(
            log < LOG_BYTES,
            "{what}: {log} bytes of output: {}{}",
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default()
        );
    }
}

/// A payload, its torrent file, and what the attacks need.
fn payload(dir: &Path) -> (PathBuf, PathBuf, shoal::Metainfo) {
    let src = dir.join("src");
    let content = src.join("payload.bin");
    data::write_file(&content, PAYLOAD_LEN, 41);
    let meta = data::torrent_of(&content, PIECE_LEN);
    let torrent = dir.join("payload.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    (src, torrent, meta)
}

fn target(port: u16, meta: &shoal::Metainfo) -> Target {
    Target {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        info_hash: meta.info_hash.0,
        pieces: meta.info.num_pieces(),
    }
}

fn wait_listening(port: u16) {
    wait_for("Shoal to listen", LIMIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

#[test]
fn attacks_on_a_downloading_shoal() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = payload(tmp.path());
    let seed_port = free_port();
    let _seeder = procs::shoal_seed(
        &torrent,
        &src,
        seed_port,
        &["--upload-limit", HONEST_RATE_KIB],
    );
    let port = free_port();
    let dst = tmp.path().join("dst");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    // Stays up once complete (`--seed`), so a closed socket is Shoal's doing.
    cmd.arg("download").arg(&torrent).arg("-o").arg(&dst).args([
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--no-dht",
        "--no-port-mapping",
        "--no-lsd",
        "--seed",
        "--peer",
        &format!("127.0.0.1:{seed_port}"),
    ]);
    let mut shoal = Shoal::spawn("downloader", tmp.path(), &mut cmd);
    wait_listening(port);

    run_attacks(&EVERY_ATTACK, 1, target(port, &meta));

    let (original, copy) = (src.join("payload.bin"), dst.join("payload.bin"));
    wait_for("the download to complete", LIMIT, || {
        same_file(&original, &copy).then_some(())
    });
    shoal.check_bounds("downloading Shoal");
}

#[test]
fn attacks_on_a_seeding_shoal() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = payload(tmp.path());
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("seed").arg(&torrent).arg(&src).args([
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--no-dht",
        "--no-port-mapping",
        "--no-lsd",
    ]);
    let mut shoal = Shoal::spawn("seeder", tmp.path(), &mut cmd);
    wait_listening(port);

    let dst = tmp.path().join("dst");
    let mut dl = procs::shoal_download(&torrent, &dst, ([127, 0, 0, 1], port).into());
    dl.args(["--download-limit", HONEST_RATE_KIB])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut honest = Proc::spawn("honest downloader", &mut dl);

    // Wrong data is an unrequested block to a seeder: covered by
    // `Unrequested`.
    let attacks: Vec<Attack> = EVERY_ATTACK
        .into_iter()
        .filter(|a| !matches!(a, Attack::WrongData))
        .collect();
    run_attacks(&attacks, 2, target(port, &meta));

    let status = wait_for("the honest download to exit", LIMIT, || honest.try_status());
    assert!(status.success(), "the honest download failed: {status:?}");
    assert!(same_file(
        &src.join("payload.bin"),
        &dst.join("payload.bin")
    ));
    shoal.check_bounds("seeding Shoal");
}

/// Metadata bombs against a magnet download: one peer offers 1 TiB of
/// metadata, one answers with pieces of nearly 64 KiB, one answers the
/// handshake for another torrent; an honest seeder serves.
#[test]
fn metadata_bombs_on_a_magnet_download() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = payload(tmp.path());
    let seed_port = free_port();
    let _seeder = procs::shoal_seed(&torrent, &src, seed_port, &["--no-lsd"]);
    let info_hash = meta.info_hash.0;
    let size = meta.info_bytes.len() as u64;

    let bombs: Vec<(TcpListener, u64)> = [(1u64 << 40, 3u8), (size, 4)]
        .into_iter()
        .map(|(advertised, host)| {
            let l = TcpListener::bind((Ipv4Addr::new(127, 0, 3, host), 0)).unwrap();
            (l, advertised)
        })
        .collect();
    // And one that answers for another torrent.
    let other = TcpListener::bind((Ipv4Addr::new(127, 0, 3, 5), 0)).unwrap();
    let mut uri = format!("magnet:?xt=urn:btih:{}", meta.info_hash.to_hex());
    for l in bombs.iter().map(|(l, _)| l).chain([&other]) {
        uri.push_str(&format!("&x.pe={}", l.local_addr().unwrap()));
    }
    uri.push_str(&format!("&x.pe=127.0.0.1:{seed_port}"));

    let dst = tmp.path().join("dst");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("download").arg(&uri).arg("-o").arg(&dst).args([
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--no-dht",
        "--no-port-mapping",
        "--no-lsd",
        "--seed",
    ]);
    let mut shoal = Shoal::spawn("magnet", tmp.path(), &mut cmd);

    let handles: Vec<_> = bombs
        .into_iter()
        .map(|(listener, advertised)| {
            thread::spawn(move || -> Result<(), String> {
                listener.set_nonblocking(false).unwrap();
                let mut a = Attacker::accept(&listener, &info_hash).map_err(|e| e.to_string())?;
                let hs = hostile::ext_handshake(Some(advertised));
                let sent: std::io::Result<()> = a
                    .send(id::EXTENDED, &[&[0u8][..], &hs].concat())
                    .and_then(|_| {
                        // Answer every request with a piece four times too big.
                        let big = vec![b'x'; 64 * 1024 - 100];
                        let mut theirs = None;
                        loop {
                            let (msg, body) = a.read_msg()?;
                            if msg != Some(id::EXTENDED) {
                                continue;
                            }
                            match body.first() {
                                Some(0) => theirs = ext_ids(&body).0,
                                Some(&hostile::OUR_UT_METADATA) => {
                                    let m = hostile::metadata_msg(1, 0, Some(advertised), &big);
                                    let to = theirs.unwrap_or(hostile::OUR_UT_METADATA);
                                    a.send(id::EXTENDED, &[&[to][..], &m].concat())?;
                                }
                                _ => {}
                            }
                        }
                    });
                let closed = matches!(&sent, Err(e) if !hostile::timed_out(e));
                if closed || a.closed_within(DROP_WAIT) {
                    Ok(())
                } else {
                    Err(format!(
                        "the bomb advertising {advertised} bytes was not dropped"
                    ))
                }
            })
        })
        .collect();
    let wrong_hash = thread::spawn(move || -> Result<(), String> {
        let wrong = info_hash.map(|b| !b);
        let mut a = Attacker::accept(&other, &wrong).map_err(|e| e.to_string())?;
        if a.closed_within(DROP_WAIT) {
            Ok(())
        } else {
            Err("the peer of another torrent was not dropped".into())
        }
    });
    for h in handles.into_iter().chain([wrong_hash]) {
        h.join().expect("bomb thread").expect("bomb dropped");
    }
    let (original, copy) = (src.join("payload.bin"), dst.join("payload.bin"));
    wait_for("the magnet download to complete", LIMIT, || {
        same_file(&original, &copy).then_some(())
    });
    shoal.check_bounds("magnet download");
}

/// A PEX flood, then the same peer back four times with a burst each:
/// the session's peer list takes no more than its share from that peer
/// (`MAX_PEX_PER_TELLER`), and the flood ends the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pex_flood_does_not_fill_the_peer_list() {
    use shoal::session::Session;
    use shoal::torrent::peers::MAX_PEX_PER_TELLER;
    use shoal::torrent::AddTorrent;

    let tmp = tempfile::tempdir().unwrap();
    let (_, _, meta) = payload(tmp.path());
    let session = Session::new(common::swarm::config()).await.unwrap();
    // No seeder: the torrent stays downloading, and keeps what PEX says.
    let h = session
        .add_torrent(AddTorrent::new(meta.clone(), tmp.path().join("dst")))
        .unwrap();
    let t = target(session.listen_port(), &meta);
    let from = Ipv4Addr::new(127, 0, 4, 10);
    let flood = tokio::task::spawn_blocking(move || {
        let mut notes = vec![attack(Attack::PexFlood, from, t)];
        for round in 1..5u32 {
            // A burst of three messages of 50 new addresses, as BEP 11
            // allows from a new connection.
            let burst = || -> std::io::Result<()> {
                let mut a = Attacker::dial(from, t.addr, &t.info_hash, false)?;
                a.send(
                    id::EXTENDED,
                    &[&[0u8][..], &hostile::ext_handshake(None)].concat(),
                )?;
                let (_, their_pex) = their_ext_ids(&mut a);
                let their_pex = their_pex.ok_or_else(|| std::io::Error::other("no ut_pex"))?;
                for m in 0..3 {
                    let first = 2_000_000 + round * 1000 + m * 50;
                    let msg = hostile::pex_msg(&junk_addrs(first, 50));
                    a.send(id::EXTENDED, &[&[their_pex][..], &msg].concat())?;
                }
                // Give the session a moment to take them before hanging up.
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            };
            notes.push(
                burst()
                    .map(|_| format!("burst {round}"))
                    .map_err(|e| e.to_string()),
            );
        }
        notes
    })
    .await
    .unwrap();
    for n in &flood {
        eprintln!("{n:?}");
    }
    // The stats are published on the torrent's tick: wait for two.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let known = h.stats().known_peers;
    eprintln!("peer list after the PEX flood and four bursts: {known}");
    assert!(known > 0, "PEX addresses were taken at all");
    assert!(
        known <= MAX_PEX_PER_TELLER,
        "one peer put {known} addresses in the list (its share is {MAX_PEX_PER_TELLER})"
    );
    assert!(flood[0].is_ok(), "the PEX flood is dropped: {:?}", flood[0]);
    session.shutdown().await;
}
