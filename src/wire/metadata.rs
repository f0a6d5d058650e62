//! ut_metadata messages (BEP 9): the info dictionary fetched and served in
//! 16 KiB pieces.
//!
//! A message is a bencoded dictionary (`msg_type`, `piece`, and for data
//! `total_size`), followed for data by the piece's raw bytes. Decoding
//! bounds everything a peer controls: the metadata size (at most
//! `MAX_METAINFO_LEN`), the piece index (inside that size) and the data's
//! length (exactly the piece's). Whether `total_size` matches the size the
//! peer advertised in its handshake, and whether the assembled metadata
//! hashes to the info hash, is the fetcher's business.

use bytes::{BufMut, Bytes, BytesMut};

use super::scan::{self, leading_dict};
use super::WireError;
use crate::metainfo::MAX_METAINFO_LEN;

/// Bytes per metadata piece (all but the last).
pub const METADATA_PIECE_LEN: usize = 16 * 1024;

/// Most metadata pieces any torrent we accept can have.
const MAX_METADATA_PIECES: i64 = MAX_METAINFO_LEN.div_ceil(METADATA_PIECE_LEN) as i64;

const MSG_REQUEST: i64 = 0;
const MSG_DATA: i64 = 1;
const MSG_REJECT: i64 = 2;

/// One ut_metadata message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataMessage {
    /// Asks for one piece of the metadata.
    Request {
        /// Metadata piece index.
        piece: u32,
    },
    /// One piece of the metadata.
    Data {
        /// Metadata piece index.
        piece: u32,
        /// Size of the whole info dictionary, so the receiver knows how many
        /// pieces there are.
        total_size: u64,
        /// The piece's bytes: 16 KiB, or the rest for the last piece. Shares
        /// the message's buffer.
        data: Bytes,
    },
    /// The sender will not serve this piece.
    Reject {
        /// Metadata piece index.
        piece: u32,
    },
}

/// Number of 16 KiB pieces in metadata of `total_size` bytes.
pub fn metadata_piece_count(total_size: u64) -> u32 {
    // At most MAX_METAINFO_LEN / 16 KiB for any size we accept; saturate
    // beyond that rather than overflow.
    u32::try_from(total_size.div_ceil(METADATA_PIECE_LEN as u64)).unwrap_or(u32::MAX)
}

/// Length of piece `piece` of metadata of `total_size` bytes (0 past the end).
pub fn metadata_piece_len(total_size: u64, piece: u32) -> usize {
    let start = u64::from(piece) * METADATA_PIECE_LEN as u64;
    // At most METADATA_PIECE_LEN, so the cast is lossless.
    total_size
        .saturating_sub(start)
        .min(METADATA_PIECE_LEN as u64) as usize
}

impl MetadataMessage {
    /// The metadata piece the message is about.
    pub fn piece(&self) -> u32 {
        match self {
            MetadataMessage::Request { piece }
            | MetadataMessage::Data { piece, .. }
            | MetadataMessage::Reject { piece } => *piece,
        }
    }

    /// The payload to send in an extended message (under the peer's
    /// ut_metadata id). A data message's bytes are copied once, behind the
    /// dictionary.
    pub fn encode(&self) -> Bytes {
        let (msg_type, piece, total_size, data) = match self {
            MetadataMessage::Request { piece } => (MSG_REQUEST, *piece, None, &[][..]),
            MetadataMessage::Data {
                piece,
                total_size,
                data,
            } => (MSG_DATA, *piece, Some(*total_size), &data[..]),
            MetadataMessage::Reject { piece } => (MSG_REJECT, *piece, None, &[][..]),
        };
        // Keys in bencode's sorted order: msg_type < piece < total_size.
        let mut head = format!("d8:msg_typei{msg_type}e5:piecei{piece}e");
        if let Some(total) = total_size {
            head.push_str(&format!("10:total_sizei{total}e"));
        }
        head.push('e');
        let mut out = BytesMut::with_capacity(head.len() + data.len());
        out.put_slice(head.as_bytes());
        out.put_slice(data);
        out.freeze()
    }

