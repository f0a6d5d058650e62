//! Entry points for coverage-guided fuzzing: one function per parser that
//! reads bytes from the network or the disk, each `fn(&[u8])`.
//!
//! The libFuzzer targets in `fuzz/` call these, and `tests/fuzz_corpus.rs`
//! replays every file of every corpus through the same functions on the
//! stable toolchain, so what the fuzzer found stays fixed. [`TARGETS`] names
//! them; a target's name is its corpus folder, `fuzz/corpus/<name>/`.
//!
//! A function returns quietly when the parser refuses its input with an
//! error. It panics when the parser panics, or when an accepted value breaks
//! an invariant that is cheap to check: it encodes and decodes back to
//! itself, its sizes are within the limits, and the same bytes split
//! differently parse the same way. Not part of the engine's API.

use std::net::SocketAddr;
use std::path::{Component, Path};

use bytes::{Bytes, BytesMut};
use serde_bencode::value::Value;
use tokio_util::codec::Decoder;

use crate::bencode;
use crate::magnet::Magnet;
use crate::metainfo::{Metainfo, MAX_METAINFO_LEN, MAX_PIECE_LEN};
use crate::resume::Resume;
use crate::tracker::{http, scrape, udp, MAX_INTERVAL, MIN_INTERVAL_FLOOR};
use crate::types::InfoHash;
use crate::types::PieceIndex;
use crate::wire::extension::{LOCAL_UT_METADATA_ID, LOCAL_UT_PEX_ID};
use crate::wire::pex::{MAX_PEX_ADDED, MAX_PEX_DROPPED};
use crate::wire::{
    ExtendedHandshake, Geometry, Handshake, Message, MetadataMessage, PeerCodec, PexMessage,
    MAX_EXTENDED_LEN,
};

/// A fuzz target: takes any bytes, panics only on a defect.
pub type Target = fn(&[u8]);

/// Every target, by name: the name is the fuzz target's and its corpus
/// folder's.
pub const TARGETS: &[(&str, Target)] = &[
    ("bencode", bencode),
    ("metainfo", metainfo),
    ("magnet", magnet),
    ("wire_stream", wire_stream),
    ("extension_handshake", extension_handshake),
    ("ut_metadata", ut_metadata),
    ("ut_pex", ut_pex),
    ("http_tracker", http_tracker),
    ("udp_tracker", udp_tracker),
    ("tracker_scrape", tracker_scrape),
    ("resume", resume),
    ("mse_handshake", mse_handshake),
];

/// `bencode::scan` and its helpers, and the decoding of extension payloads
/// that trusts them: whatever the scanner accepts, `serde_bencode` decodes,
/// and the decoded value encodes to bytes that decode to the same value.
pub fn bencode(data: &[u8]) {
    let scanned = bencode::scan(data, 0);
    let exact = bencode::validate_exact(data);
    let leading = crate::wire::scan::leading_dict(data, "fuzz");
    let span = bencode::dict_value_span(data, b"info");
    let Ok(end) = scanned else {
        assert!(exact.is_err(), "validate_exact accepted what scan refused");
        assert!(leading.is_err(), "leading_dict accepted what scan refused");
        assert!(span.is_err(), "dict_value_span accepted what scan refused");
        return;
    };
    assert!(
        0 < end && end <= data.len(),
        "scan ended at {end} of {}",
        data.len()
    );
    assert_eq!(
        exact.is_ok(),
        end == data.len(),
        "validate_exact disagrees with scan"
    );
    if let Ok(Some(range)) = &span {
        assert!(range.start < range.end && range.end <= end);
        assert_eq!(bencode::scan(data, range.start), Ok(range.end));
    }
    let value: Value = serde_bencode::from_bytes(&data[..end])
        .unwrap_or_else(|e| panic!("scan accepted what serde_bencode refuses: {e}"));
    if let Ok((dict, len)) = &leading {
        assert_eq!(*len, end);
        assert_eq!(Value::Dict(dict.clone()), value);
    } else {
        assert!(
            !matches!(value, Value::Dict(_)),
            "leading_dict refused a dict"
        );
    }
    let encoded = serde_bencode::to_bytes(&value).expect("a decoded value encodes");
    assert_eq!(bencode::validate_exact(&encoded), Ok(()));
    let again: Value = serde_bencode::from_bytes(&encoded).expect("re-encoded value decodes");
    assert_eq!(again, value, "bencode round trip changed the value");
}

