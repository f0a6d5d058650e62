//! The torrent task's web seeds (`crate::webseed`): which run, what the
//! picker hands them, what they deliver, and their blame. Seeds run while
//! the torrent downloads and stop when it completes, pauses or fails;
//! a seed dropped for bad data or errors stays listed as failed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Torrent;
use crate::bitfield::Bitfield;
use crate::peer::{PeerCmd, PeerKey};
use crate::picker::Received;
use crate::rate::Rate;
use crate::torrent::TorrentState;
use crate::webseed::url::FileUrls;
use crate::webseed::{
    self, SeedContext, SeedShared, WebSeedEvent, WebSeedSnapshot, WebSeedState, MAX_WEB_SEEDS,
    STRIKES_TO_DROP,
};

/// Picker keys of web seeds: this bit set, the seed's number below it.
/// Connection keys count up from zero and never reach it.
const KEY_BASE: u32 = 1 << 31;
/// Events queued from a torrent's web seeds.
const EVENT_QUEUE: usize = 1024;

/// One web seed of the torrent.
struct Entry {
    /// The URL as given (shown to the user).
    url: String,
    /// The URL once checked; `None` for a URL we refuse.
    base: Option<url::Url>,
    /// In use, idle or failed.
    state: WebSeedState,
    /// Counters its workers bump.
    shared: Arc<SeedShared>,
    /// Its download rate, sampled each tick.
    rate: Rate,
    /// Pieces failed with it as their only sender.
    strikes: u32,
    /// Stops its task while it runs.
    running: Option<CancellationToken>,
}

/// The web seeds of one torrent.
pub(super) struct WebSeeds {
    /// In the order added; an entry's index is its number (key, evidence).
    entries: Vec<Entry>,
    /// Where seed tasks report.
    events_tx: mpsc::Sender<(PeerKey, WebSeedEvent)>,
    /// Public to the task so its loop can await it.
    pub events_rx: mpsc::Receiver<(PeerKey, WebSeedEvent)>,
    /// File URL paths, shared by every seed.
    files: Arc<FileUrls>,
    /// Parent of every seed's token: ends them all at shutdown.
    cancel: CancellationToken,
    /// Seed tasks, awaited at shutdown.
    pub tasks: tokio::task::JoinSet<()>,
}

impl WebSeeds {
    /// The torrent's `url-list` (refused URLs are listed as failed).
    pub fn new(urls: &[String], info: &crate::metainfo::Info, cancel: CancellationToken) -> Self {
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let mut w = WebSeeds {
            entries: Vec::new(),
            events_tx,
            events_rx,
            files: Arc::new(FileUrls::new(info)),
            cancel,
            tasks: tokio::task::JoinSet::new(),
        };
        for u in urls {
            // A refused URL from the torrent is listed as failed.
            let _ = w.add(u, true);
        }
        w
    }

    /// Adds a seed; refuses a URL listed already or past the limit, and
    /// lists a URL that `webseed::url::check` refuses as failed if
    /// `keep_refused`, else not at all.
    fn add(&mut self, url: &str, keep_refused: bool) -> Result<(), String> {
        if self.entries.iter().any(|e| e.url == url) {
            return Err("already listed".into());
        }
        if self.entries.len() >= MAX_WEB_SEEDS {
            return Err(format!("at most {MAX_WEB_SEEDS} web seeds per torrent"));
        }
        let (base, state, result) = match webseed::url::check(url) {
            Ok(u) => (Some(u), WebSeedState::Idle, Ok(())),
            Err(e) if keep_refused => (
                None,
                WebSeedState::Failed(format!("refused: {e}")),
                Err(e.to_string()),
            ),
            Err(e) => return Err(e.to_string()),
        };
        self.entries.push(Entry {
            url: url.to_owned(),
            base,
            state,
            shared: Arc::default(),
            rate: Rate::default(),
            strikes: 0,
            running: None,
        });
        result
    }

    fn index(key: PeerKey) -> Option<usize> {
        (key.0 & KEY_BASE != 0).then_some((key.0 & !KEY_BASE) as usize)
    }

    fn key(n: usize) -> PeerKey {
        PeerKey(KEY_BASE | n as u32)
    }

    /// Payload bytes all web seeds delivered in this run.
    pub fn downloaded(&self) -> u64 {
        self.entries.iter().map(|e| e.shared.downloaded.get()).sum()
    }

    /// Seeds fetching now, and seeds failed.
    pub fn counts(&self) -> (usize, usize) {
        let active = self
            .entries
            .iter()
            .filter(|e| e.state == WebSeedState::Active)
            .count();
        let failed = self
            .entries
            .iter()
            .filter(|e| matches!(e.state, WebSeedState::Failed(_)))
            .count();
        (active, failed)
    }

    /// Whether any seed is fetching (the torrent is busy then).
    pub fn any_running(&self) -> bool {
        self.entries.iter().any(|e| e.running.is_some())
    }

    /// Samples each seed's rate.
    pub fn sample(&mut self, now: Instant) {
        for e in &mut self.entries {
            e.rate.sample(now, e.shared.downloaded.get());
        }
    }

    /// The seeds as the peers list shows them.
    pub fn snapshots(&self) -> Vec<WebSeedSnapshot> {
        self.entries
            .iter()
            .map(|e| WebSeedSnapshot {
                url: e.url.clone(),
                state: e.state.clone(),
                download_rate: if e.running.is_some() {
                    e.rate.per_second()
                } else {
                    0
                },
                downloaded: e.shared.downloaded.get(),
                ignores_ranges: e
                    .shared
                    .ignores_ranges
                    .load(std::sync::atomic::Ordering::Relaxed),
            })
            .collect()
    }

