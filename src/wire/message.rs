//! The messages of the peer wire protocol after the handshake: BEP 3, the
//! fast extension (BEP 6) and the extended message of BEP 10, with their
//! byte layout in both directions.
//!
//! Every message is `<u32 length><u8 id><payload>`, big-endian; a length of
//! zero is a keep-alive. This file knows the layouts; the limits a peer must
//! respect (lengths, indices, bitfield size) are checked by
//! [`super::codec::PeerCodec`] before a body is parsed here.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::WireError;
use crate::types::{BlockRef, PieceIndex};

/// Message ids on the wire.
pub(crate) mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST_PIECE: u8 = 0x0D;
    pub const HAVE_ALL: u8 = 0x0E;
    pub const HAVE_NONE: u8 = 0x0F;
    pub const REJECT_REQUEST: u8 = 0x10;
    pub const ALLOWED_FAST: u8 = 0x11;
    pub const EXTENDED: u8 = 20;
}

/// Length of a `Piece` message's header: length prefix, id, index, offset.
pub const PIECE_HEADER_LEN: usize = 4 + 1 + 4 + 4;

/// One message of the peer wire protocol.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    /// Length zero: keeps an idle connection open (sent every ~2 minutes).
    KeepAlive,
    /// The sender will not serve our requests.
    Choke,
    /// The sender will serve our requests.
    Unchoke,
    /// The sender wants something we have.
    Interested,
    /// The sender wants nothing we have.
    NotInterested,
    /// The sender now has this piece.
    Have(PieceIndex),
    /// The pieces the sender has, most significant bit first; only as the
    /// first message after the handshake.
    Bitfield(Bytes),
    /// Asks for one block.
    Request(BlockRef),
    /// One block of data. `data` shares the receive buffer: no copy.
    Piece {
        /// The piece the block belongs to.
        piece: PieceIndex,
        /// Byte offset of the block in the piece.
        offset: u32,
        /// The block's bytes.
        data: Bytes,
    },
    /// Withdraws a request.
    Cancel(BlockRef),
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// BEP 6: a piece the sender would like us to download.
    SuggestPiece(PieceIndex),
    /// BEP 6: the sender has every piece (instead of a bitfield).
    HaveAll,
    /// BEP 6: the sender has no piece (instead of a bitfield).
    HaveNone,
    /// BEP 6: the sender will not serve this request.
    RejectRequest(BlockRef),
    /// BEP 6: we may request this piece even while choked.
    AllowedFast(PieceIndex),
    /// BEP 10: an extension message; `id` 0 is the extension handshake,
    /// other ids are the ones the receiver assigned in its handshake.
    Extended {
        /// Extension message id.
        id: u8,
        /// The extension's payload, decoded by [`super::extension`].
        payload: Bytes,
    },
}

