//! `Bitfield`: a fixed-length set of piece indices in wire order (BEP 3: the
//! high bit of byte 0 is piece 0). Owns the rule that spare bits past the last
//! piece are always zero, so the bytes can go on the wire as they are.
//!
//! Whole-set operations (counting, iterating, intersecting) work a 64-bit word
//! at a time; the number of set bits is kept as a running count.

use crate::types::PieceIndex;

/// Why received bytes are not a valid bitfield for a torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitfieldError {
    /// The byte length does not match the number of pieces.
    #[error("a bitfield for {pieces} pieces is {expected} bytes long, got {got}")]
    WrongLength {
        /// Number of pieces of the torrent.
        pieces: u32,
        /// Bytes needed for that many pieces.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// One of the bits past the last piece is set.
    #[error("a bitfield has spare bits set past piece {0}")]
    SpareBitsSet(u32),
}

/// A set of pieces, stored as the bytes of a BEP 3 `bitfield` message.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitfield {
    /// The wire bytes; bits past `len` are always zero.
    bytes: Box<[u8]>,
    /// Number of pieces the set ranges over.
    len: u32,
    /// Number of set bits, kept current by `set` so `count_ones` is O(1).
    ones: u32,
}

impl Bitfield {
    /// An empty set over `len` pieces.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0u8; byte_len(len)].into_boxed_slice(),
            len,
            ones: 0,
        }
    }

    /// The set of all `len` pieces.
    pub fn full(len: u32) -> Self {
        let mut bytes = vec![0xffu8; byte_len(len)].into_boxed_slice();
        if let Some(last) = bytes.last_mut() {
            *last &= last_byte_mask(len);
        }
        Bitfield {
            bytes,
            len,
            ones: len,
        }
    }

    /// Reads a bitfield received for a torrent of `len` pieces: the byte
    /// length must be exact and the spare bits zero.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = byte_len(len);
        if bytes.len() != expected {
            return Err(BitfieldError::WrongLength {
                pieces: len,
                expected,
                got: bytes.len(),
            });
        }
        if let Some(&last) = bytes.last() {
            if last & !last_byte_mask(len) != 0 {
                return Err(BitfieldError::SpareBitsSet(len));
            }
        }
        let mut bf = Bitfield {
            bytes: bytes.into(),
            len,
            ones: 0,
        };
        bf.ones = count_ones_bytes(&bf.bytes);
        Ok(bf)
    }

    /// The wire bytes (spare bits zero).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of pieces the set ranges over.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the set ranges over no pieces at all (a zero-piece torrent).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `piece` is in the set; `false` for an index out of range.
    #[inline]
    pub fn get(&self, piece: PieceIndex) -> bool {
        let i = piece.0;
        i < self.len && self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Adds or removes `piece`; returns whether the set changed. An index out
    /// of range changes nothing (callers validate indices from the wire).
    #[inline]
    pub fn set(&mut self, piece: PieceIndex, value: bool) -> bool {
        let i = piece.0;
        if i >= self.len {
            return false;
        }
        let byte = &mut self.bytes[(i / 8) as usize];
        let mask = 0x80u8 >> (i % 8);
        let was = *byte & mask != 0;
        if was == value {
            return false;
        }
        if value {
            *byte |= mask;
            self.ones += 1;
        } else {
            *byte &= !mask;
            self.ones -= 1;
        }
        true
    }

    /// Number of pieces in the set, O(1).
    pub fn count_ones(&self) -> u32 {
        self.ones
    }

    /// Number of pieces not in the set, O(1).
    pub fn count_zeros(&self) -> u32 {
        self.len - self.ones
    }

    /// Whether every piece is in the set.
    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    /// Whether no piece is in the set.
    pub fn none(&self) -> bool {
        self.ones == 0
    }

    /// The pieces in the set, in increasing order.
    pub fn iter_ones(&self) -> Ones<'_> {
        Ones::new(self, false)
    }

    /// The pieces not in the set, in increasing order.
    pub fn iter_zeros(&self) -> Ones<'_> {
        Ones::new(self, true)
    }

    /// The first piece at or after `from` that is in the set.
    pub fn next_one(&self, from: PieceIndex) -> Option<PieceIndex> {
        if from.0 >= self.len {
            return None;
        }
        let mut it = Ones::new(self, false);
        it.seek(from.0);
        it.next()
    }

    /// Whether some piece is in both sets. Sets of different lengths are
    /// compared over the shorter one.
    pub fn intersects(&self, other: &Bitfield) -> bool {
        let a = &self.bytes;
        let b = &other.bytes;
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut ca = a.chunks_exact(8);
        let mut cb = b.chunks_exact(8);
        for (x, y) in (&mut ca).zip(&mut cb) {
            if word(x) & word(y) != 0 {
                return true;
            }
        }
        ca.remainder()
            .iter()
            .zip(cb.remainder())
            .any(|(x, y)| x & y != 0)
    }

    /// Whether `self` has a piece that `other` lacks (`self & !other` is not
    /// empty): "does this peer have anything we miss".
    pub fn has_any_not_in(&self, other: &Bitfield) -> bool {
        if other.len < self.len {
            return self.iter_ones().any(|p| !other.get(p));
        }
        let n = self.bytes.len();
        let (a, b) = (&self.bytes[..], &other.bytes[..n]);
        let mut ca = a.chunks_exact(8);
        let mut cb = b.chunks_exact(8);
        for (x, y) in (&mut ca).zip(&mut cb) {
            if word(x) & !word(y) != 0 {
                return true;
            }
        }
        ca.remainder()
            .iter()
            .zip(cb.remainder())
            .any(|(x, y)| x & !y != 0)
    }
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{})", self.ones, self.len)
    }
}

