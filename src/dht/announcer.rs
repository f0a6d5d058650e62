//! The per-torrent DHT task: looks up peers and announces us on a schedule,
//! streaming every batch of peers to the torrent as it arrives.
//!
//! Not for private torrents (BEP 27): the caller does not spawn it for them.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Dht, DhtError, PeerStream};
use crate::types::InfoHash;

/// When a [`DhtAnnouncer`] looks up and announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhtSchedule {
    /// Time between the starts of two scheduled lookups (the first runs at
    /// once). Default 5 minutes.
    pub lookup_interval: Duration,
    /// Least time between the starts of two lookups, so that a torrent
    /// calling [`DhtAnnouncer::lookup_now`] in a loop does not flood the DHT.
    /// Default 10 seconds.
    pub min_lookup_gap: Duration,
    /// Time between successful announces (the first runs at once). Default
    /// 15 minutes, libtorrent's `dht_announce_interval`; peers stored by DHT
    /// nodes expire after about 30 minutes.
    pub announce_interval: Duration,
    /// Wait before retrying a failed announce (no nodes yet, all refused).
    /// Default 1 minute.
    pub announce_retry: Duration,
}

impl Default for DhtSchedule {
    fn default() -> Self {
        DhtSchedule {
            lookup_interval: Duration::from_secs(5 * 60),
            min_lookup_gap: Duration::from_secs(10),
            announce_interval: Duration::from_secs(15 * 60),
            announce_retry: Duration::from_secs(60),
        }
    }
}

/// A running per-torrent DHT task. Stop it by cancelling the token given to
/// [`spawn`](Self::spawn), then await [`join`](Self::join). It also stops by
/// itself when the receiver of its peer channel is dropped.
#[derive(Debug)]
pub struct DhtAnnouncer {
    /// Wakes the task for an early lookup; stores one wake-up if the task is
    /// busy, so none is lost.
    lookup_now: Arc<Notify>,
    /// The task.
    task: JoinHandle<()>,
}

impl DhtAnnouncer {
    /// Starts the task for one torrent with the default [`DhtSchedule`]: a
    /// lookup at once and every 5 minutes, an announce of TCP `port` as soon
    /// as the first lookup is done and every 15 minutes. Each batch of newly found peers is sent on
    /// `peers_tx` as soon as a DHT node returns it (the channel's bound
    /// applies back-pressure to the lookup, nothing is dropped).
    pub fn spawn(
        dht: Dht,
        info_hash: InfoHash,
        port: u16,
        peers_tx: mpsc::Sender<Vec<SocketAddr>>,
        cancel: CancellationToken,
    ) -> DhtAnnouncer {
        Self::spawn_with(
            dht,
            info_hash,
            port,
            peers_tx,
            cancel,
            DhtSchedule::default(),
        )
    }

    /// [`spawn`](Self::spawn) with a chosen schedule.
    pub fn spawn_with(
        dht: Dht,
        info_hash: InfoHash,
        port: u16,
        peers_tx: mpsc::Sender<Vec<SocketAddr>>,
        cancel: CancellationToken,
        schedule: DhtSchedule,
    ) -> DhtAnnouncer {
        let lookup_now = Arc::new(Notify::new());
        let task = tokio::spawn(
            Task {
                dht,
                info_hash,
                port,
                peers_tx,
                schedule,
            }
            .run(cancel, lookup_now.clone()),
        );
        DhtAnnouncer { lookup_now, task }
    }

    /// Asks for a lookup as soon as [`DhtSchedule::min_lookup_gap`] allows,
    /// e.g. when the torrent has run out of peers. Does nothing extra if a
    /// lookup is already running.
    pub fn lookup_now(&self) {
        self.lookup_now.notify_one();
    }

    /// Stops the task now (a torrent that must leave the DHT).
    pub fn stop(&self) {
        self.task.abort();
    }

