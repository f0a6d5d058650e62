//! Framing of peer messages for `tokio_util::codec`, with the wire limits of
//! DESIGN.md enforced before anything is buffered.
//!
//! **Architecture Invariant:** the decoder never reserves buffer space for a
//! message it has not already judged legal. The length prefix is checked
//! against the largest legal message as soon as its 4 bytes are in; the id
//! and length together as soon as the 5th byte is in; only then is room made
//! for the whole frame. A hostile length prefix therefore costs nothing.
//!
//! Once the codec knows the torrent's [`Geometry`] (at once for a .torrent,
//! after the metadata exchange for a magnet) it also checks every piece index,
//! every block's bounds and the bitfield's size and spare bits, so the peer
//! task only sees messages that fit the torrent.
//!
//! Unknown message ids are skipped, not fatal: their length is still bounded
//! by the largest legal message, and skipping keeps us compatible with
//! extensions we do not speak (libtorrent disconnects instead; we prefer to
//! keep a peer that is otherwise useful). Fast-extension messages from a peer
//! that did not negotiate BEP 6 are decoded normally; refusing them is the
//! peer task's decision ([`Message::is_fast`]).

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::message::{fixed_len, id, Message};
use super::WireError;
use crate::metainfo::{Info, MAX_METAINFO_LEN, MAX_PIECE_LEN};
use crate::types::{BlockRef, PieceIndex, BLOCK_LEN};

/// Largest payload of an extended message after its extension id: a 16 KiB
/// ut_metadata piece with generous room for its dictionary, and far more
/// than any extension handshake or PEX message real clients send.
pub const MAX_EXTENDED_LEN: u32 = 64 * 1024;

/// Largest bitfield accepted before the piece count is known (a magnet
/// link): the bitfield of the largest torrent whose metadata we would
/// accept, 20 bytes of hash per piece in at most `MAX_METAINFO_LEN` bytes.
pub const MAX_BITFIELD_LEN: u32 = ((MAX_METAINFO_LEN / 20).div_ceil(8)) as u32;

/// Largest `Piece` body: id, index, offset and one block.
const MAX_PIECE_BODY: u32 = 9 + BLOCK_LEN;

/// Room made beyond the current frame when it is incomplete, so one read
/// can bring in the rest of this message and the next block as well.
pub const DEFAULT_READ_AHEAD: usize = 4 * (4 + MAX_PIECE_BODY as usize);

/// The shape of a torrent as far as the wire cares: how many pieces there
/// are and how long each is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    /// Number of pieces: bounds every piece index and sizes the bitfield.
    num_pieces: u32,
    /// Bytes per piece, except the last: bounds block offsets.
    piece_len: u32,
    /// Bytes in the torrent: gives the last piece's length.
    total_len: u64,
}

impl Geometry {
    /// The geometry of a torrent of `total_len` bytes cut into pieces of
    /// `piece_len` bytes. Refuses a zero or over-limit piece length, an empty
    /// torrent and more than `u32::MAX` pieces.
    pub fn new(piece_len: u64, total_len: u64) -> Result<Geometry, WireError> {
        let bad = WireError::BadGeometry {
            piece_len,
            total_len,
        };
        if piece_len == 0 || piece_len > MAX_PIECE_LEN || total_len == 0 {
            return Err(bad);
        }
        let num_pieces = u32::try_from(total_len.div_ceil(piece_len)).map_err(|_| bad)?;
        Ok(Geometry {
            num_pieces,
            // MAX_PIECE_LEN (64 MiB) fits a u32.
            piece_len: piece_len as u32,
            total_len,
        })
    }

