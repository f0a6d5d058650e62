//! Magnet links (BEP 9): parsing `magnet:?xt=urn:btih:...` with its display
//! name, trackers, direct peers and file selection (BEP 53 `so`), and
//! formatting them back.
//!
//! Values are decoded as `application/x-www-form-urlencoded` (percent escapes,
//! `+` as a space), which is what clients write in practice. Parameters other
//! than `xt`, `dn`, `tr`, `x.pe` and `so` are ignored; a BitTorrent v2 topic
//! (`urn:btmh:`) is ignored when a v1 topic is present too (hybrid links).

use url::form_urlencoded;

use crate::metainfo::Metainfo;
use crate::types::{HashParseError, InfoHash};

/// A parsed magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Magnet {
    /// The torrent's identity (`xt=urn:btih:`), the only required part.
    pub info_hash: InfoHash,
    /// `dn`: a name to show until the metadata arrives.
    pub display_name: Option<String>,
    /// Every `tr`, in order, duplicates removed: trackers to ask for peers.
    pub trackers: Vec<String>,
    /// Every `x.pe`: peers (`host:port`) to dial directly.
    pub peers: Vec<String>,
    /// BEP 53 `so`: the files to download, as inclusive ranges of file
    /// indices (pad files count); empty means every file.
    pub select_only: Vec<(u32, u32)>,
}

/// Most ranges one `so` parameter may hold; a longer list is refused.
pub const MAX_SELECT_RANGES: usize = 1024;

/// Longest display name kept, in bytes (the limit of a file name, as a
/// .torrent's name is cut): a longer `dn` is shortened, not refused.
pub const MAX_DISPLAY_NAME: usize = 255;

/// Most `tr` kept from one link, as from a .torrent; the rest are ignored.
pub const MAX_TRACKERS: usize = 1000;

/// Most `x.pe` kept from one link; the rest are ignored.
pub const MAX_PEERS: usize = 200;

/// Why a magnet link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    /// The text does not start with `magnet:?`.
    #[error("not a magnet link: it must start with \"magnet:?\"")]
    NotMagnet,
    /// No `xt` parameter at all.
    #[error("magnet link has no exact topic (xt=urn:btih:...)")]
    MissingInfoHash,
    /// Only a BitTorrent v2 topic, which we cannot use yet.
    #[error("magnet link has only a BitTorrent v2 hash (urn:btmh), which is not supported")]
    V2Only,
    /// An `xt` that is not a BitTorrent topic.
    #[error("magnet link topic {0:?} is not urn:btih")]
    UnsupportedTopic(String),
    /// The hash after `urn:btih:` is not 40 hex or 32 base32 characters.
    #[error("magnet link info hash is invalid: {0}")]
    BadInfoHash(#[from] HashParseError),
    /// Two different `urn:btih:` hashes.
    #[error("magnet link names two different info hashes")]
    ConflictingInfoHashes,
    /// A `tr` that is not an absolute URL.
    #[error("magnet link tracker {0:?} is not a URL")]
    BadTracker(String),
    /// An `x.pe` that is not `host:port`.
    #[error("magnet link peer {0:?} is not host:port")]
    BadPeer(String),
    /// An `so` that is not a list of indices and ranges (`0,2,4-6`).
    #[error("magnet link file selection {0:?} is not a list of file numbers (like 0,2,4-6)")]
    BadSelection(String),
}

