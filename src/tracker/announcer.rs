//! The per-torrent announce task: which tracker to announce to, when, and
//! with which event, and what each tracker's state looks like to a user.
//!
//! Tiers (BEP 12): the trackers of each tier are shuffled once; a tier tries
//! its trackers in order until one answers, and the one that answered moves
//! to the front of its tier so it is tried first next time. We announce to
//! the first working tracker of **every** tier, all tiers in parallel, rather
//! than to the first working tracker overall as BEP 12 describes (libtorrent
//! calls this `announce_to_all_tiers`; it is off there by default, and
//! qBittorrent turns it on). Tiers in real torrents list independent
//! trackers, so each tier adds peers; and a dead tier then costs nothing,
//! where strict BEP 12 makes every announce wait out the dead tier's timeouts
//! before reaching a working one.
//!
//! Timing: a working tier re-announces after the tracker's `interval`, never
//! sooner than its `min interval`; a tier whose trackers all failed retries
//! after [`RETRY_BASE`], doubling up to [`RETRY_MAX`]. Each failure is logged
//! as a warning and shown in [`TrackerStatus`].
//!
//! Scrapes (BEP 48): each tier's first tracker is scraped when the task
//! starts, so the swarm's counts are known before any peer connects, and
//! again after [`SCRAPE_INTERVAL`] or the tracker's announce interval,
//! whichever is longer. A failed scrape is shown but changes nothing else.
//!
//! Events: `started` to each tracker before anything else, `completed` once
//! per tier when [`AnnouncerHandle::completed`] is called, `stopped` at
//! shutdown to every tracker that may know us (bounded by [`STOPPED_TIMEOUT`]).
//! Events go out at once: `min interval` throttles regular and forced
//! re-announces ([`AnnouncerHandle::announce_now`]), not news of a change.

use std::net::{Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use rand::seq::SliceRandom;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::scrape::ScrapeCounts;
use super::{
    http, scheme_of, AnnounceRequest, AnnounceResponse, Event, TrackerError, MAX_INTERVAL,
};
use crate::types::{InfoHash, PeerId};

/// The first wait after a tier's trackers all failed; it doubles with each
/// further failure.
pub const RETRY_BASE: Duration = Duration::from_secs(15);

/// The longest wait between retries of a failing tier.
pub const RETRY_MAX: Duration = Duration::from_secs(30 * 60);

/// How long shutdown waits for the `stopped` announces.
pub const STOPPED_TIMEOUT: Duration = Duration::from_secs(5);

/// The shortest time between two scrapes of a tier; longer when the
/// tracker's announce interval is.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// How many peers we ask each tracker for.
pub const DEFAULT_NUMWANT: u32 = 200;

/// The transfer totals an announce reports, published by the torrent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
}

/// Where a tracker stands, as a user would want to see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackerState {
    /// Never announced to yet (or skipped because another tracker of its
    /// tier works).
    NotContacted,
    /// The last announce succeeded.
    Working,
    /// An announce is in flight.
    Updating,
    /// The last announce failed; `message` says why.
    Error,
}

/// One tracker's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerStatus {
    /// The announce URL.
    pub url: String,
    /// Its tier, counting from 0 in the torrent's order.
    pub tier: usize,
    /// Where it stands.
    pub state: TrackerState,
    /// When it last answered an announce successfully.
    pub last_announce: Option<SystemTime>,
    /// When it is due to be announced to next, if it is the next in line in
    /// its tier.
    pub next_announce: Option<SystemTime>,
    /// How many peers its last successful answer held.
    pub peers: u32,
    /// Seeders in the swarm, by its last answer.
    pub seeders: Option<u32>,
    /// Leechers in the swarm, by its last answer.
    pub leechers: Option<u32>,
    /// Finished downloads it has seen, by its last scrape.
    pub completed: Option<u32>,
    /// When it last answered a scrape.
    pub last_scrape: Option<SystemTime>,
    /// Why its last scrape failed, if it did.
    pub scrape_error: Option<String>,
    /// The last error, or the tracker's warning message when it works.
    pub message: Option<String>,
}

