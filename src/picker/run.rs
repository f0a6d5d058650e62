//! Picking for a web seed: runs of consecutive pieces, so that one HTTP
//! request carries many pieces.
//!
//! A web seed has every piece and is asked for byte ranges, so it is best
//! served whole pieces that follow each other. It continues its own pieces
//! first (blocks handed back after a failed request), then opens a new
//! piece in the usual order (failed pieces first, then priority and
//! rarity, or lowest first in sequential mode) and extends the run to the
//! following pieces while they wait, are of the same priority, and the
//! request has room. Only when no piece waits does it help with pieces
//! peers started, block by block. It never joins the endgame: a block
//! already asked of a peer is not asked of a server too.
//!
//! A server that ignores `Range` sends whole files; `claim_run` hands its
//! reader the waiting pieces that follow, so the body is used rather than
//! read again from the file's start.

use super::{PeerKey, Picker};
use crate::bitfield::Bitfield;
use crate::types::BlockRef;

impl Picker {
    /// Appends up to `max_blocks` blocks for the web seed `seed` (see the
    /// module docs).
    pub fn pick_run(&mut self, seed: PeerKey, max_blocks: usize, out: &mut Vec<BlockRef>) {
        let target = out.len() + max_blocks;
        if max_blocks == 0 || self.missing == 0 {
            return;
        }
        let mut own = std::mem::take(&mut self.peers.entry(seed).or_default().own);
        // Its own pieces with free blocks (handed back after a failure).
        for s in 0..self.partial.len() as u32 {
            if out.len() >= target {
                break;
            }
            let part = &self.partial[s as usize];
            if part.owner == Some(seed) && part.free > 0 {
                self.take_blocks(s, seed, target, out);
            }
        }
        let all = Bitfield::full(self.geo.num_pieces);
        self.open_retries(seed, &all, target, out, &mut own);
        while out.len() < target {
            let Some(first) = self.next_new_piece(&all, true) else {
                break;
            };
            let class = self.priority[first as usize];
            let mut i = first;
            loop {
                let s = self.open(i, Some(seed));
                own.push(i);
                self.take_blocks(s, seed, target, out);
                i += 1;
                let next_waits = i < self.geo.num_pieces
                    && self.order.contains(i)
                    && self.priority[i as usize] == class;
                if out.len() >= target || !next_waits {
                    break;
                }
            }
        }
        if out.is_empty() && self.free_total > 0 {
            for s in 0..self.partial.len() as u32 {
                if self.partial[s as usize].free > 0 {
                    self.take_blocks(s, seed, target, out);
                    if out.len() >= target {
                        break;
                    }
                }
            }
        }
        own.retain(|&i| {
            let s = self.slot[i as usize];
            s != super::NONE && self.partial[s as usize].free > 0
        });
        if let Some(info) = self.peers.get_mut(&seed) {
            info.own = own;
        }
    }
}

impl Picker {
    /// For a web seed whose server sends whole files: the waiting pieces
    /// `first..=last` in order, stopping at the first that does not wait,
    /// up to `max_blocks` blocks.
    pub fn claim_run(
        &mut self,
        seed: PeerKey,
        first: u32,
        last: u32,
        max_blocks: usize,
        out: &mut Vec<BlockRef>,
    ) {
        let target = out.len() + max_blocks;
        self.peers.entry(seed).or_default();
        let mut i = first;
        while i <= last && i < self.geo.num_pieces && out.len() < target && self.order.contains(i) {
            let s = self.open(i, Some(seed));
            self.take_blocks(s, seed, target, out);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BLOCK_LEN;

    const PIECE: u32 = 4 * BLOCK_LEN;

    fn pieces(out: &[BlockRef]) -> Vec<u32> {
        let mut p: Vec<u32> = out.iter().map(|b| b.piece.0).collect();
        p.dedup();
        p
    }

    #[test]
    fn a_web_seed_gets_consecutive_whole_pieces() {
        let mut p = Picker::new(64, PIECE, 64 * PIECE as u64);
        p.set_sequential(true);
        let mut out = Vec::new();
        p.pick_run(PeerKey(1 << 31), 4 * 5, &mut out);
        assert_eq!(pieces(&out), vec![0, 1, 2, 3, 4]);
        assert_eq!(out.len(), 20);
        // A second connection of the same seed continues past them.
        let mut more = Vec::new();
        p.pick_run(PeerKey(1 << 31), 8, &mut more);
        assert_eq!(pieces(&more), vec![5, 6]);
    }

    #[test]
    fn a_run_stops_at_a_piece_a_peer_started_and_never_doubles_requests() {
        let mut p = Picker::new(16, PIECE, 16 * PIECE as u64);
        p.set_sequential(true);
        let peer = PeerKey(7);
        let all = Bitfield::full(16);
        p.peer_bitfield(peer, &all);
        // The peer takes piece 0 and half of piece 1... in sequential order
        // it opens 0, then 1.
        let mut theirs = Vec::new();
        p.pick(peer, &all, 6, &mut theirs);
        assert_eq!(pieces(&theirs), vec![0, 1]);
        let mut ours = Vec::new();
        p.pick_run(PeerKey(1 << 31), 64, &mut ours);
        assert_eq!(pieces(&ours), (2..16).collect::<Vec<_>>());
        for b in &ours {
            assert!(!theirs.contains(b), "{b:?} asked twice");
        }
        // Nothing waits: the seed helps with the free blocks of piece 1,
        // never with the ones the peer was asked for.
        let mut help = Vec::new();
        p.pick_run(PeerKey(1 << 31), 64, &mut help);
        assert_eq!(help.len(), 2);
        for b in &help {
            assert!(!theirs.contains(b));
        }
        let mut none = Vec::new();
        p.pick_run(PeerKey(1 << 31), 64, &mut none);
        assert!(none.is_empty(), "no endgame for a web seed");
    }

    #[test]
    fn a_claim_takes_only_waiting_pieces_in_order() {
        let mut p = Picker::new(16, PIECE, 16 * PIECE as u64);
        p.set_sequential(true);
        let peer = PeerKey(7);
        let all = Bitfield::full(16);
        p.peer_bitfield(peer, &all);
        let mut theirs = Vec::new();
        p.pick(peer, &all, 1, &mut theirs); // piece 0 opened by the peer
        let mut more = Vec::new();
        p.claim_run(PeerKey(1 << 31), 0, 15, 64, &mut more);
        assert!(more.is_empty(), "piece 0 is started: the claim stops there");
        p.claim_run(PeerKey(1 << 31), 1, 3, 64, &mut more);
        assert_eq!(pieces(&more), vec![1, 2, 3]);
    }

    #[test]
    fn returned_blocks_come_back_to_the_seed_first() {
        let mut p = Picker::new(8, PIECE, 8 * PIECE as u64);
        let seed = PeerKey(1 << 31);
        let mut out = Vec::new();
        p.pick_run(seed, 8, &mut out);
        // Half of the second piece comes back (a whole piece nobody
        // holds a block of would wait again for anyone).
        for b in &out[6..] {
            p.request_cancelled(seed, *b);
        }
        let mut again = Vec::new();
        p.pick_run(seed, 2, &mut again);
        assert_eq!(again, out[6..].to_vec());
    }
}
