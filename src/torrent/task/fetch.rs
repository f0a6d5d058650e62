//! The first phase of a torrent added from a magnet link: find peers
//! (`x.pe`, trackers, the DHT, the user), ask several at once for the info
//! dictionary, and return the first copy that hashes to the info hash. The
//! torrent shows as fetching metadata meanwhile and never gives up: while
//! no peer has the metadata, it keeps looking. What the phase learnt (the
//! peer list, the trackers and DHT under way, settings changed meanwhile)
//! goes on to the torrent.

use std::collections::HashMap;
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
use crate::torrent::diagnosis::{diagnose, Facts, PeerFact, Phase};
use crate::torrent::peers::{PeerList, PeerSource};
use crate::torrent::{TorrentCmd, TorrentEnv, TorrentState, TorrentStats};

/// Peers asked for the metadata at once.
const PARALLEL_FETCHES: usize = 6;
/// How long a peer whose metadata request we abandoned waits before the
/// data connection, so that it has seen the first one close (libtorrent
/// and Transmission turn away a second connection from an address they
/// still have one with).
const ABANDONED_REDIAL: Duration = Duration::from_secs(1);

/// A torrent before its metadata is known.
pub(super) struct MagnetPhase {
    /// The link: info hash, trackers, peers.
    magnet: Magnet,
    /// Our side of each handshake.
    setup: PeerSetup,
    /// Our listening port, told to the peers we ask.
    listen_port: u16,
    /// The session's connection slots: each request holds one.
    slots: crate::peer::Slots,
    /// Every address we know of; passed on to the torrent.
    pub(super) peers: PeerList,
    /// The magnet's trackers and the DHT, announcing from the start.
    pub(super) discovery: Discovery,
    /// Paused by the user.
    pub(super) paused: bool,
    /// File priorities set before the files are known.
    pub(super) priorities: Vec<Priority>,
    /// The requests under way.
    fetches: Fetches,
    /// Session-wide facts, for the diagnosis (the DHT, port mapping).
    env: TorrentEnv,
    /// Failed requests and DHT addresses, for the diagnosis; passed on to
    /// the torrent.
    pub(super) diag: super::diagnose::DiagLog,
}

impl MagnetPhase {
    /// Starts announcing the magnet's trackers (each `tr` a tier of its own,
    /// as libtorrent does) and the DHT, and resolves its `x.pe` peers.
    pub(super) async fn new(
        magnet: Magnet,
        env: &TorrentEnv,
        mut peers: PeerList,
        paused: bool,
        priorities: Vec<Priority>,
        left: u64,
        cancel: &CancellationToken,
    ) -> MagnetPhase {
        let now = Instant::now();
        for p in &magnet.peers {
            if let Ok(addrs) = tokio::net::lookup_host(p.as_str()).await {
                for a in addrs {
                    peers.add(a, PeerSource::Magnet, now);
                }
            }
        }
        let discovery =
            Discovery::start(tiers(&magnet), false, magnet.info_hash, env, left, cancel);
        MagnetPhase {
            setup: PeerSetup {
                info_hash: magnet.info_hash,
                our_id: env.peer_id,
                encryption: env.encryption.clone(),
            },
            listen_port: env.listen_port,
            slots: env.slots.clone(),
            magnet,
            peers,
            discovery,
            paused,
            priorities,
            fetches: Fetches::default(),
            env: env.clone(),
            diag: super::diagnose::DiagLog::new(),
        }
    }

    /// Fetches the metadata. Returns `None` when cancelled or when the
    /// metadata with the right hash is unusable.
    pub(super) async fn run(
        &mut self,
        cmds: &mut mpsc::Receiver<TorrentCmd>,
        stats: &watch::Sender<TorrentStats>,
        cancel: &CancellationToken,
    ) -> Option<Metainfo> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if !self.paused {
                let room = PARALLEL_FETCHES.saturating_sub(self.fetches.len());
                let now = Instant::now();
                for addr in self.peers.take_candidates(now, room) {
                    // Without a slot (its host has its share, or the
                    // session is full), the address waits.
                    match self.slots.outgoing(addr.ip(), true) {
                        Ok(slot) => {
                            self.fetches
                                .start(addr, self.setup.clone(), self.listen_port, slot)
                        }
                        Err(_) => self.peers.release(addr, now + super::SLOT_RETRY),
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                Some(cmd) = cmds.recv() => {
                    self.on_cmd(cmd);
                    self.publish(stats);
                }
                Some(addrs) = self.discovery.tracker_peers.recv() => self.learn(addrs, PeerSource::Tracker),
                Some(addrs) = self.discovery.dht_peers.recv() => {
                    self.diag.dht_peers = self.diag.dht_peers.saturating_add(addrs.len() as u32);
                    self.learn(addrs, PeerSource::Dht)
                }
                Some(addrs) = self.discovery.lsd_peers.recv() => self.learn(addrs, PeerSource::Lsd),
                Some((addr, result)) = self.fetches.next(), if !self.fetches.is_empty() => {
                    match result.map(Metainfo::from_info_bytes) {
                        Ok(Ok(mut meta)) => {
                            tracing::info!(%addr, name = %meta.info.name, "metadata received");
                            // The peer that served it is worth a data
                            // connection, and so is every peer still being
                            // asked.
                            self.peers.release(addr, Instant::now());
                            self.abandon_fetches();
                            let tiers = tiers(&self.magnet);
                            meta.announce = tiers.first().and_then(|t| t.first()).cloned();
                            meta.announce_list = if tiers.len() > 1 { tiers } else { Vec::new() };
                            if !self.magnet.select_only.is_empty() && self.priorities.is_empty() {
                                // BEP 53: only the files the link names, unless
                                // the user chose meanwhile.
                                self.priorities = (0..meta.info.files.len())
                                    .map(|i| if self.magnet.selects(i) { Priority::Normal } else { Priority::Skip })
                                    .collect();
                            }
                            if meta.info.private {
                                // BEP 27: a private torrent is never on the DHT.
                                self.discovery.go_private();
                            }
                            return Some(meta);
                        }
                        Ok(Err(e)) => {
                            // It hashes right, so every peer has the same
                            // bytes: no peer can help. Say so and stop.
                            tracing::warn!(%addr, "metadata with the right hash is invalid: {e}");
                            stats.send_modify(|s| {
                                s.state = TorrentState::Error(format!("the torrent's metadata is invalid: {e}"))
                            });
                            return None;
                        }
                        Err(MetadataError::Peer(crate::peer::PeerError::SelfConnection)) => {
                            self.peers.mark_own(addr)
                        }
                        Err(MetadataError::Peer(e)) if e.is_refusal() => {
                            tracing::debug!(%addr, "metadata connection refused: {e}");
                            self.diag.dial_failed(&e);
                            self.peers.refused(addr, Instant::now());
                        }
                        Err(e) => {
                            tracing::debug!(%addr, "no metadata from this peer: {e}");
                            self.diag.dial_failed(&e);
                            self.peers.failed(addr, Instant::now());
                        }
                    }
                }
                _ = tick.tick() => {
                    self.publish(stats);
                    // Nobody left to ask right now: look for more peers (the
                    // DHT task limits how often).
                    if self.fetches.is_empty() {
                        if let Some(d) = &self.discovery.dht {
                            d.lookup_now();
                        }
                    }
                }
            }
        }
    }

