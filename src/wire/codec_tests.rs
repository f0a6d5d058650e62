//! Tests of the codec: every message both ways in byte literals, and every
//! wire limit.

use bytes::{BufMut, Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

use super::*;

/// 10 pieces of 32 KiB, the last one 1000 bytes: bitfield of 2 bytes with 6
/// spare bits.
fn geometry() -> Geometry {
    Geometry::new(0x8000, 9 * 0x8000 + 1000).unwrap()
}

fn codec() -> PeerCodec {
    PeerCodec::new(Some(geometry()))
}

fn block(piece: u32, offset: u32, len: u32) -> BlockRef {
    BlockRef {
        piece: PieceIndex(piece),
        offset,
        len,
    }
}

/// Decodes everything in `bytes` with `codec`.
fn decode_all(codec: &mut PeerCodec, bytes: &[u8]) -> Result<Vec<Message>, WireError> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(msg) = codec.decode(&mut buf)? {
        out.push(msg);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    Ok(out)
}

fn decode_one(codec: &mut PeerCodec, bytes: &[u8]) -> Result<Message, WireError> {
    let mut msgs = decode_all(codec, bytes)?;
    assert_eq!(msgs.len(), 1);
    Ok(msgs.remove(0))
}

fn every_message() -> Vec<(Message, &'static [u8])> {
    vec![
        (Message::KeepAlive, b"\0\0\0\0"),
        (Message::Choke, b"\0\0\0\x01\x00"),
        (Message::Unchoke, b"\0\0\0\x01\x01"),
        (Message::Interested, b"\0\0\0\x01\x02"),
        (Message::NotInterested, b"\0\0\0\x01\x03"),
        (Message::Have(PieceIndex(5)), b"\0\0\0\x05\x04\0\0\0\x05"),
        (
            Message::Bitfield(Bytes::from_static(b"\xff\xc0")),
            b"\0\0\0\x03\x05\xff\xc0",
        ),
        (
            Message::Request(block(1, 0x4000, 0x4000)),
            b"\0\0\0\x0d\x06\0\0\0\x01\0\0\x40\0\0\0\x40\0",
        ),
        (
            Message::Piece {
                piece: PieceIndex(2),
                offset: 0x10,
                data: Bytes::from_static(b"hello"),
            },
            b"\0\0\0\x0e\x07\0\0\0\x02\0\0\0\x10hello",
        ),
        (
            Message::Cancel(block(1, 0x4000, 0x4000)),
            b"\0\0\0\x0d\x08\0\0\0\x01\0\0\x40\0\0\0\x40\0",
        ),
        (Message::Port(6881), b"\0\0\0\x03\x09\x1a\xe1"),
        (
            Message::SuggestPiece(PieceIndex(3)),
            b"\0\0\0\x05\x0d\0\0\0\x03",
        ),
        (Message::HaveAll, b"\0\0\0\x01\x0e"),
        (Message::HaveNone, b"\0\0\0\x01\x0f"),
        (
            Message::RejectRequest(block(9, 0, 1000)),
            b"\0\0\0\x0d\x10\0\0\0\x09\0\0\0\0\0\0\x03\xe8",
        ),
        (
            Message::AllowedFast(PieceIndex(9)),
            b"\0\0\0\x05\x11\0\0\0\x09",
        ),
        (
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            b"\0\0\0\x04\x14\x00de",
        ),
    ]
}

#[test]
fn every_message_both_ways() {
    for (msg, bytes) in every_message() {
        let mut out = BytesMut::new();
        Encoder::<Message>::encode(&mut codec(), msg.clone(), &mut out).unwrap();
        assert_eq!(&out[..], bytes, "encoding {msg:?}");
        assert_eq!(msg.encoded_len(), bytes.len());
        assert_eq!(
            decode_one(&mut codec(), bytes).unwrap(),
            msg,
            "decoding {bytes:?}"
        );
        // Without a geometry too.
        assert_eq!(decode_one(&mut PeerCodec::new(None), bytes).unwrap(), msg);
    }
}

#[test]
fn all_messages_back_to_back_in_one_buffer() {
    let (msgs, bytes): (Vec<_>, Vec<_>) = every_message().into_iter().unzip();
    let mut encoded = BytesMut::new();
    for msg in &msgs {
        Encoder::<Message>::encode(&mut codec(), msg.clone(), &mut encoded).unwrap();
    }
    assert_eq!(&encoded[..], &bytes.concat()[..]);
    assert_eq!(decode_all(&mut codec(), &encoded).unwrap(), msgs);
}

#[test]
fn keep_alive_alone_and_between_messages() {
    let msgs = decode_all(&mut codec(), b"\0\0\0\0\0\0\0\x01\x01\0\0\0\0").unwrap();
    assert_eq!(
        msgs,
        vec![Message::KeepAlive, Message::Unchoke, Message::KeepAlive]
    );
}

#[test]
fn huge_length_prefix_is_refused_without_allocating() {
    for prefix in [
        &b"\xff\xff\xff\xff"[..],
        b"\xff\xff\xff\xff\x07",
        b"\x00\x10\x00\x00\x14",
        b"\x7f\x00\x00\x00\x05\xff",
    ] {
        let mut buf = BytesMut::with_capacity(16);
        buf.put_slice(prefix);
        let err = codec().decode(&mut buf).unwrap_err();
        assert!(matches!(err, WireError::MessageTooLong { .. }), "{err}");
        assert!(buf.capacity() < 1024, "capacity grew to {}", buf.capacity());
    }
}

#[test]
fn largest_legal_length_is_accepted_and_one_more_is_not() {
    let c = codec();
    assert_eq!(c.max_message_len(), 2 + MAX_EXTENDED_LEN);
    let mut frame = BytesMut::new();
    frame.put_u32(2 + MAX_EXTENDED_LEN);
    frame.put_u8(20);
    frame.put_u8(3);
    frame.put_bytes(b'x', MAX_EXTENDED_LEN as usize);
    let msg = decode_one(&mut codec(), &frame).unwrap();
    assert!(
        matches!(msg, Message::Extended { id: 3, ref payload } if payload.len() == MAX_EXTENDED_LEN as usize)
    );

    let mut buf = BytesMut::new();
    buf.put_u32(3 + MAX_EXTENDED_LEN);
    assert!(matches!(
        codec().decode(&mut buf),
        Err(WireError::MessageTooLong { .. })
    ));
    // Without a geometry, a magnet's bitfield may be large, but not larger
    // than the largest torrent's.
    let mut magnet = PeerCodec::new(None);
    assert_eq!(magnet.max_message_len(), 1 + MAX_BITFIELD_LEN);
    let mut buf = BytesMut::new();
    buf.put_u32(2 + MAX_BITFIELD_LEN);
    assert!(matches!(
        magnet.decode(&mut buf),
        Err(WireError::MessageTooLong { .. })
    ));
}

#[test]
fn wrong_size_bitfield_is_refused_before_buffering() {
    // Three bytes for ten pieces: refused from the header alone.
    let mut buf = BytesMut::from(&b"\0\0\0\x04\x05"[..]);
    let cap = buf.capacity();
    assert!(matches!(
        codec().decode(&mut buf),
        Err(WireError::BitfieldSize {
            got: 3,
            expected: 2
        })
    ));
    assert_eq!(buf.capacity(), cap);
    assert!(matches!(
        decode_one(&mut codec(), b"\0\0\0\x02\x05\xff"),
        Err(WireError::BitfieldSize {
            got: 1,
            expected: 2
        })
    ));
}

#[test]
fn bitfield_spare_bits_are_refused() {
    // Ten pieces: the last byte may only use its two high bits.
    for last in [0x20u8, 0x01, 0x3f] {
        let bytes = [0, 0, 0, 3, 5, 0xff, last];
        assert!(matches!(
            decode_one(&mut codec(), &bytes),
            Err(WireError::BitfieldSpareBits)
        ));
    }
    assert!(decode_one(&mut codec(), b"\0\0\0\x03\x05\x00\xc0").is_ok());
    // A piece count that is a multiple of eight has no spare bits.
    let g = Geometry::new(16384, 16 * 16384).unwrap();
    assert!(decode_one(&mut PeerCodec::new(Some(g)), b"\0\0\0\x03\x05\xff\xff").is_ok());
}

#[test]
fn indices_out_of_range_are_refused() {
    let cases: [&[u8]; 7] = [
        b"\0\0\0\x05\x04\0\0\0\x0a",                   // Have(10)
        b"\0\0\0\x05\x0d\0\0\0\x0a",                   // Suggest(10)
        b"\0\0\0\x05\x11\xff\xff\xff\xff",             // AllowedFast(max)
        b"\0\0\0\x0d\x06\0\0\0\x0a\0\0\0\0\0\0\x40\0", // Request
        b"\0\0\0\x0d\x08\0\0\0\x0a\0\0\0\0\0\0\x40\0", // Cancel
        b"\0\0\0\x0d\x10\0\0\0\x0a\0\0\0\0\0\0\x40\0", // Reject
        b"\0\0\0\x0a\x07\0\0\0\x0a\0\0\0\0x",          // Piece
    ];
    for bytes in cases {
        let err = decode_one(&mut codec(), bytes).unwrap_err();
        assert!(
            matches!(err, WireError::PieceOutOfRange { num_pieces: 10, .. }),
            "{bytes:?}: {err}"
        );
        // Without a geometry the index cannot be judged yet.
        assert!(decode_one(&mut PeerCodec::new(None), bytes).is_ok());
    }
}

#[test]
fn oversized_empty_and_overhanging_blocks_are_refused() {
    // A request for 16 KiB + 1, and for nothing: refused with or without
    // a geometry.
    for c in [codec(), PeerCodec::new(None)] {
        let mut c2 = c.clone();
        let mut c1 = c;
        assert!(matches!(
            decode_one(&mut c1, b"\0\0\0\x0d\x06\0\0\0\x00\0\0\0\0\0\0\x40\x01"),
            Err(WireError::BadBlockLength { len: 16385 })
        ));
        assert!(matches!(
            decode_one(&mut c2, b"\0\0\0\x0d\x10\0\0\0\x00\0\0\0\0\0\0\0\0"),
            Err(WireError::BadBlockLength { len: 0 })
        ));
    }
    // Past the end of a full piece (32 KiB) ...
    assert!(matches!(
        decode_one(
            &mut codec(),
            b"\0\0\0\x0d\x06\0\0\0\x00\0\0\x40\x01\0\0\x40\0"
        ),
        Err(WireError::BlockBeyondPiece {
            piece: 0,
            piece_len: 0x8000,
            ..
        })
    ));
    // ... and of the short last piece (1000 bytes).
    assert!(matches!(
        decode_one(
            &mut codec(),
            b"\0\0\0\x0d\x08\0\0\0\x09\0\0\0\x01\0\0\x03\xe8"
        ),
        Err(WireError::BlockBeyondPiece {
            piece_len: 1000,
            ..
        })
    ));
    // An offset near u32::MAX does not overflow.
    assert!(matches!(
        decode_one(
            &mut codec(),
            b"\0\0\0\x0d\x06\0\0\0\x00\xff\xff\xff\xff\0\0\x40\0"
        ),
        Err(WireError::BlockBeyondPiece { .. })
    ));
    // A piece message's data counts the same way.
    let mut piece = BytesMut::new();
    piece.put_slice(b"\0\0\x03\xf1\x07\0\0\0\x09\0\0\0\x01");
    piece.put_bytes(0, 1000);
    assert!(matches!(
        decode_one(&mut codec(), &piece),
        Err(WireError::BlockBeyondPiece { .. })
    ));
}

#[test]
fn piece_over_a_block_or_empty_is_refused_from_its_header() {
    let mut buf = BytesMut::from(&b"\0\0\x40\x0a\x07"[..]); // 9 + 16385
    let cap = buf.capacity();
    assert!(matches!(
        codec().decode(&mut buf),
        Err(WireError::BadMessageLength { id: 7, len: 0x400a })
    ));
    assert_eq!(buf.capacity(), cap);
    assert!(matches!(
        decode_one(&mut codec(), b"\0\0\0\x09\x07\0\0\0\0\0\0\0\0"),
        Err(WireError::BadMessageLength { id: 7, len: 9 })
    ));
}

#[test]
fn fixed_size_messages_with_wrong_lengths_are_refused() {
    for bytes in [
        &b"\0\0\0\x02\x00\x00"[..],                // Choke with a payload
        b"\0\0\0\x06\x04\0\0\0\x01\0",             // Have of 6
        b"\0\0\0\x04\x04\0\0\0",                   // Have of 4
        b"\0\0\0\x0c\x06\0\0\0\0\0\0\0\0\0\0\x40", // Request of 12
        b"\0\0\0\x02\x09\x01",                     // Port of 2
        b"\0\0\0\x02\x0e\x00",                     // HaveAll with a payload
        b"\0\0\0\x01\x14",                         // Extended without an id
    ] {
        assert!(
            matches!(
                decode_all(&mut codec(), bytes),
                Err(WireError::BadMessageLength { .. })
            ),
            "{bytes:?}"
        );
    }
}

#[test]
fn partial_frames_across_many_decode_calls() {
    let mut c = codec();
    let mut frame = BytesMut::new();
    frame.put_slice(b"\0\0\x40\x09\x07\0\0\0\x01\0\0\x40\0");
    frame.put_bytes(0xAB, 0x4000);
    frame.put_slice(b"\0\0\0\x01\x01");
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for (i, chunk) in frame.chunks(1000).enumerate() {
        buf.put_slice(chunk);
        while let Some(msg) = c.decode(&mut buf).unwrap() {
            got.push(msg);
        }
        if i == 0 {
            // The header is in: room for the whole block was made at once.
            assert!(buf.capacity() >= 4 + 9 + 0x4000, "{}", buf.capacity());
        }
    }
    assert!(buf.is_empty());
    assert_eq!(got.len(), 2);
    match &got[0] {
        Message::Piece {
            piece,
            offset,
            data,
        } => {
            assert_eq!(
                (*piece, *offset, data.len()),
                (PieceIndex(1), 0x4000, 0x4000)
            );
            assert!(data.iter().all(|&b| b == 0xAB));
        }
        other => panic!("expected a piece, got {other:?}"),
    }
    assert_eq!(got[1], Message::Unchoke);

    // One byte at a time, including the length prefix.
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in b"\0\0\0\x05\x04\0\0\0\x03\0\0\0\0" {
        buf.put_u8(b);
        if let Some(msg) = c.decode(&mut buf).unwrap() {
            got.push(msg);
        }
    }
    assert_eq!(got, vec![Message::Have(PieceIndex(3)), Message::KeepAlive]);
}

#[test]
fn piece_data_shares_the_read_buffer() {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_slice(b"\0\0\0\x0e\x07\0\0\0\x02\0\0\0\x10hello");
    let start = buf.as_ptr() as usize;
    let Some(Message::Piece { data, .. }) = codec().decode(&mut buf).unwrap() else {
        panic!("expected a piece");
    };
    assert_eq!(data.as_ptr() as usize, start + 13);
}

#[test]
fn unknown_ids_are_skipped() {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"\0\0\0\x04\x15abc"); // id 21 (BEP 52 hash request)
    bytes.extend_from_slice(b"\0\0\0\x01\xff");
    bytes.extend_from_slice(b"\0\0\0\x01\x02");
    assert_eq!(
        decode_all(&mut codec(), &bytes).unwrap(),
        vec![Message::Interested]
    );
}