/// The announce task of one torrent. Created with [`Announcer::spawn`].
pub struct Announcer {
    /// The tiers, each with its trackers in the order we try them.
    tiers: Vec<Tier>,
    /// What every announce carries apart from the event and the stats.
    info_hash: InfoHash,
    /// Our peer id.
    peer_id: PeerId,
    /// Our listening port.
    port: u16,
    /// Our global IPv6 address, for BEP 7's `ipv6=`.
    ipv6: Option<Ipv6Addr>,
    /// BEP 7 key, fixed for the life of the task.
    key: u32,
    /// The torrent's transfer totals, read when an announce is sent.
    stats: watch::Receiver<TransferStats>,
    /// Where the peers from each answer go.
    peers_tx: mpsc::Sender<Vec<SocketAddr>>,
    /// Fires at shutdown (ours or the caller's).
    cancel: CancellationToken,
    /// Requests from the handle.
    shared: Arc<Shared>,
    /// The status the handle reads.
    status_tx: watch::Sender<Vec<TrackerStatus>>,
}

/// The caller's side of an [`Announcer`].
pub struct AnnouncerHandle {
    /// Requests to the task.
    shared: Arc<Shared>,
    /// The task's latest status.
    status_rx: watch::Receiver<Vec<TrackerStatus>>,
    /// Stops the task; a child of the caller's token.
    cancel: CancellationToken,
    /// The task, awaited by `shutdown`; `None` once taken.
    task: Option<JoinHandle<()>>,
}

/// Who we are to trackers.
#[derive(Debug, Clone, Copy)]
pub struct Us {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The TCP port peers reach us on.
    pub port: u16,
    /// Our global IPv6 address, sent as `ipv6=` (see
    /// [`AnnounceRequest::ipv6`]).
    pub ipv6: Option<Ipv6Addr>,
}

impl Announcer {
    /// Starts announcing `info_hash` to the trackers in `tiers` (the
    /// torrent's announce-list, or a single tier with its `announce`).
    /// Peers from every answer are sent to `peers_tx`. The task ends when
    /// `cancel` fires or [`AnnouncerHandle::shutdown`] is called, after
    /// sending `stopped`.
    pub fn spawn(
        tiers: Vec<Vec<String>>,
        info_hash: InfoHash,
        peer_id: PeerId,
        port: u16,
        stats: watch::Receiver<TransferStats>,
        peers_tx: mpsc::Sender<Vec<SocketAddr>>,
        cancel: CancellationToken,
    ) -> AnnouncerHandle {
        let us = Us {
            peer_id,
            port,
            ipv6: None,
        };
        Self::spawn_as(tiers, info_hash, us, stats, peers_tx, cancel)
    }

    /// [`Announcer::spawn`] with every fact about us that announces carry.
    pub fn spawn_as(
        tiers: Vec<Vec<String>>,
        info_hash: InfoHash,
        us: Us,
        stats: watch::Receiver<TransferStats>,
        peers_tx: mpsc::Sender<Vec<SocketAddr>>,
        cancel: CancellationToken,
    ) -> AnnouncerHandle {
        let Us {
            peer_id,
            port,
            ipv6,
        } = us;
        let mut rng = rand::thread_rng();
        let now = Instant::now();
        let mut tiers: Vec<Tier> = tiers
            .into_iter()
            .filter(|t| !t.is_empty())
            .enumerate()
            .map(|(index, urls)| {
                let mut trackers: Vec<Tracker> = urls
                    .into_iter()
                    .enumerate()
                    .map(|(position, url)| Tracker::new(url, index, position))
                    .collect();
                trackers.shuffle(&mut rng);
                Tier {
                    trackers,
                    next: now,
                    in_flight: None,
                    round_pos: 0,
                    failures: 0,
                    completed_pending: false,
                    update_pending: false,
                    scrape_next: Some(now),
                    scrape_in_flight: false,
                }
            })
            .collect();
        tiers.shrink_to_fit();
        let shared = Arc::new(Shared::default());
        let cancel = cancel.child_token();
        let (status_tx, status_rx) = watch::channel(Vec::new());
        let announcer = Announcer {
            tiers,
            info_hash,
            peer_id,
            port,
            ipv6,
            key: rand::random(),
            stats,
            peers_tx,
            cancel: cancel.clone(),
            shared: shared.clone(),
            status_tx,
        };
        announcer.publish();
        let task = tokio::spawn(announcer.run());
        AnnouncerHandle {
            shared,
            status_rx,
            cancel,
            task: Some(task),
        }
    }
}

