//! Incremental SHA-1 of one piece while its blocks arrive, so that freshly
//! downloaded data is hashed from memory and never read back.
//!
//! A block is fed to the hasher when it is the next one in order. A block
//! that arrives early is held in memory until the gap before it fills, within
//! a byte budget shared by all pieces of a torrent ([`HeldBudget`]); past the
//! budget, only its position is remembered and it is read back from disk when
//! its turn comes. That read-back is the only time fresh data is re-read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use sha1::{Digest, Sha1};

use crate::types::BLOCK_LEN;

/// The bytes of early blocks held in memory, with a cap, shared by the disk
/// workers of one torrent.
#[derive(Debug)]
pub struct HeldBudget {
    /// Most bytes held at once.
    cap: usize,
    /// Bytes held now.
    used: AtomicUsize,
}

impl HeldBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(HeldBudget {
            cap,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `n` bytes if they fit.
    fn try_take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + n <= self.cap).then_some(u + n)
            })
            .is_ok()
    }

    /// Returns `n` bytes.
    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// The outcome of a piece once all its blocks have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The hash matched and every block is on disk.
    Verified,
    /// The hash did not match.
    HashMismatch,
    /// Some block could not be written or read back: the piece is not
    /// stored and must be downloaded again (nobody is to blame).
    NotStored,
}

/// A block that arrived before its turn to be hashed.
enum Held {
    /// Kept in memory (its bytes count against the budget).
    Mem(Bytes),
    /// Only on disk; read back when its turn comes.
    Disk,
}

/// The hashing state of one piece in progress.
pub struct PieceHasher {
    /// Length of the piece.
    len: u32,
    /// Number of blocks.
    num_blocks: u32,
    /// Blocks that arrived (a bit per block), to drop duplicates.
    seen: Vec<u64>,
    /// Number of distinct blocks that arrived.
    received: u32,
    /// SHA-1 over blocks `0..next`.
    hasher: Sha1,
    /// The next block to feed to the hasher.
    next: u32,
    /// Blocks after `next` that arrived, by index.
    pending: BTreeMap<u32, Held>,
    /// Bytes of `pending` held in memory (owed to `budget`).
    held: usize,
    /// The torrent's budget for held bytes.
    budget: Arc<HeldBudget>,
    /// A block could not be written or read back.
    broken: bool,
}

impl PieceHasher {
    /// Hashing state for a piece of `len` bytes.
    pub fn new(len: u32, budget: Arc<HeldBudget>) -> Self {
        let num_blocks = len.div_ceil(BLOCK_LEN);
        PieceHasher {
            len,
            num_blocks,
            seen: vec![0; num_blocks.div_ceil(64) as usize],
            received: 0,
            hasher: Sha1::new(),
            next: 0,
            pending: BTreeMap::new(),
            held: 0,
            budget,
            broken: false,
        }
    }

    /// Length of the piece.
    pub fn piece_len(&self) -> u32 {
        self.len
    }

    /// Number of blocks of the piece.
    pub fn num_blocks(&self) -> u32 {
        self.num_blocks
    }

    /// Records that block `b` arrived; `false` if it had already (or is out
    /// of range), in which case the data must be dropped, not written.
    pub fn mark_seen(&mut self, b: u32) -> bool {
        if b >= self.num_blocks {
            return false;
        }
        let (w, bit) = ((b / 64) as usize, 1u64 << (b % 64));
        if self.seen[w] & bit != 0 {
            return false;
        }
        self.seen[w] |= bit;
        self.received += 1;
        true
    }

    /// The piece cannot be stored: stop hashing and let go of held data.
    pub fn set_broken(&mut self) {
        self.broken = true;
        self.pending.clear();
        self.budget.give_back(std::mem::take(&mut self.held));
    }

