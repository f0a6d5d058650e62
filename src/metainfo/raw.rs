//! The bencoded shapes of a .torrent file as `serde` decodes them, built so
//! that memory stays proportional to what is kept, whatever the input:
//! - the file list is checked entry by entry as it is decoded: the first bad
//!   entry is recorded and the rest is skipped without being stored;
//! - optional outer fields (`announce`, `announce-list`, `url-list`,
//!   `comment`, ...) are lenient, as in other clients: a value of the wrong
//!   type is skipped instead of refusing the file, and lists keep at most
//!   [`MAX_TRACKERS`] / [`MAX_WEB_SEEDS`] entries.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_bytes::ByteBuf;

use super::{path, MetainfoError, PAD_DIR};

/// Most tracker URLs kept from `announce-list` (all tiers together).
pub const MAX_TRACKERS: usize = 1000;
/// Most web seeds kept from `url-list`.
pub const MAX_WEB_SEEDS: usize = 1000;

/// The outer dictionary of a .torrent, minus `info`.
#[derive(Deserialize)]
pub(super) struct RawTorrent {
    pub announce: Option<LenientString>,
    #[serde(rename = "announce-list")]
    pub announce_list: Option<LenientTiers>,
    #[serde(rename = "url-list")]
    pub url_list: Option<LenientUrls>,
    pub comment: Option<LenientString>,
    #[serde(rename = "created by")]
    pub created_by: Option<LenientString>,
    #[serde(rename = "creation date")]
    pub creation_date: Option<LenientInt>,
}

/// The info dictionary as bencoded. Names are raw bytes: they are checked
/// and sanitised before they become paths.
#[derive(Deserialize)]
pub(super) struct RawInfo {
    pub name: Option<ByteBuf>,
    #[serde(rename = "name.utf-8")]
    pub name_utf8: Option<ByteBuf>,
    #[serde(rename = "piece length")]
    pub piece_length: Option<i64>,
    pub pieces: Option<ByteBuf>,
    pub length: Option<i64>,
    pub files: Option<FileList>,
    pub private: Option<i64>,
    pub source: Option<ByteBuf>,
    pub attr: Option<ByteBuf>,
}

/// One file of a multi-file torrent, checked: its path relative to the
/// torrent's folder, sanitised.
pub(super) struct ParsedFile {
    pub length: u64,
    pub rel: PathBuf,
    pub pad: bool,
    pub attr: String,
}

/// The `files` list: the entries up to the first bad one, and what was
/// wrong with it.
pub(super) struct FileList {
    pub files: Vec<ParsedFile>,
    pub error: Option<MetainfoError>,
}

#[derive(Deserialize)]
struct RawFile {
    length: Option<i64>,
    path: Option<PathParts>,
    #[serde(rename = "path.utf-8")]
    path_utf8: Option<PathParts>,
    attr: Option<ByteBuf>,
    /// BEP 47: where a link entry (attr `l`) points, from the torrent's root.
    #[serde(rename = "symlink path")]
    symlink_path: Option<PathParts>,
}

/// The components of a file's path, kept only up to [`path::MAX_PATH_LEN`]
/// bytes in all; `too_long` says that more followed (and was skipped).
struct PathParts {
    parts: Vec<ByteBuf>,
    too_long: bool,
}

impl<'de> Deserialize<'de> for PathParts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PathParts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of path components")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PathParts, A::Error> {
                let mut p = PathParts {
                    parts: Vec::new(),
                    too_long: false,
                };
                let mut len = 0;
                while !p.too_long {
                    match seq.next_element::<ByteBuf>()? {
                        None => return Ok(p),
                        Some(part) => {
                            len += part.len() + 1;
                            if len > path::MAX_PATH_LEN {
                                p.too_long = true;
                            } else {
                                p.parts.push(part);
                            }
                        }
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(p)
            }
        }
        d.deserialize_seq(V)
    }
}

