//! ut_pex messages (BEP 11): peers the sender connected to or dropped since
//! its last message, in compact form.
//!
//! Keys: `added` / `dropped` (6 bytes per IPv4 peer: address, port),
//! `added6` / `dropped6` (18 bytes per IPv6 peer), and `added.f` /
//! `added6.f` (one flag byte per added peer, see [`pex_flags`]). A message
//! carries at most [`MAX_PEX_ADDED`] added and [`MAX_PEX_DROPPED`] dropped
//! peers; beyond that, decoding ignores the excess (a peer may be generous,
//! but it does not get to fill our peer list) and encoding sends the first
//! ones only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::{BufMut, Bytes, BytesMut};

use super::scan::{self, leading_dict, Dict};
use super::WireError;

/// Most added peers taken from (or put in) one message, as BEP 11 advises.
pub const MAX_PEX_ADDED: usize = 50;
/// Most dropped peers taken from (or put in) one message.
pub const MAX_PEX_DROPPED: usize = 50;

/// Bits of the `added.f` flag bytes (BEP 11).
pub mod pex_flags {
    /// The peer prefers encrypted connections.
    pub const PREFERS_ENCRYPTION: u8 = 0x01;
    /// The peer is a seed (or upload only).
    pub const SEED: u8 = 0x02;
    /// The peer supports uTP.
    pub const UTP: u8 = 0x04;
    /// The peer supports the ut_holepunch extension.
    pub const HOLEPUNCH: u8 = 0x08;
    /// The sender reached the peer with an outgoing connection: it is
    /// reachable.
    pub const REACHABLE: u8 = 0x10;
}

const V4_LEN: usize = 6;
const V6_LEN: usize = 18;

/// One ut_pex message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// Peers the sender connected to: candidates for our peer list.
    pub added: Vec<SocketAddr>,
    /// One [`pex_flags`] byte per entry of `added` (0 where the sender gave
    /// none); always as long as `added` after decoding.
    pub added_flags: Vec<u8>,
    /// Peers the sender disconnected from.
    pub dropped: Vec<SocketAddr>,
}

impl PexMessage {
    /// The payload to send in an extended message (under the peer's ut_pex
    /// id). Only the first [`MAX_PEX_ADDED`] added and [`MAX_PEX_DROPPED`]
    /// dropped peers are sent; a missing flag byte is sent as 0.
    pub fn encode(&self) -> Bytes {
        let mut added4 = Vec::new();
        let mut flags4 = Vec::new();
        let mut added6 = Vec::new();
        let mut flags6 = Vec::new();
        for (i, addr) in self.added.iter().take(MAX_PEX_ADDED).enumerate() {
            let flag = self.added_flags.get(i).copied().unwrap_or(0);
            if put_compact(addr, &mut added4, &mut added6) {
                flags4.push(flag);
            } else {
                flags6.push(flag);
            }
        }
        let mut dropped4 = Vec::new();
        let mut dropped6 = Vec::new();
        for addr in self.dropped.iter().take(MAX_PEX_DROPPED) {
            put_compact(addr, &mut dropped4, &mut dropped6);
        }
        // Keys in bencode's sorted order.
        let entries: [(&str, &[u8]); 6] = [
            ("added", &added4),
            ("added.f", &flags4),
            ("added6", &added6),
            ("added6.f", &flags6),
            ("dropped", &dropped4),
            ("dropped6", &dropped6),
        ];
        let mut out =
            BytesMut::with_capacity(64 + entries.iter().map(|(_, v)| v.len()).sum::<usize>());
        out.put_u8(b'd');
        for (key, value) in entries {
            put_string(&mut out, key.as_bytes());
            put_string(&mut out, value);
        }
        out.put_u8(b'e');
        out.freeze()
    }