    /// The geometry of a validated info dictionary.
    pub fn from_info(info: &Info) -> Result<Geometry, WireError> {
        let g = Geometry::new(info.piece_length, info.total_length())?;
        if g.num_pieces != info.num_pieces() {
            return Err(WireError::BadGeometry {
                piece_len: info.piece_length,
                total_len: info.total_length(),
            });
        }
        Ok(g)
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Bytes per piece (all but the last).
    pub fn piece_length(&self) -> u32 {
        self.piece_len
    }

    /// Bytes in the torrent.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// Length of piece `index`; 0 if it is out of range.
    pub fn piece_len(&self, index: PieceIndex) -> u32 {
        if index.0 >= self.num_pieces {
            return 0;
        }
        let start = u64::from(index.0) * u64::from(self.piece_len);
        // Below piece_len, so it fits a u32.
        (self.total_len - start).min(u64::from(self.piece_len)) as u32
    }

    /// Length of this torrent's bitfield: one bit per piece, rounded up.
    pub fn bitfield_len(&self) -> usize {
        self.num_pieces.div_ceil(8) as usize
    }

    /// Checks that `index` names a piece of this torrent.
    pub fn check_piece(&self, index: PieceIndex) -> Result<(), WireError> {
        if index.0 < self.num_pieces {
            Ok(())
        } else {
            Err(WireError::PieceOutOfRange {
                index: index.0,
                num_pieces: self.num_pieces,
            })
        }
    }

    /// Checks that `block` is 1..=16 KiB long and lies inside its piece.
    pub fn check_block(&self, block: BlockRef) -> Result<(), WireError> {
        check_block_len(block.len)?;
        self.check_piece(block.piece)?;
        let piece_len = self.piece_len(block.piece);
        if u64::from(block.offset) + u64::from(block.len) > u64::from(piece_len) {
            return Err(WireError::BlockBeyondPiece {
                piece: block.piece.0,
                offset: block.offset,
                len: block.len,
                piece_len,
            });
        }
        Ok(())
    }

    /// Checks a bitfield's size and that no bit past the last piece is set.
    /// Useful for a bitfield received before the geometry was known.
    pub fn check_bitfield(&self, bits: &[u8]) -> Result<(), WireError> {
        if bits.len() != self.bitfield_len() {
            return Err(WireError::BitfieldSize {
                got: bits.len(),
                expected: self.bitfield_len(),
            });
        }
        let used = self.num_pieces % 8;
        if used != 0 {
            // `bitfield_len() >= 1` whenever `used != 0`, so `last` exists.
            let spare = 0xFFu8 >> used;
            if bits.last().is_some_and(|&last| last & spare != 0) {
                return Err(WireError::BitfieldSpareBits);
            }
        }
        Ok(())
    }
}

/// A request, cancel or reject must name 1..=16 KiB.
fn check_block_len(len: u32) -> Result<(), WireError> {
    if len == 0 || len > BLOCK_LEN {
        Err(WireError::BadBlockLength { len })
    } else {
        Ok(())
    }
}

/// The codec of one peer connection: frames [`Message`]s both ways and
/// refuses whatever breaks the wire limits.
#[derive(Clone, Debug)]
pub struct PeerCodec {
    /// The torrent's shape, once known; `None` for a magnet link before its
    /// metadata arrives, when only the torrent-independent limits apply.
    geometry: Option<Geometry>,
    /// Extra room reserved past an incomplete frame, trading memory per
    /// connection for fewer, larger reads.
    read_ahead: usize,
}

impl PeerCodec {
    /// A codec for a torrent of known (`Some`) or not yet known geometry.
    pub fn new(geometry: Option<Geometry>) -> PeerCodec {
        PeerCodec {
            geometry,
            read_ahead: DEFAULT_READ_AHEAD,
        }
    }

    /// Supplies the geometry once a magnet link's metadata is verified.
    /// A bitfield received before this should be checked with
    /// [`Geometry::check_bitfield`].
    pub fn set_geometry(&mut self, geometry: Geometry) {
        self.geometry = Some(geometry);
    }

    /// The geometry the codec checks against, if known.
    pub fn geometry(&self) -> Option<&Geometry> {
        self.geometry.as_ref()
    }

    /// Sets the room reserved past an incomplete frame (default
    /// [`DEFAULT_READ_AHEAD`]); smaller saves memory on many slow peers.
    pub fn set_read_ahead(&mut self, bytes: usize) {
        self.read_ahead = bytes;
    }

    /// The largest length prefix accepted right now.
    pub fn max_message_len(&self) -> u32 {
        MAX_PIECE_BODY
            .max(2 + MAX_EXTENDED_LEN)
            .max(1 + self.max_bitfield_len())
    }

