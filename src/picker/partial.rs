//! `Partial`: the block states of one piece in progress. Only pieces that
//! have been started carry block state, so memory grows with the pieces in
//! flight, not with the torrent.

use crate::picker::PeerKey;

/// What happened to one block of a piece in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Nobody has been asked for it.
    Free,
    /// `Block::peer` (and in endgame, the piece's `extra` entries) asked.
    Requested,
    /// The data arrived from `Block::peer`.
    Received,
}

/// One block of a piece in progress.
#[derive(Clone, Copy, Debug)]
pub(super) struct Block {
    /// Where the block stands.
    pub(super) state: State,
    /// The first peer asked (`Requested`) or the sender (`Received`), kept
    /// for cancels.
    pub(super) peer: PeerKey,
}

/// A piece that has been started and not yet verified.
pub(super) struct Partial {
    /// The piece index.
    pub(super) piece: u32,
    /// One entry per block.
    pub(super) blocks: Vec<Block>,
    /// Further requesters of `Requested` blocks in endgame, as (block, peer).
    /// Empty outside endgame.
    pub(super) extra: Vec<(u32, PeerKey)>,
    /// Blocks in `Free`.
    pub(super) free: u32,
    /// Blocks in `Requested`.
    pub(super) requested: u32,
    /// Blocks in `Received`.
    pub(super) received: u32,
    /// Every free block has an index at least this (a scan hint).
    pub(super) next_free: u32,
    /// The peer that opened or adopted the piece and is expected to finish
    /// it, so other peers open new pieces instead of interleaving; `None`
    /// once it left, choked us or timed out, which makes the piece free for
    /// anyone to adopt.
    pub(super) owner: Option<PeerKey>,
}

impl Partial {
    /// A fresh piece of `num_blocks` blocks.
    pub(super) fn new(piece: u32, num_blocks: u32, owner: Option<PeerKey>) -> Self {
        Partial {
            piece,
            blocks: vec![
                Block {
                    state: State::Free,
                    peer: PeerKey(0),
                };
                num_blocks as usize
            ],
            extra: Vec::new(),
            free: num_blocks,
            requested: 0,
            received: 0,
            next_free: 0,
            owner,
        }
    }

    /// Whether every block has arrived.
    pub(super) fn is_complete(&self) -> bool {
        self.received as usize == self.blocks.len()
    }

    /// Whether `peer` is among the requesters of block `b`.
    pub(super) fn is_requester(&self, b: u32, peer: PeerKey) -> bool {
        let blk = self.blocks[b as usize];
        blk.state == State::Requested
            && (blk.peer == peer || self.extra.iter().any(|&(x, p)| x == b && p == peer))
    }

    /// Number of peers that requested block `b`.
    pub(super) fn requesters(&self, b: u32) -> usize {
        if self.blocks[b as usize].state != State::Requested {
            return 0;
        }
        1 + self.extra.iter().filter(|&&(x, _)| x == b).count()
    }

    /// Marks the next free block requested by `peer` and returns its index.
    pub(super) fn take_free(&mut self, peer: PeerKey) -> Option<u32> {
        if self.free == 0 {
            return None;
        }
        let mut b = self.next_free as usize;
        while self.blocks[b].state != State::Free {
            b += 1;
        }
        self.blocks[b] = Block {
            state: State::Requested,
            peer,
        };
        self.free -= 1;
        self.requested += 1;
        self.next_free = b as u32 + 1;
        Some(b as u32)
    }

    /// Drops `peer`'s request for block `b`; returns whether the block went
    /// back to `Free`.
    pub(super) fn release(&mut self, b: u32, peer: PeerKey) -> bool {
        let blk = &mut self.blocks[b as usize];
        if blk.state != State::Requested {
            return false;
        }
        if blk.peer == peer {
            if let Some(i) = self.extra.iter().position(|&(x, _)| x == b) {
                blk.peer = self.extra.swap_remove(i).1;
                return false;
            }
            blk.state = State::Free;
            self.free += 1;
            self.requested -= 1;
            self.next_free = self.next_free.min(b);
            return true;
        }
        if let Some(i) = self.extra.iter().position(|&(x, p)| x == b && p == peer) {
            self.extra.swap_remove(i);
        }
        false
    }
}
