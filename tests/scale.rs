//! Many torrents in one session: a few hundred start and seed, serve a
//! leecher, and come back from the state folder after a restart — from
//! their resume records, not by hashing everything again. The timing side
//! (1,000 torrents, idle CPU, 300 connections) is `benches/scale.rs`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::swarm::{complete, config, local};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentState};
use shoal::Metainfo;

/// Torrents in the session.
const TORRENTS: usize = 300;
/// Bound on every wait of this test.
const LIMIT: Duration = Duration::from_secs(120);

/// `TORRENTS` single-file torrents of 16 to 80 KiB in `content`.
fn torrents(content: &Path) -> Vec<Metainfo> {
    let opts = CreateOptions {
        piece_length: Some(16 * 1024),
        threads: Some(1),
        ..Default::default()
    };
    (0..TORRENTS)
        .map(|i| {
            let path = content.join(format!("f{i:03}.bin"));
            common::data::write_file(&path, 16 * 1024 + i * 217, i as u64 + 1);
            create_torrent(&path, &opts, |_, _| {}).expect("create torrent")
        })
        .collect()
}

fn with_state(state: &Path) -> SessionConfig {
    SessionConfig {
        state_dir: Some(state.to_path_buf()),
        ..config()
    }
}

async fn all_seeding(handles: &[TorrentHandle]) {
    tokio::time::timeout(LIMIT, async {
        loop {
            let n = handles
                .iter()
                .filter(|h| h.stats().state == TorrentState::Seeding)
                .count();
            if n == handles.len() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("every torrent seeds");
}

/// Times the runtime's workers went to sleep so far; every wake-up of the
/// runtime ends in one.
fn runtime_parks() -> u64 {
    let m = tokio::runtime::Handle::current().metrics();
    (0..m.num_workers()).map(|w| m.worker_park_count(w)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_torrents_seed_and_come_back_from_the_state_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    let state = tmp.path().join("state");
    let metas = torrents(&content);

    let seeder = Session::new(with_state(&state)).await.unwrap();
    let handles: Vec<TorrentHandle> = metas
        .iter()
        .map(|m| {
            seeder
                .add_torrent(AddTorrent::new(m.clone(), &content))
                .unwrap()
        })
        .collect();
    all_seeding(&handles).await;

    // They serve: a second session fetches three of them.
    let leecher = Session::new(config()).await.unwrap();
    let got = tmp.path().join("got");
    for i in [0, TORRENTS / 2, TORRENTS - 1] {
        let mut add = AddTorrent::new(metas[i].clone(), &got);
        add.peers = vec![local(seeder.listen_port())];
        let h = leecher.add_torrent(add).unwrap();
        complete(&h, LIMIT).await;
        let name = &metas[i].info.name;
        assert_eq!(
            std::fs::read(got.join(name)).unwrap(),
            std::fs::read(content.join(name)).unwrap()
        );
    }
    leecher.shutdown().await;
    seeder.shutdown().await;

    // Change one file's bytes behind the session's back, keeping its size
    // and modification time: a restart that trusts its records (instead of
    // hashing all 300 torrents again) does not notice.
    let victim = content.join(&metas[7].info.name);
    let stamp = std::fs::metadata(&victim).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&victim, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&victim)
        .unwrap()
        .set_modified(stamp)
        .unwrap();

    let restarted = Session::new(with_state(&state)).await.unwrap();
    assert!(
        restarted.restore_errors().is_empty(),
        "{:?}",
        restarted.restore_errors()
    );
    let handles = restarted.torrents();
    assert_eq!(handles.len(), TORRENTS);
    all_seeding(&handles).await;
    let h = restarted.torrent(&metas[7].info_hash).unwrap();
    assert_eq!(
        h.stats().pieces_have,
        metas[7].info.num_pieces(),
        "the record was trusted, the file not hashed again"
    );
    restarted.shutdown().await;
}

/// A seeding torrent with no peers has nothing to do, so an idle session
/// should not wake up per torrent: over a few idle seconds the runtime may
/// wake a handful of times, not once per torrent per second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_does_not_wake_per_torrent() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    let metas = torrents(&content);
    let session = Session::new(config()).await.unwrap();
    let handles: Vec<TorrentHandle> = metas
        .iter()
        .map(|m| {
            session
                .add_torrent(AddTorrent::new(m.clone(), &content))
                .unwrap()
        })
        .collect();
    all_seeding(&handles).await;
    // Settle, then watch three idle seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = runtime_parks();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let wakeups = runtime_parks() - before;
    session.shutdown().await;
    assert!(
        wakeups < TORRENTS as u64 / 10,
        "{wakeups} runtime wake-ups in 3 idle seconds with {TORRENTS} torrents"
    );
}

/// Many peers dialling at once (a session restarted with many torrents,
/// a swarm's leechers arriving together) are all served: connections
/// beyond the ones whose handshake is being read wait in the listen queue
/// rather than being accepted and closed. Each dials from a loopback
/// address of its own, as peers on the Internet would (one address gets
/// a few connections only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_incoming_connections_is_served_not_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BURST: usize = 150;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("one.bin");
    common::data::write_file(&path, 64 * 1024, 9);
    let meta = common::data::torrent_of(&path, 16 * 1024);
    let seeder = Session::new(SessionConfig {
        max_connections: BURST + 10,
        ..config()
    })
    .await
    .unwrap();
    let h = seeder
        .add_torrent(AddTorrent::new(meta.clone(), tmp.path()))
        .unwrap();
    all_seeding(&[h]).await;

    // Every connection is open before any handshake is sent, so the
    // session holds them all at once.
    let mut socks = Vec::new();
    for i in 0..BURST {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(std::net::SocketAddr::from(([127, 0, 1, 1 + i as u8], 0)))
            .unwrap();
        socks.push(sock.connect(local(seeder.listen_port())).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ours = shoal::wire::Handshake::new(meta.info_hash, shoal::PeerId::generate()).encode();
    let answered = futures::future::join_all(socks.iter_mut().map(|s| async {
        s.write_all(&ours).await.ok()?;
        let mut theirs = [0u8; 68];
        tokio::time::timeout(LIMIT, s.read_exact(&mut theirs))
            .await
            .ok()?
            .ok()?;
        shoal::wire::Handshake::decode(&theirs).ok()
    }))
    .await;
    let served = answered
        .iter()
        .filter(|h| h.as_ref().is_some_and(|h| h.info_hash == meta.info_hash))
        .count();
    seeder.shutdown().await;
    assert_eq!(served, BURST, "connections answered with a handshake");
}