    /// Feeds block `b` (already marked seen and written). `read_back(i)`
    /// reads block `i` from disk when it was not held in memory. An error of
    /// `read_back` breaks the piece and is returned.
    pub fn add<E>(
        &mut self,
        b: u32,
        data: Bytes,
        mut read_back: impl FnMut(u32) -> Result<Bytes, E>,
    ) -> Result<(), E> {
        if self.broken {
            return Ok(());
        }
        if b != self.next {
            let held = if self.budget.try_take(data.len()) {
                self.held += data.len();
                Held::Mem(data)
            } else {
                Held::Disk
            };
            self.pending.insert(b, held);
            return Ok(());
        }
        self.hasher.update(&data);
        self.next += 1;
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            match entry.remove() {
                Held::Mem(d) => {
                    self.held -= d.len();
                    self.budget.give_back(d.len());
                    self.hasher.update(&d);
                }
                Held::Disk => match read_back(self.next) {
                    Ok(d) => self.hasher.update(&d),
                    Err(e) => {
                        self.set_broken();
                        return Err(e);
                    }
                },
            }
            self.next += 1;
        }
        Ok(())
    }

    /// Whether every block has arrived.
    pub fn is_complete(&self) -> bool {
        self.received == self.num_blocks
    }

    /// The verdict of a complete piece against its expected hash.
    pub fn verdict(mut self, expected: &[u8; 20]) -> Verdict {
        if self.broken || self.next != self.num_blocks {
            return Verdict::NotStored;
        }
        let hasher = std::mem::take(&mut self.hasher);
        if hasher.finalize().as_slice() == expected {
            Verdict::Verified
        } else {
            Verdict::HashMismatch
        }
    }
}

impl Drop for PieceHasher {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// A read-back that must not happen.
    fn none(_: u32) -> io::Result<Bytes> {
        unreachable!("the block was held")
    }

    fn data(len: usize) -> Bytes {
        (0..len)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    fn sha1(d: &[u8]) -> [u8; 20] {
        Sha1::digest(d).into()
    }

    fn block(d: &Bytes, b: u32) -> Bytes {
        let s = (b * BLOCK_LEN) as usize;
        d.slice(s..(s + BLOCK_LEN as usize).min(d.len()))
    }

    #[test]
    fn in_any_order_gives_the_same_hash() {
        let d = data(3 * BLOCK_LEN as usize + 5);
        let expected = sha1(&d);
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]] {
            let budget = HeldBudget::new(1 << 20);
            let mut h = PieceHasher::new(d.len() as u32, budget.clone());
            for b in order {
                assert!(h.mark_seen(b));
                h.add(b, block(&d, b), none).unwrap();
            }
            assert!(h.is_complete());
            assert_eq!(budget.used(), 0);
            assert_eq!(h.verdict(&expected), Verdict::Verified);
        }
    }

    #[test]
    fn over_the_budget_blocks_are_read_back() {
        let d = data(4 * BLOCK_LEN as usize);
        let budget = HeldBudget::new(BLOCK_LEN as usize);
        let mut h = PieceHasher::new(d.len() as u32, budget.clone());
        let mut reads = Vec::new();
        for b in [3, 2, 1, 0] {
            assert!(h.mark_seen(b));
            h.add(b, block(&d, b), |i| {
                reads.push(i);
                Ok::<_, io::Error>(block(&d, i))
            })
            .unwrap();
        }
        assert_eq!(reads, vec![1, 2], "block 3 was held, 2 and 1 were not");
        assert_eq!(budget.used(), 0);
        assert_eq!(h.verdict(&sha1(&d)), Verdict::Verified);
    }

    #[test]
    fn duplicates_bad_data_and_failed_reads() {
        let d = data(2 * BLOCK_LEN as usize);
        let budget = HeldBudget::new(0);
        let mut h = PieceHasher::new(d.len() as u32, budget.clone());
        assert!(h.mark_seen(1));
        assert!(!h.mark_seen(1));
        assert!(!h.mark_seen(2), "out of range");
        h.add(1, block(&d, 1), none).unwrap();
        assert!(h.mark_seen(0));
        let err = h.add(0, block(&d, 0), |_| Err(io::Error::other("gone")));
        assert!(err.is_err());
        assert_eq!(h.verdict(&sha1(&d)), Verdict::NotStored);

        let mut h = PieceHasher::new(d.len() as u32, budget);
        for b in 0..2 {
            h.mark_seen(b);
            h.add(b, Bytes::from(vec![0u8; BLOCK_LEN as usize]), none)
                .unwrap();
        }
        assert_eq!(h.verdict(&sha1(&d)), Verdict::HashMismatch);
    }

    #[test]
    fn dropping_returns_held_bytes() {
        let budget = HeldBudget::new(1 << 20);
        let mut h = PieceHasher::new(2 * BLOCK_LEN, budget.clone());
        h.mark_seen(1);
        h.add(1, data(BLOCK_LEN as usize), none).unwrap();
        assert_eq!(budget.used(), BLOCK_LEN as usize);
        drop(h);
        assert_eq!(budget.used(), 0);
    }
}
