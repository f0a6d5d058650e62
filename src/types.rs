//! Small value types shared by every layer: info hashes, peer ids, piece
//! indices and block references. Each is a newtype so that a piece index can
//! never be passed where a byte offset is expected.

use std::fmt;
use std::str::FromStr;

/// Length of a block, the unit of transfer on the wire (16 KiB). Requests for
/// more than this are a protocol error (DESIGN.md, "Limits against bad input").
pub const BLOCK_LEN: u32 = 16 * 1024;

/// The SHA-1 of the bencoded `info` dictionary: the identity of a torrent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

/// The 20-byte id a peer gives in its handshake.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 20]);

/// The index of a piece within a torrent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct PieceIndex(pub u32);

/// One block of a piece: the unit of a `Request`, `Piece` or `Cancel` message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlockRef {
    /// Which piece the block belongs to.
    pub piece: PieceIndex,
    /// Byte offset of the block inside its piece.
    pub offset: u32,
    /// Length in bytes; `BLOCK_LEN` except for the last block of the last piece.
    pub len: u32,
}

/// Why a hex or base32 hash could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// Neither 40 hex digits nor 32 base32 characters.
    #[error("a hash is 40 hex digits or 32 base32 characters, got {0} characters")]
    BadLength(usize),
    /// A character outside the alphabet.
    #[error("invalid character {0:?} in hash")]
    BadChar(char),
}

impl InfoHash {
    /// The hash as 40 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// Parses 40 hex digits or 32 base32 characters (either case).
    pub fn from_str_any(s: &str) -> Result<Self, HashParseError> {
        match s.len() {
            40 => from_hex(s).map(InfoHash),
            32 => from_base32(s).map(InfoHash),
            n => Err(HashParseError::BadLength(n)),
        }
    }

    /// The hash as 32 uppercase base32 characters (RFC 4648, no padding).
    pub fn to_base32(&self) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::with_capacity(32);
        let mut buffer: u64 = 0;
        let mut bits = 0;
        for &b in &self.0 {
            buffer = (buffer << 8) | b as u64;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
            }
        }
        out
    }
}

impl FromStr for InfoHash {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_str_any(s)
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

impl PeerId {
    /// A fresh peer id in the Azureus style of BEP 20: `-SH0100-` followed by
    /// twelve random bytes.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(PEER_ID_PREFIX);
        rand::thread_rng().fill_bytes(&mut id[8..]);
        PeerId(id)
    }
}

/// The BEP 20 prefix of our peer ids: client code `SH`, version 0.1.0.0.
pub const PEER_ID_PREFIX: &[u8; 8] = b"-SH0100-";

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PeerId({})",
            String::from_utf8_lossy(&self.0).escape_debug()
        )
    }
}

impl fmt::Display for PieceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PieceIndex {
    /// The index as a `usize`, for indexing vectors.
    pub fn as_usize(self) -> usize {
        self.0 as usize
    }
}

/// Lowercase hex of any bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn from_hex(s: &str) -> Result<[u8; 20], HashParseError> {
    let mut out = [0u8; 20];
    let digit = |c: u8| -> Result<u8, HashParseError> {
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or(HashParseError::BadChar(c as char))
    };
    let bytes = s.as_bytes();
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(bytes[2 * i])? << 4 | digit(bytes[2 * i + 1])?;
    }
    Ok(out)
}

fn from_base32(s: &str) -> Result<[u8; 20], HashParseError> {
    let mut out = [0u8; 20];
    let mut buffer: u64 = 0;
    let mut bits = 0;
    let mut n = 0;
    for c in s.chars() {
        let v = match c {
            'A'..='Z' => c as u8 - b'A',
            'a'..='z' => c as u8 - b'a',
            '2'..='7' => c as u8 - b'2' + 26,
            _ => return Err(HashParseError::BadChar(c)),
        };
        buffer = (buffer << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[n] = (buffer >> bits) as u8;
            n += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base32_round_trip() {
        let hex = "c9e15763f722f23e98a29decdfae341b98d53056";
        let h: InfoHash = hex.parse().unwrap();
        assert_eq!(h.to_hex(), hex);
        let b32 = h.to_base32();
        assert_eq!(b32.len(), 32);
        assert_eq!(InfoHash::from_str_any(&b32).unwrap(), h);
        assert_eq!(InfoHash::from_str_any(&b32.to_lowercase()).unwrap(), h);
        assert_eq!(InfoHash::from_str_any(&hex.to_uppercase()).unwrap(), h);
    }

    #[test]
    fn bad_hashes_are_refused() {
        assert_eq!(
            InfoHash::from_str_any("abc"),
            Err(HashParseError::BadLength(3))
        );
        assert!(matches!(
            InfoHash::from_str_any(&"g".repeat(40)),
            Err(HashParseError::BadChar('g'))
        ));
        assert!(matches!(
            InfoHash::from_str_any(&"1".repeat(32)),
            Err(HashParseError::BadChar('1'))
        ));
    }

    #[test]
    fn peer_id_has_our_prefix() {
        let id = PeerId::generate();
        assert_eq!(&id.0[..8], PEER_ID_PREFIX);
        assert_ne!(PeerId::generate(), id);
    }
}
