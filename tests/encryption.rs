//! Protocol encryption (MSE/PE) against real clients, both directions:
//! libtorrent with its encryption policy forced (RC4, and plaintext after
//! the handshake), Transmission 3.00 with encryption required, aria2 with
//! `--bt-require-crypto`. Each transfer is compared byte for byte, and our
//! peer list shows how each connection was carried (the other client
//! refusing plaintext proves the same from its side). Then bad input
//! against the responder: garbage, a handshake that stalls, padding over
//! its bound, a plain handshake when encryption is required.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::data;
use common::procs::{self, free_port, wait_for, Libtorrent, LtOptions};
use common::swarm::{config, local};
use shoal::create::{create_torrent, CreateOptions};
use shoal::peer::{Crypto, Encryption};
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentHandle};
use shoal::Metainfo;

const LIMIT: Duration = Duration::from_secs(120);
/// Our rate both ways, so that a transfer lasts long enough for the peer
/// list to be seen while the connection is open.
const RATE: u64 = 1 << 20;
const SIZE: usize = 3 << 20;

fn fixture(root: &Path) -> (PathBuf, PathBuf, Metainfo) {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    data::write_file(&src.join("payload.bin"), SIZE, 9);
    let opts = CreateOptions {
        piece_length: Some(64 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&src.join("payload.bin"), &opts, |_, _| {}).expect("create");
    let torrent = root.join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    (src, torrent, meta)
}

fn cfg(mode: Encryption) -> SessionConfig {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    SessionConfig {
        encryption: mode,
        download_limit: Some(RATE),
        upload_limit: Some(RATE),
        ..config()
    }
}

/// Polls our peer list until `done` resolves, and returns how every
/// connection seen was carried.
async fn watch_crypto<F: std::future::Future>(
    h: &TorrentHandle,
    done: F,
) -> (F::Output, Vec<Crypto>) {
    tokio::pin!(done);
    let mut seen = Vec::new();
    let out = tokio::time::timeout(LIMIT, async {
        loop {
            tokio::select! {
                out = &mut done => return out,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    for p in h.peers().await {
                        if !seen.contains(&p.crypto) {
                            seen.push(p.crypto);
                        }
                    }
                }
            }
        }
    })
    .await
    .expect("the transfer completes in time");
    (out, seen)
}

/// Runs a blocking wait on its own thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn our_seeder(mode: Encryption, meta: &Metainfo, src: &Path) -> (Session, TorrentHandle) {
    let s = Session::new(cfg(mode)).await.unwrap();
    let h = common::swarm::seeding(&s, meta, src).await;
    (s, h)
}

/// Our session downloads from `peer`, and says how it was connected.
async fn we_download(
    mode: Encryption,
    meta: &Metainfo,
    src: &Path,
    dst: &Path,
    peer: SocketAddr,
) -> Vec<Crypto> {
    let s = Session::new(cfg(mode)).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), dst);
    add.peers = vec![peer];
    let h = s.add_torrent(add).unwrap();
    let (r, seen) = watch_crypto(&h, h.wait_complete()).await;
    r.expect("our download completes");
    data::assert_same_tree(src, dst);
    s.shutdown().await;
    seen
}

/// A libtorrent peer with the given encryption settings (seeding `src` or
/// downloading into `dst` from `peers`).
fn libtorrent(
    torrent: &Path,
    dir: &Path,
    seed: bool,
    peers: Vec<SocketAddr>,
    enc: (&'static str, &'static str),
) -> Libtorrent {
    let mut lt = Libtorrent::start(
        torrent.to_str().unwrap(),
        dir,
        LtOptions {
            seed,
            stay: seed,
            peers,
            upload_limit: seed.then_some(RATE),
            encryption: Some(enc),
            ..Default::default()
        },
    );
    if seed {
        lt.wait_started(Duration::from_secs(20));
    }
    lt
}

async fn libtorrent_downloads_from_us(
    ours: Encryption,
    enc: (&'static str, &'static str),
) -> Vec<Crypto> {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let (s, h) = our_seeder(ours, &meta, &src).await;
    let dst = tmp.path().join("lt");
    let us = local(s.listen_port());
    let lt_dst = dst.clone();
    let ((), seen) = watch_crypto(
        &h,
        blocking(move || {
            let mut lt = libtorrent(&torrent, &lt_dst, false, vec![us], enc);
            lt.wait_done(LIMIT);
        }),
    )
    .await;
    data::assert_same_tree(&src, &dst);
    s.shutdown().await;
    seen
}

