//! Who is to blame for bad data, by IP address: strikes for pieces that
//! fail with one sender, smart ban (`../smart_ban.rs`) for pieces that
//! fail with several, and the ban itself.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

use super::{Torrent, STRIKES_TO_BAN};
use crate::peer::PeerCmd;
use crate::storage::disk::{BlockDigest, BlockEvidence};
use crate::torrent::peers::BanReason;
use crate::types::{BlockRef, PieceIndex, BLOCK_LEN};

impl Torrent {
    /// A piece failed its hash. The disk says who sent each block (by IP,
    /// whether or not they are still connected): the records go to smart
    /// ban, and a piece with a single sender is a strike against it.
    pub(super) fn on_piece_failed(&mut self, piece: PieceIndex, evidence: &[BlockEvidence]) {
        let senders = self.smart_ban.piece_failed(piece.0, evidence);
        if let [only] = senders[..] {
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
    }

    /// Bans `ip`: it is never dialled or accepted again, and its
    /// connections close.
    pub(super) fn ban(&mut self, ip: IpAddr, reason: BanReason) {
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
