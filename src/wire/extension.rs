//! The extension protocol (BEP 10): the extension handshake, and the
//! payloads of the two extensions we speak, ut_metadata (BEP 9, in
//! [`super::metadata`]) and ut_pex (BEP 11, in [`super::pex`]).
//!
//! An extended message is `Message::Extended { id, payload }`. Id 0 is the
//! handshake below. Any other id is one the *receiver* chose: a peer sends us
//! ut_metadata under our [`LOCAL_UT_METADATA_ID`], and we send it ut_metadata
//! under the id its handshake's `m` gave ([`ExtendedHandshake::extension_id`]).
//!
//! Decoding is lenient where BEP 10 asks it to be (unknown keys, and known
//! keys of an unexpected type, are ignored) and strict where safety needs it
//! (the payload must be a well-formed dictionary, nested at most 64 deep).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use serde::Serialize;
use serde_bencode::value::Value;

use super::scan::{self, leading_dict};
use super::WireError;
use crate::metainfo::MAX_METAINFO_LEN;

pub use super::metadata::{MetadataMessage, METADATA_PIECE_LEN};
pub use super::pex::{pex_flags, PexMessage, MAX_PEX_ADDED, MAX_PEX_DROPPED};

/// Extended message id of the extension handshake.
pub const EXTENDED_HANDSHAKE_ID: u8 = 0;
/// Name of the metadata extension in `m` (BEP 9).
pub const UT_METADATA: &str = "ut_metadata";
/// Name of the peer exchange extension in `m` (BEP 11).
pub const UT_PEX: &str = "ut_pex";
/// The id under which we receive ut_metadata messages.
pub const LOCAL_UT_METADATA_ID: u8 = 1;
/// The id under which we receive ut_pex messages.
pub const LOCAL_UT_PEX_ID: u8 = 2;
/// Longest client name (`v`) kept from a peer, in characters.
pub const MAX_CLIENT_VERSION_LEN: usize = 64;

/// The BEP 10 extension handshake, ours or a peer's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtendedHandshake {
    /// Extension name to the id the sender wants to receive it under; an id
    /// of 0 in a later handshake switches that extension off.
    pub m: BTreeMap<String, u8>,
    /// Client name and version, e.g. "qBittorrent/4.6.5"; preferred over
    /// the peer id's guess when naming the client.
    pub v: Option<String>,
    /// The sender's listening port, so an incoming peer can be dialled back
    /// (and shared by PEX).
    pub p: Option<u16>,
    /// How many outstanding requests the sender queues before dropping
    /// them: our request pipeline must stay below it.
    pub reqq: Option<u32>,
    /// Size of the info dictionary the sender can serve over ut_metadata.
    /// A size of 0 or above `MAX_METAINFO_LEN` is dropped on decode, so
    /// such a peer is never asked for metadata.
    pub metadata_size: Option<u64>,
    /// Our address as the sender sees it.
    pub yourip: Option<IpAddr>,
    /// BEP 21: the sender only uploads (it has every piece it wants, or
    /// shares without downloading). `None` when it did not say.
    pub upload_only: Option<bool>,
}

impl ExtendedHandshake {
    /// Our handshake: ut_metadata always, ut_pex unless `pex` is false
    /// (private torrents), and our client name. The caller fills in `p`,
    /// `reqq`, `metadata_size` and `yourip`.
    pub fn ours(pex: bool) -> ExtendedHandshake {
        let mut m = BTreeMap::new();
        m.insert(UT_METADATA.to_string(), LOCAL_UT_METADATA_ID);
        if pex {
            m.insert(UT_PEX.to_string(), LOCAL_UT_PEX_ID);
        }
        ExtendedHandshake {
            m,
            v: Some(format!("Shoal {}", env!("CARGO_PKG_VERSION"))),
            ..ExtendedHandshake::default()
        }
    }