#[test]
fn geometry_set_later_applies_to_later_messages() {
    let mut c = PeerCodec::new(None);
    assert!(decode_one(&mut c, b"\0\0\0\x05\x04\0\0\0\x0a").is_ok());
    c.set_geometry(geometry());
    assert_eq!(c.geometry(), Some(&geometry()));
    assert!(decode_one(&mut c, b"\0\0\0\x05\x04\0\0\0\x0a").is_err());
    // A bitfield stored before the geometry can be checked afterwards.
    assert!(geometry().check_bitfield(b"\xff\xc0").is_ok());
    assert!(geometry().check_bitfield(b"\xff\xc0\x00").is_err());
}

#[test]
fn geometry_lengths_and_limits() {
    let g = geometry();
    assert_eq!(g.num_pieces(), 10);
    assert_eq!(
        (g.piece_length(), g.total_len()),
        (0x8000, 9 * 0x8000 + 1000)
    );
    assert_eq!(g.bitfield_len(), 2);
    assert_eq!(g.piece_len(PieceIndex(0)), 0x8000);
    assert_eq!(g.piece_len(PieceIndex(9)), 1000);
    assert_eq!(g.piece_len(PieceIndex(10)), 0);
    let exact = Geometry::new(0x4000, 0x8000).unwrap();
    assert_eq!(exact.num_pieces(), 2);
    assert_eq!(exact.piece_len(PieceIndex(1)), 0x4000);
    assert!(Geometry::new(0, 1).is_err());
    assert!(Geometry::new(1, 0).is_err());
    assert!(Geometry::new(MAX_PIECE_LEN + 1, 1).is_err());
    assert!(Geometry::new(1, u64::MAX).is_err());
    assert!(g.check_block(block(9, 999, 1)).is_ok());
    assert!(g.check_block(block(9, 1000, 1)).is_err());
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
    for round in 0..20_000 {
        let mut c = if round % 2 == 0 {
            codec()
        } else {
            PeerCodec::new(None)
        };
        let len = rng.gen_range(0..96);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        // Half the time, a plausible header so the parsers are reached.
        if round % 4 < 2 && bytes.len() >= 5 {
            let body = rng.gen_range(0..(bytes.len() as u32));
            bytes[..4].copy_from_slice(&body.to_be_bytes());
            bytes[4] = rng.gen_range(0..=21);
        }
        let mut buf = BytesMut::new();
        for chunk in bytes.chunks(rng.gen_range(1..8)) {
            buf.put_slice(chunk);
            match c.decode(&mut buf) {
                Ok(_) => {}
                Err(_) => break,
            }
            assert!(buf.capacity() < 1 << 20);
        }
    }
}