    /// Reads a ut_pex payload. A compact list whose length is not a multiple
    /// of its entry size is an error; missing keys are empty lists; peers
    /// past the caps are ignored.
    pub fn decode(payload: &[u8]) -> Result<PexMessage, WireError> {
        let (dict, _) = leading_dict(payload, "ut_pex")?;
        let added4 = compact_list(&dict, "added", V4_LEN)?;
        let added6 = compact_list(&dict, "added6", V6_LEN)?;
        let dropped4 = compact_list(&dict, "dropped", V4_LEN)?;
        let dropped6 = compact_list(&dict, "dropped6", V6_LEN)?;
        let flags4 = scan::bytes(&dict, "added.f").unwrap_or(&[]);
        let flags6 = scan::bytes(&dict, "added6.f").unwrap_or(&[]);

        let mut msg = PexMessage::default();
        let with_flags = |entries: &[u8], size: usize, flags: &[u8]| {
            entries
                .chunks_exact(size)
                .map(parse_compact)
                .zip(flags.iter().copied().chain(std::iter::repeat(0)))
                .collect::<Vec<_>>()
        };
        for (addr, flag) in with_flags(added4, V4_LEN, flags4)
            .into_iter()
            .chain(with_flags(added6, V6_LEN, flags6))
            .take(MAX_PEX_ADDED)
        {
            msg.added.push(addr);
            msg.added_flags.push(flag);
        }
        msg.dropped = dropped4
            .chunks_exact(V4_LEN)
            .chain(dropped6.chunks_exact(V6_LEN))
            .take(MAX_PEX_DROPPED)
            .map(parse_compact)
            .collect();
        Ok(msg)
    }
}

/// The compact list under `key` (empty if absent), checked to hold whole
/// entries of `entry` bytes.
fn compact_list<'a>(
    dict: &'a Dict,
    key: &'static str,
    entry: usize,
) -> Result<&'a [u8], WireError> {
    let bytes = scan::bytes(dict, key).unwrap_or(&[]);
    if bytes.len() % entry != 0 {
        return Err(WireError::CompactLength {
            key,
            len: bytes.len(),
            entry,
        });
    }
    Ok(bytes)
}

/// Appends `addr` in compact form to `v4` or `v6` (an IPv4-mapped IPv6
/// address goes to `v4`); returns whether it went to `v4`.
fn put_compact(addr: &SocketAddr, v4: &mut Vec<u8>, v6: &mut Vec<u8>) -> bool {
    match addr.ip().to_canonical() {
        IpAddr::V4(ip) => {
            v4.extend_from_slice(&ip.octets());
            v4.extend_from_slice(&addr.port().to_be_bytes());
            true
        }
        IpAddr::V6(ip) => {
            v6.extend_from_slice(&ip.octets());
            v6.extend_from_slice(&addr.port().to_be_bytes());
            false
        }
    }
}

/// Reads one compact entry of exactly 6 or 18 bytes (the callers chunk by
/// those sizes).
fn parse_compact(entry: &[u8]) -> SocketAddr {
    let mut ip6 = [0u8; 16];
    let (ip, port) = entry.split_at(entry.len() - 2);
    let port = u16::from_be_bytes([port[0], port[1]]);
    if ip.len() == 4 {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]),
            port,
        ))
    } else {
        ip6.copy_from_slice(ip);
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip6), port, 0, 0))
    }
}

