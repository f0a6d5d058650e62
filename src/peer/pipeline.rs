//! The request pipeline of one connection: which blocks we asked the peer
//! for, how many more we should ask for, and which ones timed out. Sized by
//! the peer's rate so that several seconds of data are always in flight
//! (libtorrent's `request_queue_time`), capped by the `reqq` the peer
//! advertised, which libtorrent enforces by silently dropping the excess.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::types::{BlockRef, BLOCK_LEN};

/// Seconds of data we keep requested from a peer.
pub const REQUEST_QUEUE_TIME: f64 = 3.0;
/// Blocks in flight before we know the peer's rate.
pub const INITIAL_QUEUE: usize = 32;
/// Fewest blocks in flight for a peer that is not snubbed.
pub const MIN_QUEUE: usize = 4;
/// The queue limit we assume when a peer advertises none (BEP 10's `reqq`
/// default in libtorrent is 250; anything older is more conservative).
pub const DEFAULT_REMOTE_REQQ: usize = 250;
/// Most blocks we keep in flight to one peer, whatever it advertises.
pub const MAX_QUEUE: usize = 4000;
/// A peer that has sent nothing for this long while we wait on requests is
/// snubbed: its requests go back to the pool for others to fetch. The
/// limit for a peer that has not delivered yet; one that has is judged by
/// its own pace (`SNUB_GAPS`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A peer that delivered blocks and then goes silent for this many of its
/// usual gaps between blocks (at least `MIN_SNUB_TIMEOUT`) is snubbed: a
/// peer that stalls without closing loses its requests within seconds.
pub const SNUB_GAPS: u32 = 20;
/// The shortest silence that snubs a peer: a few round trips and a capped
/// link's queue.
pub const MIN_SNUB_TIMEOUT: Duration = Duration::from_secs(5);
/// Recently cancelled blocks remembered, so a block that crosses our
/// `Cancel` on the wire is dropped instead of treated as unrequested.
const CANCELLED_MEMORY: usize = 256;

/// What an arriving block was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// One we requested: keep it.
    Requested,
    /// One we cancelled that crossed the `Cancel`: drop it quietly.
    Cancelled,
    /// Never requested: a protocol error.
    Unrequested,
}

/// The outgoing requests of one connection.
#[derive(Debug)]
pub struct Pipeline {
    /// Requests sent and not yet answered, oldest first.
    in_flight: VecDeque<BlockRef>,
    /// Blocks asked of the torrent's picker and not yet handed to us.
    asked: usize,
    /// How many blocks we want in flight.
    target: usize,
    /// The peer's queue limit.
    remote_reqq: usize,
    /// When the peer last delivered a block (or when we started waiting).
    last_progress: Instant,
    /// Whether the peer stopped delivering: it then gets one request at a time.
    snubbed: bool,
    /// The peer's usual time between blocks while requests are out (a
    /// moving average), `None` until it has delivered one.
    gap: Option<Duration>,
    /// Blocks we cancelled lately.
    cancelled: VecDeque<BlockRef>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new(now: Instant) -> Self {
        Pipeline {
            in_flight: VecDeque::new(),
            asked: 0,
            target: INITIAL_QUEUE,
            remote_reqq: DEFAULT_REMOTE_REQQ,
            last_progress: now,
            snubbed: false,
            gap: None,
            cancelled: VecDeque::new(),
        }
    }

    /// Sets the queue limit the peer advertised in its extension handshake.
    pub fn set_remote_reqq(&mut self, reqq: usize) {
        self.remote_reqq = reqq.clamp(1, MAX_QUEUE);
    }

    /// Re-sizes the queue from the current download rate from this peer.
    pub fn set_rate(&mut self, bytes_per_sec: u64) {
        let blocks = (bytes_per_sec as f64 * REQUEST_QUEUE_TIME / BLOCK_LEN as f64) as usize;
        self.target = blocks.max(MIN_QUEUE).max(INITIAL_QUEUE.min(self.target));
    }