impl AnnouncerHandle {
    /// Every tracker's status, in the torrent's order.
    pub fn status(&self) -> Vec<TrackerStatus> {
        self.status_rx.borrow().clone()
    }

    /// The swarm's seeders and leechers by the trackers: the largest
    /// counts any tracker reported (trackers of different tiers see
    /// different parts of the swarm; the largest is the best lower bound).
    pub fn swarm_counts(&self) -> (Option<u32>, Option<u32>) {
        let status = self.status_rx.borrow();
        (
            status.iter().filter_map(|t| t.seeders).max(),
            status.iter().filter_map(|t| t.leechers).max(),
        )
    }

    /// A receiver that sees each change of the status.
    pub fn subscribe(&self) -> watch::Receiver<Vec<TrackerStatus>> {
        self.status_rx.clone()
    }

    /// Announces to every tier now (as soon as each tracker's `min interval`
    /// allows), for example when the user asks for more peers.
    pub fn announce_now(&self) {
        self.shared.announce_now.store(true, Ordering::Release);
        self.shared.notify.notify_one();
    }

    /// Tells the trackers what is left now, at once (past `min interval`):
    /// the start-up check is done, and the `left` of the announces made
    /// while it ran (the whole torrent) was only a guess.
    pub fn checked(&self) {
        self.shared.checked.store(true, Ordering::Release);
        self.shared.notify.notify_one();
    }

    /// Tells the trackers the download has completed (`event=completed`),
    /// once per tier. Not to be called for a torrent that started complete.
    pub fn completed(&self) {
        self.shared.completed.store(true, Ordering::Release);
        self.shared.notify.notify_one();
    }

    /// Sends `stopped` to the trackers that know us (for at most
    /// [`STOPPED_TIMEOUT`]) and waits for the task to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "announce task failed");
            }
        }
    }
}

impl Drop for AnnouncerHandle {
    /// Without `shutdown`, the task still sends `stopped` and ends on its own.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Requests from the handle to the task; flags rather than a queue, so that
/// they never block the caller and are never lost.
#[derive(Default)]
struct Shared {
    /// Set by `announce_now`.
    announce_now: AtomicBool,
    /// Set by `completed`.
    completed: AtomicBool,
    /// Set by `checked`.
    checked: AtomicBool,
    /// Wakes the task after a flag was set.
    notify: Notify,
}

/// One tier of trackers.
///
/// Invariants that make the indexing in this file safe: `trackers` is never
/// empty (empty tiers are dropped in `spawn`); `round_pos < trackers.len()`
/// (it is set to 0, or to `index + 1` only after checking it is in range);
/// an index in `in_flight` stays valid because `trackers` is reordered only
/// when the tier's announce has finished.
struct Tier {
    /// Trackers in the order we try them; the last one that worked first.
    trackers: Vec<Tracker>,
    /// When the next round of announces starts (when none is in flight).
    next: Instant,
    /// Index into `trackers` of the announce in flight.
    in_flight: Option<usize>,
    /// Index into `trackers` of the next one to try in the current round.
    round_pos: usize,
    /// Rounds in a row in which every tracker failed; drives the backoff.
    failures: u32,
    /// `completed` is yet to be delivered to this tier.
    completed_pending: bool,
    /// Its trackers should hear our new `left` at once (after a check):
    /// cleared by the next announce, which carries it.
    update_pending: bool,
    /// When its first tracker is next scraped; `None` when it cannot be
    /// (no `announce` in its URL).
    scrape_next: Option<Instant>,
    /// A scrape of it is in flight.
    scrape_in_flight: bool,
}

/// One tracker and what we know of it.
struct Tracker {
    /// What the user sees.
    status: TrackerStatus,
    /// Its position in the torrent's list, to publish in a stable order.
    position: usize,
    /// It has answered an announce: it has us in its swarm, and `started`
    /// has been delivered.
    started: bool,
    /// It may have us in its swarm, so it should get `stopped`.
    needs_stop: bool,
    /// When it last answered, for `min interval`.
    last_success: Option<Instant>,
    /// Its `min interval`, if it gave one.
    min_interval: Option<Duration>,
    /// Its announce interval, once it answered; scrapes are no more
    /// frequent.
    interval: Option<Duration>,
    /// Its `tracker id`, echoed to HTTP trackers.
    tracker_id: Option<Vec<u8>>,
}

impl Tracker {
    fn new(url: String, tier: usize, position: usize) -> Self {
        Tracker {
            status: TrackerStatus {
                url,
                tier,
                state: TrackerState::NotContacted,
                last_announce: None,
                next_announce: None,
                peers: 0,
                seeders: None,
                leechers: None,
                completed: None,
                last_scrape: None,
                scrape_error: None,
                message: None,
            },
            position,
            started: false,
            needs_stop: false,
            last_success: None,
            min_interval: None,
            interval: None,
            tracker_id: None,
        }
    }