async fn we_download_from_libtorrent(
    ours: Encryption,
    enc: (&'static str, &'static str),
) -> Vec<Crypto> {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let (t, s2) = (torrent.clone(), src.clone());
    let lt = blocking(move || libtorrent(&t, &s2, true, vec![], enc)).await;
    let seen = we_download(ours, &meta, &src, &tmp.path().join("ours"), lt.addr()).await;
    drop(lt);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_forcing_rc4_downloads_from_us_requiring_it() {
    let seen = libtorrent_downloads_from_us(Encryption::Require, ("forced", "rc4")).await;
    assert_eq!(seen, vec![Crypto::Rc4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_requiring_rc4_download_from_libtorrent_forcing_it() {
    let seen = we_download_from_libtorrent(Encryption::Require, ("forced", "rc4")).await;
    assert_eq!(seen, vec![Crypto::Rc4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_only_when_libtorrent_forces_plaintext_after_the_handshake() {
    // libtorrent forced, allowed level plaintext: an MSE handshake, then
    // the payload in the clear, both directions.
    let seen = libtorrent_downloads_from_us(Encryption::Prefer, ("forced", "plaintext")).await;
    assert_eq!(seen, vec![Crypto::HeaderOnly], "incoming");
    let seen = we_download_from_libtorrent(Encryption::Prefer, ("forced", "plaintext")).await;
    assert_eq!(seen, vec![Crypto::HeaderOnly], "outgoing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_falls_back_to_plain_for_a_peer_without_encryption() {
    let seen = we_download_from_libtorrent(Encryption::Prefer, ("disabled", "both")).await;
    assert_eq!(seen, vec![Crypto::Plain]);
    // And prefer dials libtorrent's default (encryption enabled) encrypted.
    let seen = we_download_from_libtorrent(Encryption::Prefer, ("enabled", "both")).await;
    assert_eq!(seen, vec![Crypto::Rc4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmission_requiring_encryption_downloads_from_us() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let (s, h) = our_seeder(Encryption::Require, &meta, &src).await;
    let dst = tmp.path().join("tr");
    std::fs::create_dir_all(&dst).unwrap();
    let port = free_port();
    let _tr = procs::transmission_encrypting(&torrent, &dst, &tmp.path().join("trcfg"), port, 2);
    common::swarm::wait_listening(port).await;
    h.add_peers(vec![local(port)]).await;
    let (a, b) = (src.clone(), dst.clone());
    let ((), seen) = watch_crypto(
        &h,
        blocking(move || {
            wait_for("Transmission's copy", LIMIT, || {
                data::same_content(&a, &b).then_some(())
            })
        }),
    )
    .await;
    assert_eq!(seen, vec![Crypto::Rc4]);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_requiring_encryption_download_from_transmission_requiring_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let port = free_port();
    let _tr = procs::transmission_encrypting(&torrent, &src, &tmp.path().join("trcfg"), port, 2);
    common::swarm::wait_listening(port).await;
    let seen = we_download(
        Encryption::Require,
        &meta,
        &src,
        &tmp.path().join("ours"),
        local(port),
    )
    .await;
    assert_eq!(seen, vec![Crypto::Rc4]);
}

const ARIA2_CRYPTO: &[&str] = &["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2_requiring_crypto_downloads_from_us() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let (s, h) = our_seeder(Encryption::Prefer, &meta, &src).await;
    let dst = tmp.path().join("aria2");
    std::fs::create_dir_all(&dst).unwrap();
    let port = free_port();
    let _a = procs::aria2_with(&torrent, &dst, port, false, ARIA2_CRYPTO);
    common::swarm::wait_listening(port).await;
    h.add_peers(vec![local(port)]).await;
    let (a, b) = (src.clone(), dst.clone());
    let ((), seen) = watch_crypto(
        &h,
        blocking(move || {
            wait_for("aria2's copy", LIMIT, || {
                data::same_content(&a, &b).then_some(())
            })
        }),
    )
    .await;
    assert_eq!(seen, vec![Crypto::Rc4]);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_aria2_requiring_crypto() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let port = free_port();
    let _a = procs::aria2_with(&torrent, &src, port, true, ARIA2_CRYPTO);
    common::swarm::wait_listening(port).await;
    let seen = we_download(
        Encryption::Require,
        &meta,
        &src,
        &tmp.path().join("ours"),
        local(port),
    )
    .await;
    assert_eq!(seen, vec![Crypto::Rc4]);
}

mod bad_input {
    //! A scripted initiator against a seeding session: each connection
    //! must end (EOF or reset) within the handshake timeout, whatever the
    //! peer sends.

    use super::*;
    use num_bigint::BigUint;
    use rc4::{KeyInit, StreamCipher};
    use sha1::{Digest, Sha1};

    /// Longer than the handshake timeout (10 s), as a bound on the wait.
    const CLOSE_LIMIT: Duration = Duration::from_secs(30);

    async fn seeding_session(mode: Encryption) -> (tempfile::TempDir, Session, Metainfo) {
        let tmp = tempfile::tempdir().unwrap();
        let (src, _, meta) = fixture(tmp.path());
        let (s, _) = our_seeder(mode, &meta, &src).await;
        (tmp, s, meta)
    }

    fn dial(s: &Session) -> TcpStream {
        let c = TcpStream::connect(local(s.listen_port())).unwrap();
        c.set_read_timeout(Some(CLOSE_LIMIT)).unwrap();
        c
    }

    /// Reads until the session closes the connection; returns the bytes
    /// read. Panics if it is still open after `CLOSE_LIMIT`.
    fn read_until_closed(c: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
                Err(e) => panic!("the connection is still open: {e}"),
            }
        }
    }

    const PRIME: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563";

    fn key_bytes(n: &BigUint) -> [u8; 96] {
        let b = n.to_bytes_be();
        let mut out = [0u8; 96];
        out[96 - b.len()..].copy_from_slice(&b);
        out
    }

    fn sha1(parts: &[&[u8]]) -> [u8; 20] {
        let mut h = Sha1::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    /// Sends Ya and reads Yb: returns S.
    fn exchange_keys(c: &mut TcpStream) -> [u8; 96] {
        let p = BigUint::parse_bytes(PRIME.as_bytes(), 16).unwrap();
        let x = BigUint::from(0x1234_5678_9abc_def0u64);
        c.write_all(&key_bytes(&BigUint::from(2u32).modpow(&x, &p)))
            .unwrap();
        let mut yb = [0u8; 96];
        c.read_exact(&mut yb).expect("the session answers Yb");
        key_bytes(&BigUint::from_bytes_be(&yb).modpow(&x, &p))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_is_answered_then_dropped_at_the_sync_bound() {
        let (_tmp, s, _) = seeding_session(Encryption::Prefer).await;
        let mut c = dial(&s);
        let got = blocking(move || {
            let noise: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            // The session may close before reading it all.
            let _ = c.write_all(&noise);
            read_until_closed(&mut c)
        })
        .await;
        assert!(
            got.len() >= 96,
            "taken for Ya and answered with Yb: {} bytes",
            got.len()
        );
        s.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handshake_that_stalls_after_ya_is_closed() {
        let (_tmp, s, _) = seeding_session(Encryption::Prefer).await;
        let mut c = dial(&s);
        blocking(move || {
            exchange_keys(&mut c);
            // Nothing more: the session's handshake timeout ends it.
            read_until_closed(&mut c);
        })
        .await;
        s.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn padding_over_its_bound_is_refused() {
        let (_tmp, s, meta) = seeding_session(Encryption::Prefer).await;
        // PadA: 700 bytes after Ya before anything else.
        let mut c = dial(&s);
        blocking(move || {
            exchange_keys(&mut c);
            let _ = c.write_all(&[0x55; 700]);
            read_until_closed(&mut c);
        })
        .await;
        // PadC: a length of 60,000 in the encrypted part.
        let mut c = dial(&s);
        let skey = meta.info_hash.0;
        blocking(move || {
            let secret = exchange_keys(&mut c);
            let mut msg = sha1(&[b"req1", &secret]).to_vec();
            let (r2, r3) = (sha1(&[b"req2", &skey]), sha1(&[b"req3", &secret]));
            msg.extend(r2.iter().zip(r3.iter()).map(|(a, b)| a ^ b));
            let mut enc =
                rc4::Rc4::<rc4::consts::U20>::new(&sha1(&[b"keyA", &secret, &skey]).into());
            enc.apply_keystream(&mut [0u8; 1024]);
            let mut tail = vec![0u8; 8];
            tail.extend_from_slice(&2u32.to_be_bytes());
            tail.extend_from_slice(&60_000u16.to_be_bytes());
            tail.extend_from_slice(&[0u8; 2000]);
            enc.apply_keystream(&mut tail);
            msg.extend_from_slice(&tail);
            let _ = c.write_all(&msg);
            read_until_closed(&mut c);
        })
        .await;
        s.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn require_refuses_a_plain_handshake() {
        let (_tmp, s, meta) = seeding_session(Encryption::Require).await;
        let mut c = dial(&s);
        let mut hs = b"\x13BitTorrent protocol".to_vec();
        hs.extend_from_slice(&[0; 8]);
        hs.extend_from_slice(&meta.info_hash.0);
        hs.extend_from_slice(b"-XX0000-plainplainpl");
        let got = blocking(move || {
            c.write_all(&hs).unwrap();
            read_until_closed(&mut c)
        })
        .await;
        assert!(got.is_empty(), "no handshake answered: {got:?}");
        s.shutdown().await;
    }
}
