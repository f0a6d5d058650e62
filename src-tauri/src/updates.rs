//! The updates pushed to the window: a task that, once a second (or at once
//! when a command pokes it), gathers a [`SessionUpdate`] from the engine and
//! sends it down the window's channel. The window never polls.
//!
//! To keep the window smooth with hundreds of torrents and peers, an update
//! carries only the torrent rows that changed since the last one
//! ([`RowDiff`]), the selected torrent's detail only for the tab shown, at
//! most [`MAX_PEER_ROWS`] peers, and the DHT state only while its panel is
//! open.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tauri::{AppHandle, Manager, Runtime};

use shoal::limit::to_kib;
use shoal::magnet::Magnet;
use shoal::portmap::PortMapStatus;
use shoal::torrent::{TorrentHandle, TorrentStats};
use shoal::InfoHash;

use crate::dto::{
    DhtPanel, FileRow, GlobalStats, Overview, PeerRow, PieceMap, SessionUpdate, TorrentDetail,
    TorrentRow, TorrentState as RowState, TrackerRow,
};
use crate::state::{lock, AppState, DetailTab};

/// How often an update goes out when nothing pokes the ticker.
pub const TICK: Duration = Duration::from_secs(1);
/// Most peers sent for the Peers tab (the busiest first).
pub const MAX_PEER_ROWS: usize = 1000;

/// Runs the ticker until the app exits.
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let mut diff = RowDiff::default();
        let mut still = Stillness::default();
        let mut peer_still = Stillness::default();
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let state = app.state::<AppState>();
            tokio::select! {
                _ = interval.tick() => {}
                _ = state.wake.notified() => {}
            }
            let (channel, full) = {
                let mut view = lock(&state.view);
                let full = std::mem::take(&mut view.needs_full);
                (view.channel.clone(), full)
            };
            let Some(channel) = channel else { continue };
            if full {
                diff = RowDiff::default();
            }
            let update = gather(&state, &mut diff, (&mut still, &mut peer_still), full).await;
            for name in &update.completed {
                crate::notify::complete(&app, name.clone());
            }
            if channel.send(update).is_err() {
                // The window is gone or reloading; it subscribes again.
                lock(&state.view).channel = None;
            }
        }
    });
}

/// Builds one update.
async fn gather(
    state: &AppState,
    diff: &mut RowDiff,
    (still, peer_still): (
        &mut Stillness<InfoHash>,
        &mut Stillness<(InfoHash, SocketAddr)>,
    ),
    full: bool,
) -> SessionUpdate {
    let Some(session) = &state.session else {
        return SessionUpdate {
            full,
            torrents: Vec::new(),
            removed: Vec::new(),
            global: GlobalStats {
                download_rate: 0,
                upload_rate: 0,
                peers: 0,
                dht_nodes: None,
                dht_error: None,
                dht_retry_in_secs: None,
                dht_problem: None,
                listen_port: None,
                connectable: None,
                port_mapping: None,
                free_space: free_space(&lock(&state.config).download_dir()),
            },
            detail: None,
            dht: None,
            completed: Vec::new(),
        };
    };
    let mut handles = session.torrents();
    // New rows go last; restored ones in the order they were first added.
    handles.sort_by_key(|h| (h.added_at(), h.info_hash.0));
    let mut rows = Vec::with_capacity(handles.len());
    let (mut down, mut up, mut peers) = (0u64, 0u64, 0usize);
    {
        let mut book = lock(&state.book);
        let now = Instant::now();
        let live: HashSet<InfoHash> = handles.iter().map(|h| h.info_hash).collect();
        still.retain(|ih| live.contains(ih));
        for h in &handles {
            let mut stats = h.stats();
            still.apply(
                h.info_hash,
                now,
                [stats.downloaded, stats.uploaded],
                [&mut stats.download_rate, &mut stats.upload_rate],
            );
            down += stats.download_rate;
            up += stats.upload_rate;
            peers += stats.peers;
            let order = book.order_of(h.info_hash);
            rows.push(TorrentRow::from_stats(
                h.info_hash,
                order,
                h.added_at(),
                &stats,
            ));
        }
    }
    let (changed, removed, completed) = diff.apply(rows, full);

    let (selected, tab, dht_open) = {
        let v = lock(&state.view);
        (v.selected, v.tab, v.dht_open)
    };
    let detail = match selected.and_then(|ih| session.torrent(&ih)) {
        Some(h) => Some(detail(&h, tab, peer_still).await),
        None => None,
    };

    let dht_state = match session.dht() {
        Some(d) => d.state().await.ok(),
        None => None,
    };
    let panel = dht_state.map(DhtPanel::from);
    let global = GlobalStats {
        download_rate: down,
        upload_rate: up,
        peers,
        dht_nodes: panel.as_ref().map(|p| p.nodes),
        dht_error: session.dht_error().map(str::to_string),
        dht_retry_in_secs: panel.as_ref().and_then(|p| p.retry_in_secs),
        dht_problem: panel.as_ref().and_then(|p| p.join_problem.clone()),
        listen_port: Some(session.listen_port()),
        connectable: match session.port_mapping() {
            PortMapStatus::Mapped { external, .. } => Some(external.to_string()),
            _ => None,
        },
        port_mapping: port_mapping_words(&session.port_mapping()),
        free_space: free_space(&lock(&state.config).download_dir()),
    };
    let dht = dht_open.then(|| match panel {
        Some(p) => p,
        None => DhtPanel {
            enabled: session.dht().is_some(),
            error: session.dht_error().map(str::to_string),
            node_id: None,
            local_addr: None,
            nodes: 0,
            buckets: Vec::new(),
            lookups_in_flight: 0,
            announces_in_flight: 0,
            bootstrapped: false,
            server_mode: false,
            size_estimate: 0,
            retry_in_secs: None,
            join_attempts: 0,
            join_problem: None,
        },
    });
    SessionUpdate {
        full,
        torrents: changed,
        removed,
        global,
        detail,
        dht,
        completed,
    }
}

