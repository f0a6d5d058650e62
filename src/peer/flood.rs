//! What a peer may make us do with messages that cost it nothing and us
//! work: requests we refuse or already hold, cancels of nothing, and PEX
//! messages faster than BEP 11 allows. A peer within these limits is
//! served as before; one past them is dropped (the connection ends with a
//! protocol error). Answers that queue bytes for the peer are bounded by
//! the connection's back-pressure; these limits are for the messages that
//! queue nothing, which back-pressure cannot see.

use std::time::{Duration, Instant};

use super::connection::PeerError;
use super::upload::OUR_REQQ;

/// Requests refused (choked, a piece we lack, over our `reqq`) or already
/// queued, since we last sent the peer a block or changed its choke: a
/// peer past this is flooding. An honest one refused by a choke has at
/// most its pipeline in flight, which our `reqq` bounds.
pub const MAX_REFUSED_REQUESTS: u32 = 2 * OUR_REQQ as u32;
/// Cancels beyond the requests the peer ever sent (each honest cancel
/// follows a request of its own; a little slack for duplicates).
pub const MAX_STRAY_CANCELS: u32 = 64;
/// PEX messages taken at once; then one per `PEX_INTERVAL` (BEP 11
/// expects at most one a minute).
pub const PEX_BURST: u32 = 3;
/// The interval BEP 11 asks of PEX senders.
pub const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// PEX messages ignored in a row (sent too soon) after which the peer is
/// dropped: a client a little too eager loses some messages, a flood
/// loses the connection.
pub const MAX_PEX_IGNORED: u32 = 10;

/// The counters of one connection.
#[derive(Debug, Default)]
pub struct FloodGuard {
    /// Requests refused or redundant since the last block we sent or the
    /// last change of our choke.
    refused: u32,
    /// Requests received minus cancels received: the cancels an honest
    /// peer may still send.
    cancel_credit: u32,
    /// Cancels beyond that credit.
    stray_cancels: u32,
    /// When the PEX messages taken so far would have been due had each
    /// waited `PEX_INTERVAL` after the one before (`None`: none taken). A
    /// message is taken while this is at most `PEX_BURST - 1` intervals
    /// ahead of now: a burst, then one per interval.
    pex_due: Option<Instant>,
    /// PEX messages ignored since the last one taken.
    pex_ignored: u32,
}

impl FloodGuard {
    /// A request arrived.
    pub fn request(&mut self) {
        self.cancel_credit = self.cancel_credit.saturating_add(1);
    }

    /// A request was refused, or it was a copy of one already queued.
    pub fn refused(&mut self) -> Result<(), PeerError> {
        self.refused += 1;
        if self.refused > MAX_REFUSED_REQUESTS {
            return Err(PeerError::Protocol("a flood of requests we cannot serve"));
        }
        Ok(())
    }

    /// We sent a block or changed our choke: refusals start over.
    pub fn served(&mut self) {
        self.refused = 0;
    }

    /// A cancel arrived.
    pub fn cancel(&mut self) -> Result<(), PeerError> {
        if let Some(c) = self.cancel_credit.checked_sub(1) {
            self.cancel_credit = c;
            return Ok(());
        }
        self.stray_cancels += 1;
        if self.stray_cancels > MAX_STRAY_CANCELS {
            return Err(PeerError::Protocol("cancels of blocks never requested"));
        }
        Ok(())
    }

    /// A PEX message arrived at `now`: whether to take it (`Ok(false)`:
    /// ignore it, it came too soon).
    pub fn pex(&mut self, now: Instant) -> Result<bool, PeerError> {
        let due = self.pex_due.map_or(now, |d| d.max(now));
        if due.duration_since(now) <= PEX_INTERVAL * (PEX_BURST - 1) {
            self.pex_due = Some(due + PEX_INTERVAL);
            self.pex_ignored = 0;
            return Ok(true);
        }
        self.pex_ignored += 1;
        if self.pex_ignored > MAX_PEX_IGNORED {
            return Err(PeerError::Protocol(
                "PEX messages far faster than BEP 11 allows",
            ));
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pex_takes_a_burst_then_one_a_minute_and_drops_a_flood() {
        let t0 = Instant::now();
        let mut g = FloodGuard::default();
        for _ in 0..PEX_BURST {
            assert!(g.pex(t0).unwrap());
        }
        assert!(!g.pex(t0).unwrap(), "too soon: ignored");
        let later = t0 + PEX_INTERVAL;
        assert!(g.pex(later).unwrap(), "a minute on, one more");
        assert!(!g.pex(later).unwrap());
        // An eager client (every 30 s) keeps its connection.
        let mut at = later;
        for _ in 0..100 {
            at += PEX_INTERVAL / 2;
            g.pex(at).unwrap();
        }
        // A flood does not.
        let mut flood = Ok(false);
        for _ in 0..=MAX_PEX_IGNORED + 1 {
            flood = g.pex(at);
        }
        assert!(flood.is_err());
    }

    #[test]
    fn refusals_are_bounded_until_we_serve() {
        let mut g = FloodGuard::default();
        for _ in 0..MAX_REFUSED_REQUESTS {
            g.refused().unwrap();
        }
        g.served();
        for _ in 0..MAX_REFUSED_REQUESTS {
            g.refused().unwrap();
        }
        assert!(g.refused().is_err());
    }

    #[test]
    fn cancels_need_requests() {
        let mut g = FloodGuard::default();
        for _ in 0..1000 {
            g.request();
        }
        for _ in 0..1000 + MAX_STRAY_CANCELS {
            g.cancel().unwrap();
        }
        assert!(g.cancel().is_err());
    }
}
