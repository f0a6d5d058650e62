//! A peer that sends bad data for some pieces: the download still completes
//! correctly from an honest peer, and the bad peer is banned — also one
//! that hangs up right after each bad block and dials again, while the
//! honest peer that finished its pieces is not.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

use common::data;
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::Session;
use shoal::storage::Layout;
use shoal::torrent::AddTorrent;
use shoal::wire::{Geometry, Handshake, Message, PeerCodec};
use shoal::PeerId;

const LIMIT: Duration = Duration::from_secs(60);

use common::swarm::config;

/// Serves every piece, but corrupts the odd ones. Listens on its own
/// loopback address so that banning its IP spares the honest peers.
async fn liar(listener: TcpListener, meta: shoal::Metainfo, stream_bytes: Vec<u8>) {
    let layout = Layout::new(&meta.info);
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let meta = meta.clone();
        let bytes = stream_bytes.clone();
        let layout = layout.clone();
        tokio::spawn(async move {
            let mut hs = [0u8; Handshake::LEN];
            if sock.read_exact(&mut hs).await.is_err() {
                return;
            }
            let mut id = [b'x'; 20];
            id[..8].copy_from_slice(b"-XX0001-");
            let ours = Handshake::new(meta.info_hash, PeerId(id));
            if sock.write_all(&ours.encode()).await.is_err() {
                return;
            }
            let geometry = Geometry::from_info(&meta.info).expect("valid geometry");
            let mut framed = Framed::new(sock, PeerCodec::new(Some(geometry)));
            let _ = framed.send(Message::HaveAll).await;
            while let Some(Ok(msg)) = framed.next().await {
                match msg {
                    Message::Interested => {
                        let _ = framed.send(Message::Unchoke).await;
                    }
                    Message::Request(b) => {
                        let (start, _) = layout.piece_range(b.piece);
                        let at = (start + b.offset as u64) as usize;
                        let mut block = bytes[at..at + b.len as usize].to_vec();
                        if b.piece.0 % 2 == 1 {
                            for x in block.iter_mut() {
                                *x ^= 0x5a;
                            }
                        }
                        let piece = Message::Piece {
                            piece: b.piece,
                            offset: b.offset,
                            data: Bytes::from(block),
                        };
                        if framed.send(piece).await.is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_is_refused_and_the_liar_banned() {
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("content");
    data::write_file(&content.join("one.bin"), 400_000, 11);
    data::write_file(&content.join("two.bin"), 123_457, 12);
    let opts = CreateOptions {
        piece_length: Some(16 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).unwrap();
    let mut stream = std::fs::read(content.join("one.bin")).unwrap();
    stream.extend(std::fs::read(content.join("two.bin")).unwrap());

    let liar_listener = TcpListener::bind("127.0.0.66:0").await.unwrap();
    let liar_addr = liar_listener.local_addr().unwrap();
    let liar_task = tokio::spawn(liar(liar_listener, meta.clone(), stream));

    let leech = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let mut add = AddTorrent::new(meta.clone(), &dst);
    add.peers = vec![liar_addr];
    let h = leech.add_torrent(add).unwrap();
    tokio::time::timeout(LIMIT, async {
        while h.stats().banned == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the lying peer is banned");
    let st = h.stats();
    assert!(st.hash_failures >= 2, "bad pieces were detected: {st:?}");
    assert!(!st.complete);

    // Now an honest seeder joins; the download completes from it.
    let seed = Session::new(config()).await.unwrap();
    let sh = seed
        .add_torrent(AddTorrent::new(meta.clone(), &src))
        .unwrap();
    common::swarm::wait_seeding(&sh).await;
    h.add_peers(vec![SocketAddr::from(([127, 0, 0, 1], seed.listen_port()))])
        .await;
    // The banned address is not dialled again even when offered.
    h.add_peers(vec![liar_addr]).await;
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("completes from the honest peer in time")
        .expect("completes");
    data::assert_same_tree(&content, &dst.join("content"));
    assert!(
        h.peers()
            .await
            .iter()
            .all(|p| p.addr.ip() != liar_addr.ip()),
        "no connection to the banned peer"
    );
    liar_task.abort();
    leech.shutdown().await;
    seed.shutdown().await;
}

/// A liar (on 127.0.0.66) that sends one bad block per connection, hangs
/// up at once and dials again, beside an honest seeder (on 127.0.0.1,
/// sending at most 512 KiB/s so the liar gets its share). The liar is
/// never connected when its pieces fail, and the honest seeder finishes
/// the pieces it started: the liar's address is banned all the same, the
/// honest one is not, and the download completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_liar_that_hangs_up_is_banned_and_the_honest_peer_is_not() {
    use common::liar::{Liar, LiarPlan, Manner};
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("content");
    data::write_file(&content.join("one.bin"), 1_500_000, 21);
    data::write_file(&content.join("two.bin"), 300_001, 22);
    let opts = CreateOptions {
        piece_length: Some(64 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).unwrap();

    let mut seed_config = config();
    seed_config.upload_limit = Some(512 * 1024);
    let seed = Session::new(seed_config).await.unwrap();
    let sh = seed
        .add_torrent(AddTorrent::new(meta.clone(), &src))
        .unwrap();
    common::swarm::wait_seeding(&sh).await;

    let leech = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let mut add = AddTorrent::new(meta.clone(), &dst);
    add.peers = vec![SocketAddr::from(([127, 0, 0, 1], seed.listen_port()))];
    let h = leech.add_torrent(add).unwrap();
    let mut liar = Liar::start(LiarPlan {
        bind: [127, 0, 0, 66].into(),
        target: SocketAddr::from(([127, 0, 0, 1], leech.listen_port())),
        meta: meta.clone(),
        dir: src.clone(),
        manner: Manner::HitAndRun,
        netns: None,
    });
    let done = tokio::time::timeout(LIMIT, h.wait_complete()).await;
    let banned = h.banned().await;
    let st = h.stats();
    println!(
        "liar: {} connections, {} bad blocks; banned {banned:?}; {st:?}",
        liar.connections(),
        liar.bad_blocks()
    );
    done.expect("completes in time").expect("completes");
    data::assert_same_tree(&content, &dst.join("content"));
    assert!(
        liar.bad_blocks() >= 2,
        "the liar lied on more than one connection"
    );
    assert!(st.hash_failures >= 1, "bad pieces were detected: {st:?}");
    // The last piece's verdict may still be on its way: wait for the ban.
    tokio::time::timeout(LIMIT, async {
        while !h
            .banned()
            .await
            .iter()
            .any(|(ip, _)| *ip == IpAddr::from([127, 0, 0, 66]))
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the liar's address is banned");
    let banned = h.banned().await;
    assert_eq!(banned.len(), 1, "only the liar is banned: {banned:?}");
    liar.stop();
    leech.shutdown().await;
    seed.shutdown().await;
}
