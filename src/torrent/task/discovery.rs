//! Where a torrent's peers come from besides the user: its trackers and
//! the DHT, each on its own channel so the source is known, and what we
//! tell the trackers about our transfer.

use std::net::SocketAddr;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::dht::DhtAnnouncer;
use crate::torrent::TorrentEnv;
use crate::tracker::announcer::{Announcer, AnnouncerHandle, TransferStats};
use crate::types::InfoHash;

/// Where peers come from besides the user: trackers and the DHT, each on
/// its own channel so the source is known.
pub(super) struct Discovery {
    /// The announce task, when the torrent has trackers.
    pub announcer: Option<AnnouncerHandle>,
    /// Peers from trackers.
    pub tracker_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// The DHT task, unless the torrent is private or the DHT is off.
    pub dht: Option<DhtAnnouncer>,
    /// Peers from the DHT.
    pub dht_peers: mpsc::Receiver<Vec<SocketAddr>>,
    /// What we tell trackers about our transfer.
    pub transfer_tx: watch::Sender<TransferStats>,
}

impl Discovery {
    /// Starts announcing to `tiers` and, unless `private`, to the DHT.
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
        let announcer = (!tiers.is_empty()).then(|| {
            Announcer::spawn(
                tiers,
                info_hash,
                env.peer_id,
                env.listen_port,
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
        Discovery {
            announcer,
            tracker_peers,
            dht,
            dht_peers,
            transfer_tx,
        }
    }
}