    /// Reads a ut_metadata payload. Extra keys are ignored, as are bytes
    /// after the dictionary of a request or reject.
    pub fn decode(payload: &Bytes) -> Result<MetadataMessage, WireError> {
        let (dict, dict_len) = leading_dict(payload, "ut_metadata")?;
        let msg_type =
            scan::int(&dict, "msg_type").ok_or(WireError::MetadataMissingKey("msg_type"))?;
        let piece = scan::int(&dict, "piece").ok_or(WireError::MetadataMissingKey("piece"))?;
        if !(0..MAX_METADATA_PIECES).contains(&piece) {
            return Err(WireError::MetadataPieceOutOfRange(piece));
        }
        // Below MAX_METADATA_PIECES (2048), so it fits a u32.
        let index = piece as u32;
        match msg_type {
            MSG_REQUEST => Ok(MetadataMessage::Request { piece: index }),
            MSG_REJECT => Ok(MetadataMessage::Reject { piece: index }),
            MSG_DATA => {
                let total = scan::int(&dict, "total_size")
                    .ok_or(WireError::MetadataMissingKey("total_size"))?;
                if total <= 0 || total > MAX_METAINFO_LEN as i64 {
                    return Err(WireError::MetadataSize {
                        size: total,
                        max: MAX_METAINFO_LEN,
                    });
                }
                let total_size = total as u64;
                if index >= metadata_piece_count(total_size) {
                    return Err(WireError::MetadataPieceOutOfRange(piece));
                }
                let data = payload.slice(dict_len..);
                let expected = metadata_piece_len(total_size, index);
                if data.len() != expected {
                    return Err(WireError::MetadataPieceLength {
                        piece: index,
                        got: data.len(),
                        expected,
                    });
                }
                Ok(MetadataMessage::Data {
                    piece: index,
                    total_size,
                    data,
                })
            }
            other => Err(WireError::MetadataUnknownType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<MetadataMessage, WireError> {
        MetadataMessage::decode(&Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn request_and_reject_both_ways() {
        let req = MetadataMessage::Request { piece: 3 };
        assert_eq!(&req.encode()[..], b"d8:msg_typei0e5:piecei3ee");
        assert_eq!(decode(b"d8:msg_typei0e5:piecei3ee").unwrap(), req);
        let rej = MetadataMessage::Reject { piece: 0 };
        assert_eq!(&rej.encode()[..], b"d8:msg_typei2e5:piecei0ee");
        assert_eq!(decode(b"d8:msg_typei2e5:piecei0ee").unwrap(), rej);
        // Unknown keys (libtorrent adds none, others might) are ignored.
        assert_eq!(decode(b"d1:xi9e8:msg_typei0e5:piecei3ee").unwrap(), req);
    }

    #[test]
    fn data_both_ways_without_copying_on_decode() {
        let msg = MetadataMessage::Data {
            piece: 1,
            total_size: 16384 + 5,
            data: Bytes::from_static(b"hello"),
        };
        let bytes = msg.encode();
        assert_eq!(
            &bytes[..],
            b"d8:msg_typei1e5:piecei1e10:total_sizei16389eehello"
        );
        assert_eq!(MetadataMessage::decode(&bytes).unwrap(), msg);
        let MetadataMessage::Data { data, .. } = MetadataMessage::decode(&bytes).unwrap() else {
            panic!("expected data");
        };
        assert_eq!(data.as_ptr(), bytes[bytes.len() - 5..].as_ptr());

        let full = MetadataMessage::Data {
            piece: 0,
            total_size: 16389,
            data: Bytes::from(vec![b'd'; METADATA_PIECE_LEN]),
        };
        assert_eq!(MetadataMessage::decode(&full.encode()).unwrap(), full);
        assert_eq!(full.piece(), 0);
    }

    #[test]
    fn bounds_are_enforced() {
        // Data of the wrong length for its piece.
        assert!(matches!(
            decode(b"d8:msg_typei1e5:piecei1e10:total_sizei16389eehell"),
            Err(WireError::MetadataPieceLength {
                piece: 1,
                got: 4,
                expected: 5
            })
        ));
        let long = [
            &b"d8:msg_typei1e5:piecei0e10:total_sizei40000ee"[..],
            &[0u8; METADATA_PIECE_LEN + 1],
        ]
        .concat();
        assert!(matches!(
            decode(&long),
            Err(WireError::MetadataPieceLength { .. })
        ));
        // A piece past the announced size.
        assert!(matches!(
            decode(b"d8:msg_typei1e5:piecei2e10:total_sizei16389eex"),
            Err(WireError::MetadataPieceOutOfRange(2))
        ));
        // Metadata larger than the limit, or empty.
        assert!(matches!(
            decode(b"d8:msg_typei1e5:piecei0e10:total_sizei33554433eex"),
            Err(WireError::MetadataSize { size: 33554433, .. })
        ));
        assert!(matches!(
            decode(b"d8:msg_typei1e5:piecei0e10:total_sizei0ee"),
            Err(WireError::MetadataSize { size: 0, .. })
        ));
        // Negative and huge piece indices.
        assert!(matches!(
            decode(b"d8:msg_typei0e5:piecei-1ee"),
            Err(WireError::MetadataPieceOutOfRange(-1))
        ));
        assert!(matches!(
            decode(b"d8:msg_typei0e5:piecei2048ee"),
            Err(WireError::MetadataPieceOutOfRange(2048))
        ));
        assert!(decode(b"d8:msg_typei0e5:piecei2047ee").is_ok());
    }

    #[test]
    fn missing_keys_unknown_types_and_garbage() {
        assert!(matches!(
            decode(b"d5:piecei0ee"),
            Err(WireError::MetadataMissingKey("msg_type"))
        ));
        assert!(matches!(
            decode(b"d8:msg_typei0ee"),
            Err(WireError::MetadataMissingKey("piece"))
        ));
        assert!(matches!(
            decode(b"d8:msg_type1:05:piecei0ee"),
            Err(WireError::MetadataMissingKey("msg_type"))
        ));
        assert!(matches!(
            decode(b"d8:msg_typei1e5:piecei0eex"),
            Err(WireError::MetadataMissingKey("total_size"))
        ));
        assert!(matches!(
            decode(b"d8:msg_typei3e5:piecei0ee"),
            Err(WireError::MetadataUnknownType(3))
        ));
        for bad in [
            &b""[..],
            b"d8:msg_typei0e",
            b"le",
            b"i1e",
            b"d8:msg_typei0e5:piecei0e",
        ] {
            assert!(
                matches!(decode(bad), Err(WireError::Bencode { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn piece_arithmetic() {
        assert_eq!(metadata_piece_count(1), 1);
        assert_eq!(metadata_piece_count(16384), 1);
        assert_eq!(metadata_piece_count(16385), 2);
        assert_eq!(metadata_piece_len(16385, 0), 16384);
        assert_eq!(metadata_piece_len(16385, 1), 1);
        assert_eq!(metadata_piece_len(16385, 2), 0);
        assert_eq!(metadata_piece_count(u64::MAX), u32::MAX);
    }
}
