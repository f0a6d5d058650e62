//! `Order`: the pieces not yet started, kept sorted by a small integer key
//! (priority class, then availability) in one array of buckets, so the picker
//! finds the rarest piece a peer has by scanning from the front, and a change
//! of availability by one moves a piece in O(1).
//!
//! Within a bucket, pieces are in random order: a piece that enters a bucket
//! is swapped with a random member, which gives the random tie-break of
//! rarest-first without sorting.

/// Marks "not in the order" in `pos`.
pub(super) const NONE: u32 = u32::MAX;

/// Availability levels that keep their own bucket; higher counts share the
/// last one (a piece 127 peers have is as common as one 500 have).
pub(super) const STRIDE: u32 = 128;
/// Priority classes: 0 is High, 1 is Normal, 2 is Low.
pub(super) const CLASSES: u32 = 3;
/// Number of buckets.
const NUM_KEYS: u32 = STRIDE * CLASSES;

/// The sort key of a piece of priority `class` that `avail` peers have.
pub(super) fn key(class: u32, avail: u32) -> u32 {
    class * STRIDE + avail.min(STRIDE - 1)
}

/// A bucketed array of pieces (see the module docs).
pub(super) struct Order {
    /// Pieces sorted by key; random order within a key.
    order: Vec<u32>,
    /// For each piece, its position in `order`, or `NONE`.
    pos: Vec<u32>,
    /// `start[k]..start[k + 1]` is the bucket of key `k`; the last entry is
    /// `order.len()`.
    start: Vec<u32>,
}

impl Order {
    /// An empty order over `num_pieces` pieces.
    pub(super) fn new(num_pieces: u32) -> Self {
        Order {
            order: Vec::new(),
            pos: vec![NONE; num_pieces as usize],
            start: vec![0; NUM_KEYS as usize + 1],
        }
    }

    /// Number of pieces in the order.
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether `piece` is in the order.
    #[inline]
    pub(super) fn contains(&self, piece: u32) -> bool {
        self.pos[piece as usize] != NONE
    }

    /// Position of `piece` (`NONE` if absent): a smaller position is picked
    /// first.
    #[inline]
    pub(super) fn position(&self, piece: u32) -> u32 {
        self.pos[piece as usize]
    }

    /// The pieces of buckets `keys`, in pick order.
    pub(super) fn bucket_range(&self, keys: std::ops::Range<u32>) -> &[u32] {
        let lo = self.start[keys.start as usize] as usize;
        let hi = self.start[keys.end as usize] as usize;
        &self.order[lo..hi]
    }

    /// Replaces the contents with `pieces` and their keys, shuffling each
    /// bucket. O(n).
    pub(super) fn rebuild(&mut self, pieces: &[(u32, u32)], rng: &mut Rng) {
        for p in &self.order {
            self.pos[*p as usize] = NONE;
        }
        let mut count = vec![0u32; NUM_KEYS as usize + 1];
        for &(_, k) in pieces {
            count[k as usize + 1] += 1;
        }
        for k in 0..NUM_KEYS as usize {
            count[k + 1] += count[k];
        }
        self.start.copy_from_slice(&count);
        self.order.clear();
        self.order.resize(pieces.len(), 0);
        let mut fill = count;
        for &(p, k) in pieces {
            let i = fill[k as usize];
            fill[k as usize] += 1;
            self.order[i as usize] = p;
        }
        for k in 0..NUM_KEYS as usize {
            let (lo, hi) = (self.start[k] as usize, self.start[k + 1] as usize);
            for i in (lo + 1..hi).rev() {
                let j = lo + rng.below((i - lo + 1) as u32) as usize;
                self.order.swap(i, j);
            }
        }
        for (i, &p) in self.order.iter().enumerate() {
            self.pos[p as usize] = i as u32;
        }
    }

    /// Adds `piece` with key `k` at a random place in its bucket.
    pub(super) fn insert(&mut self, piece: u32, k: u32, rng: &mut Rng) {
        debug_assert!(!self.contains(piece));
        self.order.push(piece);
        self.pos[piece as usize] = self.order.len() as u32 - 1;
        self.start[NUM_KEYS as usize] += 1;
        for j in (k + 1..NUM_KEYS).rev() {
            self.down(piece, j);
        }
        self.shuffle_in(piece, k, rng);
    }

    /// Removes `piece`, whose key is `k`. O(number of keys).
    pub(super) fn remove(&mut self, piece: u32, k: u32) {
        debug_assert!(self.contains(piece));
        for j in k..NUM_KEYS {
            self.up(piece, j);
        }
        self.order.pop();
        self.pos[piece as usize] = NONE;
    }

    /// Moves `piece` from key `from` to key `to`, a neighbour or the same.
    pub(super) fn rekey(&mut self, piece: u32, from: u32, to: u32, rng: &mut Rng) {
        if from == to || !self.contains(piece) {
            return;
        }
        if to == from + 1 {
            self.up(piece, from);
        } else if to + 1 == from {
            self.down(piece, from);
        } else {
            self.remove(piece, from);
            self.insert(piece, to, rng);
            return;
        }
        self.shuffle_in(piece, to, rng);
    }

    /// Moves `piece` from the last place of bucket `k` to the first of `k + 1`.
    fn up(&mut self, piece: u32, k: u32) {
        let last = self.start[k as usize + 1] - 1;
        self.swap(self.pos[piece as usize], last);
        self.start[k as usize + 1] -= 1;
    }

    /// Moves `piece` from the first place of bucket `k` to the last of `k - 1`.
    fn down(&mut self, piece: u32, k: u32) {
        let first = self.start[k as usize];
        self.swap(self.pos[piece as usize], first);
        self.start[k as usize] += 1;
    }

    /// Swaps `piece` with a random member of its bucket `k`.
    fn shuffle_in(&mut self, piece: u32, k: u32, rng: &mut Rng) {
        let lo = self.start[k as usize];
        let hi = self.start[k as usize + 1];
        if hi - lo > 1 {
            let j = lo + rng.below(hi - lo);
            self.swap(self.pos[piece as usize], j);
        }
    }

    fn swap(&mut self, i: u32, j: u32) {
        if i == j {
            return;
        }
        self.order.swap(i as usize, j as usize);
        self.pos[self.order[i as usize] as usize] = i;
        self.pos[self.order[j as usize] as usize] = j;
    }

    /// Checks the internal invariants (tests only).
    #[cfg(test)]
    pub(super) fn check(&self, key_of: impl Fn(u32) -> u32) {
        assert_eq!(self.start[NUM_KEYS as usize] as usize, self.order.len());
        for k in 0..NUM_KEYS as usize {
            assert!(self.start[k] <= self.start[k + 1]);
            for i in self.start[k]..self.start[k + 1] {
                let p = self.order[i as usize];
                assert_eq!(self.pos[p as usize], i);
                assert_eq!(key_of(p), k as u32, "piece {p} in the wrong bucket");
            }
        }
        let placed = self.pos.iter().filter(|&&p| p != NONE).count();
        assert_eq!(placed, self.order.len());
    }
}

/// A small, fast random generator (xorshift64*) for tie-breaks; not for
/// anything that needs unpredictability.
pub(super) struct Rng(u64);

impl Rng {
    /// A generator seeded from the thread's random source.
    pub(super) fn new() -> Self {
        Rng(rand::random::<u64>() | 1)
    }

    /// A number in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (((r >> 32) * n as u64) >> 32) as u32
    }
}