/// A .torrent file (`Metainfo::from_bytes`) and the same bytes as BEP 9
/// metadata (`Metainfo::from_info_bytes`).
pub fn metainfo(data: &[u8]) {
    if let Ok(meta) = Metainfo::from_bytes(data) {
        check_metainfo(&meta);
        let encoded = meta.to_bytes();
        let again = Metainfo::from_bytes(&encoded).expect("a written torrent parses");
        assert_eq!(again.info_hash, meta.info_hash);
        assert_eq!(again.to_bytes(), encoded, "torrent round trip changed it");
        let link = Magnet::from_metainfo(&meta).to_uri();
        let magnet = Magnet::parse(&link).expect("a torrent's magnet link parses");
        assert_eq!(magnet.info_hash, meta.info_hash);
    }
    if let Ok(meta) = Metainfo::from_info_bytes(Bytes::copy_from_slice(data)) {
        check_metainfo(&meta);
    }
}

/// What a validated torrent promises the rest of the engine.
fn check_metainfo(meta: &Metainfo) {
    let info = &meta.info;
    assert!(meta.info_bytes.len() <= MAX_METAINFO_LEN);
    assert!(info.piece_length > 0 && info.piece_length <= MAX_PIECE_LEN);
    let mut offset = 0u64;
    for file in &info.files {
        assert_eq!(file.offset, offset, "files are not contiguous");
        offset = offset
            .checked_add(file.length)
            .expect("total length overflows");
        assert!(is_safe_relative(&file.path), "unsafe path {:?}", file.path);
    }
    assert_eq!(offset, info.total_length());
    assert_eq!(
        offset.div_ceil(info.piece_length),
        u64::from(info.num_pieces())
    );
    if info.num_pieces() > 0 {
        let last = PieceIndex(info.num_pieces() - 1);
        let before = u64::from(last.0) * info.piece_length;
        assert_eq!(before + u64::from(info.piece_len(last)), offset);
        let g = Geometry::from_info(info).expect("a valid torrent has a geometry");
        assert_eq!(g.num_pieces(), info.num_pieces());
    }
}

/// Relative, and no component that climbs out or names a root.
fn is_safe_relative(path: &Path) -> bool {
    path.components().count() > 0 && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A magnet link; an accepted one writes back to a link that parses to the
/// same value.
pub fn magnet(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(link) = Magnet::parse(&text) else {
        return;
    };
    let again = Magnet::parse(&link.to_uri()).expect("a written magnet link parses");
    assert_eq!(again, link, "magnet round trip changed the link");
}

/// The peer wire protocol as a connection reads it: a handshake, then a
/// stream of frames delivered in chunks of arbitrary sizes.
///
/// The first byte chooses the torrent's geometry (none, as for a magnet
/// link, or one of three shapes), whether the stream starts with a
/// handshake, and the chunk sizes. The stream must decode to the same
/// messages and the same outcome whether it arrives in one piece or in
/// chunks; each message must encode back to a frame that decodes to it;
/// the receive buffer stays bounded; extension payloads go on to their own
/// decoders.
pub fn wire_stream(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let geometry = match control & 3 {
        0 => None,
        // Pieces of 32 KiB, the last one short: 11 pieces.
        1 => Geometry::new(32 * 1024, 10 * 32 * 1024 + 1000).ok(),
        // One piece smaller than a block.
        2 => Geometry::new(16 * 1024, 3000).ok(),
        // Many pieces, a bitfield of 125 bytes.
        _ => Geometry::new(16 * 1024, 1000 * 16 * 1024).ok(),
    };
    let frames = if control & 4 != 0 {
        let Some(head) = rest.get(..Handshake::LEN) else {
            let _ = Handshake::decode(rest);
            return;
        };
        if let Ok(hs) = Handshake::decode(head) {
            assert_eq!(Handshake::decode(&hs.encode()).ok(), Some(hs));
        }
        &rest[Handshake::LEN..]
    } else {
        rest
    };

    let whole = decode_stream(geometry, frames, |_| frames.len());
    let mut state = u32::from(control >> 3) | 0x100;
    let chunked = decode_stream(geometry, frames, |_| {
        // xorshift: chunk sizes from 1 to 64 bytes.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 64) as usize + 1
    });
    assert_eq!(
        whole, chunked,
        "splitting the stream changed what it decodes to"
    );

    for msg in whole.0 {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).expect("a decoded message encodes");
        assert_eq!(buf.len(), msg.encoded_len());
        let mut codec = PeerCodec::new(geometry);
        match codec.decode(&mut buf) {
            Ok(Some(again)) => assert_eq!(again, msg, "message round trip changed it"),
            other => panic!("{msg:?} encodes to a frame that decodes to {other:?}"),
        }
        assert!(buf.is_empty());
        if let Message::Extended { id, payload } = msg {
            assert!(payload.len() <= MAX_EXTENDED_LEN as usize);
            match id {
                0 => extension_handshake(&payload),
                LOCAL_UT_METADATA_ID => ut_metadata(&payload),
                LOCAL_UT_PEX_ID => ut_pex(&payload),
                _ => {}
            }
        }
    }
}

