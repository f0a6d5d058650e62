//! Hostile metadata peers: one advertises a huge `metadata_size`, one sends
//! pieces out of range, one sends metadata that does not match the hash.
//! Each is refused, and the download still gets the right metadata from an
//! honest peer.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

use common::data;
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::{Session, SessionConfig};
use shoal::torrent::AddTorrent;
use shoal::wire::{ExtendedHandshake, Handshake, Message, MetadataMessage, PeerCodec};
use shoal::{Magnet, Metainfo, PeerId};

const LIMIT: Duration = Duration::from_secs(60);
/// The ut_metadata id the hostile peers ask us to use.
const THEIR_ID: u8 = 3;

#[derive(Clone, Copy)]
enum Lie {
    /// Advertises 100 MiB of metadata.
    HugeSize,
    /// Answers every request with a piece far beyond the metadata.
    OutOfRange,
    /// Serves metadata of the right size that hashes to something else.
    WrongBytes,
}

/// A peer that lies about the metadata in one way; counts connections.
async fn liar(lie: Lie, meta: Metainfo, hits: Arc<AtomicUsize>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            hits.fetch_add(1, Ordering::SeqCst);
            let meta = meta.clone();
            tokio::spawn(async move {
                let mut hs = [0u8; Handshake::LEN];
                if sock.read_exact(&mut hs).await.is_err() {
                    return;
                }
                let ours = Handshake::new(meta.info_hash, PeerId(*b"-XX0001-liarliarliar"));
                if sock.write_all(&ours.encode()).await.is_err() {
                    return;
                }
                let mut framed = Framed::new(sock, PeerCodec::new(None));
                let size = match lie {
                    Lie::HugeSize => 100 * 1024 * 1024,
                    _ => meta.info_bytes.len() as u64,
                };
                let mut ext = ExtendedHandshake::default();
                ext.m.insert("ut_metadata".into(), THEIR_ID);
                ext.metadata_size = Some(size);
                let _ = framed
                    .send(Message::Extended {
                        id: 0,
                        payload: ext.encode(),
                    })
                    .await;
                let mut their_id = 0;
                while let Some(Ok(msg)) = framed.next().await {
                    let Message::Extended { id, payload } = msg else {
                        continue;
                    };
                    if id == 0 {
                        let hs = ExtendedHandshake::decode(&payload).unwrap();
                        their_id = hs.extension_id("ut_metadata").unwrap_or(0);
                        continue;
                    }
                    let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(&payload)
                    else {
                        continue;
                    };
                    let total = meta.info_bytes.len();
                    let start = piece as usize * 16384;
                    let end = (start + 16384).min(total);
                    let reply = match lie {
                        Lie::HugeSize => MetadataMessage::Reject { piece },
                        Lie::OutOfRange => MetadataMessage::Data {
                            piece: piece + 1000,
                            total_size: total as u64,
                            data: meta.info_bytes.slice(start..end),
                        },
                        Lie::WrongBytes => MetadataMessage::Data {
                            piece,
                            total_size: total as u64,
                            data: Bytes::from(vec![b'x'; end - start]),
                        },
                    };
                    let _ = framed
                        .send(Message::Extended {
                            id: their_id,
                            payload: reply.encode(),
                        })
                        .await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_metadata_loses_to_the_honest_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("content");
    // 900 pieces of 16 KiB: the info dictionary spans two metadata pieces.
    data::write_file(&content.join("big.bin"), 900 * 16 * 1024 - 5, 21);
    data::write_file(&content.join("small.bin"), 1000, 22);
    let opts = CreateOptions {
        piece_length: Some(16 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).unwrap();
    assert!(meta.info_bytes.len() > 16384, "several metadata pieces");

    let hits: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let mut peers = Vec::new();
    for (lie, h) in [Lie::HugeSize, Lie::OutOfRange, Lie::WrongBytes]
        .into_iter()
        .zip(&hits)
    {
        peers.push(liar(lie, meta.clone(), h.clone()).await);
    }
    let config = || SessionConfig {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let seed = Session::new(config()).await.unwrap();
    let sh = seed
        .add_torrent(AddTorrent::new(meta.clone(), &src))
        .unwrap();
    common::swarm::wait_seeding(&sh).await;
    peers.push(SocketAddr::from(([127, 0, 0, 1], seed.listen_port())));

    let mut uri = format!("magnet:?xt=urn:btih:{}", meta.info_hash.to_hex());
    for p in &peers {
        uri.push_str(&format!("&x.pe={p}"));
    }
    let leech = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = leech
        .add_torrent(AddTorrent::magnet(Magnet::parse(&uri).unwrap(), &dst))
        .unwrap();
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("completes in time")
        .expect("completes");
    let got = h.metainfo().await.unwrap();
    assert_eq!(got.info_bytes, meta.info_bytes, "the right metadata");
    data::assert_same_tree(&content, &dst.join("content"));
    // Every x.pe peer is dialled at once; a liar's accept may run after the
    // honest peer already won, so give the liars a moment to count.
    for (i, h) in hits.iter().enumerate() {
        tokio::time::timeout(Duration::from_secs(10), async {
            while h.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("liar {i} was asked"));
    }
    leech.shutdown().await;
    seed.shutdown().await;
}