impl Magnet {
    /// Parses a magnet link.
    pub fn parse(uri: &str) -> Result<Magnet, MagnetError> {
        let uri = uri.trim();
        let query = match uri.get(..8) {
            Some(prefix) if prefix.eq_ignore_ascii_case("magnet:?") => &uri[8..],
            _ => return Err(MagnetError::NotMagnet),
        };
        let mut info_hash: Option<InfoHash> = None;
        let mut saw_v2 = false;
        let mut display_name = None;
        let mut trackers: Vec<String> = Vec::new();
        let mut peers = Vec::new();
        let mut select_only = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "xt" => {
                    let lower = value.to_ascii_lowercase();
                    if lower.starts_with("urn:btih:") {
                        let hash = InfoHash::from_str_any(&value[9..])?;
                        if info_hash.is_some_and(|h| h != hash) {
                            return Err(MagnetError::ConflictingInfoHashes);
                        }
                        info_hash = Some(hash);
                    } else if lower.starts_with("urn:btmh:") {
                        saw_v2 = true;
                    } else {
                        return Err(MagnetError::UnsupportedTopic(value.into_owned()));
                    }
                }
                "dn" => display_name = Some(bounded_name(&value)),
                "tr" => {
                    if !is_tracker_url(&value) {
                        return Err(MagnetError::BadTracker(value.into_owned()));
                    }
                    if trackers.len() < MAX_TRACKERS && !trackers.iter().any(|t| *t == value) {
                        trackers.push(value.into_owned());
                    }
                }
                "x.pe" => {
                    if !is_host_port(&value) {
                        return Err(MagnetError::BadPeer(value.into_owned()));
                    }
                    if peers.len() < MAX_PEERS {
                        peers.push(value.into_owned());
                    }
                }
                "so" => {
                    select_only = parse_selection(&value)
                        .ok_or_else(|| MagnetError::BadSelection(value.into_owned()))?;
                }
                _ => {}
            }
        }
        let info_hash = match info_hash {
            Some(h) => h,
            None if saw_v2 => return Err(MagnetError::V2Only),
            None => return Err(MagnetError::MissingInfoHash),
        };
        Ok(Magnet {
            info_hash,
            display_name,
            trackers,
            peers,
            select_only,
        })
    }

    /// A link with only the info hash; set the other fields with struct
    /// update syntax (`Magnet { peers, ..Magnet::new(hash) }`).
    pub fn new(info_hash: InfoHash) -> Magnet {
        Magnet {
            info_hash,
            display_name: None,
            trackers: Vec::new(),
            peers: Vec::new(),
            select_only: Vec::new(),
        }
    }

    /// Whether file `index` is selected (every file is, without `so`).
    pub fn selects(&self, index: usize) -> bool {
        self.select_only.is_empty()
            || self
                .select_only
                .iter()
                .any(|&(a, b)| (a as usize..=b as usize).contains(&index))
    }

    /// Formats the link: `xt` with the hash in hex, then `dn`, every `tr`
    /// and every `x.pe`, each form-encoded (an `x.pe` of the `host:port`
    /// form, `[::1]:6881` included, as is).
    pub fn to_uri(&self) -> String {
        let mut s = format!("magnet:?xt=urn:btih:{}", self.info_hash.to_hex());
        let param = |s: &mut String, key: &str, value: &str| {
            s.push('&');
            s.push_str(key);
            s.push('=');
            s.extend(form_urlencoded::byte_serialize(value.as_bytes()));
        };
        if let Some(dn) = &self.display_name {
            param(&mut s, "dn", dn);
        }
        for tr in &self.trackers {
            param(&mut s, "tr", tr);
        }
        for pe in &self.peers {
            // Written as is when it is `host:port`: its characters need no
            // escape in a query, and libtorrent reads `x.pe` without
            // unescaping it, so `%5B%3A%3A1%5D%3A6881` would be lost to it.
            if is_host_port(pe) {
                s.push_str("&x.pe=");
                s.push_str(pe);
            } else {
                param(&mut s, "x.pe", pe);
            }
        }
        if !self.select_only.is_empty() {
            let list: Vec<String> = self
                .select_only
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            param(&mut s, "so", &list.join(","));
        }
        s
    }

    /// The magnet link of a torrent: its hash, name and every tracker of
    /// every tier. A tracker that is not a URL with a host (a torrent may
    /// name anything) is left out, since [`Magnet::parse`] refuses a link
    /// holding one.
    pub fn from_metainfo(meta: &Metainfo) -> Magnet {
        let mut trackers: Vec<String> = Vec::new();
        for url in meta.trackers().into_iter().flatten() {
            if is_tracker_url(&url) && !trackers.contains(&url) {
                trackers.push(url);
            }
        }
        Magnet {
            info_hash: meta.info_hash,
            display_name: Some(meta.info.name.clone()),
            trackers,
            peers: Vec::new(),
            select_only: Vec::new(),
        }
    }
}

/// A `tr` value we accept: a URL with a host.
/// A display name cut to [`MAX_DISPLAY_NAME`] bytes on a character
/// boundary.
fn bounded_name(name: &str) -> String {
    let mut end = name.len().min(MAX_DISPLAY_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

fn is_tracker_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| u.has_host())
}

/// BEP 53: `0,2,4-6` as inclusive ranges; `None` for anything else (an
/// empty item, a reversed range, a number past `u32`, too many items).
fn parse_selection(s: &str) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for item in s.split(',') {
        if out.len() == MAX_SELECT_RANGES {
            return None;
        }
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (a, b),
            None => (item, item),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return None;
        }
        let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
        if a > b {
            return None;
        }
        out.push((a, b));
    }
    Some(out)
}

