//! What the torrent task records for the diagnosis ("why is it slow?")
//! and the snapshot of facts it hands to the pure rules in
//! [`crate::torrent::diagnosis`] once a tick.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::discovery::Discovery;
use super::Torrent;
use crate::portmap::PortMapStatus;
use crate::torrent::diagnosis::{
    self, DhtFact, Diagnosis, Facts, PeerFact, Phase, PortFact, TrackerFact,
};
use crate::torrent::{TorrentEnv, TorrentState};
use crate::tracker::announcer::TrackerState;
use crate::types::PieceIndex;

/// Disk queue samples averaged: a queue full on a few ticks in a row is
/// a slow disk, full on one tick is a burst.
const DISK_SAMPLES: usize = 5;
/// Ranges of missing pieces whose files are named: enough for a message,
/// and a tick does not walk every file for each of thousands of ranges.
const FILE_RANGES: usize = 16;

/// Counts kept for the diagnosis as things happen.
#[derive(Debug)]
pub(super) struct DiagLog {
    /// When the torrent started, for "no peer dialled us in N s".
    started: Instant,
    /// Dials that failed, all told.
    dial_failures: u32,
    /// Dials that became connections, all told.
    dial_successes: u32,
    /// Failed dials by error message, for the commonest one.
    errors: HashMap<String, u32>,
    /// Peers that dialled us, all told: one proves we are connectable.
    incoming: u32,
    /// Addresses the DHT gave, all told.
    pub dht_peers: u32,
    /// The disk write queue's recent fill, one sample a tick.
    disk: VecDeque<f64>,
}

impl DiagLog {
    pub(super) fn new() -> Self {
        DiagLog {
            started: Instant::now(),
            dial_failures: 0,
            dial_successes: 0,
            errors: HashMap::new(),
            incoming: 0,
            dht_peers: 0,
            disk: VecDeque::new(),
        }
    }

    /// A dial failed with this error.
    pub(super) fn dial_failed(&mut self, error: &dyn std::fmt::Display) {
        self.dial_failures += 1;
        let msg = short_error(&error.to_string());
        // Bounded: error texts are few (the OS's and ours), but cap anyway.
        if self.errors.len() < 64 || self.errors.contains_key(&msg) {
            *self.errors.entry(msg).or_insert(0) += 1;
        }
    }

    /// A dial became a connection.
    pub(super) fn dial_succeeded(&mut self) {
        self.dial_successes += 1;
    }

    /// A peer dialled us.
    pub(super) fn incoming(&mut self) {
        self.incoming += 1;
    }

    fn sample_disk(&mut self, fill: f64) {
        if self.disk.len() == DISK_SAMPLES {
            self.disk.pop_front();
        }
        self.disk.push_back(fill);
    }

    fn disk_fill(&self) -> f64 {
        if self.disk.is_empty() {
            return 0.0;
        }
        self.disk.iter().sum::<f64>() / self.disk.len() as f64
    }

    /// Puts the dial counts into `facts` (the magnet phase's own facts).
    pub(super) fn fill(&self, facts: &mut Facts) {
        facts.dial_failures = self.dial_failures;
        facts.dial_successes = self.dial_successes;
        facts.commonest_dial_error = self.commonest();
        facts.incoming = self.incoming;
        facts.running_secs = self.started.elapsed().as_secs();
    }

    fn commonest(&self) -> Option<(String, u32)> {
        self.errors
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(e, n)| (e.clone(), *n))
    }
}

