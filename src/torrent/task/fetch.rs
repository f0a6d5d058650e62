//! The first phase of a torrent added from a magnet link: find peers
//! (`x.pe`, trackers, the DHT, the user), ask several at once for the info
//! dictionary, and return the first copy that hashes to the info hash. The
//! torrent shows as fetching metadata meanwhile and never gives up: while
//! no peer has the metadata, it keeps looking.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Discovery;
use crate::magnet::Magnet;
use crate::metadata::{self, MetadataError};
use crate::metainfo::Metainfo;
use crate::peer::PeerSetup;
use crate::picker::Priority;
use crate::torrent::peers::{PeerList, PeerSource};
use crate::torrent::{TorrentCmd, TorrentEnv, TorrentState, TorrentStats};

/// Peers asked for the metadata at once.
const PARALLEL_FETCHES: usize = 6;

/// Fetches the metadata of `magnet`. Returns `None` when cancelled.
#[allow(clippy::too_many_arguments)]
pub(super) async fn fetch_metadata(
    magnet: &Magnet,
    env: &TorrentEnv,
    peers: &mut PeerList,
    discovery: &mut Discovery,
    cmds: &mut mpsc::Receiver<TorrentCmd>,
    stats: &watch::Sender<TorrentStats>,
    paused: &mut bool,
    priorities: &mut Vec<Priority>,
    cancel: &CancellationToken,
) -> Option<Metainfo> {
    let setup = PeerSetup {
        info_hash: magnet.info_hash,
        our_id: env.peer_id,
    };
    let mut fetches: JoinSet<(SocketAddr, Result<Bytes, MetadataError>)> = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if !*paused {
            let room = PARALLEL_FETCHES.saturating_sub(fetches.len());
            for addr in peers.take_candidates(Instant::now(), room) {
                let port = env.listen_port;
                fetches.spawn(async move { (addr, metadata::fetch(addr, setup, port).await) });
            }
        }
        let publish = |peers: &PeerList, paused: bool| {
            stats.send_modify(|s| {
                s.known_peers = peers.len();
                s.state = if paused {
                    TorrentState::Paused
                } else {
                    TorrentState::FetchingMetadata
                };
            })
        };
        tokio::select! {
            _ = cancel.cancelled() => return None,
            Some(cmd) = cmds.recv() => match cmd {
                TorrentCmd::AddPeers(addrs, source) => add(peers, addrs, source),
                TorrentCmd::Peers(reply) => { let _ = reply.send(Vec::new()); }
                TorrentCmd::Metainfo(reply) => { let _ = reply.send(None); }
                TorrentCmd::Files(reply) => { let _ = reply.send(Vec::new()); }
                TorrentCmd::Trackers(reply) => {
                    let _ = reply.send(discovery.announcer.as_ref().map(|a| a.status()).unwrap_or_default());
                }
                TorrentCmd::Pieces(reply) => { let _ = reply.send(Default::default()); }
                TorrentCmd::Sequential(_) | TorrentCmd::Recheck | TorrentCmd::SettingsChanged => {}
                TorrentCmd::Pause => { *paused = true; fetches.abort_all(); publish(peers, true); }
                TorrentCmd::Resume => { *paused = false; publish(peers, false); }
                TorrentCmd::FilePriorities(p) => *priorities = p,
                // Nothing to serve yet: the peer will come back.
                TorrentCmd::Incoming(..) => {}
            },
            Some(addrs) = discovery.tracker_peers.recv() => add(peers, addrs, PeerSource::Tracker),
            Some(addrs) = discovery.dht_peers.recv() => add(peers, addrs, PeerSource::Dht),
            Some(done) = fetches.join_next(), if !fetches.is_empty() => {
                let Ok((addr, result)) = done else { continue };
                match result.map(Metainfo::from_info_bytes) {
                    Ok(Ok(meta)) => {
                        tracing::info!(%addr, name = %meta.info.name, "metadata received");
                        // The peer that served it is worth a data connection.
                        peers.release(addr, Instant::now());
                        return Some(meta);
                    }
                    Ok(Err(e)) => {
                        // It hashes right, so every peer has the same bytes:
                        // no peer can help. Say so and stop.
                        tracing::warn!(%addr, "metadata with the right hash is invalid: {e}");
                        stats.send_modify(|s| {
                            s.state = TorrentState::Error(format!("the torrent's metadata is invalid: {e}"))
                        });
                        return None;
                    }
                    Err(MetadataError::Peer(crate::peer::PeerError::SelfConnection)) => peers.mark_own(addr),
                    Err(e) => {
                        tracing::debug!(%addr, "no metadata from this peer: {e}");
                        peers.failed(addr, Instant::now());
                    }
                }
            }
            _ = tick.tick() => {
                publish(peers, *paused);
                // Nobody left to ask right now: look for more peers (the
                // DHT task limits how often).
                if fetches.is_empty() {
                    if let Some(d) = &discovery.dht {
                        d.lookup_now();
                    }
                }
            }
        }
    }
}

fn add(peers: &mut PeerList, addrs: Vec<SocketAddr>, source: PeerSource) {
    let now = Instant::now();
    for a in addrs {
        peers.add(a, source, now);
    }
}