/// Lossy UTF-8.
pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_file(index: usize, raw: RawFile) -> Result<ParsedFile, MetainfoError> {
    let length = raw
        .length
        .ok_or(MetainfoError::MissingFileLength { index })?;
    let length = u64::try_from(length).map_err(|_| MetainfoError::NegativeLength(length))?;
    let PathParts { parts, too_long } = raw.path_utf8.or(raw.path).unwrap_or(PathParts {
        parts: Vec::new(),
        too_long: false,
    });
    let shown = || parts.iter().map(|p| lossy(p)).collect::<Vec<_>>().join("/");
    if too_long {
        return Err(MetainfoError::BadPath {
            path: shown(),
            error: path::PathError::TooLong,
        });
    }
    let rel = path::sanitize_components(parts.iter().map(|p| p.as_slice())).map_err(|error| {
        MetainfoError::BadPath {
            path: shown(),
            error,
        }
    })?;
    let attr = raw.attr.map(|a| lossy(&a)).unwrap_or_default();
    let link = attr.contains('l');
    if link {
        check_link(&shown(), length, raw.symlink_path)?;
    }
    // A link entry is never created on disk either (it holds no data).
    let pad = link
        || attr.contains('p')
        || (parts.len() == 2 && parts[0].as_slice() == PAD_DIR.as_bytes());
    Ok(ParsedFile {
        length,
        rel,
        pad,
        attr,
    })
}

/// Checks a BEP 47 link entry: it holds no data, and its target is a path
/// inside the torrent (plain components from the torrent's root, so never
/// absolute and never `..`). Links are never created on disk; this refuses a
/// torrent that asks for one leading out of itself.
fn check_link(path: &str, length: u64, target: Option<PathParts>) -> Result<(), MetainfoError> {
    let bad = |why: String| MetainfoError::BadSymlink {
        path: path.to_string(),
        why,
    };
    if length != 0 {
        return Err(bad(format!(
            "a link holds no data, but it has {length} bytes"
        )));
    }
    let Some(PathParts { parts, too_long }) = target else {
        return Err(bad("it has no target (\"symlink path\")".into()));
    };
    let shown = parts.iter().map(|p| lossy(p)).collect::<Vec<_>>().join("/");
    if too_long {
        return Err(bad(format!("its target {shown:?} is too long")));
    }
    match path::sanitize_components(parts.iter().map(|p| p.as_slice())) {
        Ok(_) => Ok(()),
        Err(e) => Err(bad(format!(
            "its target {shown:?} leaves the torrent or is not a plain path ({e})"
        ))),
    }
}

impl<'de> Deserialize<'de> for FileList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FileList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of file dictionaries")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileList, A::Error> {
                let mut list = FileList {
                    files: Vec::new(),
                    error: None,
                };
                while list.error.is_none() {
                    match seq.next_element::<RawFile>()? {
                        None => return Ok(list),
                        Some(raw) => match parse_file(list.files.len(), raw) {
                            Ok(f) => list.files.push(f),
                            Err(e) => list.error = Some(e),
                        },
                    }
                }
                // Skip the rest without keeping it.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(list)
            }
        }
        d.deserialize_seq(V)
    }
}

/// A byte string, or `None` for a value of another type (skipped).
pub(super) struct LenientString(pub Option<String>);

/// An integer, or `None` for a value of another type (skipped).
pub(super) struct LenientInt(pub Option<i64>);

/// BEP 12 tiers: lists of URL strings; anything else is skipped.
pub(super) struct LenientTiers(pub Vec<Vec<String>>);

/// `url-list`: one URL string or a list of them.
pub(super) struct LenientUrls(pub Vec<String>);