/// An error message without the OS's error number: "connection: Connection
/// refused (os error 111)" reads "connection: Connection refused".
fn short_error(msg: &str) -> String {
    match msg.find(" (os error") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// The facts about peer discovery, shared by the magnet phase and the
/// torrent.
pub(super) fn discovery_facts(
    discovery: &Discovery,
    env: &TorrentEnv,
    private: bool,
    dht_peers: u32,
) -> (Vec<TrackerFact>, DhtFact, PortFact) {
    let trackers = discovery
        .tracker_status()
        .into_iter()
        .map(|t| TrackerFact {
            working: t.state == TrackerState::Working,
            contacted: t.state != TrackerState::NotContacted,
            error: (t.state == TrackerState::Error)
                .then(|| t.message.clone().unwrap_or_else(|| "no answer".into())),
            peers: t.peers,
            url: t.url,
        })
        .collect();
    let dht = if private {
        DhtFact::Private
    } else if env.dht.is_some() {
        DhtFact::Running { peers: dht_peers }
    } else if let Some(e) = &env.dht_error {
        DhtFact::Failed(e.clone())
    } else {
        DhtFact::Off
    };
    let port = match env.port_map.as_ref().map(|p| p.status()) {
        None | Some(PortMapStatus::Off) => PortFact::Off,
        Some(PortMapStatus::Searching) => PortFact::Searching,
        Some(PortMapStatus::Mapped { external, .. }) => PortFact::Mapped(external.to_string()),
        Some(PortMapStatus::Failed(e)) => PortFact::Failed(e),
    };
    (trackers, dht, port)
}

impl Torrent {
    /// Samples what changes each tick and names the cause that limits the
    /// torrent now.
    pub(super) fn diagnose(&mut self) -> Diagnosis {
        if let Some(d) = &self.disk {
            self.diag.sample_disk(d.queue_fill());
        }
        diagnosis::diagnose(&self.facts())
    }

    /// The diagnosis without sampling anything (between ticks).
    pub(super) fn diagnose_now(&self) -> Diagnosis {
        diagnosis::diagnose(&self.facts())
    }

    fn facts(&self) -> Facts {
        let phase = if self.paused && !matches!(self.state, TorrentState::Error(_)) {
            Phase::Paused
        } else {
            match &self.state {
                TorrentState::FetchingMetadata => Phase::FetchingMetadata,
                TorrentState::Checking => Phase::Checking,
                TorrentState::Downloading => Phase::Downloading,
                TorrentState::Seeding => Phase::Complete,
                TorrentState::Paused => Phase::Paused,
                TorrentState::Error(e) => Phase::Error(e.clone()),
            }
        };
        let downloading = phase == Phase::Downloading;
        let peers = self
            .conns
            .values()
            .map(|p| PeerFact {
                choking: p.peer_choking,
                has_needed: self.picker.is_interesting(&p.has),
                rate: p.down.per_second(),
            })
            .collect();
        // Only worth the walk over every piece while downloading.
        let (missing_pieces, missing_ranges, missing_files) = if downloading {
            self.missing_from_swarm()
        } else {
            (0, Vec::new(), Vec::new())
        };
        let (trackers, dht, port) = discovery_facts(
            &self.discovery,
            &self.env,
            self.meta.info.private,
            self.diag.dht_peers,
        );
        let (own_down, own_up) = self.limits.get();
        let (env_down, env_up) = self.env.limits.get();
        Facts {
            phase,
            download_rate: self.counters.down_rate.per_second(),
            left: self.picker.wanted_remaining_bytes(),
            known_peers: self.peer_list.len(),
            peers,
            dialling: self.conns.dialling(),
            dial_failures: self.diag.dial_failures,
            dial_successes: self.diag.dial_successes,
            commonest_dial_error: self.diag.commonest(),
            incoming: self.diag.incoming,
            running_secs: self.diag.started.elapsed().as_secs(),
            trackers,
            dht,
            lsd: self.env.lsd.is_some() && !self.meta.info.private,
            missing_pieces,
            missing_ranges,
            missing_files,
            download_limit: smaller(own_down, env_down),
            upload_limit: smaller(own_up, env_up),
            disk_queue: self.diag.disk_fill(),
            port,
        }
    }

    /// The wanted pieces we lack that no connected peer has: how many, as
    /// ranges, and the files they touch (pad files left out).
    fn missing_from_swarm(&self) -> (u32, Vec<(u32, u32)>, Vec<String>) {
        let n = self.meta.info.num_pieces();
        let absent = |i: u32| {
            let p = PieceIndex(i);
            self.picker.is_needed(p) && self.picker.availability(p) == 0
        };
        let ranges = diagnosis::ranges(n, absent);
        let count = ranges.iter().map(|(a, b)| b - a + 1).sum();
        // Files by byte range; the first ranges suffice to name a few.
        let pl = self.layout.piece_length;
        let mut files: Vec<usize> = Vec::new();
        for &(a, b) in ranges.iter().take(FILE_RANGES) {
            let (start, end) = (u64::from(a) * pl, (u64::from(b) + 1) * pl);
            for (i, f) in self.layout.files.iter().enumerate() {
                let overlaps = f.offset < end && f.offset + f.length > start && f.length > 0;
                if overlaps && !f.pad && !files.contains(&i) {
                    files.push(i);
                }
            }
        }
        let names = files
            .into_iter()
            .map(|i| self.layout.files[i].path.display().to_string())
            .collect();
        (count, ranges, names)
    }
}

/// The tighter of two optional limits.
fn smaller(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_numbers_are_dropped() {
        assert_eq!(
            short_error("connection: Connection refused (os error 111)"),
            "connection: Connection refused"
        );
        assert_eq!(
            short_error("timed out waiting for connect"),
            "timed out waiting for connect"
        );
    }

    #[test]
    fn the_commonest_error_wins() {
        let mut log = DiagLog::new();
        log.dial_failed(&"a (os error 1)");
        log.dial_failed(&"b");
        log.dial_failed(&"a (os error 1)");
        assert_eq!(log.commonest(), Some(("a".to_string(), 2)));
        assert_eq!(log.dial_failures, 3);
    }

    #[test]
    fn limits_combine_to_the_tighter() {
        assert_eq!(smaller(None, None), None);
        assert_eq!(smaller(Some(5), None), Some(5));
        assert_eq!(smaller(None, Some(7)), Some(7));
        assert_eq!(smaller(Some(9), Some(7)), Some(7));
    }
}