    /// The earliest time `min interval` allows the next announce.
    fn earliest(&self) -> Option<Instant> {
        Some(later(self.last_success?, self.min_interval?))
    }
}

/// What a finished announce reports back to the task.
struct Outcome {
    /// Which tier it was for.
    tier: usize,
    /// Which tracker of the tier (its index in `trackers`, which does not
    /// change while an announce is in flight).
    index: usize,
    /// The event it carried.
    event: Event,
    /// The response and tracker id, or the error.
    result: Result<(AnnounceResponse, Option<Vec<u8>>), TrackerError>,
}

type AnnounceFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What a finished scrape reports back to the task.
struct ScrapeOutcome {
    /// Which tier it was for.
    tier: usize,
    /// Which tracker: by URL, since the tier may reorder its trackers while
    /// the scrape is in flight.
    url: String,
    /// The counts, or the error.
    result: Result<ScrapeCounts, TrackerError>,
}

type ScrapeFuture = Pin<Box<dyn Future<Output = ScrapeOutcome> + Send>>;

impl Announcer {
    async fn run(mut self) {
        let mut in_flight: FuturesUnordered<AnnounceFuture> = FuturesUnordered::new();
        let mut scrapes: FuturesUnordered<ScrapeFuture> = FuturesUnordered::new();
        loop {
            for future in self.launch_due() {
                in_flight.push(future);
            }
            for future in self.launch_scrapes_due() {
                scrapes.push(future);
            }
            self.publish();
            let wake = self
                .tiers
                .iter()
                .filter(|t| t.in_flight.is_none())
                .map(|t| t.next)
                .chain(
                    self.tiers
                        .iter()
                        .filter(|t| !t.scrape_in_flight)
                        .filter_map(|t| t.scrape_next),
                )
                .min();
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                _ = self.shared.notify.notified() => self.take_requests(),
                Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                    if let Some(future) = self.on_outcome(outcome).await {
                        in_flight.push(future);
                    }
                }
                Some(outcome) = scrapes.next(), if !scrapes.is_empty() => {
                    self.on_scrape(outcome);
                }
                _ = sleep_until(wake) => {}
            }
        }
        drop(in_flight);
        drop(scrapes);
        self.send_stopped().await;
        self.publish();
    }

    /// Starts a round for every idle tier that is due.
    fn launch_due(&mut self) -> Vec<AnnounceFuture> {
        let now = Instant::now();
        let mut futures = Vec::new();
        for t in 0..self.tiers.len() {
            let tier = &self.tiers[t];
            if tier.in_flight.is_none() && tier.next <= now {
                let pos = tier.round_pos;
                futures.push(self.launch(t, pos));
            }
        }
        futures
    }

    /// Sends the announce for tracker `index` of tier `t`.
    fn launch(&mut self, t: usize, index: usize) -> AnnounceFuture {
        let stats = *self.stats.borrow();
        let tier = &mut self.tiers[t];
        let tracker = &mut tier.trackers[index];
        let event = if !tracker.started {
            Event::Started
        } else if tier.completed_pending {
            Event::Completed
        } else {
            Event::None
        };
        tier.in_flight = Some(index);
        tier.update_pending = false;
        tracker.status.state = TrackerState::Updating;
        tracker.needs_stop = true;
        let req = AnnounceRequest {
            info_hash: self.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            left: stats.left,
            event,
            numwant: Some(DEFAULT_NUMWANT),
            key: self.key,
            ipv6: self.ipv6,
        };
        let url = tracker.status.url.clone();
        let tracker_id = tracker.tracker_id.clone();
        tracing::debug!(tracker = %url, ?event, "announcing");
        Box::pin(async move {
            Outcome {
                tier: t,
                index,
                event,
                result: announce_one(&url, &req, tracker_id.as_deref()).await,
            }
        })
    }

    /// Reads the flags the handle set.
    fn take_requests(&mut self) {
        let now = Instant::now();
        if self.shared.completed.swap(false, Ordering::AcqRel) {
            // An event is news the tracker should hear now; `min interval`
            // throttles regular and forced re-announces, not events.
            for tier in &mut self.tiers {
                tier.completed_pending = true;
                if tier.in_flight.is_none() {
                    tier.next = now;
                }
            }
        }
        if self.shared.checked.swap(false, Ordering::AcqRel) {
            for tier in &mut self.tiers {
                tier.update_pending = true;
                if tier.in_flight.is_none() {
                    tier.next = now;
                }
            }
        }
        if self.shared.announce_now.swap(false, Ordering::AcqRel) {
            self.announce_all(now);
        }
    }

    /// Makes every idle tier due now, or when its `min interval` allows.
    fn announce_all(&mut self, now: Instant) {
        for tier in &mut self.tiers {
            if tier.in_flight.is_none() {
                let earliest = tier.trackers[tier.round_pos].earliest();
                tier.next = earliest.map_or(now, |e| e.max(now));
            }
        }
    }

    /// Records a finished announce; returns the next announce of the same
    /// round when the tracker failed and the tier has more to try.
    async fn on_outcome(&mut self, outcome: Outcome) -> Option<AnnounceFuture> {
        let Outcome {
            tier: t,
            index,
            event,
            result,
        } = outcome;
        let now = Instant::now();
        let tier = &mut self.tiers[t];
        tier.in_flight = None;
        match result {
            Ok((response, tracker_id)) => {
                let tracker = &mut tier.trackers[index];
                tracker.started = true;
                tracker.last_success = Some(now);
                tracker.min_interval = response.min_interval;
                tracker.interval = Some(response.interval);
                if tracker_id.is_some() {
                    tracker.tracker_id = tracker_id;
                }
                let status = &mut tracker.status;
                status.state = TrackerState::Working;
                status.last_announce = Some(SystemTime::now());
                status.peers = u32::try_from(response.peers.len()).unwrap_or(u32::MAX);
                // An answer without counts leaves those of a scrape.
                status.seeders = response.seeders.or(status.seeders);
                status.leechers = response.leechers.or(status.leechers);
                status.message = response.warning.clone();
                if let Some(w) = &response.warning {
                    tracing::warn!(tracker = %status.url, warning = %w, "tracker warning");
                }
                tracing::debug!(tracker = %status.url, peers = status.peers, "announce worked");
                if event == Event::Completed {
                    tier.completed_pending = false;
                }
                // BEP 12: the tracker that answered goes to the front of its tier.
                let working = tier.trackers.remove(index);
                tier.trackers.insert(0, working);
                tier.round_pos = 0;
                tier.failures = 0;
                tier.next = if tier.completed_pending || tier.update_pending {
                    now
                } else {
                    later(
                        now,
                        response
                            .interval
                            .max(response.min_interval.unwrap_or_default()),
                    )
                };
                self.deliver(response.peers).await;
                None
            }
            Err(error) => {
                let tracker = &mut tier.trackers[index];
                tracker.needs_stop = tracker.started;
                tracker.status.state = TrackerState::Error;
                tracker.status.message = Some(error.to_string());
                tracing::warn!(tracker = %tracker.status.url, %error, "announce failed");
                tier.round_pos = index + 1;
                if tier.round_pos < tier.trackers.len() {
                    let next = tier.round_pos;
                    return Some(self.launch(t, next));
                }
                tier.round_pos = 0;
                tier.failures = tier.failures.saturating_add(1);
                tier.next = later(now, retry_delay(tier.failures));
                None
            }
        }
    }

    /// Hands peers to the torrent, unless it is gone or we are stopping.
    async fn deliver(&self, peers: Vec<SocketAddr>) {
        if peers.is_empty() {
            return;
        }
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            sent = self.peers_tx.send(peers) => {
                if sent.is_err() {
                    tracing::debug!("peer receiver gone; dropping tracker peers");
                }
            }
        }
    }

    /// Sends `stopped` to every tracker that may have us in its swarm, all at
    /// once, for at most [`STOPPED_TIMEOUT`].
    async fn send_stopped(&mut self) {
        let stats = *self.stats.borrow();
        let mut stops = Vec::new();
        for tier in &mut self.tiers {
            tier.in_flight = None;
            for tracker in &mut tier.trackers {
                if tracker.status.state == TrackerState::Updating {
                    tracker.status.state = if tracker.started {
                        TrackerState::Working
                    } else {
                        TrackerState::NotContacted
                    };
                }
                tracker.status.next_announce = None;
                if !tracker.needs_stop {
                    continue;
                }
                let req = AnnounceRequest {
                    info_hash: self.info_hash,
                    peer_id: self.peer_id,
                    port: self.port,
                    uploaded: stats.uploaded,
                    downloaded: stats.downloaded,
                    left: stats.left,
                    event: Event::Stopped,
                    numwant: Some(0),
                    key: self.key,
                    ipv6: self.ipv6,
                };
                let url = tracker.status.url.clone();
                let tracker_id = tracker.tracker_id.clone();
                stops.push(async move {
                    if let Err(error) = announce_one(&url, &req, tracker_id.as_deref()).await {
                        tracing::warn!(tracker = %url, %error, "stopped announce failed");
                    }
                });
            }
        }
        if stops.is_empty() {
            return;
        }
        if tokio::time::timeout(STOPPED_TIMEOUT, futures::future::join_all(stops))
            .await
            .is_err()
        {
            tracing::warn!("some trackers did not answer `stopped` in time");
        }
    }

    /// Publishes every tracker's status, in the torrent's order.
    fn publish(&self) {
        let now_instant = Instant::now();
        let now = SystemTime::now();
        let stopping = self.cancel.is_cancelled();
        let mut all: Vec<(usize, usize, TrackerStatus)> = Vec::new();
        for tier in &self.tiers {
            for (i, tracker) in tier.trackers.iter().enumerate() {
                let mut status = tracker.status.clone();
                status.next_announce =
                    (!stopping && tier.in_flight.is_none() && i == tier.round_pos)
                        .then(|| now.checked_add(tier.next.saturating_duration_since(now_instant)))
                        .flatten();
                all.push((status.tier, tracker.position, status));
            }
        }
        all.sort_by_key(|(tier, position, _)| (*tier, *position));
        self.status_tx
            .send_replace(all.into_iter().map(|(_, _, s)| s).collect());
    }
}

/// One announce to one tracker, echoing a tracker id to HTTP trackers.
async fn announce_one(
    url: &str,
    req: &AnnounceRequest,
    tracker_id: Option<&[u8]>,
) -> Result<(AnnounceResponse, Option<Vec<u8>>), TrackerError> {
    match scheme_of(url)?.as_str() {
        "http" | "https" => http::announce_with_tracker_id(url, req, tracker_id)
            .await
            .map(|a| (a.response, a.tracker_id)),
        _ => super::announce(url, req).await.map(|r| (r, None)),
    }
}

/// The wait after `failures` failed rounds in a row: 15 s, 30 s, 60 s, ...
/// up to [`RETRY_MAX`].
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_BASE.saturating_mul(1u32 << doublings).min(RETRY_MAX)
}

/// `at + wait`, or [`MAX_INTERVAL`] after `at` when the sum is beyond what
/// the clock can hold. Waits come from trackers, so they are clamped when
/// parsed; this keeps a wait that slipped through from panicking the task.
fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait)
        .or_else(|| at.checked_add(MAX_INTERVAL))
        .unwrap_or(at)
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

mod scraping;
#[cfg(test)]
mod tests;
