//! A torrent's transfer counters: payload bytes of this run and of earlier
//! runs (kept in the resume record), the torrent's rates, hash failures
//! and bans. The open connections keep their own byte counts; these are
//! added in when a connection closes.

use std::time::Instant;

use super::connections::{Connections, PeerEntry};
use crate::rate::Rate;
use crate::resume::Resume;

/// Counters of one torrent. Owned by the torrent task.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Payload bytes received on connections of this run that have closed.
    closed_down: u64,
    /// Payload bytes sent on connections of this run that have closed.
    closed_up: u64,
    /// Payload bytes received in earlier runs.
    base_down: u64,
    /// Payload bytes sent in earlier runs.
    base_up: u64,
    /// The torrent's download rate.
    pub down_rate: Rate,
    /// The torrent's upload rate.
    pub up_rate: Rate,
    /// Pieces that failed their hash check.
    pub hash_failures: u32,
    /// Peers banned.
    pub banned: u32,
}

impl Counters {
    /// Counters that go on from what a resume record kept.
    pub fn new(resume: Option<&Resume>) -> Self {
        Counters {
            base_down: resume.map_or(0, |r| r.downloaded),
            base_up: resume.map_or(0, |r| r.uploaded),
            ..Self::default()
        }
    }

    /// Takes in the bytes of a connection that has closed.
    pub fn closed(&mut self, p: &PeerEntry) {
        self.closed_down += p.shared.downloaded.get();
        self.closed_up += p.shared.uploaded.get();
    }

    /// Payload bytes received and sent in this run, given what the web
    /// seeds delivered.
    pub fn run_totals(&self, conns: &Connections, web_down: u64) -> (u64, u64) {
        let (d, u) = conns.open_totals();
        (self.closed_down + d + web_down, self.closed_up + u)
    }

    /// All-time totals, given this run's.
    pub fn all_time(&self, (down, up): (u64, u64)) -> (u64, u64) {
        (self.base_down + down, self.base_up + up)
    }

    /// Samples the rates of the torrent and of every connection.
    pub fn sample(&mut self, now: Instant, conns: &mut Connections, web_down: u64) {
        for p in conns.values_mut() {
            p.down.sample(now, p.shared.downloaded.get());
            p.up.sample(now, p.shared.uploaded.get());
        }
        let (down, up) = self.run_totals(conns, web_down);
        self.down_rate.sample(now, down);
        self.up_rate.sample(now, up);
    }
}