/// The detail of one torrent for `tab`.
async fn detail(
    h: &TorrentHandle,
    tab: DetailTab,
    still: &mut Stillness<(InfoHash, SocketAddr)>,
) -> TorrentDetail {
    let stats = h.stats();
    let meta = h.metainfo().await;
    let save_dir = h.save_dir().display().to_string();
    let limits = h.rate_limits();
    let sequential = stats.sequential;
    let magnet = match &meta {
        Some(m) => Magnet::from_metainfo(m).to_uri(),
        None => Magnet {
            display_name: Some(stats.name.clone()),
            ..Magnet::new(h.info_hash)
        }
        .to_uri(),
    };
    let overview = Overview {
        info_hash: h.info_hash.to_hex(),
        save_dir,
        piece_length: meta.as_ref().map(|m| m.info.piece_length).unwrap_or(0),
        comment: meta.as_ref().and_then(|m| m.comment.clone()),
        private: meta.as_ref().map(|m| m.info.private).unwrap_or(false),
        hash_failures: stats.hash_failures,
        banned: stats.banned,
        magnet,
        sequential,
        download_limit_kib: to_kib(limits.0),
        upload_limit_kib: to_kib(limits.1),
    };
    let mut out = TorrentDetail {
        id: h.info_hash.to_hex(),
        overview,
        pieces: None,
        peers: None,
        peer_count: stats.peers,
        web_seeds: None,
        files: None,
        trackers: None,
    };
    match tab {
        DetailTab::Overview => {
            let p = h.pieces().await;
            out.pieces = (p.num_pieces > 0).then(|| PieceMap::from(p));
        }
        DetailTab::Peers => {
            let mut peers = h.peers().await;
            out.peer_count = peers.len();
            // Peers' rates, like torrents', read zero once nothing moves.
            let now = Instant::now();
            let ih = h.info_hash;
            let live: HashSet<SocketAddr> = peers.iter().map(|p| p.addr).collect();
            still.retain(|(i, a)| *i == ih && live.contains(a));
            for p in &mut peers {
                still.apply(
                    (ih, p.addr),
                    now,
                    [p.downloaded, p.uploaded],
                    [&mut p.download_rate, &mut p.upload_rate],
                );
            }
            // Busiest first, then by address so the order is stable.
            peers.sort_by(|a, b| {
                (b.download_rate + b.upload_rate)
                    .cmp(&(a.download_rate + a.upload_rate))
                    .then(a.addr.cmp(&b.addr))
            });
            peers.truncate(MAX_PEER_ROWS);
            out.peers = Some(peers.into_iter().map(PeerRow::from).collect());
            let seeds = h.web_seeds().await.into_iter();
            out.web_seeds = Some(seeds.map(crate::dto::WebSeedRow::from).collect());
        }
        DetailTab::Files => {
            let files = h.files().await.into_iter().enumerate();
            out.files = Some(files.map(FileRow::from).collect());
        }
        DetailTab::Trackers => {
            let trackers = h.trackers().await.into_iter();
            out.trackers = Some(trackers.map(TrackerRow::from).collect());
        }
    }
    out
}

