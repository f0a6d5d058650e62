//! Our sessions finding each other through a real tracker (opentracker):
//! over HTTP and over UDP, and with a dead tier in front of a working one.

mod common;

use std::path::Path;
use std::time::Duration;

use common::data;
use common::opentracker::{self, Opentracker};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::Session;
use shoal::torrent::AddTorrent;
use shoal::Metainfo;

const LIMIT: Duration = Duration::from_secs(60);

use common::swarm::config;

fn torrent(content: &Path, tiers: Vec<Vec<String>>) -> Metainfo {
    let opts = CreateOptions {
        piece_length: Some(16 * 1024),
        trackers: tiers,
        ..Default::default()
    };
    create_torrent(content, &opts, |_, _| {}).expect("create torrent")
}

/// A seeder and two leechers that know only the torrent's trackers.
async fn swarm_through(tiers: impl Fn(u16) -> Vec<Vec<String>>) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = data::multi_file_folder(&src, "content");
    let port = opentracker::free_port();
    let meta = torrent(&content, tiers(port));
    let _tracker = Opentracker::start_on(port, &[meta.info_hash]);

    let seed = Session::new(config()).await.unwrap();
    let sh = seed
        .add_torrent(AddTorrent::new(meta.clone(), &src))
        .unwrap();
    common::swarm::wait_seeding(&sh).await;

    let mut leechers = Vec::new();
    for i in 0..2 {
        let dir = tmp.path().join(format!("l{i}"));
        let s = Session::new(config()).await.unwrap();
        let h = s.add_torrent(AddTorrent::new(meta.clone(), &dir)).unwrap();
        leechers.push((s, h, dir));
    }
    for (_, h, dir) in &leechers {
        tokio::time::timeout(LIMIT, h.wait_complete())
            .await
            .expect("leecher finds peers through the tracker and completes")
            .expect("completes");
        data::assert_same_tree(&content, &dir.join("content"));
    }
    for (s, _, _) in leechers {
        s.shutdown().await;
    }
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_over_http_tracker() {
    swarm_through(|port| vec![vec![format!("http://127.0.0.1:{port}/announce")]]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_over_udp_tracker() {
    swarm_through(|port| vec![vec![format!("udp://127.0.0.1:{port}/announce")]]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_tier_does_not_stall() {
    let dead = opentracker::free_port();
    swarm_through(move |port| {
        vec![
            vec![format!("http://127.0.0.1:{dead}/announce")],
            vec![format!("udp://127.0.0.1:{dead}/announce")],
            vec![format!("udp://127.0.0.1:{port}/announce")],
        ]
    })
    .await;
}