/// Iterator over the set (or unset) bits of a [`Bitfield`], a word at a time.
pub struct Ones<'a> {
    /// The set being walked.
    bf: &'a Bitfield,
    /// Walk the zeros instead of the ones.
    invert: bool,
    /// Index of the first bit of `current` (a multiple of 64).
    base: u32,
    /// Bits of the current word not yet returned, bit 63 first.
    current: u64,
}

impl<'a> Ones<'a> {
    fn new(bf: &'a Bitfield, invert: bool) -> Self {
        let mut it = Ones {
            bf,
            invert,
            base: 0,
            current: 0,
        };
        it.current = it.load(0);
        it
    }

    /// The 64 bits starting at bit `base`, inverted if walking zeros, with
    /// bits past the end cleared.
    fn load(&self, base: u32) -> u64 {
        let start = (base / 8) as usize;
        let bytes = &self.bf.bytes;
        if start >= bytes.len() {
            return 0;
        }
        let end = (start + 8).min(bytes.len());
        let mut buf = [0u8; 8];
        buf[..end - start].copy_from_slice(&bytes[start..end]);
        let mut w = u64::from_be_bytes(buf);
        if self.invert {
            w = !w;
        }
        let valid = self.bf.len - base;
        if valid < 64 {
            w &= !(u64::MAX >> valid);
        }
        w
    }

    /// Positions the iterator so that the next item is the first at or
    /// after `from`.
    fn seek(&mut self, from: u32) {
        self.base = from & !63;
        self.current = self.load(self.base);
        let skip = from - self.base;
        if skip > 0 {
            self.current &= u64::MAX >> skip;
        }
    }
}

impl Iterator for Ones<'_> {
    type Item = PieceIndex;

    fn next(&mut self) -> Option<PieceIndex> {
        loop {
            if self.current != 0 {
                let lz = self.current.leading_zeros();
                self.current &= !(1u64 << (63 - lz));
                return Some(PieceIndex(self.base + lz));
            }
            let next = self.base.checked_add(64)?;
            if next >= self.bf.len {
                return None;
            }
            self.base = next;
            self.current = self.load(next);
        }
    }
}

/// Bytes needed for `len` bits.
fn byte_len(len: u32) -> usize {
    len.div_ceil(8) as usize
}

/// The bits of the last byte that belong to pieces.
fn last_byte_mask(len: u32) -> u8 {
    match len % 8 {
        0 => 0xff,
        r => 0xffu8 << (8 - r),
    }
}

/// Eight bytes as one big-endian word (`chunk` is exactly 8 bytes long).
#[inline]
fn word(chunk: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(chunk);
    u64::from_be_bytes(buf)
}