    /// What the torrent takes over: the peer list, discovery, whether it
    /// is paused, and the file priorities.
    pub(super) fn into_parts(
        self,
    ) -> (
        PeerList,
        Discovery,
        bool,
        Vec<Priority>,
        super::diagnose::DiagLog,
    ) {
        (
            self.peers,
            self.discovery,
            self.paused,
            self.priorities,
            self.diag,
        )
    }

    /// Stops every request and makes its peers dialable again at once.
    pub(super) fn abandon_fetches(&mut self) {
        self.fetches.abandon(&mut self.peers);
    }

    pub(super) fn learn(&mut self, addrs: Vec<SocketAddr>, source: PeerSource) {
        let now = Instant::now();
        for a in addrs {
            self.peers.add(a, source, now);
        }
    }

    fn publish(&self, stats: &watch::Sender<TorrentStats>) {
        let (trackers, dht, port) = super::diagnose::discovery_facts(
            &self.discovery,
            &self.env,
            false,
            self.diag.dht_peers,
        );
        let mut facts = Facts::starting(if self.paused {
            Phase::Paused
        } else {
            Phase::FetchingMetadata
        });
        facts.known_peers = self.peers.len();
        // Each request is a connection being asked for the metadata.
        facts.peers = vec![
            PeerFact {
                choking: false,
                has_needed: true,
                rate: 0,
            };
            self.fetches.len()
        ];
        self.diag.fill(&mut facts);
        facts.trackers = trackers;
        facts.dht = dht;
        facts.port = port;
        let diagnosis = diagnose(&facts);
        stats.send_modify(|s| {
            s.diagnosis = diagnosis;
            s.known_peers = self.peers.len();
            (s.swarm_seeders, s.swarm_leechers) = self.discovery.swarm_counts();
            s.state = if self.paused {
                TorrentState::Paused
            } else {
                TorrentState::FetchingMetadata
            };
        })
    }
}

/// The magnet's trackers, each `tr` a tier of its own.
fn tiers(magnet: &Magnet) -> Vec<Vec<String>> {
    magnet.trackers.iter().map(|t| vec![t.clone()]).collect()
}

/// The metadata requests under way, with the addresses they hold busy in
/// the peer list.
#[derive(Default)]
struct Fetches {
    /// One task per peer asked.
    tasks: JoinSet<Result<Bytes, MetadataError>>,
    /// The address each task asks: busy in the peer list until it answers
    /// or is released.
    addrs: HashMap<tokio::task::Id, SocketAddr>,
}

impl Fetches {
    fn start(
        &mut self,
        addr: SocketAddr,
        setup: PeerSetup,
        listen_port: u16,
        slot: crate::peer::Slot,
    ) {
        let task = self.tasks.spawn(async move {
            let r = metadata::fetch(addr, setup, listen_port).await;
            drop(slot);
            r
        });
        self.addrs.insert(task.id(), addr);
    }

    fn len(&self) -> usize {
        self.tasks.len()
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The next answer, with the address that gave it. A task that
    /// panicked counts as a peer that closed the connection.
    async fn next(&mut self) -> Option<(SocketAddr, Result<Bytes, MetadataError>)> {
        loop {
            let (id, result) = match self.tasks.join_next_with_id().await? {
                Ok((id, r)) => (id, r),
                Err(e) => (e.id(), Err(MetadataError::Closed)),
            };
            if let Some(addr) = self.addrs.remove(&id) {
                return Some((addr, result));
            }
        }
    }

    /// Stops every request and makes its peer dialable again at once: the
    /// addresses are not lost to the data phase (or to a resume).
    fn abandon(&mut self, peers: &mut PeerList) {
        self.tasks.abort_all();
        let at = Instant::now() + ABANDONED_REDIAL;
        for (_, addr) in self.addrs.drain() {
            peers.release(addr, at);
        }
    }
}
