//! Parole, after libtorrent's: a peer that sent data to a piece that
//! failed its hash works on pieces of its own only, so a bad piece it
//! takes part in next has one sender and blames it alone; and pieces that
//! failed are fetched again before new ones, so that they pass soon and
//! show (through smart ban) who sent the bad block. (The torrent keeps a
//! peer from fetching again a piece it took part in, while another peer
//! can, by the pieces it passes as the peer's.)
//!
//! A peer on parole continues its pieces and opens new ones, but neither
//! adopts pieces others started, nor helps with them, nor joins the
//! endgame. When that leaves it nothing to do, it picks like any peer: a
//! torrent whose only peers are on parole still completes.

use super::{PeerKey, Picker};
use crate::bitfield::Bitfield;
use crate::types::{BlockRef, PieceIndex};

impl Picker {
    /// Appends up to `max_blocks` blocks to request from `peer`, which has
    /// the pieces in `peer_has` and is not choking us. Appends nothing when
    /// the peer has nothing we need that is not already requested from it.
    pub fn pick(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        max_blocks: usize,
        out: &mut Vec<BlockRef>,
    ) {
        if self.peers.get(&peer).is_some_and(|i| i.parole) {
            let before = out.len();
            self.pick_with(peer, peer_has, max_blocks, out, true);
            if out.len() > before {
                return;
            }
        }
        self.pick_with(peer, peer_has, max_blocks, out, false);
    }

    /// Puts `peer` on parole, or takes it off.
    pub fn set_parole(&mut self, peer: PeerKey, on: bool) {
        self.peers.entry(peer).or_default().parole = on;
    }

    /// Whether `peer` is on parole.
    pub fn on_parole(&self, peer: PeerKey) -> bool {
        self.peers.get(&peer).is_some_and(|i| i.parole)
    }

    /// `piece` failed and is to be fetched again before new pieces (call
    /// after `piece_failed`).
    pub fn retry_first(&mut self, piece: PieceIndex) {
        if piece.0 < self.geo.num_pieces && !self.have.get(piece) {
            self.retrying.set(piece, true);
        }
    }

    /// Opens the waiting pieces that failed before and `peer_has`, until
    /// `out` holds `target` blocks.
    pub(super) fn open_retries(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        target: usize,
        out: &mut Vec<BlockRef>,
        own: &mut Vec<u32>,
    ) {
        if out.len() >= target || self.retrying.none() {
            return;
        }
        let waiting: Vec<u32> = self
            .retrying
            .iter_ones()
            .map(|p| p.0)
            .filter(|&i| self.order.contains(i) && peer_has.get(PieceIndex(i)))
            .collect();
        for i in waiting {
            if out.len() >= target {
                break;
            }
            let s = self.open(i, Some(peer));
            own.push(i);
            self.take_blocks(s, peer, target, out);
        }
    }
}