/// The messages a codec decodes from `stream` delivered in chunks of
/// `next_chunk` bytes, and whether it ended in an error.
fn decode_stream(
    geometry: Option<Geometry>,
    stream: &[u8],
    mut next_chunk: impl FnMut(usize) -> usize,
) -> (Vec<Message>, bool) {
    let mut codec = PeerCodec::new(geometry);
    // The largest legal frame plus the read-ahead, with room for the
    // allocator rounding up: a buffer beyond this was sized by the peer.
    let bound = 2 * (4 + codec.max_message_len() as usize + crate::wire::codec::DEFAULT_READ_AHEAD);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        let n = next_chunk(pos).min(stream.len() - pos);
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(msg)) => out.push(msg),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
        assert!(
            buf.capacity() <= bound,
            "receive buffer grew to {} bytes",
            buf.capacity()
        );
    }
    (out, false)
}

/// A BEP 10 extension handshake payload.
pub fn extension_handshake(data: &[u8]) {
    let Ok(hs) = ExtendedHandshake::decode(data) else {
        return;
    };
    if let Some(v) = &hs.v {
        assert!(v.chars().count() <= crate::wire::extension::MAX_CLIENT_VERSION_LEN);
    }
    if let Some(size) = hs.metadata_size {
        assert!(size > 0 && size <= MAX_METAINFO_LEN as u64);
    }
    let again = ExtendedHandshake::decode(&hs.encode()).expect("our handshake decodes");
    assert_eq!(again, hs, "extension handshake round trip changed it");
}

/// A ut_metadata (BEP 9) payload.
pub fn ut_metadata(data: &[u8]) {
    let Ok(msg) = MetadataMessage::decode(&Bytes::copy_from_slice(data)) else {
        return;
    };
    if let MetadataMessage::Data {
        piece,
        total_size,
        data,
    } = &msg
    {
        assert!(*total_size > 0 && *total_size <= MAX_METAINFO_LEN as u64);
        assert!(*piece < crate::wire::metadata::metadata_piece_count(*total_size));
        assert!(data.len() <= crate::wire::METADATA_PIECE_LEN);
    }
    let again = MetadataMessage::decode(&msg.encode()).expect("our message decodes");
    assert_eq!(again, msg, "ut_metadata round trip changed it");
}

/// A ut_pex payload: at most the caps, and a round trip keeps the peers
/// (IPv4-mapped IPv6 addresses come back as IPv4, so compare canonically).
pub fn ut_pex(data: &[u8]) {
    let Ok(msg) = PexMessage::decode(data) else {
        return;
    };
    assert!(msg.added.len() <= MAX_PEX_ADDED);
    assert!(msg.dropped.len() <= MAX_PEX_DROPPED);
    assert_eq!(msg.added.len(), msg.added_flags.len());
    let again = PexMessage::decode(&msg.encode()).expect("our message decodes");
    let canonical = |addrs: &[SocketAddr]| {
        let mut v: Vec<SocketAddr> = addrs
            .iter()
            .map(|a| SocketAddr::new(a.ip().to_canonical(), a.port()))
            .collect();
        v.sort();
        v
    };
    let with_flags = |m: &PexMessage| {
        let mut v: Vec<(SocketAddr, u8)> = m
            .added
            .iter()
            .zip(&m.added_flags)
            .map(|(a, f)| (SocketAddr::new(a.ip().to_canonical(), a.port()), *f))
            .collect();
        v.sort();
        v
    };
    assert_eq!(with_flags(&again), with_flags(&msg), "added peers changed");
    assert_eq!(
        canonical(&again.dropped),
        canonical(&msg.dropped),
        "dropped peers changed"
    );
}

