//! Smart ban: finding exactly who sent the bad block of a piece that
//! failed its hash, once the piece passes.
//!
//! A failed piece only says that some block was wrong, not which one nor
//! whose. So when a piece fails, each block's sender (by IP address, so a
//! sender that has since disconnected still answers for it) and a digest
//! of the bytes written for it are remembered. When the same piece later
//! passes, its verified blocks are digested too: an address whose recorded
//! block differs from the verified one sent bad data and is banned; an
//! address whose blocks all match is innocent, however many failed pieces
//! it shared. Pieces that fail with a single contributor are counted as
//! strikes against it in the peer list (see `events.rs`).
//!
//! Memory is bounded: at most [`MAX_RECORDED_BLOCKS`] records over all
//! pieces (each an address, a block index and a 20-byte digest, about
//! 48 bytes with its share of the map, so under 1 MiB per torrent); when
//! full, the records of the piece that failed longest ago are dropped.
//! Records of a piece are dropped when it passes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use crate::storage::disk::{BlockDigest, BlockEvidence};

/// Most block records kept over all failed pieces of one torrent.
pub const MAX_RECORDED_BLOCKS: usize = 16_384;

/// One block of a failed piece: who sent it and what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Record {
    /// The block's index within the piece.
    block: u32,
    /// Who sent the copy that was written.
    from: IpAddr,
    /// Digest of that copy.
    digest: BlockDigest,
}

/// The records of a torrent's failed pieces (see the module docs).
#[derive(Debug, Default)]
pub struct SmartBan {
    /// Records by piece. A piece that failed several times keeps one
    /// record per distinct (block, sender, digest).
    pieces: HashMap<u32, Vec<Record>>,
    /// Pieces with records, first failed first, for dropping the oldest.
    order: VecDeque<u32>,
    /// Records over all pieces (at most `MAX_RECORDED_BLOCKS`).
    total: usize,
    /// For each sender, its records per piece: the addresses with a part
    /// in a failed piece not yet settled, and which pieces (at most one
    /// entry per record).
    suspects: HashMap<IpAddr, HashMap<u32, u32>>,
    /// Records dropped for room, for the stats.
    dropped: u64,
}

impl SmartBan {
    /// No records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers who sent each block of `piece`, which failed its hash.
    /// Returns the distinct senders, so a caller can tell a piece sent by
    /// one peer alone.
    pub fn piece_failed(&mut self, piece: u32, evidence: &[BlockEvidence]) -> Vec<IpAddr> {
        let mut senders: Vec<IpAddr> = evidence.iter().map(|e| e.from).collect();
        senders.sort_unstable();
        senders.dedup();
        let new: Vec<Record> = {
            let mut seen: HashSet<Record> = self
                .pieces
                .get(&piece)
                .map(|v| v.iter().copied().collect())
                .unwrap_or_default();
            evidence
                .iter()
                .map(|e| Record {
                    block: e.block,
                    from: e.from,
                    digest: e.digest,
                })
                .filter(|r| seen.insert(*r))
                .collect()
        };
        if new.is_empty() {
            return senders;
        }
        // A single piece with more blocks than the whole budget keeps what
        // fits.
        let keep = new.len().min(MAX_RECORDED_BLOCKS);
        while self.total + keep > MAX_RECORDED_BLOCKS {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(v) = self.pieces.remove(&oldest) {
                self.dropped += v.len() as u64;
                self.unrecord(oldest, &v);
            }
        }
        let entry = self.pieces.entry(piece).or_default();
        if entry.is_empty() {
            self.order.push_back(piece);
        }
        self.dropped += (new.len() - keep) as u64;
        for r in &new[..keep] {
            *self
                .suspects
                .entry(r.from)
                .or_default()
                .entry(piece)
                .or_insert(0) += 1;
        }
        entry.extend(new.into_iter().take(keep));
        self.total += keep;
        senders
    }

    /// Whether `piece` failed before and has records to compare once it
    /// passes.
    pub fn has_records(&self, piece: u32) -> bool {
        self.pieces.contains_key(&piece)
    }

    /// `piece` passed its hash and `good` holds the digest of each of its
    /// blocks as verified (`None` where it could not be read): returns the
    /// addresses whose recorded copy of some block differed, each once, and
    /// forgets the piece. An address is never returned for a block whose
    /// verified digest is unknown.
    pub fn piece_passed(&mut self, piece: u32, good: &[Option<BlockDigest>]) -> Vec<IpAddr> {
        let Some(records) = self.pieces.remove(&piece) else {
            return Vec::new();
        };
        self.unrecord(piece, &records);
        self.order.retain(|&p| p != piece);
        let mut liars: Vec<IpAddr> = records
            .iter()
            .filter(|r| matches!(good.get(r.block as usize), Some(Some(d)) if *d != r.digest))
            .map(|r| r.from)
            .collect();
        liars.sort_unstable();
        liars.dedup();
        liars
    }

    /// Forgets `piece` (it will not be compared: e.g. it was verified
    /// from disk by a recheck rather than downloaded).
    pub fn forget(&mut self, piece: u32) {
        if let Some(v) = self.pieces.remove(&piece) {
            self.unrecord(piece, &v);
            self.order.retain(|&p| p != piece);
        }
    }

    /// Whether `ip` sent a block of a failed piece that has not passed
    /// yet: a suspect, to be kept on parole.
    pub fn is_suspect(&self, ip: IpAddr) -> bool {
        self.suspects.contains_key(&ip)
    }

