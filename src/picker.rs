//! The piece picker: which blocks to request from which peer. Synchronous,
//! owned by the torrent task, no I/O. Owns the availability counts, the
//! priorities, and the state of every block of every piece in progress.
//!
//! Rules, in the order `pick` applies them:
//! 1. Continue the pieces this peer is already working on (pieces stay
//!    contiguous per peer, which also keeps the disk's hashing in order).
//! 2. Adopt started pieces whose owner is gone (finish what is started).
//! 3. Open a new piece: High priority before Normal before Low, then rarest first
//!    (random among equals), or lowest index first in sequential mode.
//!    Skipped pieces are never opened.
//! 4. Help with other peers' started pieces.
//! 5. Endgame: once every missing block is requested, request blocks already
//!    requested from others (never twice from the same peer, at most
//!    [`ENDGAME_MAX_REQUESTERS`] peers per block); `block_received` then says
//!    whom to cancel.
//!
//! **Piece-state invariant.** Each piece is exactly one of: *had* (its hash
//! matched; in `have`), *unwanted* (priority Skip, not had), *waiting* (wanted,
//! not started: in `order`), or *in progress* (wanted, in `partial`). Each
//! block of a piece in progress is exactly one of *free*, *requested* (by one
//! or more peers, never twice by the same one) or *received*. A piece becomes
//! had only through `piece_verified`/`we_have`; a failed piece goes back to
//! waiting with every block free.
//!
//! Cost: `pick` is O(blocks picked) while a peer continues its pieces;
//! opening a piece costs O(number of buckets) plus the scan to the first
//! piece the peer has, which for a seed is the first one. Availability
//! changes of one are O(1); seeds are counted apart, since a peer with every
//! piece changes no piece's rank.

mod geometry;
mod order;
mod parole;
mod partial;
mod priorities;
mod run;

use std::collections::HashMap;

use crate::bitfield::Bitfield;
use crate::types::{BlockRef, PieceIndex, BLOCK_LEN};

use geometry::Geometry;
use order::{key, Order, Rng, CLASSES, NONE, STRIDE};
use partial::{Partial, State};
pub use priorities::piece_priorities;

/// At most this many peers are asked for the same block in endgame.
pub const ENDGAME_MAX_REQUESTERS: usize = 3;

/// The caller's id for one peer connection; unique among live connections.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PeerKey(pub u32);

/// How much a file or piece is wanted. Ordered: `Skip < Low < Normal < High`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default, Hash)]
pub enum Priority {
    /// Not downloaded.
    Skip,
    /// Downloaded after every Normal piece.
    Low,
    /// Downloaded.
    #[default]
    Normal,
    /// Downloaded before any Normal piece.
    High,
}

/// What the picker made of an arriving block.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Fresh data: write it. `piece_complete` says this was the last block
    /// of its piece; `cancel` lists the other peers that were asked for the
    /// same block (endgame) and should get a `Cancel`.
    New {
        /// The piece has all its blocks now and awaits its hash verdict.
        piece_complete: bool,
        /// Peers to send a `Cancel` for this block.
        cancel: Vec<PeerKey>,
    },
    /// Data we already have (the block arrived before, or its piece is
    /// complete or had): drop it.
    Duplicate,
    /// A block of no piece in progress, or not on the block grid: nobody
    /// asked for it. Drop it; the peer task decides whether that is a
    /// protocol error.
    Unwanted,
}

/// Per-peer bookkeeping.
#[derive(Default)]
struct PeerInfo {
    /// Counted in `Picker::seeds` rather than piece by piece.
    seed: bool,
    /// Pieces this peer opened or adopted, oldest first; pruned lazily.
    own: Vec<u32>,
    /// It sent data to a piece that failed its hash: it works on pieces of
    /// its own only (see `parole.rs`).
    parole: bool,
}

