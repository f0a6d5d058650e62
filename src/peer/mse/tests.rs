//! The handshake both ways over an in-memory pipe, the modes against each
//! other, and bad input against the responder's bounds.

use super::*;
use crate::types::InfoHash;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

const HASH: InfoHash = InfoHash([7; 20]);

fn find(h: &[u8; 20]) -> Option<InfoHash> {
    (h == &req2(&HASH)).then_some(HASH)
}

/// Runs both sides; returns what each chose, after checking that bytes go
/// through both ways (IA first to the responder).
async fn pair(
    ours: Encryption,
    theirs: Encryption,
) -> (Result<Crypto, String>, Result<Crypto, String>) {
    let (a, b) = duplex(64 * 1024);
    let init = tokio::spawn(async move {
        let (mut s, c) = initiate(a, HASH, ours, b"initial")
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(b"from A").await.unwrap();
        s.flush().await.unwrap();
        let mut buf = [0u8; 6];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        assert_eq!(&buf, b"from B");
        Ok::<_, String>(c)
    });
    let resp = tokio::spawn(async move {
        let (mut s, skey, c) = respond(b, &[], theirs, &find)
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(skey, HASH);
        let mut buf = [0u8; 13];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"initialfrom A");
        s.write_all(b"from B").await.unwrap();
        s.flush().await.unwrap();
        Ok::<_, String>(c)
    });
    (init.await.unwrap(), resp.await.unwrap())
}

#[tokio::test]
async fn modes_agree_on_rc4_or_refuse() {
    for (a, b) in [
        (Encryption::Prefer, Encryption::Prefer),
        (Encryption::Prefer, Encryption::Require),
        (Encryption::Require, Encryption::Prefer),
        (Encryption::Require, Encryption::Require),
    ] {
        let (x, y) = pair(a, b).await;
        assert_eq!(x, Ok(Crypto::Rc4), "{a} -> {b}");
        assert_eq!(y, Ok(Crypto::Rc4), "{a} -> {b}");
    }
    let (_, y) = pair(Encryption::Prefer, Encryption::Off).await;
    assert!(y.is_err(), "off refuses an encrypted peer");
}

#[test]
fn the_responder_selects_plaintext_only_when_allowed() {
    use super::handshake::select_for_tests as select;
    assert_eq!(select(Encryption::Prefer, 0x01).unwrap(), 0x01);
    assert_eq!(select(Encryption::Prefer, 0x03).unwrap(), 0x02);
    assert!(select(Encryption::Require, 0x01).is_err());
    assert!(select(Encryption::Prefer, 0x04).is_err());
}

#[tokio::test]
async fn a_large_write_survives_partial_writes() {
    // A pipe far smaller than the write (large enough for the handshake's
    // messages, as a socket's buffers are): the stream writes what it
    // encrypted once, in pieces.
    let (a, b) = duplex(1024);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expect = data.clone();
    let init = tokio::spawn(async move {
        let (mut s, _) = initiate(a, HASH, Encryption::Prefer, b"").await.unwrap();
        s.write_all(&data).await.unwrap();
        s.flush().await.unwrap();
        s
    });
    let (mut s, _, _) = respond(b, &[], Encryption::Prefer, &find).await.unwrap();
    let mut got = vec![0u8; expect.len()];
    s.read_exact(&mut got).await.unwrap();
    assert!(got == expect);
    drop(init.await.unwrap());
}

#[tokio::test]
async fn garbage_ends_the_responder_within_its_bounds() {
    // 2 KiB of noise: no HASH('req1', S) within 628 bytes.
    let (mut a, b) = duplex(64 * 1024);
    let noise: Vec<u8> = (0..2048u32).map(|i| (i * 31 % 256) as u8).collect();
    a.write_all(&noise).await.unwrap();
    let r = respond(b, &[], Encryption::Prefer, &find).await;
    assert!(matches!(r, Err(MseError::Protocol(_))), "{:?}", r.err());
}

#[tokio::test]
async fn a_short_key_then_silence_is_a_close() {
    let (mut a, b) = duplex(1024);
    a.write_all(&[1; 50]).await.unwrap();
    drop(a);
    let r = respond(b, &[], Encryption::Prefer, &find).await;
    assert!(matches!(r, Err(MseError::Closed)), "{:?}", r.err());
}

#[test]
fn plain_peers_are_remembered_and_bounded() {
    let p = EncryptionPolicy::new(Encryption::Prefer);
    let a: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert!(p.dial_encrypted(a));
    p.remember_plain(a);
    assert!(!p.dial_encrypted(a));
    for port in 2..(MAX_PLAIN_PEERS as u16 + 3) {
        p.remember_plain(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    assert!(!p.is_plain(a), "the oldest is forgotten");
    assert!(EncryptionPolicy::new(Encryption::Require).dial_encrypted(a));
    assert!(!EncryptionPolicy::new(Encryption::Off).dial_encrypted(a));
}
