//! Where a torrent's peers come from besides the user: its trackers, the
//! DHT and local peer discovery, each on its own channel so the source is
//! known, and what we tell the trackers about our transfer.
//!
//! Announcing starts with the torrent, also while it checks its data: a
//! peer that learns of us then is answered and waits for the check
//! (`Connections::park`). What those first announces say is `left` is the
//! whole torrent; once the check has said what we have, the trackers hear
//! the true `left` at once ([`Discovery::checked`]), so a seeder counts as
//! a seed from then on, never before its data was checked.

use std::net::SocketAddr;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::dht::DhtAnnouncer;
use crate::torrent::TorrentEnv;
use crate::tracker::announcer::{Announcer, AnnouncerHandle, TransferStats, Us};
use crate::types::InfoHash;

/// Peers from trackers, the DHT and local peer discovery, and the tasks
/// that find them.
pub(super) struct Discovery {
    /// The announce task, when the torrent has trackers.
    pub announcer: Option<AnnouncerHandle>,
    /// Peers from trackers.
    pub tracker_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// The DHT task, unless the torrent is private or the DHT is off.
    pub dht: Option<DhtAnnouncer>,
    /// Peers from the DHT.
    pub dht_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// Our place in local peer discovery (not for private torrents).
    lsd: Option<crate::lsd::Registration>,
    /// Peers from local peer discovery.
    pub lsd_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// What we tell trackers about our transfer.
    pub transfer_tx: watch::Sender<TransferStats>,
}

impl Discovery {
    /// Starts announcing to `tiers` and, unless `private`, to the DHT and
    /// on the local network.
    pub(super) fn start(
        tiers: Vec<Vec<String>>,
        private: bool,
        info_hash: InfoHash,
        env: &TorrentEnv,
        left: u64,
        cancel: &CancellationToken,
    ) -> Discovery {
        let (transfer_tx, transfer_rx) = watch::channel(TransferStats {
            uploaded: 0,
            downloaded: 0,
            left,
        });
        let (tracker_tx, tracker_peers) = mpsc::channel(64);
        let (dht_tx, dht_peers) = mpsc::channel(64);
        let (lsd_tx, lsd_peers) = mpsc::channel(64);
        let announcer = (!tiers.is_empty()).then(|| {
            Announcer::spawn_as(
                tiers,
                info_hash,
                Us {
                    peer_id: env.peer_id,
                    port: env.listen_port,
                    ipv6: env.announce_ipv6,
                },
                transfer_rx,
                tracker_tx,
                cancel.child_token(),
            )
        });
        let dht = match (&env.dht, private) {
            (Some(dht), false) => Some(DhtAnnouncer::spawn(
                dht.clone(),
                info_hash,
                env.listen_port,
                dht_tx,
                cancel.child_token(),
            )),
            _ => None,
        };
        let lsd = match (&env.lsd, private) {
            (Some(lsd), false) => Some(lsd.register(info_hash, lsd_tx)),
            _ => None,
        };
        Discovery {
            announcer,
            tracker_peers,
            dht,
            dht_peers,
            lsd,
            lsd_peers,
            transfer_tx,
        }
    }

    /// The check of the data is done: trackers hear the true `left` now.
    pub(super) fn checked(&self) {
        if let Some(a) = &self.announcer {
            a.checked();
        }
    }

    /// Leaves the DHT and local peer discovery (BEP 27: a magnet whose
    /// metadata says private).
    pub(super) fn go_private(&mut self) {
        if let Some(d) = self.dht.take() {
            d.stop();
        }
        self.lsd = None;
    }

    /// The swarm's seeders and leechers by the trackers, if any said.
    pub(super) fn swarm_counts(&self) -> (Option<u32>, Option<u32>) {
        self.announcer
            .as_ref()
            .map_or((None, None), |a| a.swarm_counts())
    }

    /// Tracker statuses for the Trackers tab.
    pub(super) fn tracker_status(&self) -> Vec<crate::tracker::TrackerStatus> {
        self.announcer
            .as_ref()
            .map(|a| a.status())
            .unwrap_or_default()
    }
}