    /// The failed pieces not yet passed that `ip` sent blocks of.
    pub fn pieces_of(&self, ip: IpAddr) -> impl Iterator<Item = u32> + '_ {
        self.suspects
            .get(&ip)
            .into_iter()
            .flat_map(|m| m.keys().copied())
    }

    /// Takes records of `piece` that were removed from `pieces` out of the
    /// counts.
    fn unrecord(&mut self, piece: u32, records: &[Record]) {
        self.total -= records.len();
        for r in records {
            if let Some(m) = self.suspects.get_mut(&r.from) {
                if let Some(n) = m.get_mut(&piece) {
                    *n -= 1;
                    if *n == 0 {
                        m.remove(&piece);
                    }
                }
                if m.is_empty() {
                    self.suspects.remove(&r.from);
                }
            }
        }
    }

    /// Records kept now.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Records dropped so far to stay within the bound.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn digest(data: &[u8]) -> BlockDigest {
        Sha1::digest(data).into()
    }

    fn ev(block: u32, from: IpAddr, data: &[u8]) -> BlockEvidence {
        BlockEvidence {
            block,
            from,
            digest: digest(data),
        }
    }

    /// Block `b` of the good piece.
    fn good(b: u32) -> Vec<u8> {
        vec![b as u8; 64]
    }

    fn good_digests(n: u32) -> Vec<Option<BlockDigest>> {
        (0..n).map(|b| Some(digest(&good(b)))).collect()
    }

    /// An honest peer that shared a failed piece with a liar is not
    /// blamed; the liar is, even though it sent good blocks too.
    #[test]
    fn only_the_sender_of_the_bad_block_is_named() {
        let (honest, liar) = (ip(1), ip(2));
        let mut sb = SmartBan::new();
        let senders = sb.piece_failed(
            7,
            &[
                ev(0, honest, &good(0)),
                ev(1, liar, &good(1)),
                ev(2, liar, b"not the data"),
                ev(3, honest, &good(3)),
            ],
        );
        assert_eq!(senders, vec![honest, liar]);
        assert!(sb.has_records(7));
        assert!(sb.is_suspect(honest) && sb.is_suspect(liar));
        assert!(!sb.is_suspect(ip(9)));
        assert_eq!(sb.pieces_of(liar).collect::<Vec<_>>(), vec![7]);
        assert_eq!(sb.pieces_of(ip(9)).count(), 0);
        assert_eq!(sb.piece_passed(7, &good_digests(4)), vec![liar]);
        assert!(!sb.has_records(7));
        assert!(sb.is_empty());
        assert!(!sb.is_suspect(honest), "cleared once the piece passed");
    }

    /// A piece that fails twice keeps the evidence of both rounds: a liar
    /// that lied in the first round only is still found.
    #[test]
    fn every_round_counts() {
        let (a, b, liar) = (ip(1), ip(2), ip(3));
        let mut sb = SmartBan::new();
        sb.piece_failed(1, &[ev(0, liar, b"bad"), ev(1, a, &good(1))]);
        sb.piece_failed(1, &[ev(0, b, &good(0)), ev(1, liar, b"worse")]);
        // The same evidence again adds nothing.
        sb.piece_failed(1, &[ev(0, b, &good(0))]);
        assert_eq!(sb.len(), 4);
        assert_eq!(sb.piece_passed(1, &good_digests(2)), vec![liar]);
    }

    /// Blocks whose verified digest is unknown name nobody.
    #[test]
    fn unknown_good_data_names_nobody() {
        let mut sb = SmartBan::new();
        sb.piece_failed(3, &[ev(0, ip(1), b"bad"), ev(1, ip(2), b"bad")]);
        let good = vec![None, Some(digest(&good(1)))];
        assert_eq!(sb.piece_passed(3, &good), vec![ip(2)]);
        assert!(sb.piece_passed(3, &good).is_empty(), "records are gone");
    }

    /// A piece that was never recorded names nobody.
    #[test]
    fn a_piece_without_records_names_nobody() {
        let mut sb = SmartBan::new();
        assert!(sb.piece_passed(9, &good_digests(4)).is_empty());
        sb.piece_failed(9, &[ev(0, ip(1), b"bad")]);
        sb.forget(9);
        assert!(sb.piece_passed(9, &good_digests(4)).is_empty());
        assert!(sb.is_empty());
    }

    /// The records stay within their bound; the oldest failed piece makes
    /// room.
    #[test]
    fn bounded() {
        let mut sb = SmartBan::new();
        let per_piece = 100u32;
        let pieces = (MAX_RECORDED_BLOCKS as u32 / per_piece) + 5;
        for p in 0..pieces {
            let evidence: Vec<_> = (0..per_piece).map(|b| ev(b, ip(1), b"bad")).collect();
            sb.piece_failed(p, &evidence);
            assert!(sb.len() <= MAX_RECORDED_BLOCKS);
        }
        assert!(!sb.has_records(0), "the oldest piece was dropped");
        assert!(sb.has_records(pieces - 1));
        assert!(sb.dropped() > 0);
        let per_ip: u32 = sb.suspects[&ip(1)].values().sum();
        assert!(sb.suspects.len() == 1 && per_ip as usize == sb.len());
        // One piece larger than the whole budget keeps what fits.
        let huge: Vec<_> = (0..(MAX_RECORDED_BLOCKS as u32 + 10))
            .map(|b| ev(b, ip(2), b"bad"))
            .collect();
        sb.piece_failed(pieces, &huge);
        assert_eq!(sb.len(), MAX_RECORDED_BLOCKS);
        assert_eq!(sb.pieces.len(), 1);
        assert!(!sb.is_suspect(ip(1)), "its records were all dropped");
        // The figure the module docs and ARCHITECTURE.md give per record.
        assert!(std::mem::size_of::<Record>() <= 48);
    }
}
