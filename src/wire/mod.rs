//! The peer wire protocol as pure data: bytes in, messages out, and back.
//!
//! Owns the byte layout of everything two peers say to each other over TCP:
//! the handshake ([`handshake`]), the messages of BEP 3 and the fast extension
//! of BEP 6 ([`message`]), their framing with the limits of DESIGN.md
//! ("Limits against bad input") enforced before any buffering ([`codec`]), and
//! the payloads of the extension protocol of BEP 10 with ut_metadata (BEP 9)
//! and ut_pex (BEP 11) ([`extension`], [`metadata`], [`pex`]).
//!
//! Nothing here does I/O except [`handshake::read_handshake`] and
//! [`handshake::write_handshake`], which take any `AsyncRead`/`AsyncWrite`.
//! What a message *means* for a connection (was this block requested? is this
//! peer over its queue limit?) belongs to the peer task; this layer only
//! promises that every message it yields is well formed and, once the codec
//! knows the torrent's [`Geometry`], within the torrent's bounds.

pub mod codec;
pub mod extension;
pub mod handshake;
pub mod message;
pub mod metadata;
pub mod pex;
pub(crate) mod scan;

pub use codec::{Geometry, PeerCodec, MAX_BITFIELD_LEN, MAX_EXTENDED_LEN};
pub use extension::{
    ExtendedHandshake, LOCAL_UT_METADATA_ID, LOCAL_UT_PEX_ID, UT_METADATA, UT_PEX,
};
pub use handshake::{read_handshake, write_handshake, Handshake};
pub use message::{piece_header, Message};
pub use metadata::{MetadataMessage, METADATA_PIECE_LEN};
pub use pex::PexMessage;

/// A violation of the wire protocol by the remote peer (or an I/O failure
/// while reading it). Every variant ends the connection: none of them can
/// happen with a well-behaved peer.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The socket failed or closed while a frame or handshake was expected.
    #[error("i/o error on the peer connection: {0}")]
    Io(#[from] std::io::Error),
    /// The handshake does not start with `\x13BitTorrent protocol`.
    #[error("handshake does not start with the BitTorrent protocol string")]
    BadProtocol,
    /// Fewer bytes than a complete handshake.
    #[error("handshake truncated: {got} of 68 bytes")]
    HandshakeTruncated {
        /// How many bytes were there.
        got: usize,
    },
    /// A length prefix larger than any legal message, refused before
    /// buffering any of it.
    #[error("message length {len} exceeds the largest legal message ({max} bytes)")]
    MessageTooLong {
        /// The announced length.
        len: u32,
        /// The largest length the codec accepts right now.
        max: u32,
    },
    /// A known message id with a length its layout does not allow (a `Have`
    /// that is not 5 bytes, a `Piece` with no data or over 16 KiB, ...).
    #[error("message id {id} cannot be {len} bytes long")]
    BadMessageLength {
        /// The message id.
        id: u8,
        /// The announced length, id byte included.
        len: u32,
    },
    /// A bitfield whose length does not match the torrent's piece count.
    #[error("bitfield of {got} bytes, the torrent needs {expected}")]
    BitfieldSize {
        /// Length received.
        got: usize,
        /// `ceil(num_pieces / 8)`.
        expected: usize,
    },
    /// A bitfield with bits set past the last piece.
    #[error("bitfield has spare bits set past the last piece")]
    BitfieldSpareBits,
    /// A piece index not below the torrent's piece count.
    #[error("piece index {index} out of range (torrent has {num_pieces} pieces)")]
    PieceOutOfRange {
        /// The index received.
        index: u32,
        /// The torrent's piece count.
        num_pieces: u32,
    },
    /// A block of zero bytes or more than 16 KiB.
    #[error("block length {len} is not in 1..=16384")]
    BadBlockLength {
        /// The length received.
        len: u32,
    },
    /// A block that runs past the end of its piece.
    #[error("block at offset {offset} of {len} bytes runs past the end of piece {piece} ({piece_len} bytes)")]
    BlockBeyondPiece {
        /// The piece.
        piece: u32,
        /// Offset of the block in the piece.
        offset: u32,
        /// Length of the block.
        len: u32,
        /// Length of that piece.
        piece_len: u32,
    },
    /// Piece length or total length that no torrent can have.
    #[error("invalid torrent geometry: piece length {piece_len}, total length {total_len}")]
    BadGeometry {
        /// Bytes per piece.
        piece_len: u64,
        /// Bytes in the torrent.
        total_len: u64,
    },
    /// An outgoing message too large to frame (more than 4 GiB).
    #[error("cannot encode a message of {len} bytes")]
    EncodeTooLong {
        /// Length of the message body.
        len: usize,
    },
    /// A bencoded extension payload that is not valid bencode, nests too
    /// deeply, or is not the dictionary expected.
    #[error("bad bencode in {what}: {reason}")]
    Bencode {
        /// Which payload: "extension handshake", "ut_metadata", "ut_pex".
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A ut_metadata message without a key it needs, or with a value of the
    /// wrong type.
    #[error("ut_metadata message has no valid {0:?} key")]
    MetadataMissingKey(&'static str),
    /// A ut_metadata `msg_type` other than 0 (request), 1 (data), 2 (reject).
    #[error("unknown ut_metadata msg_type {0}")]
    MetadataUnknownType(i64),
    /// A ut_metadata `total_size` of zero or above the metadata limit.
    #[error("metadata size {size} is outside 1..={max}")]
    MetadataSize {
        /// The size announced.
        size: i64,
        /// `crate::metainfo::MAX_METAINFO_LEN`.
        max: usize,
    },
    /// A ut_metadata piece index that is negative or past the metadata's end.
    #[error("ut_metadata piece {0} out of range")]
    MetadataPieceOutOfRange(i64),
    /// A ut_metadata data message whose data is not exactly the length of
    /// its piece.
    #[error("ut_metadata piece {piece} carries {got} bytes, expected {expected}")]
    MetadataPieceLength {
        /// The piece.
        piece: u32,
        /// Bytes received.
        got: usize,
        /// `min(16 KiB, total_size - piece * 16 KiB)`.
        expected: usize,
    },
    /// A compact peer list in PEX whose length is not a multiple of the
    /// entry size (6 bytes for IPv4, 18 for IPv6).
    #[error("ut_pex {key:?} is {len} bytes, not a multiple of {entry}")]
    CompactLength {
        /// The key: "added", "added6", "dropped", "dropped6".
        key: &'static str,
        /// Its length.
        len: usize,
        /// 6 or 18.
        entry: usize,
    },
}