/// `host:port` with a non-empty host (a name, IPv4, or `[IPv6]`) and a
/// non-zero port.
fn is_host_port(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    };
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c9e15763f722f23e98a29decdfae341b98d53056";

    #[test]
    fn ipv6_peers_are_read_and_written_bracketed() {
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&x.pe=[::1]:6881")).unwrap();
        assert_eq!(m.peers, vec!["[::1]:6881"]);
        let uri = m.to_uri();
        assert!(uri.ends_with("&x.pe=[::1]:6881"), "{uri}");
        assert_eq!(Magnet::parse(&uri).unwrap(), m);
        // A peer set by hand that is not host:port is escaped.
        let odd = Magnet {
            peers: vec!["a b&c".into()],
            ..m
        };
        assert!(odd.to_uri().ends_with("&x.pe=a+b%26c"), "{}", odd.to_uri());
    }

    #[test]
    fn parses_a_full_link() {
        let uri = format!(
            "magnet:?xt=urn:btih:{HEX}&dn=Some+Name%21&tr=udp%3A%2F%2Ft1%3A80%2Fannounce\
             &tr=http://t2/announce&x.pe=127.0.0.1:6881&x.pe=%5B%3A%3A1%5D:51413&xl=10"
        );
        let m = Magnet::parse(&uri).unwrap();
        assert_eq!(m.info_hash.to_hex(), HEX);
        assert_eq!(m.display_name.as_deref(), Some("Some Name!"));
        assert_eq!(
            m.trackers,
            vec!["udp://t1:80/announce", "http://t2/announce"]
        );
        assert_eq!(m.peers, vec!["127.0.0.1:6881", "[::1]:51413"]);
        assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
    }

    /// A torrent may name a tracker that is no URL; its magnet link must
    /// still be one we can open (found by fuzzing the metainfo parser).
    #[test]
    fn a_torrents_link_leaves_out_trackers_that_are_not_urls() {
        let torrent =
            b"d13:announce-listll31:http://127.0.0.1:52261ano/nunceel17:udp://t1:80/annouee\
            4:infod6:lengthi3000e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
        let meta = Metainfo::from_bytes(torrent).unwrap();
        let link = Magnet::from_metainfo(&meta);
        assert_eq!(link.trackers, vec!["udp://t1:80/annou"]);
        assert_eq!(Magnet::parse(&link.to_uri()).unwrap(), link);
    }

    #[test]
    fn file_selection() {
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0,2,4-6")).unwrap();
        assert_eq!(m.select_only, vec![(0, 0), (2, 2), (4, 6)]);
        let picked: Vec<usize> = (0..8).filter(|i| m.selects(*i)).collect();
        assert_eq!(picked, vec![0, 2, 4, 5, 6]);
        assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
        let all = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
        assert!(all.selects(7));
        for bad in ["", "1,", "a", "3-1", "-2", "1-", "99999999999", "1;2"] {
            assert!(
                matches!(
                    Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={bad}")),
                    Err(MagnetError::BadSelection(_))
                ),
                "so={bad}"
            );
        }
        let many = vec!["1"; MAX_SELECT_RANGES + 1].join(",");
        assert!(Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={many}")).is_err());
    }

    #[test]
    fn base32_and_case() {
        let h: InfoHash = HEX.parse().unwrap();
        let m = Magnet::parse(&format!("MAGNET:?xt=URN:BTIH:{}", h.to_base32())).unwrap();
        assert_eq!(m.info_hash, h);
        assert_eq!(m.display_name, None);
        assert_eq!(m.to_uri(), format!("magnet:?xt=urn:btih:{HEX}"));
    }

    #[test]
    fn hybrid_link_uses_the_v1_hash() {
        let uri = format!("magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:{HEX}");
        assert_eq!(Magnet::parse(&uri).unwrap().info_hash.to_hex(), HEX);
    }

    #[test]
    fn long_names_and_lists_are_bounded() {
        let name = "é".repeat(1000);
        let tr: String = (0..MAX_TRACKERS + 5)
            .map(|i| format!("&tr=http://t{i}.example/announce"))
            .collect();
        let pe: String = (0..MAX_PEERS + 5)
            .map(|i| format!("&x.pe=10.0.{}.{}:6881", i / 250, i % 250 + 1))
            .collect();
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&dn={name}{tr}{pe}")).unwrap();
        let dn = m.display_name.unwrap();
        assert!(dn.len() <= MAX_DISPLAY_NAME && dn.len() >= MAX_DISPLAY_NAME - 1);
        assert!(name.starts_with(&dn));
        assert_eq!(m.trackers.len(), MAX_TRACKERS);
        assert_eq!(m.peers.len(), MAX_PEERS);
    }

    #[test]
    fn malformed_links() {
        use MagnetError::*;
        assert_eq!(Magnet::parse("http://x/"), Err(NotMagnet));
        assert_eq!(Magnet::parse("magnet:"), Err(NotMagnet));
        assert_eq!(Magnet::parse("magnet:?dn=x"), Err(MissingInfoHash));
        assert_eq!(Magnet::parse("magnet:?xt=urn:btmh:1220ab"), Err(V2Only));
        assert_eq!(
            Magnet::parse("magnet:?xt=urn:sha1:abc"),
            Err(UnsupportedTopic("urn:sha1:abc".into()))
        );
        assert_eq!(
            Magnet::parse("magnet:?xt=urn:btih:abc"),
            Err(BadInfoHash(HashParseError::BadLength(3)))
        );
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{}", "z".repeat(40))),
            Err(BadInfoHash(HashParseError::BadChar('z')))
        );
        let other = "0".repeat(40);
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{other}")),
            Err(ConflictingInfoHashes)
        );
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&tr=not a url")),
            Err(BadTracker("not a url".into()))
        );
        for bad in ["nohost", ":80", "h:0", "h:99999", "[zz]:1", "a b:1"] {
            assert_eq!(
                Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&x.pe={bad}")),
                Err(BadPeer(bad.into())),
                "{bad}"
            );
        }
    }
}