    /// The id the sender wants extension `name` sent under, if it supports
    /// it and has not switched it off.
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// The bencoded payload of the handshake message.
    pub fn encode(&self) -> Bytes {
        #[derive(Serialize)]
        struct Wire<'a> {
            m: &'a BTreeMap<String, u8>,
            #[serde(skip_serializing_if = "Option::is_none")]
            metadata_size: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            p: Option<u16>,
            #[serde(skip_serializing_if = "Option::is_none")]
            reqq: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            upload_only: Option<u8>,
            #[serde(skip_serializing_if = "Option::is_none")]
            v: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            yourip: Option<serde_bytes::ByteBuf>,
        }
        let wire = Wire {
            m: &self.m,
            metadata_size: self.metadata_size,
            p: self.p,
            reqq: self.reqq,
            upload_only: self.upload_only.map(u8::from),
            v: self.v.as_deref(),
            yourip: self.yourip.map(|ip| {
                serde_bytes::ByteBuf::from(match ip {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                })
            }),
        };
        // serde_bencode fails only on types bencode cannot express (floats,
        // unit values, `None` inside a sequence); this struct has strings,
        // integers, byte strings and a map with string keys only.
        let bytes = serde_bencode::to_bytes(&wire).expect("extension handshake is encodable");
        Bytes::from(bytes)
    }

    /// Reads a peer's handshake payload. Unknown keys, and known keys with a
    /// value of the wrong type or out of range, are ignored; a payload that
    /// is not a well-formed dictionary is an error.
    pub fn decode(payload: &[u8]) -> Result<ExtendedHandshake, WireError> {
        let (dict, _) = leading_dict(payload, "extension handshake")?;
        let mut m = BTreeMap::new();
        if let Some(Value::Dict(entries)) = dict.get(&b"m"[..]) {
            for (name, value) in entries {
                let (Ok(name), Value::Int(id)) = (std::str::from_utf8(name), value) else {
                    continue;
                };
                if let Ok(id) = u8::try_from(*id) {
                    m.insert(name.to_string(), id);
                }
            }
        }
        let v = scan::bytes(&dict, "v").map(|v| {
            String::from_utf8_lossy(v)
                .chars()
                .take(MAX_CLIENT_VERSION_LEN)
                .collect()
        });
        let p = scan::int(&dict, "p")
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0);
        let reqq = scan::int(&dict, "reqq")
            .and_then(|q| u32::try_from(q).ok())
            .filter(|&q| q != 0);
        let metadata_size = scan::int(&dict, "metadata_size")
            .and_then(|s| u64::try_from(s).ok())
            .filter(|&s| s != 0 && s <= MAX_METAINFO_LEN as u64);
        let yourip = scan::bytes(&dict, "yourip").and_then(|ip| match ip.len() {
            4 => <[u8; 4]>::try_from(ip)
                .ok()
                .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            16 => <[u8; 16]>::try_from(ip)
                .ok()
                .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            _ => None,
        });
        let upload_only = scan::int(&dict, "upload_only").map(|u| u != 0);
        Ok(ExtendedHandshake {
            m,
            v,
            p,
            reqq,
            metadata_size,
            yourip,
            upload_only,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_handshake_encodes_to_sorted_bencode() {
        let mut hs = ExtendedHandshake::ours(true);
        hs.v = Some("Shoal 0.1.0".into());
        hs.p = Some(6881);
        hs.reqq = Some(2000);
        hs.metadata_size = Some(31235);
        hs.yourip = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        let bytes = hs.encode();
        assert_eq!(
            &bytes[..],
            &b"d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei31235e1:pi6881e\
               4:reqqi2000e1:v11:Shoal 0.1.06:yourip4:\x7f\x00\x00\x01e"[..]
        );
        assert_eq!(ExtendedHandshake::decode(&bytes).unwrap(), hs);
    }

    #[test]
    fn upload_only_is_sent_and_read() {
        let mut hs = ExtendedHandshake::ours(false);
        hs.v = None;
        hs.upload_only = Some(true);
        assert_eq!(
            &hs.encode()[..],
            &b"d1:md11:ut_metadatai1ee11:upload_onlyi1ee"[..]
        );
        for (payload, expected) in [
            (&b"d11:upload_onlyi1ee"[..], Some(true)),
            (&b"d11:upload_onlyi2ee"[..], Some(true)),
            (&b"d11:upload_onlyi0ee"[..], Some(false)),
            (&b"d11:upload_only1:1e"[..], None),
            (&b"de"[..], None),
        ] {
            assert_eq!(
                ExtendedHandshake::decode(payload).unwrap().upload_only,
                expected,
                "{payload:?}"
            );
        }
    }

    #[test]
    fn minimal_and_private_handshakes() {
        let hs = ExtendedHandshake::ours(false);
        assert_eq!(hs.extension_id(UT_METADATA), Some(LOCAL_UT_METADATA_ID));
        assert_eq!(hs.extension_id(UT_PEX), None);
        assert!(hs.v.as_deref().unwrap().starts_with("Shoal "));
        let empty = ExtendedHandshake::default();
        assert_eq!(&empty.encode()[..], b"d1:mdee");
        assert_eq!(ExtendedHandshake::decode(b"d1:mdee").unwrap(), empty);
        assert_eq!(ExtendedHandshake::decode(b"de").unwrap(), empty);
    }

    #[test]
    fn decodes_a_libtorrent_handshake_ignoring_unknown_keys() {
        let payload = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e\
            11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee\
            13:metadata_sizei5202e1:pi51413e4:reqqi500e11:upload_onlyi0e\
            1:v17:libtorrent 2.0.11e";
        let hs = ExtendedHandshake::decode(payload).unwrap();
        assert_eq!(hs.extension_id(UT_METADATA), Some(2));
        assert_eq!(hs.extension_id(UT_PEX), Some(1));
        assert_eq!(hs.extension_id("lt_donthave"), Some(7));
        assert_eq!(hs.v.as_deref(), Some("libtorrent 2.0.11"));
        assert_eq!(hs.p, Some(51413));
        assert_eq!(hs.reqq, Some(500));
        assert_eq!(hs.metadata_size, Some(5202));
        assert_eq!(hs.yourip, None);
    }

    #[test]
    fn odd_values_are_ignored_not_fatal() {
        let payload = b"d1:md11:ut_metadatai0e6:ut_pexi300e1:x1:ye\
            13:metadata_sizei99999999999e1:pi-1e4:reqq3:abc1:vi5e\
            6:yourip16:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01e";
        let hs = ExtendedHandshake::decode(payload).unwrap();
        // ut_metadata switched off, ut_pex id out of range, x not an int.
        assert_eq!(hs.m.get(UT_METADATA), Some(&0));
        assert_eq!(hs.extension_id(UT_METADATA), None);
        assert_eq!(hs.extension_id(UT_PEX), None);
        assert_eq!(hs.m.len(), 1);
        assert_eq!(hs.metadata_size, None, "above the metadata limit");
        assert_eq!(hs.p, None);
        assert_eq!(hs.reqq, None);
        assert_eq!(hs.v, None);
        assert_eq!(hs.yourip, Some("2001:db8::1".parse().unwrap()));
        // A long client name is cut.
        let long = format!("d1:v200:{}e", "a".repeat(200));
        let hs = ExtendedHandshake::decode(long.as_bytes()).unwrap();
        assert_eq!(hs.v.unwrap().len(), MAX_CLIENT_VERSION_LEN);
    }

    #[test]
    fn random_bencode_never_panics() {
        use rand::{Rng, SeedableRng};
        // Tokens of bencode, so that random strings often get deep into the
        // parsers rather than failing at the first byte.
        const TOKENS: &[&[u8]] = &[
            b"d",
            b"l",
            b"e",
            b"i",
            b"-",
            b"0",
            b"1",
            b"9",
            b":",
            b"1:",
            b"2:",
            b"6:",
            b"i1e",
            b"i-1e",
            b"1:m",
            b"8:msg_type",
            b"5:piece",
            b"10:total_size",
            b"5:added",
            b"7:added.f",
            b"6:added6",
            b"7:dropped",
            b"11:ut_metadata",
            b"13:metadata_size",
            b"4:reqq",
            b"6:yourip",
            b"\xff",
            b"\x00",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xBE9C0DE);
        for _ in 0..30_000 {
            let mut payload = vec![b'd'];
            for _ in 0..rng.gen_range(0..24) {
                payload.extend_from_slice(TOKENS[rng.gen_range(0..TOKENS.len())]);
            }
            if rng.gen_bool(0.5) {
                payload.push(b'e');
            }
            let _ = ExtendedHandshake::decode(&payload);
            let _ = MetadataMessage::decode(&Bytes::from(payload.clone()));
            let _ = PexMessage::decode(&payload);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b""[..],
            b"x",
            b"i42e",
            b"l1:ae",
            b"d1:m",
            b"d1:md11:ut_metadatai1e",
            b"d3:abc",
            b"di1ei2ee",
            &[b'd'; 1000][..],
        ] {
            assert!(
                matches!(
                    ExtendedHandshake::decode(bad),
                    Err(WireError::Bencode { .. })
                ),
                "{bad:?}"
            );
        }
        let deep = [&b"d1:x"[..], &[b'l'; 5000], &[b'e'; 5000], b"e"].concat();
        assert!(ExtendedHandshake::decode(&deep).is_err());
    }
}
