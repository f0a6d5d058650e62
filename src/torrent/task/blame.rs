//! Who is to blame for bad data, by IP address: strikes for pieces that
//! fail with one sender, smart ban (`../smart_ban.rs`) for pieces that
//! fail with several, parole (`crate::picker`) for the connections of
//! every address with a part in a failed piece until it passes, and the
//! ban itself.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

use super::{Torrent, STRIKES_TO_BAN};
use crate::peer::{PeerCmd, PeerKey};
use crate::storage::disk::{BlockDigest, BlockEvidence};
use crate::torrent::peers::BanReason;
use crate::types::{BlockRef, PieceIndex, BLOCK_LEN};

impl Torrent {
    /// A piece failed its hash. The disk says who sent each block (by IP,
    /// whether or not they are still connected): the records go to smart
    /// ban, and a piece with a single sender is a strike against it.
    pub(super) fn on_piece_failed(&mut self, piece: PieceIndex, evidence: &[BlockEvidence]) {
        let senders = self.smart_ban.piece_failed(piece.0, evidence);
        if self.smart_ban.has_records(piece.0) {
            self.picker.retry_first(piece);
        }
        self.update_parole();
        if let [only] = senders[..] {
            if self.blame_web_seed(only, false) {
                return;
            }
            let strikes = self.peer_list.strike(only);
            tracing::debug!(ip = %only, ?piece, strikes, "piece from one sender failed");
            if strikes >= STRIKES_TO_BAN {
                self.ban(only, BanReason::Strikes);
            }
        }
    }

    /// A piece that failed before passed: digests its blocks as verified,
    /// off the torrent's loop; `on_verified_blocks` compares them.
    pub(super) fn check_blocks(&mut self, piece: PieceIndex) {
        let Some(disk) = self.disk.clone() else {
            self.smart_ban.forget(piece.0);
            return;
        };
        let len = self.layout.piece_len(piece);
        let blocks: Vec<BlockRef> = (0..len.div_ceil(BLOCK_LEN))
            .map(|b| BlockRef {
                piece,
                offset: b * BLOCK_LEN,
                len: (len - b * BLOCK_LEN).min(BLOCK_LEN),
            })
            .collect();
        self.block_checks.spawn(async move {
            let mut good = Vec::with_capacity(blocks.len());
            for b in blocks {
                // A block that cannot be read is unknown, which names
                // nobody.
                let digest = disk.read_block(b).await.ok().map(|data| {
                    let d: BlockDigest = Sha1::digest(&data).into();
                    d
                });
                good.push(digest);
            }
            (piece, good)
        });
    }

    /// The digests of a verified piece that failed before: every address
    /// whose copy of one of its blocks differed sent bad data.
    pub(super) fn on_verified_blocks(&mut self, piece: PieceIndex, good: Vec<Option<BlockDigest>>) {
        for ip in self.smart_ban.piece_passed(piece.0, &good) {
            self.ban(ip, BanReason::BadBlock);
        }
        self.update_parole();
    }

    /// Picks up to `n` blocks for `key`. A peer from an address with a
    /// part in failed pieces is first offered only the other pieces, so
    /// that a failed piece is fetched again from someone else when anyone
    /// else has it (which lets it pass and name its bad sender); failing
    /// that, it gets what any peer would.
    ///
    /// A peer that chokes us is asked only for the pieces it allows
    /// (BEP 6); one that suggested pieces is asked for those first.
    pub(super) fn pick_for(&mut self, key: PeerKey, n: usize, out: &mut Vec<BlockRef>) {
        let Some(p) = self.conns.get_mut(&key) else {
            return;
        };
        if p.peer_choking {
            self.picker
                .pick_allowed_fast(key, &p.has, &p.allowed_fast, n, out);
            return;
        }
        let ip = p.shared.addr.ip();
        if !p.suggested.is_empty() && !self.smart_ban.is_suspect(ip) {
            let picker = &self.picker;
            p.suggested.retain(|&s| picker.is_needed(s));
            self.picker
                .pick_allowed_fast(key, &p.has, &p.suggested, n, out);
            if out.len() >= n {
                return;
            }
        }
        let Some(p) = self.conns.get(&key) else {
            return;
        };
        let n = n - out.len();
        if self.smart_ban.is_suspect(ip) {
            let mut has = p.has.clone();
            for piece in self.smart_ban.pieces_of(ip) {
                has.set(PieceIndex(piece), false);
            }
            self.picker.pick(key, &has, n, out);
            if !out.is_empty() {
                return;
            }
        }
        self.picker.pick(key, &p.has, n, out);
    }

    /// Puts on parole the connections of every suspect address, and takes
    /// the others off (one pass over the connections, which are few).
    pub(super) fn update_parole(&mut self) {
        for (key, p) in self.conns.iter() {
            let suspect = self.smart_ban.is_suspect(p.shared.addr.ip());
            if self.picker.on_parole(*key) != suspect {
                self.picker.set_parole(*key, suspect);
            }
        }
    }

    /// Bans `ip`: it is never dialled or accepted again, and its
    /// connections close.
    pub(super) fn ban(&mut self, ip: IpAddr, reason: BanReason) {
        if self.blame_web_seed(ip, true) {
            return;
        }
        if !self.peer_list.ban(ip, reason) {
            return;
        }
        tracing::info!(%ip, "banned: {}", reason.describe());
        self.counters.banned += 1;
        for q in self.conns.values().filter(|q| q.shared.addr.ip() == ip) {
            let _ = q.tx.send(PeerCmd::Close);
        }
        self.publish();
    }
}
