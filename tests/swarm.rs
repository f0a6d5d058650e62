//! Swarms of our own sessions on 127.0.0.1: one seeder to several leechers
//! at once, multi-file content with pieces across file boundaries, and file
//! selection.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::data;
use shoal::picker::Priority;
use shoal::session::Session;
use shoal::torrent::AddTorrent;
use shoal::Metainfo;

const LIMIT: Duration = Duration::from_secs(90);

use common::swarm::config;

fn make_torrent(content: &Path, piece_length: u64) -> Metainfo {
    data::torrent_of(content, piece_length)
}

async fn seeder(meta: &Metainfo, save_dir: &Path) -> (Session, SocketAddr) {
    let s = Session::new(config()).await.expect("seeder session");
    let h = s
        .add_torrent(AddTorrent::new(meta.clone(), save_dir))
        .expect("add to seeder");
    common::swarm::wait_seeding(&h).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], s.listen_port()));
    (s, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seeder_three_leechers_multi_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = data::multi_file_folder(&src, "content");
    let meta = make_torrent(&content, 16 * 1024);
    assert!(meta.info.num_pieces() > 60);
    let (seed, seed_addr) = seeder(&meta, &src).await;

    let mut leechers = Vec::new();
    for i in 0..3 {
        let dir = tmp.path().join(format!("leech{i}"));
        let s = Session::new(config()).await.unwrap();
        let mut add = AddTorrent::new(meta.clone(), &dir);
        add.peers = vec![seed_addr];
        let h = s.add_torrent(add).unwrap();
        leechers.push((s, h, dir));
    }
    for (_, h, dir) in &leechers {
        tokio::time::timeout(LIMIT, h.wait_complete())
            .await
            .expect("leecher completes in time")
            .expect("leecher completes");
        data::assert_same_tree(&content, &dir.join("content"));
        let st = h.stats();
        assert_eq!(st.pieces_have, meta.info.num_pieces());
        assert_eq!(st.hash_failures, 0);
    }
    // Stats are published once a second.
    let seed_handle = seed.torrents()[0].clone();
    let total = meta.info.total_length();
    tokio::time::timeout(Duration::from_secs(5), async {
        while seed_handle.stats().uploaded < total {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the seeder counts what it uploaded");
    for (s, _, _) in leechers {
        s.shutdown().await;
    }
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_file_is_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("sel");
    // Piece-aligned: a.bin is two whole pieces, so skip.bin (last) shares
    // no piece with a wanted file.
    data::write_file(&content.join("a.bin"), 32 * 1024, 7);
    data::write_file(&content.join("b.bin"), 16 * 1024, 8);
    data::write_file(&content.join("skip.bin"), 50_000, 9);
    let meta = make_torrent(&content, 16 * 1024);
    let skip_index = meta
        .info
        .files
        .iter()
        .position(|f| f.path.ends_with("skip.bin"))
        .expect("skip.bin in torrent");
    let (seed, seed_addr) = seeder(&meta, &src).await;

    let dir = tmp.path().join("leech");
    let s = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), &dir);
    add.peers = vec![seed_addr];
    add.file_priorities = vec![Priority::Normal; meta.info.files.len()];
    add.file_priorities[skip_index] = Priority::Skip;
    let h = s.add_torrent(add).unwrap();
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("selection completes in time")
        .expect("selection completes");
    for f in ["a.bin", "b.bin"] {
        assert_eq!(
            std::fs::read(dir.join("sel").join(f)).unwrap(),
            std::fs::read(content.join(f)).unwrap()
        );
    }
    assert!(
        !dir.join("sel/skip.bin").exists(),
        "a skipped file must not be created"
    );
    assert!(h.stats().pieces_have < meta.info.num_pieces());
    s.shutdown().await;
    seed.shutdown().await;
}
