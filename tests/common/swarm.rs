//! Helpers for tests that run our own sessions on 127.0.0.1.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentState};
use shoal::Metainfo;

/// How long a seeder may take to check its data.
const SEED_LIMIT: Duration = Duration::from_secs(60);

/// A session on 127.0.0.1 with a port from the OS, DHT off.
pub fn config() -> SessionConfig {
    SessionConfig {
        listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    }
}

/// 127.0.0.1:`port`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits until a torrent has checked its data and seeds.
pub async fn wait_seeding(h: &TorrentHandle) {
    tokio::time::timeout(SEED_LIMIT, async {
        while h.stats().state != TorrentState::Seeding {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the seeder checks its data and seeds");
}

/// Adds `meta` with its content in `save_dir` and waits until it seeds.
pub async fn seeding(s: &Session, meta: &Metainfo, save_dir: &Path) -> TorrentHandle {
    let h = s
        .add_torrent(AddTorrent::new(meta.clone(), save_dir))
        .expect("add the torrent to the seeder");
    wait_seeding(&h).await;
    h
}

/// Waits until a torrent completes, at most `limit`.
pub async fn complete(h: &TorrentHandle, limit: Duration) {
    tokio::time::timeout(limit, h.wait_complete())
        .await
        .expect("completes in time")
        .expect("completes");
}

/// Waits until something listens on 127.0.0.1:`port`.
pub async fn wait_listening(port: u16) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while tokio::net::TcpStream::connect(local(port)).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the peer listens");
}