#[tokio::test]
async fn framed_stream_carries_many_blocks() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let mut tx = FramedWrite::new(a, PeerCodec::new(None));
    let mut rx = FramedRead::new(b, PeerCodec::new(None));
    let writer = tokio::spawn(async move {
        for i in 0..64u32 {
            let data = Bytes::from(vec![i as u8; BLOCK_LEN as usize]);
            tx.send(Message::Piece {
                piece: PieceIndex(i),
                offset: 0,
                data,
            })
            .await
            .unwrap();
        }
        tx.send(Message::HaveAll).await.unwrap();
    });
    for i in 0..64u32 {
        match rx.next().await.unwrap().unwrap() {
            Message::Piece { piece, data, .. } => {
                assert_eq!(piece, PieceIndex(i));
                assert_eq!(data.len(), BLOCK_LEN as usize);
                assert!(data.iter().all(|&b| b == i as u8));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rx.next().await.unwrap().unwrap(), Message::HaveAll);
    writer.await.unwrap();
    assert!(rx.next().await.is_none());
}

#[test]
fn geometry_from_an_info_dictionary() {
    use crate::metainfo::FileEntry;
    let mut info = Info {
        name: "f".into(),
        piece_length: 0x8000,
        pieces: vec![[0; 20]; 10],
        files: vec![FileEntry {
            path: "f".into(),
            length: 9 * 0x8000 + 1000,
            offset: 0,
            pad: false,
            attr: String::new(),
        }],
        multi_file: false,
        private: false,
        source: None,
    };
    assert_eq!(Geometry::from_info(&info).unwrap(), geometry());
    info.pieces.pop();
    assert!(matches!(
        Geometry::from_info(&info),
        Err(WireError::BadGeometry { .. })
    ));
}