impl Message {
    /// The message's id byte, `None` for a keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have(_) => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece { .. } => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::SuggestPiece(_) => id::SUGGEST_PIECE,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::RejectRequest(_) => id::REJECT_REQUEST,
            Message::AllowedFast(_) => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
        })
    }

    /// Whether this is one of the fast extension's messages, which a peer
    /// may only send when both handshakes set the fast bit (BEP 6).
    pub fn is_fast(&self) -> bool {
        matches!(
            self,
            Message::SuggestPiece(_)
                | Message::HaveAll
                | Message::HaveNone
                | Message::RejectRequest(_)
                | Message::AllowedFast(_)
        )
    }

    /// Bytes after the length prefix: the id and the payload.
    pub fn body_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have(_) | Message::SuggestPiece(_) | Message::AllowedFast(_) => 5,
            Message::Port(_) => 3,
            Message::Request(_) | Message::Cancel(_) | Message::RejectRequest(_) => 13,
            Message::Bitfield(bits) => 1 + bits.len(),
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
        }
    }

    /// Bytes on the wire, length prefix included.
    pub fn encoded_len(&self) -> usize {
        4 + self.body_len()
    }

    /// Appends the message, length prefix included, to `dst`.
    ///
    /// A `Piece` costs one copy of its data into `dst`; to send a block
    /// without that copy, write [`piece_header`] and the `Bytes` with a
    /// vectored write instead.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), WireError> {
        let body_len = self.body_len();
        let len =
            u32::try_from(body_len).map_err(|_| WireError::EncodeTooLong { len: body_len })?;
        dst.reserve(4 + body_len);
        dst.put_u32(len);
        let Some(id) = self.id() else {
            return Ok(());
        };
        dst.put_u8(id);
        match self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have(p) | Message::SuggestPiece(p) | Message::AllowedFast(p) => {
                dst.put_u32(p.0)
            }
            Message::Bitfield(bits) => dst.extend_from_slice(bits),
            Message::Request(b) | Message::Cancel(b) | Message::RejectRequest(b) => {
                dst.put_u32(b.piece.0);
                dst.put_u32(b.offset);
                dst.put_u32(b.len);
            }
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                dst.put_u32(piece.0);
                dst.put_u32(*offset);
                dst.extend_from_slice(data);
            }
            Message::Port(port) => dst.put_u16(*port),
            Message::Extended { id, payload } => {
                dst.put_u8(*id);
                dst.extend_from_slice(payload);
            }
        }
        Ok(())
    }

    /// Parses the payload of a message with id `msg_id` whose length the codec
    /// has already checked (see [`fixed_len`]). Returns `None`
    /// for an id this layer does not know.
    pub(crate) fn parse(msg_id: u8, mut payload: BytesMut) -> Option<Message> {
        // Fixed-size payloads have been length-checked by the codec, so the
        // `get_*` calls below cannot run past the end.
        let block = |p: &mut BytesMut| BlockRef {
            piece: PieceIndex(p.get_u32()),
            offset: p.get_u32(),
            len: p.get_u32(),
        };
        Some(match msg_id {
            id::CHOKE => Message::Choke,
            id::UNCHOKE => Message::Unchoke,
            id::INTERESTED => Message::Interested,
            id::NOT_INTERESTED => Message::NotInterested,
            id::HAVE => Message::Have(PieceIndex(payload.get_u32())),
            id::BITFIELD => Message::Bitfield(payload.freeze()),
            id::REQUEST => Message::Request(block(&mut payload)),
            id::PIECE => {
                let piece = PieceIndex(payload.get_u32());
                let offset = payload.get_u32();
                Message::Piece {
                    piece,
                    offset,
                    data: payload.freeze(),
                }
            }
            id::CANCEL => Message::Cancel(block(&mut payload)),
            id::PORT => Message::Port(payload.get_u16()),
            id::SUGGEST_PIECE => Message::SuggestPiece(PieceIndex(payload.get_u32())),
            id::HAVE_ALL => Message::HaveAll,
            id::HAVE_NONE => Message::HaveNone,
            id::REJECT_REQUEST => Message::RejectRequest(block(&mut payload)),
            id::ALLOWED_FAST => Message::AllowedFast(PieceIndex(payload.get_u32())),
            id::EXTENDED => {
                let ext = payload.get_u8();
                Message::Extended {
                    id: ext,
                    payload: payload.freeze(),
                }
            }
            _ => return None,
        })
    }
}

/// The body length (id byte included) of a fixed-size message; `None` for
/// the variable-size ones (bitfield, piece, extended) and unknown ids, whose
/// bounds the codec knows.
pub(crate) fn fixed_len(id: u8) -> Option<u32> {
    match id {
        id::CHOKE
        | id::UNCHOKE
        | id::INTERESTED
        | id::NOT_INTERESTED
        | id::HAVE_ALL
        | id::HAVE_NONE => Some(1),
        id::HAVE | id::SUGGEST_PIECE | id::ALLOWED_FAST => Some(5),
        id::PORT => Some(3),
        id::REQUEST | id::CANCEL | id::REJECT_REQUEST => Some(13),
        _ => None,
    }
}

/// The 13 bytes that precede a block's data in a `Piece` message: length
/// prefix, id, piece index, offset. Sending these and then `data` (with a
/// vectored write) puts a block on the wire without copying it.
pub fn piece_header(piece: PieceIndex, offset: u32, data_len: u32) -> [u8; PIECE_HEADER_LEN] {
    let mut out = [0u8; PIECE_HEADER_LEN];
    // A block is at most 16 KiB; saturating keeps a nonsense length from
    // overflowing.
    out[..4].copy_from_slice(&data_len.saturating_add(9).to_be_bytes());
    out[4] = id::PIECE;
    out[5..9].copy_from_slice(&piece.0.to_be_bytes());
    out[9..13].copy_from_slice(&offset.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(piece: u32, offset: u32, len: u32) -> BlockRef {
        BlockRef {
            piece: PieceIndex(piece),
            offset,
            len,
        }
    }

    #[test]
    fn piece_header_matches_the_encoder() {
        let msg = Message::Piece {
            piece: PieceIndex(7),
            offset: 0x4000,
            data: Bytes::from_static(b"abc"),
        };
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).unwrap();
        assert_eq!(&buf[..13], &piece_header(PieceIndex(7), 0x4000, 3));
        assert_eq!(
            &buf[..],
            b"\x00\x00\x00\x0c\x07\x00\x00\x00\x07\x00\x00\x40\x00abc"
        );
        assert_eq!(buf.len(), msg.encoded_len());
    }

    #[test]
    fn ids_and_fast_flag() {
        assert_eq!(Message::KeepAlive.id(), None);
        assert_eq!(Message::HaveAll.id(), Some(0x0E));
        assert!(Message::RejectRequest(block(0, 0, 1)).is_fast());
        assert!(Message::AllowedFast(PieceIndex(1)).is_fast());
        assert!(!Message::Request(block(0, 0, 1)).is_fast());
        assert!(!Message::Port(1).is_fast());
    }
}