    fn max_bitfield_len(&self) -> u32 {
        match &self.geometry {
            // At most MAX_BITFIELD_LEN for any torrent we accept; saturate
            // for a hand-made geometry beyond that.
            Some(g) => u32::try_from(g.bitfield_len()).unwrap_or(u32::MAX - 1),
            None => MAX_BITFIELD_LEN,
        }
    }

    /// Checks a frame's id against its length, before the frame is buffered.
    fn check_len(&self, msg_id: u8, len: u32) -> Result<(), WireError> {
        let bad = WireError::BadMessageLength { id: msg_id, len };
        if let Some(fixed) = fixed_len(msg_id) {
            return if len == fixed { Ok(()) } else { Err(bad) };
        }
        match msg_id {
            id::BITFIELD => match &self.geometry {
                Some(g) if (len - 1) as usize != g.bitfield_len() => Err(WireError::BitfieldSize {
                    got: (len - 1) as usize,
                    expected: g.bitfield_len(),
                }),
                None if len - 1 > MAX_BITFIELD_LEN => Err(bad),
                _ => Ok(()),
            },
            id::PIECE if !(10..=MAX_PIECE_BODY).contains(&len) => Err(bad),
            id::EXTENDED if !(2..=2 + MAX_EXTENDED_LEN).contains(&len) => Err(bad),
            _ => Ok(()),
        }
    }

    /// Checks a parsed message against the torrent's bounds.
    fn check_message(&self, msg: &Message) -> Result<(), WireError> {
        // Block lengths are torrent-independent: checked even without a
        // geometry.
        match msg {
            Message::Request(b) | Message::Cancel(b) | Message::RejectRequest(b) => {
                check_block_len(b.len)?
            }
            _ => {}
        }
        let Some(g) = &self.geometry else {
            return Ok(());
        };
        match msg {
            Message::Have(p) | Message::SuggestPiece(p) | Message::AllowedFast(p) => {
                g.check_piece(*p)
            }
            Message::Request(b) | Message::Cancel(b) | Message::RejectRequest(b) => {
                g.check_block(*b)
            }
            Message::Piece {
                piece,
                offset,
                data,
            } => g.check_block(BlockRef {
                piece: *piece,
                offset: *offset,
                // check_len bounded the data to BLOCK_LEN.
                len: data.len() as u32,
            }),
            Message::Bitfield(bits) => g.check_bitfield(bits),
            _ => Ok(()),
        }
    }
}

impl Decoder for PeerCodec {
    type Item = Message;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, WireError> {
        loop {
            let Some(header) = src.get(..4) else {
                return Ok(None);
            };
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
            if len == 0 {
                src.advance(4);
                return Ok(Some(Message::KeepAlive));
            }
            let max = self.max_message_len();
            if len > max {
                return Err(WireError::MessageTooLong { len, max });
            }
            let Some(&msg_id) = src.get(4) else {
                return Ok(None);
            };
            self.check_len(msg_id, len)?;
            let frame_len = 4 + len as usize;
            if src.len() < frame_len {
                // Legal and incomplete: make room for all of it (and some
                // read-ahead) so the reader fills it in few reads.
                src.reserve(frame_len - src.len() + self.read_ahead);
                return Ok(None);
            }
            // Splitting shares the allocation: a Piece's data is not copied.
            let mut frame = src.split_to(frame_len);
            frame.advance(5);
            match Message::parse(msg_id, frame) {
                Some(msg) => {
                    self.check_message(&msg)?;
                    return Ok(Some(msg));
                }
                None => {
                    tracing::trace!(msg_id, len, "skipping unknown peer message");
                }
            }
        }
    }
}

/// Only owned messages are encoded: a second `Encoder<&Message>` impl would
/// make `SinkExt::flush` and `close` on a `Framed` ambiguous, and cloning a
/// `Message` costs at most a reference count (its payloads are `Bytes`).
impl Encoder<Message> for PeerCodec {
    type Error = WireError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), WireError> {
        msg.encode(dst)
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