    /// How many more blocks to ask the picker for now.
    pub fn wanted(&self) -> usize {
        let limit = if self.snubbed {
            1
        } else {
            self.target.min(self.remote_reqq)
        };
        limit.saturating_sub(self.in_flight.len() + self.asked)
    }

    /// Records that we asked the picker for `n` blocks.
    pub fn asked(&mut self, n: usize) {
        self.asked += n;
    }

    /// The picker answered a request for blocks (with `got` of them).
    pub fn answered(&mut self, asked: usize) {
        self.asked = self.asked.saturating_sub(asked);
    }

    /// Records a request sent on the wire.
    pub fn sent(&mut self, block: BlockRef, now: Instant) {
        if self.in_flight.is_empty() {
            self.last_progress = now;
        }
        self.in_flight.push_back(block);
    }

    /// Classifies an arriving block and forgets it.
    pub fn received(&mut self, block: BlockRef, now: Instant) -> Arrival {
        if let Some(i) = self.in_flight.iter().position(|b| *b == block) {
            self.in_flight.remove(i);
            let waited = now.saturating_duration_since(self.last_progress);
            self.gap = Some(match self.gap {
                Some(g) => (g * 7 + waited) / 8,
                None => waited,
            });
            self.last_progress = now;
            self.snubbed = false;
            Arrival::Requested
        } else if let Some(i) = self.cancelled.iter().position(|b| *b == block) {
            self.cancelled.remove(i);
            Arrival::Cancelled
        } else {
            Arrival::Unrequested
        }
    }

    /// Forgets a block the peer rejected. Returns whether we had asked for it.
    pub fn rejected(&mut self, block: BlockRef) -> bool {
        match self.in_flight.iter().position(|b| *b == block) {
            Some(i) => {
                self.in_flight.remove(i);
                true
            }
            None => false,
        }
    }

    /// Forgets a block we cancel; returns whether it was in flight (and so
    /// needs a `Cancel` on the wire).
    pub fn cancel(&mut self, block: BlockRef) -> bool {
        if !self.rejected(block) {
            return false;
        }
        if self.cancelled.len() == CANCELLED_MEMORY {
            self.cancelled.pop_front();
        }
        self.cancelled.push_back(block);
        true
    }

    /// Drops every request (the peer choked us without the fast extension,
    /// which discards them); returns them for the picker.
    pub fn clear(&mut self) -> Vec<BlockRef> {
        self.in_flight.drain(..).collect()
    }

    /// How long the peer may stay silent with requests out.
    pub fn timeout(&self) -> Duration {
        match self.gap {
            Some(g) => (g * SNUB_GAPS).clamp(MIN_SNUB_TIMEOUT, REQUEST_TIMEOUT),
            None => REQUEST_TIMEOUT,
        }
    }

    /// If the peer has sent nothing for its [`timeout`](Self::timeout) while
    /// requests are outstanding, snubs it and returns the requests to hand
    /// to others; the caller cancels them on the wire.
    pub fn check_timeout(&mut self, now: Instant) -> Vec<BlockRef> {
        if self.in_flight.is_empty() || now.duration_since(self.last_progress) < self.timeout() {
            return Vec::new();
        }
        self.snubbed = true;
        self.last_progress = now;
        let all: Vec<BlockRef> = self.in_flight.iter().copied().collect();
        for b in &all {
            self.cancel(*b);
        }
        all
    }