/// An HTTP tracker's announce response body: intervals come out clamped.
pub fn http_tracker(data: &[u8]) {
    let Ok(announce) = http::parse_response(data) else {
        return;
    };
    let r = &announce.response;
    assert!(
        (MIN_INTERVAL_FLOOR..=MAX_INTERVAL).contains(&r.interval),
        "interval {:?} not clamped",
        r.interval
    );
    if let Some(min) = r.min_interval {
        assert!(min <= MAX_INTERVAL, "min interval {min:?} not clamped");
    }
    assert!(
        r.peers.len() <= data.len() / 6,
        "more peers than bytes allow"
    );
}

/// A UDP tracker datagram (BEP 15), read as from an IPv4 and an IPv6
/// tracker.
pub fn udp_tracker(data: &[u8]) {
    for (ipv6, entry) in [(false, 6), (true, 18)] {
        let Ok(response) = udp::decode_response(data, ipv6) else {
            continue;
        };
        if let udp::UdpResponse::Announce { peers, .. } = &response {
            assert_eq!(peers.len(), (data.len() - 20) / entry);
        }
    }
}

/// A scrape answer (BEP 48): as an HTTP body, for a fixed info hash and for
/// the hash of the first entry when the body starts like one (so real
/// answers reach the entry's counts), and as the body of a UDP scrape
/// answer, which must be whole 12-byte entries when accepted.
pub fn tracker_scrape(data: &[u8]) {
    let mut hashes = vec![InfoHash([b'a'; 20])];
    if let Some(h) = data
        .strip_prefix(b"d5:filesd20:")
        .and_then(|rest| rest.get(..20))
        .and_then(|h| <[u8; 20]>::try_from(h).ok())
    {
        hashes.push(InfoHash(h));
    }
    for hash in &hashes {
        let _ = scrape::parse_http(data, hash);
    }
    if scrape::decode_udp_body(data).is_ok() {
        assert!(
            data.len() >= 12 && data.len() % 12 == 0,
            "partial UDP entry accepted"
        );
    }
}

/// A resume record from the state folder: an accepted record writes back
/// to one that reads the same.
pub fn resume(data: &[u8]) {
    let path = Path::new("fuzz.resume");
    let Ok(record) = Resume::from_bytes(data, path) else {
        return;
    };
    let again = Resume::from_bytes(&record.to_bytes(), path).expect("a written record reads");
    assert_eq!(again, record, "resume round trip changed the record");
}

/// The MSE responder fed a peer's bytes. A first byte of 0 sends the rest
/// as they are (garbage, a plain handshake, a key and padding); any other
/// first byte plays a valid initiator up to the two hashes and sends the
/// rest encrypted with its key, so that the fuzzer reaches VC,
/// crypto_provide, the PadC and IA lengths and the initial payload. The
/// responder must end (the input ends with the stream) and, when it
/// accepts, name the torrent and keep its bounds.
pub fn mse_handshake(data: &[u8]) {
    use crate::peer::mse::{self, Encryption, ScriptedInitiator};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TORRENT: InfoHash = InfoHash([0x5a; 20]);
    // Room for everything either side writes, so neither ever waits.
    let (mut peer, ours) = tokio::io::duplex(64 * 1024);
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let rest = &rest[..rest.len().min(32 * 1024)];
    // A runtime of the calling thread: nothing here sleeps or spawns.
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    rt.block_on(async {
        let find = |h: &[u8; 20]| (h == &mse::req2(&TORRENT)).then_some(TORRENT);
        let responder = mse::respond(ours, &[], Encryption::Prefer, &find);
        let initiator = async move {
            if how == 0 {
                let _ = peer.write_all(rest).await;
                return;
            }
            let (script, ya) = ScriptedInitiator::new();
            let mut yb = [0u8; 96];
            if peer.write_all(&ya).await.is_err() || peer.read_exact(&mut yb).await.is_err() {
                return;
            }
            if let Ok(msg) = script.message(&yb, &TORRENT, rest) {
                let _ = peer.write_all(&msg).await;
            }
        };
        let (result, ()) = tokio::join!(responder, initiator);
        if let Ok((mut stream, skey, _)) = result {
            assert_eq!(skey, TORRENT, "the responder named another torrent");
            // What it serves is the initial payload and what followed,
            // within the input's length.
            let mut served = Vec::new();
            let _ = stream.read_to_end(&mut served).await;
            assert!(served.len() <= rest.len(), "served more than was sent");
        }
    });
}
