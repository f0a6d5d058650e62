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

impl Torrent {
    /// Sends due PEX messages.
    pub(super) fn send_pex(&mut self, now: Instant) {
        if !self.pex || self.peers.len() < 2 && self.peers.values().all(|p| p.pex_sent.is_empty()) {
            return;
        }
        let live: HashSet<SocketAddr> = self.peers.values().filter_map(|p| p.listen_addr).collect();
        for p in self.peers.values_mut() {
            if now < p.pex_next {
                continue;
            }
            p.pex_next = now + PEX_INTERVAL;
            let own = p.listen_addr;
            let added: Vec<SocketAddr> = live
                .iter()
                .filter(|a| Some(**a) != own && !p.pex_sent.contains(a))
                .take(MAX_PEX_ADDED)
                .copied()
                .collect();
            let dropped: Vec<SocketAddr> = p
                .pex_sent
                .iter()
                .filter(|a| !live.contains(a))
                .take(MAX_PEX_DROPPED)
                .copied()
                .collect();
            if added.is_empty() && dropped.is_empty() {
                continue;
            }
            for a in &added {
                p.pex_sent.insert(*a);
            }
            for a in &dropped {
                p.pex_sent.remove(a);
            }
            let msg = PexMessage {
                added_flags: vec![0; added.len()],
                added,
                dropped,
            };
            let _ = p.tx.send(PeerCmd::Pex(msg));
        }
    }
}