/// The piece picker (see the module docs for its rules and invariant).
pub struct Picker {
    /// Piece and block arithmetic.
    geo: Geometry,
    /// Verified pieces.
    have: Bitfield,
    /// Wanted and not had: what makes a peer interesting.
    needed: Bitfield,
    /// Priority of each piece.
    priority: Vec<Priority>,
    /// The wanted priorities some piece has, most wanted first: sequential
    /// mode makes one pass per class when there is more than one.
    classes: Vec<Priority>,
    /// How many non-seed peers have each piece.
    avail: Vec<u16>,
    /// Peers with every piece, counted once here instead of per piece.
    seeds: u32,
    /// Waiting pieces sorted by (class, availability).
    order: Order,
    /// Pieces in progress.
    partial: Vec<Partial>,
    /// For each piece, its index in `partial`, or `NONE`.
    slot: Vec<u32>,
    /// Free blocks over all pieces in progress, for the endgame test.
    free_total: u64,
    /// Live peers.
    peers: HashMap<PeerKey, PeerInfo>,
    /// Lowest index first instead of rarest first.
    sequential: bool,
    /// No needed piece lies below this index (sequential scan start).
    seq_cursor: u32,
    /// Pieces that failed their hash and are to be fetched again before
    /// new ones (see `parole.rs`).
    retrying: Bitfield,
    /// Wanted pieces not had.
    missing: u32,
    /// Bytes of wanted pieces not had.
    remaining_bytes: u64,
    /// Tie-breaks.
    rng: Rng,
}

impl Picker {
    /// A picker for a torrent with nothing had, every piece Normal, and no
    /// peers.
    pub fn new(num_pieces: u32, piece_length: u32, total_length: u64) -> Self {
        let geo = Geometry {
            num_pieces,
            piece_length: piece_length.max(1),
            total_length,
        };
        let mut p = Picker {
            geo,
            have: Bitfield::new(num_pieces),
            needed: Bitfield::full(num_pieces),
            priority: vec![Priority::Normal; num_pieces as usize],
            classes: vec![Priority::Normal],
            avail: vec![0; num_pieces as usize],
            seeds: 0,
            order: Order::new(num_pieces),
            partial: Vec::new(),
            slot: vec![NONE; num_pieces as usize],
            free_total: 0,
            peers: HashMap::new(),
            sequential: false,
            seq_cursor: 0,
            retrying: Bitfield::new(num_pieces),
            missing: num_pieces,
            remaining_bytes: total_length,
            rng: Rng::new(),
        };
        p.rebuild_order();
        p
    }

    // ----- state of our download -------------------------------------------

    /// Number of pieces of the torrent.
    pub fn num_pieces(&self) -> u32 {
        self.geo.num_pieces
    }

    /// Verified pieces.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Number of wanted pieces not yet had.
    pub fn missing(&self) -> u32 {
        self.missing
    }

    /// Whether every wanted piece is had.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Bytes of wanted pieces not yet had.
    pub fn wanted_remaining_bytes(&self) -> u64 {
        self.remaining_bytes
    }

    /// Whether every missing block is requested (endgame).
    pub fn in_endgame(&self) -> bool {
        self.missing > 0 && self.order.len() == 0 && self.free_total == 0
    }