/// A torrent row from the engine's stats.
pub fn row(ih: InfoHash, order: u64, s: &TorrentStats) -> TorrentRow {
    TorrentRow::from_stats(ih, order, 0, s)
}

/// Bytes free for an unprivileged user on the file system holding `dir`
/// (or its nearest existing parent: the folder is made on first use).
pub fn free_space(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let c_path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: `c_path` is a valid NUL-terminated string and `out` is a
    // plain struct statvfs fills; it is read only when the call succeeded.
    unsafe {
        let mut out: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut out) != 0 {
            return None;
        }
        Some(out.f_bavail as u64 * out.f_frsize as u64)
    }
}

/// How long a torrent's byte count may stand still before its rate shows
/// zero. The engine's rates average a five-second window, so a transfer
/// that stops would otherwise show its old rate fading for five seconds
/// (a finished torrent with no peers still "downloading at 966 KiB/s").
pub const IDLE_AFTER: Duration = Duration::from_secs(2);

/// When each torrent's (or peer's) payload counts last moved, to show a
/// rate of zero once they stand still for [`IDLE_AFTER`].
pub struct Stillness<K> {
    /// Per key and direction (down, up): the last count seen and when it
    /// last changed.
    last: HashMap<K, [(u64, Instant); 2]>,
}

