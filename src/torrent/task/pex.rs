//! Peer exchange (BEP 11), our side: every connection that speaks ut_pex
//! gets, a few seconds after it opens and then at most once a minute, the
//! addresses of our other connections that accept connections, as a
//! difference from what we told it before. Off for private torrents.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Torrent;
use crate::peer::PeerCmd;
use crate::wire::extension::{MAX_PEX_ADDED, MAX_PEX_DROPPED};
use crate::wire::PexMessage;

/// Delay before a new connection's first PEX message, so its extension
/// handshake (and so whether it speaks ut_pex) is in.
pub(super) const FIRST_PEX_DELAY: Duration = Duration::from_secs(2);
/// BEP 11: at most one PEX message a minute per connection.
pub(super) const PEX_INTERVAL: Duration = Duration::from_secs(60);

/// What PEX told one connection, and when it may hear more.
#[derive(Debug)]
pub(super) struct PeerPex {
    /// The addresses our last messages told it of (the base of the next
    /// difference).
    sent: HashSet<SocketAddr>,
    /// When it may get its next message.
    next: Instant,
}

impl PeerPex {
    /// A connection opened at `now`: its first message waits for its
    /// extension handshake.
    pub fn new(now: Instant) -> Self {
        PeerPex {
            sent: HashSet::new(),
            next: now + FIRST_PEX_DELAY,
        }
    }

    /// Whether it was ever told of an address.
    pub fn told_any(&self) -> bool {
        !self.sent.is_empty()
    }

    /// The message due at `now` for a connection listening on `own`, given
    /// the addresses of every connection that accepts connections; `None`
    /// when it is not due or there is no change to tell.
    pub fn due(
        &mut self,
        own: Option<SocketAddr>,
        live: &HashSet<SocketAddr>,
        now: Instant,
    ) -> Option<PexMessage> {
        if now < self.next {
            return None;
        }
        self.next = now + PEX_INTERVAL;
        let added: Vec<SocketAddr> = live
            .iter()
            .filter(|a| Some(**a) != own && !self.sent.contains(a))
            .take(MAX_PEX_ADDED)
            .copied()
            .collect();
        let dropped: Vec<SocketAddr> = self
            .sent
            .iter()
            .filter(|a| !live.contains(a))
            .take(MAX_PEX_DROPPED)
            .copied()
            .collect();
        if added.is_empty() && dropped.is_empty() {
            return None;
        }
        self.sent.extend(added.iter().copied());
        for a in &dropped {
            self.sent.remove(a);
        }
        Some(PexMessage {
            added_flags: vec![0; added.len()],
            added,
            dropped,
        })
    }
}

impl Torrent {
    /// Sends due PEX messages.
    pub(super) fn send_pex(&mut self, now: Instant) {
        if !self.pex || self.conns.len() < 2 && self.conns.values().all(|p| !p.pex.told_any()) {
            return;
        }
        let live: HashSet<SocketAddr> = self.conns.values().filter_map(|p| p.listen_addr).collect();
        for p in self.conns.values_mut() {
            if let Some(msg) = p.pex.due(p.listen_addr, &live, now) {
                let _ = p.tx.send(PeerCmd::Pex(msg));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn differences_at_most_once_a_minute() {
        let t0 = Instant::now();
        let mut p = PeerPex::new(t0);
        let live: HashSet<SocketAddr> = [a(1), a(2)].into();
        assert!(
            p.due(Some(a(1)), &live, t0).is_none(),
            "waits for the extension handshake"
        );
        let first = p.due(Some(a(1)), &live, t0 + FIRST_PEX_DELAY).unwrap();
        assert_eq!(first.added, vec![a(2)], "never its own address");
        let live: HashSet<SocketAddr> = [a(1), a(3)].into();
        let soon = t0 + FIRST_PEX_DELAY + Duration::from_secs(1);
        assert!(p.due(Some(a(1)), &live, soon).is_none());
        let later = t0 + FIRST_PEX_DELAY + PEX_INTERVAL;
        let second = p.due(Some(a(1)), &live, later).unwrap();
        assert_eq!(second.added, vec![a(3)]);
        assert_eq!(second.dropped, vec![a(2)]);
        assert!(
            p.due(Some(a(1)), &live, later + PEX_INTERVAL).is_none(),
            "nothing new"
        );
    }
}