fn count_ones_bytes(bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(8);
    let mut n: u32 = (&mut chunks).map(|c| word(c).count_ones()).sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones())
        .sum::<u32>();
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: u32) -> PieceIndex {
        PieceIndex(i)
    }

    #[test]
    fn wire_order_is_msb_first() {
        let mut bf = Bitfield::new(10);
        bf.set(p(0), true);
        bf.set(p(9), true);
        assert_eq!(bf.as_bytes(), &[0b1000_0000, 0b0100_0000]);
        assert!(bf.get(p(0)) && bf.get(p(9)) && !bf.get(p(1)));
        assert!(!bf.get(p(10)), "out of range reads as absent");
        assert_eq!(bf.count_ones(), 2);
    }

    #[test]
    fn from_bytes_checks_length_and_spare_bits() {
        assert_eq!(
            Bitfield::from_bytes(&[0xff], 10),
            Err(BitfieldError::WrongLength {
                pieces: 10,
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            Bitfield::from_bytes(&[0xff, 0xe0], 10),
            Err(BitfieldError::SpareBitsSet(10))
        );
        let bf = Bitfield::from_bytes(&[0xff, 0xc0], 10).unwrap();
        assert!(bf.is_full());
        assert_eq!(bf, Bitfield::full(10));
        assert_eq!(Bitfield::from_bytes(&[], 0).unwrap().len(), 0);
        assert!(Bitfield::from_bytes(&[0], 0).is_err());
    }

    #[test]
    fn full_has_zero_spare_bits() {
        assert_eq!(Bitfield::full(10).as_bytes(), &[0xff, 0xc0]);
        assert_eq!(Bitfield::full(16).as_bytes(), &[0xff, 0xff]);
        assert_eq!(Bitfield::full(0).as_bytes(), &[] as &[u8]);
        assert!(Bitfield::full(0).is_full());
    }

    #[test]
    fn set_keeps_the_count() {
        let mut bf = Bitfield::new(100);
        assert!(bf.set(p(5), true));
        assert!(!bf.set(p(5), true), "no change");
        assert!(bf.set(p(99), true));
        assert_eq!(bf.count_ones(), 2);
        assert!(bf.set(p(5), false));
        assert_eq!(bf.count_ones(), 1);
        assert_eq!(bf.count_zeros(), 99);
        assert!(!bf.is_full());
    }

    #[test]
    fn iterators_cross_word_boundaries() {
        for len in [1u32, 7, 8, 63, 64, 65, 130, 1000] {
            let mut bf = Bitfield::new(len);
            let want: Vec<u32> = (0..len).filter(|i| i % 3 == 0 || i % 64 == 63).collect();
            for &i in &want {
                bf.set(p(i), true);
            }
            let ones: Vec<u32> = bf.iter_ones().map(|x| x.0).collect();
            assert_eq!(ones, want, "len {len}");
            let zeros: Vec<u32> = bf.iter_zeros().map(|x| x.0).collect();
            let want_zeros: Vec<u32> = (0..len).filter(|i| !want.contains(i)).collect();
            assert_eq!(zeros, want_zeros, "len {len}");
            let reread = Bitfield::from_bytes(bf.as_bytes(), len).unwrap();
            assert_eq!(reread.count_ones(), want.len() as u32);
        }
    }

    #[test]
    fn next_one_seeks() {
        let mut bf = Bitfield::new(200);
        bf.set(p(3), true);
        bf.set(p(70), true);
        bf.set(p(199), true);
        assert_eq!(bf.next_one(p(0)), Some(p(3)));
        assert_eq!(bf.next_one(p(3)), Some(p(3)));
        assert_eq!(bf.next_one(p(4)), Some(p(70)));
        assert_eq!(bf.next_one(p(71)), Some(p(199)));
        assert_eq!(bf.next_one(p(200)), None);
    }

    #[test]
    fn intersections() {
        let mut a = Bitfield::new(130);
        let mut b = Bitfield::new(130);
        a.set(p(129), true);
        assert!(!a.intersects(&b));
        assert!(a.has_any_not_in(&b));
        b.set(p(129), true);
        assert!(a.intersects(&b));
        assert!(!a.has_any_not_in(&b));
        b.set(p(1), true);
        assert!(b.has_any_not_in(&a));
        assert!(!Bitfield::full(130).has_any_not_in(&Bitfield::full(130)));
    }
}