    /// We did not read the socket until `now` (a rate limit held us): the
    /// peer's time to deliver starts afresh.
    pub fn resume_timeout(&mut self, now: Instant) {
        self.last_progress = now;
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether the peer is snubbed.
    pub fn is_snubbed(&self) -> bool {
        self.snubbed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PieceIndex;

    fn b(piece: u32, i: u32) -> BlockRef {
        BlockRef {
            piece: PieceIndex(piece),
            offset: i * BLOCK_LEN,
            len: BLOCK_LEN,
        }
    }

    #[test]
    fn queue_follows_rate_within_reqq() {
        let now = Instant::now();
        let mut p = Pipeline::new(now);
        assert_eq!(p.wanted(), INITIAL_QUEUE);
        p.set_rate(100 * 1024 * 1024);
        assert_eq!(p.wanted(), DEFAULT_REMOTE_REQQ, "capped by the peer's reqq");
        p.set_remote_reqq(2000);
        assert_eq!(p.wanted(), 2000, "capped by the larger reqq");
        p.set_rate(10 * 1024 * 1024);
        assert_eq!(p.wanted(), 1920, "three seconds of 10 MiB/s");
        p.asked(1000);
        assert_eq!(p.wanted(), 920);
        p.answered(1000);
        for i in 0..20 {
            p.sent(b(0, i), now);
        }
        assert_eq!(p.wanted(), 1900);
    }

    #[test]
    fn arrivals_are_classified() {
        let now = Instant::now();
        let mut p = Pipeline::new(now);
        p.sent(b(0, 0), now);
        p.sent(b(0, 1), now);
        assert_eq!(p.received(b(0, 0), now), Arrival::Requested);
        assert_eq!(p.received(b(0, 0), now), Arrival::Unrequested);
        assert!(p.cancel(b(0, 1)));
        assert_eq!(p.received(b(0, 1), now), Arrival::Cancelled);
        assert_eq!(p.received(b(9, 9), now), Arrival::Unrequested);
        assert!(!p.cancel(b(9, 9)));
    }

    #[test]
    fn silent_peer_is_snubbed_and_its_requests_returned() {
        let now = Instant::now();
        let mut p = Pipeline::new(now);
        p.sent(b(0, 0), now);
        p.sent(b(0, 1), now);
        assert!(p.check_timeout(now + REQUEST_TIMEOUT / 2).is_empty());
        let back = p.check_timeout(now + REQUEST_TIMEOUT);
        assert_eq!(back, vec![b(0, 0), b(0, 1)]);
        assert!(p.is_snubbed());
        assert_eq!(p.wanted(), 1);
        // A late block still counts as cancelled, and lifts the snub only
        // when it was a live request.
        assert_eq!(p.received(b(0, 0), now), Arrival::Cancelled);
        p.sent(b(1, 0), now);
        assert_eq!(p.received(b(1, 0), now), Arrival::Requested);
        assert!(!p.is_snubbed());
    }

    #[test]
    fn a_peer_that_stalls_is_snubbed_within_seconds() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(t0);
        // It delivers a block every 20 ms (about 800 KiB/s), then stops.
        let mut now = t0;
        p.sent(b(0, 0), now);
        for i in 0..50 {
            p.sent(b(0, i + 1), now);
            now += Duration::from_millis(20);
            assert_eq!(p.received(b(0, i), now), Arrival::Requested);
        }
        assert_eq!(p.timeout(), MIN_SNUB_TIMEOUT);
        assert!(p.check_timeout(now + MIN_SNUB_TIMEOUT / 2).is_empty());
        let back = p.check_timeout(now + MIN_SNUB_TIMEOUT);
        assert_eq!(back, vec![b(0, 50)], "its request goes back for others");
        assert!(p.is_snubbed());
    }

    #[test]
    fn a_slow_peer_is_judged_by_its_own_pace() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(t0);
        // One block a second (16 KiB/s): a silence of 10 s is normal for it.
        let mut now = t0;
        p.sent(b(0, 0), now);
        for i in 0..10 {
            p.sent(b(0, i + 1), now);
            now += Duration::from_secs(1);
            assert_eq!(p.received(b(0, i), now), Arrival::Requested);
        }
        assert!(p.check_timeout(now + Duration::from_secs(10)).is_empty());
        assert_eq!(p.timeout(), Duration::from_secs(20));
    }

    #[test]
    fn choke_without_fast_extension_drops_everything() {
        let now = Instant::now();
        let mut p = Pipeline::new(now);
        p.sent(b(0, 0), now);
        assert_eq!(p.clear(), vec![b(0, 0)]);
        assert_eq!(p.in_flight(), 0);
    }
}