fn put_string(out: &mut BytesMut, bytes: &[u8]) {
    out.put_slice(bytes.len().to_string().as_bytes());
    out.put_u8(b':');
    out.put_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip_with_byte_literals() {
        let msg = PexMessage {
            added: vec![addr("10.0.0.1:6881"), addr("[2001:db8::1]:51413")],
            added_flags: vec![pex_flags::SEED | pex_flags::REACHABLE, pex_flags::UTP],
            dropped: vec![addr("127.0.0.1:80")],
        };
        let bytes = msg.encode();
        let expected: &[u8] = b"d5:added6:\x0a\x00\x00\x01\x1a\xe17:added.f1:\x12\
            6:added618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\xc8\xd58:added6.f1:\x04\
            7:dropped6:\x7f\x00\x00\x01\x00\x508:dropped60:e";
        assert_eq!(&bytes[..], expected);
        assert_eq!(PexMessage::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn empty_and_partial_messages() {
        let empty = PexMessage::default();
        assert_eq!(
            &empty.encode()[..],
            b"d5:added0:7:added.f0:6:added60:8:added6.f0:7:dropped0:8:dropped60:e"
        );
        assert_eq!(PexMessage::decode(b"de").unwrap(), empty);
        // Only `added`, no flags: flags read as 0.
        let msg =
            PexMessage::decode(b"d5:added12:\x01\x02\x03\x04\x00\x01\x05\x06\x07\x08\x00\x02e")
                .unwrap();
        assert_eq!(msg.added, vec![addr("1.2.3.4:1"), addr("5.6.7.8:2")]);
        assert_eq!(msg.added_flags, vec![0, 0]);
        // Flags shorter than the list, and a mapped address sent as IPv4.
        let mapped = PexMessage {
            added: vec![addr("[::ffff:1.2.3.4]:1"), addr("5.6.7.8:2")],
            added_flags: vec![1],
            dropped: vec![],
        };
        let back = PexMessage::decode(&mapped.encode()).unwrap();
        assert_eq!(back.added, vec![addr("1.2.3.4:1"), addr("5.6.7.8:2")]);
        assert_eq!(back.added_flags, vec![1, 0]);
    }

    #[test]
    fn compact_lengths_must_be_multiples() {
        for (payload, key) in [
            (&b"d5:added5:\x01\x02\x03\x04\x00e"[..], "added"),
            (b"d6:added617:\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0e", "added6"),
            (b"d7:dropped7:\0\0\0\0\0\0\0e", "dropped"),
            (b"d8:dropped66:\0\0\0\0\0\0e", "dropped6"),
        ] {
            match PexMessage::decode(payload) {
                Err(WireError::CompactLength { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: {other:?}"),
            }
        }
        for bad in [&b""[..], b"d5:added", b"l5:addede", b"d5:added6:\x01\x02"] {
            assert!(matches!(
                PexMessage::decode(bad),
                Err(WireError::Bencode { .. })
            ));
        }
    }

    #[test]
    fn ipv6_peers_share_the_caps_with_ipv4_ones() {
        let v4: Vec<SocketAddr> = (0..40u16)
            .map(|i| SocketAddr::from(([10, 0, 0, i as u8], 1000 + i)))
            .collect();
        let v6: Vec<SocketAddr> = (0..40u16)
            .map(|i| SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, i], 2000 + i)))
            .collect();
        let mut compact4 = Vec::new();
        let mut compact6 = Vec::new();
        for a in v4.iter().chain(&v6) {
            put_compact(a, &mut compact4, &mut compact6);
        }
        let mut payload = BytesMut::new();
        payload.put_slice(b"d5:added");
        put_string(&mut payload, &compact4);
        payload.put_slice(b"6:added6");
        put_string(&mut payload, &compact6);
        payload.put_slice(b"8:dropped6");
        put_string(&mut payload, &compact6);
        payload.put_u8(b'e');
        let msg = PexMessage::decode(&payload).unwrap();
        assert_eq!(msg.added.len(), MAX_PEX_ADDED, "both families together");
        assert_eq!(msg.added[..40], v4[..]);
        assert_eq!(msg.added[40..], v6[..MAX_PEX_ADDED - 40]);
        assert_eq!(msg.dropped, v6);
    }

    #[test]
    fn excess_peers_are_ignored_both_ways() {
        let many: Vec<SocketAddr> = (0..120u16)
            .map(|i| SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 1000 + i)))
            .collect();
        let msg = PexMessage {
            added: many.clone(),
            added_flags: vec![],
            dropped: many.clone(),
        };
        let back = PexMessage::decode(&msg.encode()).unwrap();
        assert_eq!(back.added, many[..MAX_PEX_ADDED]);
        assert_eq!(back.dropped, many[..MAX_PEX_DROPPED]);

        // A peer that sends more than the cap: the excess is dropped.
        let mut compact = Vec::new();
        for a in &many {
            put_compact(a, &mut compact, &mut Vec::new());
        }
        let mut payload = BytesMut::new();
        payload.put_slice(b"d5:added");
        put_string(&mut payload, &compact);
        payload.put_slice(b"7:dropped");
        put_string(&mut payload, &compact);
        payload.put_u8(b'e');
        let msg = PexMessage::decode(&payload).unwrap();
        assert_eq!(msg.added.len(), MAX_PEX_ADDED);
        assert_eq!(msg.added_flags.len(), MAX_PEX_ADDED);
        assert_eq!(msg.dropped.len(), MAX_PEX_DROPPED);
        assert_eq!(msg.added[49], many[49]);
    }
}