/// What one lenient value turned out to be.
enum Any {
    Str(String),
    Int(i64),
    Other,
}

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Any;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any bencode value")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Any, E> {
                Ok(Any::Str(lossy(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Any, E> {
                Ok(Any::Int(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Any, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Any::Other)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Any, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Any::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for LenientString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(LenientString(match Any::deserialize(d)? {
            Any::Str(s) => Some(s),
            _ => None,
        }))
    }
}

impl<'de> Deserialize<'de> for LenientInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(LenientInt(match Any::deserialize(d)? {
            Any::Int(i) => Some(i),
            _ => None,
        }))
    }
}

/// Collects strings from a list into `out` (up to `room` of them), skipping
/// other values; returns how many were added.
fn strings_of<'de, A: SeqAccess<'de>>(
    mut seq: A,
    out: &mut Vec<String>,
    room: usize,
) -> Result<usize, A::Error> {
    let mut added = 0;
    while let Some(v) = seq.next_element::<Any>()? {
        if let (Any::Str(s), true) = (v, added < room) {
            out.push(s);
            added += 1;
        }
    }
    Ok(added)
}

impl<'de> Deserialize<'de> for LenientUrls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientUrls;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL or a list of URLs")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<LenientUrls, E> {
                Ok(LenientUrls(vec![lossy(v)]))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientUrls, E> {
                Ok(LenientUrls(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LenientUrls, A::Error> {
                let mut urls = Vec::new();
                strings_of(seq, &mut urls, MAX_WEB_SEEDS)?;
                Ok(LenientUrls(urls))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<LenientUrls, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientUrls(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One tier of `announce-list`; `None` when the element is not a list.
struct LenientTier(Option<Vec<String>>);

impl<'de> Deserialize<'de> for LenientTier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientTier;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tracker URLs")
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<LenientTier, E> {
                Ok(LenientTier(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientTier, E> {
                Ok(LenientTier(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LenientTier, A::Error> {
                let mut urls = Vec::new();
                // The overall cap is applied by the caller.
                strings_of(seq, &mut urls, MAX_TRACKERS)?;
                Ok(LenientTier(Some(urls)))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<LenientTier, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientTier(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for LenientTiers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientTiers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tiers")
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<LenientTiers, E> {
                Ok(LenientTiers(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientTiers, E> {
                Ok(LenientTiers(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientTiers, A::Error> {
                let mut tiers: Vec<Vec<String>> = Vec::new();
                let mut total = 0;
                while let Some(LenientTier(tier)) = seq.next_element::<LenientTier>()? {
                    let Some(mut urls) = tier else { continue };
                    urls.truncate(MAX_TRACKERS - total);
                    total += urls.len();
                    if !urls.is_empty() {
                        tiers.push(urls);
                    }
                }
                Ok(LenientTiers(tiers))
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LenientTiers, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientTiers(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_list_stops_keeping_at_the_first_bad_entry() {
        // Two million empty entries: refused at the first, nothing stored.
        let mut b = b"l".to_vec();
        b.extend(std::iter::repeat_n(*b"de", 2_000_000).flatten());
        b.push(b'e');
        let list: FileList = serde_bencode::from_bytes(&b).unwrap();
        assert!(list.files.is_empty());
        assert_eq!(
            list.error,
            Some(MetainfoError::MissingFileLength { index: 0 })
        );
        let ok: FileList = serde_bencode::from_bytes(
            b"ld6:lengthi3e4:pathl1:a1:beed4:attr1:p6:lengthi1e4:pathl1:peee",
        )
        .unwrap();
        assert!(ok.error.is_none());
        assert_eq!(ok.files[0].rel, PathBuf::from("a/b"));
        assert!(ok.files[1].pad);
        let mut deep = b"ld6:lengthi1e4:pathl".to_vec();
        deep.extend(std::iter::repeat_n(*b"1:a", 3000).flatten());
        deep.extend_from_slice(b"eee");
        let list: FileList = serde_bencode::from_bytes(&deep).unwrap();
        assert!(matches!(
            list.error,
            Some(MetainfoError::BadPath {
                error: path::PathError::TooLong,
                ..
            })
        ));
    }

    #[test]
    fn lenient_fields_are_capped() {
        let mut b = b"d13:announce-listl".to_vec();
        for _ in 0..3 {
            b.push(b'l');
            for _ in 0..MAX_TRACKERS {
                b.extend_from_slice(b"3:url");
            }
            b.push(b'e');
        }
        b.extend_from_slice(b"i5ee8:url-listl1:ai1el1:be1:ce7:comment");
        b.extend_from_slice(b"li1ee13:creation date1:xe");
        let raw: RawTorrent = serde_bencode::from_bytes(&b).unwrap();
        let tiers = raw.announce_list.unwrap().0;
        assert_eq!(tiers.iter().map(Vec::len).sum::<usize>(), MAX_TRACKERS);
        assert_eq!(raw.url_list.unwrap().0, vec!["a", "c"]);
        assert_eq!(raw.comment.unwrap().0, None);
        assert_eq!(raw.creation_date.unwrap().0, None);
    }
}