    /// Waits for the task to end (after its token is cancelled or its peer
    /// receiver dropped).
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::error!("DHT announcer task failed: {e}");
        }
    }

    /// The task's handle, for callers that track tasks themselves.
    pub fn into_join_handle(self) -> JoinHandle<()> {
        self.task
    }
}

/// Longest sleep when nothing is scheduled sooner (only a bound).
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// An announce in progress.
type AnnounceFuture = Pin<Box<dyn Future<Output = Result<(), DhtError>> + Send>>;

/// What the task owns.
struct Task {
    /// Our DHT node.
    dht: Dht,
    /// The torrent.
    info_hash: InfoHash,
    /// Our TCP listen port, announced to the DHT.
    port: u16,
    /// Where found peers go: the torrent's peer list.
    peers_tx: mpsc::Sender<Vec<SocketAddr>>,
    /// When to look up and announce.
    schedule: DhtSchedule,
}

impl Task {
    async fn run(self, cancel: CancellationToken, lookup_now: Arc<Notify>) {
        let s = self.schedule;
        let start = Instant::now();
        let mut next_lookup = start;
        let mut next_announce = start;
        let mut last_lookup: Option<Instant> = None;
        let mut lookup: Option<PeerStream> = None;
        let mut announce: Option<AnnounceFuture> = None;
        loop {
            let now = Instant::now();
            // Lookups and announces take turns. mainline merges queries per
            // info hash, so a lookup started during an announce's node search
            // would ride that search and get no peers; and an announce right
            // after a lookup needs no search at all (mainline reuses the
            // lookup's nodes and their tokens), while starting it alongside
            // would slow the lookup's first answers. So the first lookup
            // goes first; after that a due announce goes before a due lookup,
            // so that frequent `lookup_now` calls cannot starve it.
            let idle = lookup.is_none() && announce.is_none();
            if idle && last_lookup.is_some() && now >= next_announce {
                let dht = self.dht.clone();
                let (info_hash, port) = (self.info_hash, self.port);
                announce = Some(Box::pin(async move {
                    dht.announce(info_hash, Some(port)).await
                }));
                // Pushed on when it finishes; this keeps the timer quiet.
                next_announce = now + s.announce_interval;
            } else if idle && now >= next_lookup {
                lookup = Some(self.dht.get_peers(self.info_hash));
                last_lookup = Some(now);
                next_lookup = now + s.lookup_interval;
            }
            // The next time something may start; while one runs, its end
            // wakes the loop anyway.
            let wake_at = if lookup.is_none() && announce.is_none() {
                next_lookup.min(next_announce)
            } else {
                now + IDLE_WAKE
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                batch = next_batch(&mut lookup) => match batch {
                    Some(peers) => {
                        tokio::select! {
                            biased;
                            _ = cancel.cancelled() => break,
                            sent = self.peers_tx.send(peers) => if sent.is_err() { break },
                        }
                    }
                    None => lookup = None,
                },
                result = finish(&mut announce) => {
                    announce = None;
                    let now = Instant::now();
                    next_announce = match result {
                        Ok(()) => now + s.announce_interval,
                        Err(e) => {
                            tracing::debug!("{e}; retrying in {:?}", s.announce_retry);
                            now + s.announce_retry
                        }
                    };
                }
                _ = lookup_now.notified() => {
                    if lookup.is_none() {
                        let earliest = last_lookup.map_or(now, |t| t + s.min_lookup_gap);
                        next_lookup = next_lookup.min(earliest.max(now));
                    }
                }
                _ = self.peers_tx.closed() => break,
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }
}

/// The next batch of the running lookup; pending forever if none runs.
async fn next_batch(lookup: &mut Option<PeerStream>) -> Option<Vec<SocketAddr>> {
    match lookup {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// The result of the running announce; pending forever if none runs.
async fn finish(announce: &mut Option<AnnounceFuture>) -> Result<(), DhtError> {
    match announce {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