    /// Pieces being fetched now (some blocks requested or received).
    pub fn in_progress(&self) -> impl Iterator<Item = PieceIndex> + '_ {
        self.partial.iter().map(|p| PieceIndex(p.piece))
    }

    /// How many connected peers have `piece`.
    pub fn availability(&self, piece: PieceIndex) -> u32 {
        self.avail.get(piece.as_usize()).map_or(0, |&a| a as u32) + self.seeds
    }

    /// Whether a piece is wanted and not had yet.
    pub fn is_needed(&self, piece: PieceIndex) -> bool {
        piece.0 < self.needed.len() && self.needed.get(piece)
    }

    /// Whether `peer_has` holds a piece we want and lack.
    pub fn is_interesting(&self, peer_has: &Bitfield) -> bool {
        peer_has.intersects(&self.needed)
    }

    /// The block at `offset` of `piece`, with its length; `None` if it is not
    /// on the block grid of the torrent.
    pub fn block_at(&self, piece: PieceIndex, offset: u32) -> Option<BlockRef> {
        if piece.0 >= self.geo.num_pieces || offset % BLOCK_LEN != 0 {
            return None;
        }
        let b = offset / BLOCK_LEN;
        (b < self.geo.num_blocks(piece.0)).then(|| self.geo.block(piece.0, b))
    }

    /// Marks a piece had without downloading it (checked on disk, e.g. when
    /// resuming).
    pub fn we_have(&mut self, piece: PieceIndex) {
        self.piece_verified(piece);
    }

    /// The piece's hash matched: it is had.
    pub fn piece_verified(&mut self, piece: PieceIndex) {
        let i = piece.0;
        if i >= self.geo.num_pieces || self.have.get(piece) {
            return;
        }
        self.drop_partial(i);
        self.remove_from_order(i);
        self.retrying.set(piece, false);
        self.have.set(piece, true);
        if self.needed.set(piece, false) {
            self.missing -= 1;
            self.remaining_bytes = self
                .remaining_bytes
                .saturating_sub(self.geo.piece_len(i) as u64);
        }
    }

    /// The piece's hash did not match, or the disk could not store it:
    /// every block goes back to free and the piece waits again. (Who sent
    /// the bad data is the disk's to say: it knows whose copy of each block
    /// it wrote.)
    pub fn piece_failed(&mut self, piece: PieceIndex) {
        let i = piece.0;
        if i >= self.geo.num_pieces || self.have.get(piece) {
            return;
        }
        self.drop_partial(i);
        self.insert_into_order(i);
    }

    // ----- settings ------------------------------------------------------

    /// Sets every piece's priority (see [`piece_priorities`] to derive them
    /// from file priorities). A list of the wrong length is cut or padded
    /// with Normal. Started pieces that become Skip are dropped.
    pub fn set_piece_priorities(&mut self, mut priorities: Vec<Priority>) {
        priorities.resize(self.geo.num_pieces as usize, Priority::Normal);
        self.priority = priorities;
        self.classes = [Priority::High, Priority::Normal, Priority::Low]
            .into_iter()
            .filter(|c| self.priority.contains(c))
            .collect();
        self.missing = 0;
        self.remaining_bytes = 0;
        for i in 0..self.geo.num_pieces {
            let p = PieceIndex(i);
            let need = self.priority[i as usize] != Priority::Skip && !self.have.get(p);
            self.needed.set(p, need);
            if need {
                self.missing += 1;
                self.remaining_bytes += self.geo.piece_len(i) as u64;
            } else if self.slot[i as usize] != NONE {
                self.drop_partial(i);
            }
        }
        self.seq_cursor = 0;
        self.rebuild_order();
    }

    /// Lowest index first (for streaming) instead of rarest first.
    pub fn set_sequential(&mut self, on: bool) {
        self.sequential = on;
        self.seq_cursor = 0;
    }

    // ----- peers ---------------------------------------------------------

    /// A peer's `Bitfield` message (call at most once per peer, before any
    /// `peer_have` of it).
    pub fn peer_bitfield(&mut self, peer: PeerKey, has: &Bitfield) {
        let info = self.peers.entry(peer).or_default();
        if has.is_full() && !has.is_empty() {
            if !info.seed {
                info.seed = true;
                self.seeds += 1;
            }
            return;
        }
        for p in has.iter_ones() {
            self.change_avail(p.0, 1);
        }
    }

    /// A peer's `Have` for a piece it did not have before (the caller drops
    /// repeated ones).
    pub fn peer_have(&mut self, peer: PeerKey, piece: PieceIndex) {
        if piece.0 >= self.geo.num_pieces {
            return;
        }
        let info = self.peers.entry(peer).or_default();
        if !info.seed {
            self.change_avail(piece.0, 1);
        }
    }

    /// A peer disconnected; `had` is its final bitfield. Its requests go back
    /// to the pool.
    pub fn peer_left(&mut self, peer: PeerKey, had: &Bitfield) {
        self.release_peer(peer);
        if let Some(info) = self.peers.remove(&peer) {
            if info.seed {
                self.seeds = self.seeds.saturating_sub(1);
            } else {
                for p in had.iter_ones() {
                    self.change_avail(p.0, -1);
                }
            }
        }
    }

    /// Every outstanding request of `peer` goes back to the pool, and the
    /// pieces it owned may be adopted by others (e.g. it choked us without
    /// the fast extension, which discards our requests).
    pub fn release_peer(&mut self, peer: PeerKey) {
        for s in 0..self.partial.len() {
            let part = &mut self.partial[s];
            if part.owner == Some(peer) {
                part.owner = None;
            }
            if part.requested == 0 {
                continue;
            }
            for b in 0..part.blocks.len() as u32 {
                if part.release(b, peer) {
                    self.free_total += 1;
                }
            }
        }
        if let Some(info) = self.peers.get_mut(&peer) {
            info.own.clear();
        }
    }

    /// We sent `peer` a `Cancel` for `block`: it goes back to the pool.
    pub fn request_cancelled(&mut self, peer: PeerKey, block: BlockRef) {
        self.release_block(peer, block, false);
    }

    /// `peer` rejected our request (BEP 6): the block goes back to the pool
    /// and the piece may be adopted by another peer.
    pub fn request_rejected(&mut self, peer: PeerKey, block: BlockRef) {
        self.release_block(peer, block, true);
    }

    /// Our request to `peer` timed out: the block goes back to the pool and
    /// the piece may be adopted by another peer. If the data still arrives,
    /// `block_received` takes it.
    pub fn request_timed_out(&mut self, peer: PeerKey, block: BlockRef) {
        self.release_block(peer, block, true);
    }

    /// A block arrived from `peer`.
    pub fn block_received(&mut self, peer: PeerKey, block: BlockRef) -> Received {
        let Some(grid) = self.block_at(block.piece, block.offset) else {
            return Received::Unwanted;
        };
        if grid.len != block.len {
            return Received::Unwanted;
        }
        let i = block.piece.0;
        let s = self.slot[i as usize];
        if s == NONE {
            return if self.have.get(block.piece) {
                Received::Duplicate
            } else {
                Received::Unwanted
            };
        }
        let part = &mut self.partial[s as usize];
        let b = block.offset / BLOCK_LEN;
        let blk = part.blocks[b as usize];
        let mut cancel = Vec::new();
        match blk.state {
            State::Received => return Received::Duplicate,
            State::Free => {
                part.free -= 1;
                self.free_total -= 1;
            }
            State::Requested => {
                part.requested -= 1;
                if blk.peer != peer {
                    cancel.push(blk.peer);
                }
                part.extra.retain(|&(x, p)| {
                    if x == b && p != peer {
                        cancel.push(p);
                    }
                    x != b
                });
            }
        }
        part.blocks[b as usize] = partial::Block {
            state: State::Received,
            peer,
        };
        part.received += 1;
        Received::New {
            piece_complete: part.is_complete(),
            cancel,
        }
    }

    // ----- picking -------------------------------------------------------

    /// `pick` for one set of rules: `careful` for a peer on parole (no
    /// pieces of others, no endgame; see `parole.rs`).
    fn pick_with(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        max_blocks: usize,
        out: &mut Vec<BlockRef>,
        careful: bool,
    ) {
        let target = out.len() + max_blocks;
        if max_blocks == 0 || self.missing == 0 {
            return;
        }
        let mut own = match self.peers.get_mut(&peer) {
            Some(info) => std::mem::take(&mut info.own),
            None => {
                self.peers.insert(peer, PeerInfo::default());
                Vec::new()
            }
        };

        // 1. The peer's own pieces.
        own.retain(|&i| {
            let s = self.slot[i as usize];
            s != NONE && self.partial[s as usize].free > 0
        });
        let mut k = 0;
        while k < own.len() && out.len() < target {
            let s = self.slot[own[k] as usize];
            self.take_blocks(s, peer, target, out);
            k += 1;
        }

        // 2. Started pieces nobody owns.
        if out.len() < target && !careful {
            for s in 0..self.partial.len() as u32 {
                let part = &mut self.partial[s as usize];
                if part.owner.is_none() && part.free > 0 && peer_has.get(PieceIndex(part.piece)) {
                    part.owner = Some(peer);
                    own.push(part.piece);
                    self.take_blocks(s, peer, target, out);
                    if out.len() >= target {
                        break;
                    }
                }
            }
        }

        // 3. New pieces, failed ones first.
        self.open_retries(peer, peer_has, target, out, &mut own);
        let seed = self.peers.get(&peer).is_some_and(|i| i.seed);
        while out.len() < target {
            let Some(i) = self.next_new_piece(peer_has, seed) else {
                break;
            };
            let s = self.open(i, Some(peer));
            own.push(i);
            self.take_blocks(s, peer, target, out);
        }

        // 4. Other peers' pieces.
        if out.len() < target && self.free_total > 0 && !careful {
            for s in 0..self.partial.len() as u32 {
                let part = &self.partial[s as usize];
                if part.free > 0 && peer_has.get(PieceIndex(part.piece)) {
                    self.take_blocks(s, peer, target, out);
                    if out.len() >= target {
                        break;
                    }
                }
            }
        }

        // 5. Endgame.
        if out.len() < target && self.in_endgame() && !careful {
            self.pick_endgame(peer, |p| peer_has.get(PieceIndex(p)), target, out);
        }

        own.retain(|&i| {
            let s = self.slot[i as usize];
            s != NONE && self.partial[s as usize].free > 0
        });
        if let Some(info) = self.peers.get_mut(&peer) {
            info.own = own;
        }
    }

    /// Like [`Picker::pick`] for a peer that is choking us but allows us the
    /// pieces in `allowed_fast` (BEP 6): only blocks of those pieces.
    pub fn pick_allowed_fast(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        allowed_fast: &[PieceIndex],
        max_blocks: usize,
        out: &mut Vec<BlockRef>,
    ) {
        let target = out.len() + max_blocks;
        self.peers.entry(peer).or_default();
        for &p in allowed_fast {
            if out.len() >= target {
                return;
            }
            let i = p.0;
            if !peer_has.get(p) || !self.needed.get(p) {
                continue;
            }
            let s = match self.slot[i as usize] {
                NONE => self.open(i, None),
                s => s,
            };
            self.take_blocks(s, peer, target, out);
        }
        if out.len() < target && self.in_endgame() {
            let allowed =
                |i: u32| allowed_fast.contains(&PieceIndex(i)) && peer_has.get(PieceIndex(i));
            self.pick_endgame(peer, allowed, target, out);
        }
    }

    // ----- internals -----------------------------------------------------

    /// Requests free blocks of partial `s` from `peer` until `out` holds
    /// `target` blocks or the piece has no free block.
    fn take_blocks(&mut self, s: u32, peer: PeerKey, target: usize, out: &mut Vec<BlockRef>) {
        let part = &mut self.partial[s as usize];
        while out.len() < target {
            let Some(b) = part.take_free(peer) else { break };
            self.free_total -= 1;
            out.push(self.geo.block(part.piece, b));
        }
    }

    /// Endgame: blocks already requested from others, fewest requesters
    /// first, never one `peer` already requested.
    fn pick_endgame(
        &mut self,
        peer: PeerKey,
        has: impl Fn(u32) -> bool,
        target: usize,
        out: &mut Vec<BlockRef>,
    ) {
        for want in 1..ENDGAME_MAX_REQUESTERS {
            for s in 0..self.partial.len() {
                let part = &mut self.partial[s];
                if part.requested == 0 || !has(part.piece) {
                    continue;
                }
                for b in 0..part.blocks.len() as u32 {
                    if out.len() >= target {
                        return;
                    }
                    if part.requesters(b) == want && !part.is_requester(b, peer) {
                        part.extra.push((b, peer));
                        out.push(self.geo.block(part.piece, b));
                    }
                }
            }
        }
    }

    /// The next waiting piece `peer_has` holds, in pick order.
    fn next_new_piece(&mut self, peer_has: &Bitfield, seed: bool) -> Option<u32> {
        if self.order.len() == 0 {
            return None;
        }
        if self.sequential {
            return self.next_sequential(peer_has);
        }
        // A peer with few pieces: look only at those.
        if (peer_has.count_ones() as usize) < self.order.len() / 8 {
            return peer_has
                .iter_ones()
                .map(|p| p.0)
                .filter(|&i| i < self.geo.num_pieces && self.order.contains(i))
                .min_by_key(|&i| self.order.position(i));
        }
        // Otherwise scan in order; a non-seed peer's pieces have a count of
        // at least one, so the buckets of count zero are skipped.
        let skip = if seed { 0 } else { 1 };
        for class in 0..CLASSES {
            let keys = class * STRIDE + skip..(class + 1) * STRIDE;
            if let Some(&i) = self
                .order
                .bucket_range(keys)
                .iter()
                .find(|&&i| peer_has.get(PieceIndex(i)))
            {
                return Some(i);
            }
        }
        if !seed {
            // Counts and bitfields disagree (a caller that skipped
            // `peer_bitfield`): fall back to a full scan.
            for class in 0..CLASSES {
                let keys = class * STRIDE..class * STRIDE + 1;
                if let Some(&i) = self
                    .order
                    .bucket_range(keys)
                    .iter()
                    .find(|&&i| peer_has.get(PieceIndex(i)))
                {
                    return Some(i);
                }
            }
        }
        None
    }

    /// Sequential mode: the lowest waiting piece the peer has, High first,
    /// Low last.
    fn next_sequential(&mut self, peer_has: &Bitfield) -> Option<u32> {
        while self.seq_cursor < self.geo.num_pieces && !self.needed.get(PieceIndex(self.seq_cursor))
        {
            self.seq_cursor += 1;
        }
        let mixed = self.classes.len() > 1;
        for pass in 0..self.classes.len().max(1) {
            let want = self.classes.get(pass).copied();
            let mut from = PieceIndex(self.seq_cursor);
            while let Some(p) = self.needed.next_one(from) {
                let i = p.0;
                if self.order.contains(i)
                    && peer_has.get(p)
                    && (!mixed || Some(self.priority[i as usize]) == want)
                {
                    return Some(i);
                }
                from = PieceIndex(i + 1);
            }
        }
        None
    }

    /// Starts piece `i`: out of the order, into `partial`. Returns its slot.
    fn open(&mut self, i: u32, owner: Option<PeerKey>) -> u32 {
        self.remove_from_order(i);
        let n = self.geo.num_blocks(i);
        self.partial.push(Partial::new(i, n, owner));
        self.free_total += n as u64;
        let s = self.partial.len() as u32 - 1;
        self.slot[i as usize] = s;
        s
    }

    /// Forgets the block state of piece `i`, if any.
    fn drop_partial(&mut self, i: u32) {
        let s = self.slot[i as usize];
        if s == NONE {
            return;
        }
        let part = self.partial.swap_remove(s as usize);
        self.free_total -= part.free as u64;
        self.slot[i as usize] = NONE;
        if let Some(moved) = self.partial.get(s as usize) {
            self.slot[moved.piece as usize] = s;
        }
    }

    fn release_block(&mut self, peer: PeerKey, block: BlockRef, disown: bool) {
        let Some(grid) = self.block_at(block.piece, block.offset) else {
            return;
        };
        let s = self.slot[grid.piece.as_usize()];
        if s == NONE {
            return;
        }
        let part = &mut self.partial[s as usize];
        if part.release(block.offset / BLOCK_LEN, peer) {
            self.free_total += 1;
        }
        if disown && part.owner == Some(peer) {
            part.owner = None;
        }
    }

    /// The sort key of piece `i`.
    fn key_of(&self, i: u32) -> u32 {
        let class = match self.priority[i as usize] {
            Priority::High => 0,
            Priority::Normal => 1,
            // Skip pieces are never in the order; ranked last if asked.
            Priority::Low | Priority::Skip => 2,
        };
        key(class, self.avail[i as usize] as u32)
    }

    fn change_avail(&mut self, i: u32, delta: i32) {
        let Some(a) = self.avail.get(i as usize).copied() else {
            return;
        };
        let before = self.key_of(i);
        self.avail[i as usize] = if delta > 0 {
            a.saturating_add(1)
        } else {
            a.saturating_sub(1)
        };
        let after = self.key_of(i);
        self.order.rekey(i, before, after, &mut self.rng);
    }

    fn remove_from_order(&mut self, i: u32) {
        if self.order.contains(i) {
            let k = self.key_of(i);
            self.order.remove(i, k);
        }
    }

    /// Puts a needed piece that is not started back into the order.
    fn insert_into_order(&mut self, i: u32) {
        if self.needed.get(PieceIndex(i))
            && !self.order.contains(i)
            && self.slot[i as usize] == NONE
        {
            let k = self.key_of(i);
            self.order.insert(i, k, &mut self.rng);
            self.seq_cursor = self.seq_cursor.min(i);
        }
    }

    fn rebuild_order(&mut self) {
        let pieces: Vec<(u32, u32)> = self
            .needed
            .iter_ones()
            .map(|p| p.0)
            .filter(|&i| self.slot[i as usize] == NONE)
            .map(|i| (i, self.key_of(i)))
            .collect();
        self.order.rebuild(&pieces, &mut self.rng);
    }
}

#[cfg(test)]
mod tests;