    /// Ends every seed task and waits for them.
    pub async fn shutdown(&mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Torrent {
    /// Starts the seeds while the torrent downloads, stops them otherwise.
    pub(super) fn drive_web_seeds(&mut self) {
        let want = self.state == TorrentState::Downloading && !self.picker.is_complete();
        for n in 0..self.webseeds.entries.len() {
            let e = &self.webseeds.entries[n];
            if want && e.running.is_none() && !matches!(e.state, WebSeedState::Failed(_)) {
                self.start_web_seed(n);
            } else if !want && e.running.is_some() {
                self.stop_web_seed(n, WebSeedState::Idle);
            }
        }
    }

    fn start_web_seed(&mut self, n: usize) {
        let (Some(disk), Some(base)) = (self.disk.clone(), self.webseeds.entries[n].base.clone())
        else {
            return;
        };
        let cancel = self.webseeds.cancel.child_token();
        let e = &mut self.webseeds.entries[n];
        let ctx = SeedContext {
            key: WebSeeds::key(n),
            base,
            layout: self.layout.clone(),
            files: self.webseeds.files.clone(),
            piece_length: self.layout.piece_length,
            disk,
            shared: e.shared.clone(),
            events: self.webseeds.events_tx.clone(),
            cancel: cancel.clone(),
        };
        e.running = Some(cancel);
        e.state = WebSeedState::Active;
        tracing::debug!(seed = %e.url, "web seed started");
        let evidence = webseed::evidence_ip(n as u32);
        self.webseeds.tasks.spawn(webseed::run(ctx, evidence));
    }

    /// Stops seed `n` (its picks go back to the pool) and sets its state.
    fn stop_web_seed(&mut self, n: usize, state: WebSeedState) {
        let Some(e) = self.webseeds.entries.get_mut(n) else {
            return;
        };
        if let Some(c) = e.running.take() {
            c.cancel();
        }
        if let WebSeedState::Failed(reason) = &state {
            tracing::warn!(seed = %e.url, "web seed dropped: {reason}");
        }
        e.state = state;
        self.picker.peer_left(WebSeeds::key(n), &Bitfield::new(0));
    }

    /// Stops every seed (the torrent closes its connections).
    pub(super) fn stop_web_seeds(&mut self) {
        for n in 0..self.webseeds.entries.len() {
            if self.webseeds.entries[n].running.is_some() {
                self.stop_web_seed(n, WebSeedState::Idle);
            }
        }
    }

    pub(super) fn on_web_seed_event(&mut self, key: PeerKey, ev: WebSeedEvent) {
        let Some(n) = WebSeeds::index(key) else {
            return;
        };
        let running = self
            .webseeds
            .entries
            .get(n)
            .is_some_and(|e| e.running.is_some());
        match ev {
            WebSeedEvent::Need { max_blocks, reply } => {
                let mut blocks = Vec::new();
                if running && self.state == TorrentState::Downloading {
                    self.picker.pick_run(key, max_blocks, &mut blocks);
                }
                if let Err(blocks) = reply.send(blocks) {
                    for b in blocks {
                        self.picker.request_cancelled(key, b);
                    }
                }
            }
            WebSeedEvent::Claim {
                first,
                last,
                max_blocks,
                reply,
            } => {
                let mut blocks = Vec::new();
                if running && self.state == TorrentState::Downloading {
                    self.picker
                        .claim_run(key, first, last, max_blocks, &mut blocks);
                }
                if let Err(blocks) = reply.send(blocks) {
                    for b in blocks {
                        self.picker.request_cancelled(key, b);
                    }
                }
            }
            // Written already: taken even from a seed stopped meanwhile.
            WebSeedEvent::Received(block) => {
                if let Received::New { cancel, .. } = self.picker.block_received(key, block) {
                    for other in cancel {
                        self.conns.send(other, PeerCmd::Cancel(block));
                    }
                }
            }
            WebSeedEvent::Returned(blocks) => {
                if running {
                    for b in blocks {
                        self.picker.request_cancelled(key, b);
                    }
                }
            }
            WebSeedEvent::Failed(reason) => {
                if running {
                    self.stop_web_seed(n, WebSeedState::Failed(reason));
                    self.publish();
                }
            }
        }
    }

    /// Blame for bad data named `ip`: if it is a web seed's evidence
    /// address, the seed takes it (a strike, or `drop` at once) and
    /// `true` is returned; peers are left to the caller.
    pub(super) fn blame_web_seed(&mut self, ip: IpAddr, drop: bool) -> bool {
        let Some(n) = webseed::seed_of_evidence(ip) else {
            return false;
        };
        let Some(e) = self.webseeds.entries.get_mut(n as usize) else {
            return true;
        };
        e.strikes += 1;
        let strikes = e.strikes;
        if (drop || strikes >= STRIKES_TO_DROP) && !matches!(e.state, WebSeedState::Failed(_)) {
            let reason = format!(
                "sent data that failed the hash check ({strikes} piece{})",
                if strikes == 1 { "" } else { "s" }
            );
            self.stop_web_seed(n as usize, WebSeedState::Failed(reason));
            self.publish();
        }
        true
    }

    /// Adds a web seed at the user's request and starts it if the torrent
    /// is downloading.
    pub(super) fn add_web_seed(&mut self, url: String) -> Result<(), String> {
        self.webseeds.add(&url, false)?;
        self.drive_web_seeds();
        self.publish();
        Ok(())
    }
}
