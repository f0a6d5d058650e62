//! Where a torrent's peers come from besides the user: its trackers and
//! the DHT, each on its own channel so the source is known, and what we
//! tell the trackers about our transfer.
//!
//! Nothing is announced until [`Discovery::start`]: a torrent added from a
//! .torrent starts once its check has said what we have, so a tracker
//! never hears `left` from a torrent that has not looked at its data yet
//! (a seeder would be counted as a leecher until its next announce, half
//! an hour later) and no peer is sent to us before we can serve it. A
//! magnet starts at once: it needs peers to get its metadata.

use std::net::SocketAddr;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::dht::DhtAnnouncer;
use crate::torrent::TorrentEnv;
use crate::tracker::announcer::{Announcer, AnnouncerHandle, TransferStats};
use crate::types::InfoHash;

/// Peers from trackers and the DHT, and the tasks that find them.
pub(super) struct Discovery {
    /// The announce task, once started, when the torrent has trackers.
    pub announcer: Option<AnnouncerHandle>,
    /// Peers from trackers.
    pub tracker_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// The DHT task, once started, unless the torrent is private or the
    /// DHT is off.
    pub dht: Option<DhtAnnouncer>,
    /// Peers from the DHT.
    pub dht_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// Our place in local peer discovery, once started (not for private
    /// torrents).
    lsd: Option<crate::lsd::Registration>,
    /// Peers from local peer discovery.
    pub lsd_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// What we tell trackers about our transfer.
    pub transfer_tx: watch::Sender<TransferStats>,
    /// What starting takes, until it has started.
    pending: Option<Pending>,
}

/// The makings of the announce tasks, kept until they start.
struct Pending {
    /// BEP 12 tiers of tracker URLs.
    tiers: Vec<Vec<String>>,
    /// The DHT to announce on (`None`: off, or a private torrent).
    dht: Option<crate::dht::Dht>,
    /// Local peer discovery (`None`: off, or a private torrent).
    lsd: Option<crate::lsd::Lsd>,
    /// The torrent.
    info_hash: InfoHash,
    /// Our identity and port, as announced.
    peer_id: crate::types::PeerId,
    listen_port: u16,
    /// The announcer's view of `transfer_tx`.
    transfer_rx: watch::Receiver<TransferStats>,
    /// Where the tasks send peers.
    tracker_tx: mpsc::Sender<Vec<SocketAddr>>,
    dht_tx: mpsc::Sender<Vec<SocketAddr>>,
    lsd_tx: mpsc::Sender<Vec<SocketAddr>>,
    /// Ends the tasks with the torrent.
    cancel: CancellationToken,
}

impl Discovery {
    /// Discovery for `tiers` and, unless `private`, the DHT; nothing is
    /// announced before [`Discovery::start`].
    pub(super) fn new(
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
        Discovery {
            announcer: None,
            tracker_peers,
            dht: None,
            dht_peers,
            lsd: None,
            lsd_peers,
            transfer_tx,
            pending: Some(Pending {
                tiers,
                dht: if private { None } else { env.dht.clone() },
                lsd: if private { None } else { env.lsd.clone() },
                info_hash,
                peer_id: env.peer_id,
                listen_port: env.listen_port,
                transfer_rx,
                tracker_tx,
                dht_tx,
                lsd_tx,
                cancel: cancel.child_token(),
            }),
        }
    }

    /// Starts announcing to the trackers and the DHT; later calls do
    /// nothing.
    pub(super) fn start(&mut self) {
        let Some(p) = self.pending.take() else {
            return;
        };
        if !p.tiers.is_empty() {
            self.announcer = Some(Announcer::spawn(
                p.tiers,
                p.info_hash,
                p.peer_id,
                p.listen_port,
                p.transfer_rx,
                p.tracker_tx,
                p.cancel.child_token(),
            ));
        }
        if let Some(lsd) = p.lsd {
            self.lsd = Some(lsd.register(p.info_hash, p.lsd_tx));
        }
        if let Some(dht) = p.dht {
            self.dht = Some(DhtAnnouncer::spawn(
                dht,
                p.info_hash,
                p.listen_port,
                p.dht_tx,
                p.cancel.child_token(),
            ));
        }
    }

    /// Leaves the DHT and local peer discovery (BEP 27: a magnet whose
    /// metadata says private).
    pub(super) fn go_private(&mut self) {
        if let Some(d) = self.dht.take() {
            d.stop();
        }
        self.lsd = None;
        if let Some(p) = &mut self.pending {
            p.dht = None;
            p.lsd = None;
        }
    }

    /// Tracker statuses for the Trackers tab (empty before the start).
    pub(super) fn tracker_status(&self) -> Vec<crate::tracker::TrackerStatus> {
        self.announcer
            .as_ref()
            .map(|a| a.status())
            .unwrap_or_default()
    }
}