impl<K> Default for Stillness<K> {
    fn default() -> Self {
        Stillness {
            last: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Stillness<K> {
    /// Zeroes each of `rates` (down, up) whose byte count in `counts` has
    /// not moved for `IDLE_AFTER` up to `now`.
    pub fn apply(&mut self, key: K, now: Instant, counts: [u64; 2], rates: [&mut u64; 2]) {
        let entry = self
            .last
            .entry(key)
            .or_insert([(counts[0], now), (counts[1], now)]);
        for (i, rate) in rates.into_iter().enumerate() {
            if entry[i].0 != counts[i] {
                entry[i] = (counts[i], now);
            }
            if now.duration_since(entry[i].1) >= IDLE_AFTER {
                *rate = 0;
            }
        }
    }

    /// Forgets the keys `keep` refuses.
    pub fn retain(&mut self, keep: impl Fn(&K) -> bool) {
        self.last.retain(|k, _| keep(k));
    }
}

/// The rows last sent, to send only what changed, and to notice downloads
/// that just completed.
#[derive(Default)]
pub struct RowDiff {
    /// The last row sent for each torrent.
    last: HashMap<String, Arc<TorrentRow>>,
}

impl RowDiff {
    /// Compares `rows` (every torrent now) with the last ones sent. Returns
    /// the rows to send (all of them when `full`), the ids that are gone,
    /// and the names of torrents that completed since last time (only
    /// those seen downloading before, so a torrent added complete, or the
    /// first update, notifies nothing).
    pub fn apply(
        &mut self,
        rows: Vec<TorrentRow>,
        full: bool,
    ) -> (Vec<TorrentRow>, Vec<String>, Vec<String>) {
        let mut changed = Vec::new();
        let mut completed = Vec::new();
        let mut seen = HashSet::with_capacity(rows.len());
        for r in rows {
            seen.insert(r.id.clone());
            match self.last.get(&r.id) {
                Some(prev) if **prev == r => {
                    if full {
                        changed.push(r);
                    }
                    continue;
                }
                Some(prev)
                    if r.complete && !prev.complete && prev.state == RowState::Downloading =>
                {
                    completed.push(r.name.clone());
                }
                _ => {}
            }
            self.last.insert(r.id.clone(), Arc::new(r.clone()));
            changed.push(r);
        }
        let removed: Vec<String> = self
            .last
            .keys()
            .filter(|id| !seen.contains(*id))
            .cloned()
            .collect();
        for id in &removed {
            self.last.remove(id);
        }
        changed.sort_by_key(|r| r.order);
        (changed, removed, completed)
    }
}

/// The status bar's tooltip on port mapping; `None` when it is off.
fn port_mapping_words(status: &PortMapStatus) -> Option<String> {
    match status {
        PortMapStatus::Off => None,
        PortMapStatus::Searching => Some("Port mapping: looking for the router".into()),
        PortMapStatus::Mapped {
            protocol, external, ..
        } => Some(format!(
            "Port mapped with {protocol}: peers reach us at {external}"
        )),
        PortMapStatus::Failed(why) => Some(format!("Port mapping failed: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal::torrent::TorrentState;

    fn stats(have: u64, complete: bool, state: TorrentState) -> TorrentStats {
        TorrentStats {
            name: "t".into(),
            state,
            have_bytes: have,
            wanted_bytes: 1000,
            total_bytes: 1000,
            pieces_have: 0,
            num_pieces: 10,
            downloaded: have,
            uploaded: 0,
            total_downloaded: have,
            total_uploaded: 0,
            download_rate: 100,
            upload_rate: 0,
            peers: 1,
            seeds: 1,
            encrypted_peers: 0,
            known_peers: 1,
            swarm_seeders: Some(12),
            swarm_leechers: None,
            hash_failures: 0,
            banned: 0,
            web_seeds: 0,
            web_seeds_failed: 0,
            complete,
            sequential: false,
            diagnosis: shoal::torrent::diagnosis::Diagnosis {
                cause: shoal::torrent::diagnosis::Cause::Fine,
                evidence: "1 of 1 connected peer send to us.".into(),
                fix: String::new(),
            },
        }
    }

    #[test]
    fn row_has_progress_eta_and_ratio() {
        let r = row(
            InfoHash([1; 20]),
            1,
            &stats(250, false, TorrentState::Downloading),
        );
        assert_eq!(r.progress, 0.25);
        assert_eq!(r.eta_secs, Some(8));
        assert_eq!(r.ratio, 0.0);
        assert_eq!(r.state, RowState::Downloading);
        assert_eq!((r.swarm_seeds, r.swarm_leechers), (Some(12), None));
        let mut s = stats(1000, true, TorrentState::Seeding);
        s.total_downloaded = 0;
        s.total_uploaded = 500;
        let r = row(InfoHash([1; 20]), 1, &s);
        assert_eq!(r.eta_secs, None);
        assert_eq!(r.ratio, 0.5);
    }

    #[test]
    fn free_space_is_the_file_systems() {
        let dir = tempfile::tempdir().unwrap();
        // A folder not made yet counts its parent's file system.
        let free = free_space(&dir.path().join("not/yet")).expect("free space");
        let out = std::process::Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let df: u64 = text.lines().nth(1).unwrap().trim().parse().unwrap();
        // Other programs write meanwhile: within 1%.
        let diff = free.abs_diff(df);
        assert!(diff <= df / 100, "statvfs {free} vs df {df}");
    }

    #[test]
    fn a_rate_reads_zero_once_the_bytes_stand_still() {
        let ih = InfoHash([1; 20]);
        let t = Instant::now();
        let mut still = Stillness::default();
        let mut at = |secs: u64, down: u64, up: u64| {
            let mut s = stats(0, false, TorrentState::Downloading);
            s.downloaded = down;
            s.uploaded = up;
            s.download_rate = 966 * 1024;
            s.upload_rate = 10 * 1024;
            still.apply(
                ih,
                t + Duration::from_secs(secs),
                [s.downloaded, s.uploaded],
                [&mut s.download_rate, &mut s.upload_rate],
            );
            (s.download_rate, s.upload_rate)
        };
        assert_eq!(at(0, 100, 5), (966 * 1024, 10 * 1024));
        assert_eq!(at(1, 200, 6), (966 * 1024, 10 * 1024));
        // Downloads stop; uploads go on: one second later the engine's
        // window still shows the old rate, two seconds later it is zero.
        assert_eq!(at(2, 200, 7), (966 * 1024, 10 * 1024));
        assert_eq!(at(3, 200, 8), (0, 10 * 1024));
        // Then uploads stop too.
        assert_eq!(at(4, 200, 8), (0, 10 * 1024));
        assert_eq!(at(5, 200, 8), (0, 0));
        // Bytes again: the engine's rate again.
        assert_eq!(at(6, 300, 8), (966 * 1024, 0));
    }

    #[test]
    fn diff_sends_only_changes_and_notices_completion() {
        let ih = InfoHash([1; 20]);
        let other = InfoHash([2; 20]);
        let mut d = RowDiff::default();
        let a = row(ih, 1, &stats(0, false, TorrentState::Downloading));
        let b = row(other, 2, &stats(0, false, TorrentState::Paused));
        let (c, r, done) = d.apply(vec![a.clone(), b.clone()], true);
        assert_eq!((c.len(), r.len(), done.len()), (2, 0, 0));
        // Nothing changed: nothing sent.
        let (c, _, _) = d.apply(vec![a.clone(), b.clone()], false);
        assert!(c.is_empty());
        // One finished, the other was removed.
        let a2 = row(ih, 1, &stats(1000, true, TorrentState::Seeding));
        let (c, r, done) = d.apply(vec![a2], false);
        assert_eq!(c.len(), 1);
        assert_eq!(r, vec![other.to_hex()]);
        assert_eq!(done, vec!["t".to_string()]);
    }
}
