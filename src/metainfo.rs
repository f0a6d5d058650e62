//! .torrent files (BEP 3, 12, 27, 47): reading with validation and path
//! sanitising, and writing. Owns the rule that the info hash is the SHA-1 of
//! the exact bytes of the `info` value as they stand in the file.

pub mod path;
mod raw;

use std::path::PathBuf;

use bytes::Bytes;
use raw::{lossy, FileList, RawInfo, RawTorrent};
use serde::Deserialize;
use sha1::{Digest, Sha1};

use crate::bencode::{self, BencodeError};
use crate::types::{InfoHash, PieceIndex};
pub use path::{safe_join, sanitize_component, PathError, MAX_COMPONENT_LEN};
pub use raw::{MAX_TRACKERS, MAX_WEB_SEEDS};

/// Largest .torrent file or metadata blob we accept (32 MiB).
pub const MAX_METAINFO_LEN: usize = 32 * 1024 * 1024;
/// Largest piece length we accept (64 MiB).
pub const MAX_PIECE_LEN: u64 = 64 * 1024 * 1024;
/// Bytes of SHA-1 per piece in `pieces`.
pub const PIECE_HASH_LEN: usize = 20;
/// The folder of the BEP 47 pad-file convention (`name/.pad/<size>`).
pub const PAD_DIR: &str = ".pad";

/// A parsed, validated .torrent file.
#[derive(Debug, Clone)]
pub struct Metainfo {
    /// The validated info dictionary.
    pub info: Info,
    /// SHA-1 of `info_bytes`.
    pub info_hash: InfoHash,
    /// The exact bytes of the `info` value, kept to serve metadata (BEP 9)
    /// and to write the file back without changing its hash.
    pub info_bytes: Bytes,
    /// `announce`: the single tracker of BEP 3.
    pub announce: Option<String>,
    /// `announce-list`: tiers of trackers (BEP 12).
    pub announce_list: Vec<Vec<String>>,
    /// `url-list`: web seeds (BEP 19), fetched from by `crate::webseed`.
    pub url_list: Vec<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
}

/// The validated `info` dictionary.
#[derive(Debug, Clone)]
pub struct Info {
    /// `name`, sanitised to one safe path component.
    pub name: String,
    /// `piece length` in bytes.
    pub piece_length: u64,
    /// The SHA-1 of each piece.
    pub pieces: Vec<[u8; 20]>,
    /// Files in torrent order, pad files included (and marked).
    pub files: Vec<FileEntry>,
    /// Whether the torrent was a multi-file one (`files` key), so the
    /// content lives under a folder named `name`.
    pub multi_file: bool,
    /// `private` (BEP 27): no DHT, no PEX.
    pub private: bool,
    /// `source`, used by private trackers to make the hash unique.
    pub source: Option<String>,
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the save folder, `name` first; every component
    /// sanitised (never absolute, never `..`).
    pub path: PathBuf,
    /// Length in bytes.
    pub length: u64,
    /// Offset of the file's first byte in the torrent's byte stream.
    pub offset: u64,
    /// A BEP 47 pad file, or a link entry (attr `l`, which holds no data):
    /// never written to disk, reads as zeros.
    pub pad: bool,
    /// BEP 47 attributes other than padding (`x` executable, `h` hidden, `l` link).
    pub attr: String,
}

impl Info {
    /// Sum of all file lengths.
    pub fn total_length(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Length of one piece: `piece_length` except for the last one.
    /// Zero for an index past the end.
    pub fn piece_len(&self, index: PieceIndex) -> u32 {
        let start = index.0 as u64 * self.piece_length;
        // At most `piece_length`, which is at most 64 MiB: fits in u32.
        self.total_length()
            .saturating_sub(start)
            .min(self.piece_length) as u32
    }
}

/// Why a .torrent file or an info dictionary is refused. Each variant names
/// one rule of DESIGN.md's "Limits against bad input".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    /// Larger than [`MAX_METAINFO_LEN`].
    #[error("torrent is {len} bytes, more than the {max} bytes allowed")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not well-formed bencode: truncated, too deep, malformed.
    #[error("torrent is not valid bencode: {0}")]
    Bencode(#[from] BencodeError),
    /// The file's top level is not a dictionary.
    #[error("torrent is not a bencoded dictionary")]
    NotADict,
    /// No `info` key.
    #[error("torrent has no info dictionary")]
    MissingInfo,
    /// `info` is present but not a dictionary.
    #[error("torrent's info value is not a dictionary")]
    InfoNotADict,
    /// A field has the wrong type (serde's message says which).
    #[error("torrent has a field of the wrong type: {0}")]
    Decode(String),
    /// No `name` in the info dictionary.
    #[error("torrent has no name")]
    MissingName,
    /// The name is not usable as a single path component.
    #[error("torrent name {name:?} is not allowed: {error}")]
    BadName {
        /// The name as given (lossily decoded).
        name: String,
        /// What is wrong with it.
        error: PathError,
    },
    /// No `piece length`.
    #[error("torrent has no piece length")]
    MissingPieceLength,
    /// `piece length` zero, negative or above [`MAX_PIECE_LEN`].
    #[error("torrent piece length {0} is not between 1 and 64 MiB")]
    BadPieceLength(i64),
    /// No `pieces` (a v2-only torrent has none either).
    #[error("torrent has no piece hashes (v2-only torrents are not supported)")]
    MissingPieces,
    /// `pieces` is not a whole number of 20-byte hashes.
    #[error("torrent's pieces field is {0} bytes, not a multiple of 20")]
    PiecesNotMultipleOf20(usize),
    /// The number of hashes does not match the total length.
    #[error("torrent has {got} piece hashes but its files need {expected}")]
    WrongPieceCount {
        /// Pieces the total length needs.
        expected: u64,
        /// Hashes present.
        got: u64,
    },
    /// Neither `length` nor `files`.
    #[error("torrent has neither a length nor a file list")]
    MissingLength,
    /// Both `length` and `files`.
    #[error("torrent has both a length and a file list")]
    BothLengthAndFiles,
    /// `files` is an empty list.
    #[error("torrent's file list is empty")]
    NoFiles,
    /// A file entry without a `length`.
    #[error("file {index} of the torrent has no length")]
    MissingFileLength {
        /// Position in `files`.
        index: usize,
    },
    /// A negative file length.
    #[error("torrent has a negative file length {0}")]
    NegativeLength(i64),
    /// The file lengths add up past 2^63.
    #[error("torrent's file lengths add up to more than 2^63 bytes")]
    LengthOverflow,
    /// A file path that is refused.
    #[error("torrent file path {path:?} is not allowed: {error}")]
    BadPath {
        /// The path as given, components joined by `/` (lossily decoded).
        path: String,
        /// What is wrong with it.
        error: PathError,
    },
    /// A BEP 47 link entry that is refused: its target leaves the torrent
    /// (or is missing), or it claims to hold data.
    #[error("torrent file {path:?} is a link that is not allowed: {why}")]
    BadSymlink {
        /// The entry's path as given, components joined by `/`.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Two files with the same path after sanitising.
    #[error("torrent names the file {0:?} twice")]
    DuplicatePath(String),
}

impl Metainfo {
    /// Parses and validates a .torrent file. Size and nesting limits are
    /// checked before anything is decoded; the info hash is the SHA-1 of the
    /// exact bytes of the `info` value. Bytes after the top-level dictionary
    /// are ignored, as other clients do.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        if bytes.len() > MAX_METAINFO_LEN {
            return Err(MetainfoError::TooLarge {
                len: bytes.len(),
                max: MAX_METAINFO_LEN,
            });
        }
        if bytes.first() != Some(&b'd') {
            return match bencode::scan(bytes, 0) {
                Err(e) => Err(e.into()),
                Ok(_) => Err(MetainfoError::NotADict),
            };
        }
        let end = bencode::scan(bytes, 0)?;
        let bytes = &bytes[..end];
        let span = bencode::dict_value_span(bytes, b"info")?.ok_or(MetainfoError::MissingInfo)?;
        let info_bytes = Bytes::copy_from_slice(&bytes[span]);
        let mut meta = Metainfo::from_info_bytes(info_bytes)?;

        let raw: RawTorrent = decode(bytes)?;
        meta.announce = raw.announce.and_then(|v| v.0);
        meta.announce_list = raw.announce_list.map(|v| v.0).unwrap_or_default();
        meta.url_list = raw.url_list.map(|v| v.0).unwrap_or_default();
        meta.comment = raw.comment.and_then(|v| v.0);
        meta.created_by = raw.created_by.and_then(|v| v.0);
        meta.creation_date = raw.creation_date.and_then(|v| v.0);
        Ok(meta)
    }

    /// A metainfo with only the info dictionary set (no trackers, comment or
    /// dates): what a magnet link yields once the metadata arrived, and the
    /// starting point of torrent creation.
    pub fn from_info_bytes(info_bytes: Bytes) -> Result<Metainfo, MetainfoError> {
        let info = Info::from_bytes(&info_bytes)?;
        let info_hash = InfoHash(Sha1::digest(&info_bytes).into());
        Ok(Metainfo {
            info,
            info_hash,
            info_bytes,
            announce: None,
            announce_list: Vec::new(),
            url_list: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
        })
    }

    /// Encodes the torrent. The `info` value is written back byte for byte,
    /// so the info hash never changes; the outer keys are written sorted.
    /// Outer keys this type does not hold (`nodes`, `httpseeds`, ...) are
    /// not kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = bencode::Writer::new();
        w.dict();
        if let Some(a) = &self.announce {
            w.bytes(b"announce").bytes(a.as_bytes());
        }
        if !self.announce_list.is_empty() {
            w.bytes(b"announce-list").list();
            for tier in &self.announce_list {
                w.list();
                for url in tier {
                    w.bytes(url.as_bytes());
                }
                w.end();
            }
            w.end();
        }
        if let Some(c) = &self.comment {
            w.bytes(b"comment").bytes(c.as_bytes());
        }
        if let Some(c) = &self.created_by {
            w.bytes(b"created by").bytes(c.as_bytes());
        }
        if let Some(d) = self.creation_date {
            w.bytes(b"creation date").int(d);
        }
        w.bytes(b"info").raw(&self.info_bytes);
        if !self.url_list.is_empty() {
            w.bytes(b"url-list").list();
            for url in &self.url_list {
                w.bytes(url.as_bytes());
            }
            w.end();
        }
        w.end();
        w.finish()
    }

    /// The trackers in BEP 12 tiers: `announce-list` when it has any,
    /// otherwise the single `announce` as one tier, otherwise none.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            self.announce_list.clone()
        } else if let Some(a) = &self.announce {
            vec![vec![a.clone()]]
        } else {
            Vec::new()
        }
    }
}

impl Info {
    /// Parses and validates a bencoded info dictionary (from a .torrent file
    /// or from BEP 9 metadata). The bytes must be exactly one dictionary.
    pub fn from_bytes(info_bytes: &[u8]) -> Result<Info, MetainfoError> {
        if info_bytes.len() > MAX_METAINFO_LEN {
            return Err(MetainfoError::TooLarge {
                len: info_bytes.len(),
                max: MAX_METAINFO_LEN,
            });
        }
        bencode::validate_exact(info_bytes)?;
        if info_bytes.first() != Some(&b'd') {
            return Err(MetainfoError::InfoNotADict);
        }
        let raw: RawInfo = decode(info_bytes)?;

        let raw_name = raw
            .name_utf8
            .as_ref()
            .or(raw.name.as_ref())
            .ok_or(MetainfoError::MissingName)?;
        let name = sanitize_component(raw_name).map_err(|error| MetainfoError::BadName {
            name: String::from_utf8_lossy(raw_name).into_owned(),
            error,
        })?;

        let piece_length = raw.piece_length.ok_or(MetainfoError::MissingPieceLength)?;
        if piece_length <= 0 || piece_length as u64 > MAX_PIECE_LEN {
            return Err(MetainfoError::BadPieceLength(piece_length));
        }
        let piece_length = piece_length as u64;

        let pieces_raw = raw.pieces.as_ref().ok_or(MetainfoError::MissingPieces)?;
        if pieces_raw.len() % PIECE_HASH_LEN != 0 {
            return Err(MetainfoError::PiecesNotMultipleOf20(pieces_raw.len()));
        }
        let pieces: Vec<[u8; 20]> = pieces_raw
            .chunks_exact(PIECE_HASH_LEN)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();

        let (files, multi_file) = match (raw.length, raw.files) {
            (Some(_), Some(_)) => return Err(MetainfoError::BothLengthAndFiles),
            (None, None) => return Err(MetainfoError::MissingLength),
            (Some(length), None) => {
                let length =
                    u64::try_from(length).map_err(|_| MetainfoError::NegativeLength(length))?;
                if raw.attr.as_ref().is_some_and(|a| a.contains(&b'l')) {
                    return Err(MetainfoError::BadSymlink {
                        path: name,
                        why: "a single-file torrent cannot be a link".into(),
                    });
                }
                let file = FileEntry {
                    path: PathBuf::from(&name),
                    length,
                    offset: 0,
                    pad: false,
                    attr: raw.attr.as_ref().map(|a| lossy(a)).unwrap_or_default(),
                };
                (vec![file], false)
            }
            (None, Some(list)) => (file_list(&name, list)?, true),
        };

        let total = files
            .last()
            .map(|f| f.offset + f.length)
            .unwrap_or_default();
        let expected = total.div_ceil(piece_length);
        if expected != pieces.len() as u64 {
            return Err(MetainfoError::WrongPieceCount {
                expected,
                got: pieces.len() as u64,
            });
        }

        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            multi_file,
            private: raw.private == Some(1),
            source: raw.source.as_ref().map(|s| lossy(s)),
        })
    }

    /// The hash of one piece, `None` past the end.
    pub fn piece_hash(&self, index: PieceIndex) -> Option<&[u8; 20]> {
        self.pieces.get(index.as_usize())
    }
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, MetainfoError> {
    serde_bencode::from_bytes(bytes).map_err(|e| MetainfoError::Decode(e.to_string()))
}

/// Builds the entries of a multi-file torrent from the checked file list:
/// paths under `name`, offsets; overflow and duplicates refused.
fn file_list(name: &str, list: FileList) -> Result<Vec<FileEntry>, MetainfoError> {
    if let Some(e) = list.error {
        return Err(e);
    }
    if list.files.is_empty() {
        return Err(MetainfoError::NoFiles);
    }
    let mut files = Vec::with_capacity(list.files.len());
    let mut offset: u64 = 0;
    for f in list.files {
        files.push(FileEntry {
            path: PathBuf::from(name).join(f.rel),
            length: f.length,
            offset,
            pad: f.pad,
            attr: f.attr,
        });
        offset = offset
            .checked_add(f.length)
            .filter(|&o| o <= i64::MAX as u64)
            .ok_or(MetainfoError::LengthOverflow)?;
    }
    let mut seen: Vec<&PathBuf> = files.iter().filter(|f| !f.pad).map(|f| &f.path).collect();
    seen.sort_unstable();
    if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
        return Err(MetainfoError::DuplicatePath(w[0].display().to_string()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pieces` of `n` hashes, as bencode.
    fn pieces(n: usize) -> String {
        format!("6:pieces{}:{}", n * 20, "x".repeat(n * 20))
    }

    fn single(length: i64, piece_length: i64, n: usize) -> Vec<u8> {
        format!(
            "d8:announce13:http://t/anno4:infod6:lengthi{length}e4:name5:a.txt12:piece lengthi{piece_length}e{}ee",
            pieces(n)
        )
        .into_bytes()
    }

    fn multi(files: &str, n: usize) -> Vec<u8> {
        format!(
            "d4:infod5:files{files}4:name3:dir12:piece lengthi16384e{}ee",
            pieces(n)
        )
        .into_bytes()
    }

    fn err(bytes: &[u8]) -> MetainfoError {
        Metainfo::from_bytes(bytes).unwrap_err()
    }

    #[test]
    fn single_file() {
        let m = Metainfo::from_bytes(&single(40000, 16384, 3)).unwrap();
        assert_eq!(m.info.name, "a.txt");
        assert!(!m.info.multi_file);
        assert_eq!(m.info.files.len(), 1);
        assert_eq!(m.info.files[0].path, PathBuf::from("a.txt"));
        assert_eq!(m.info.total_length(), 40000);
        assert_eq!(m.info.num_pieces(), 3);
        assert_eq!(m.info.piece_len(PieceIndex(2)), 40000 - 2 * 16384);
        assert_eq!(m.trackers(), vec![vec!["http://t/anno".to_string()]]);
        assert_eq!(m.info_hash.0, <[u8; 20]>::from(Sha1::digest(&m.info_bytes)));
    }

    #[test]
    fn multi_file_with_pads() {
        let files = "ld6:lengthi10e4:pathl1:a1:beed4:attr1:p6:lengthi16374e4:pathl4:.pad5:16374eed6:lengthi5e4:pathl1:ceed6:lengthi0e4:pathl4:.pad1:0eee";
        let m = Metainfo::from_bytes(&multi(files, 2)).unwrap();
        let f = &m.info.files;
        assert!(m.info.multi_file);
        assert_eq!(f[0].path, PathBuf::from("dir/a/b"));
        assert!(!f[0].pad);
        assert!(f[1].pad && f[1].attr == "p");
        assert_eq!(f[2].path, PathBuf::from("dir/c"));
        assert_eq!(f[2].offset, 16384);
        assert!(f[3].pad, "the .pad folder convention marks a pad file");
        assert_eq!(m.trackers(), Vec::<Vec<String>>::new());
    }

    #[test]
    fn unsorted_info_keeps_its_exact_bytes() {
        let info = format!(
            "d12:piece lengthi16384e4:name1:x{}6:lengthi5e7:unknowni1ee",
            pieces(1)
        );
        let file = format!("d4:info{info}8:announce1:ue");
        let m = Metainfo::from_bytes(file.as_bytes()).unwrap();
        assert_eq!(&m.info_bytes[..], info.as_bytes());
        assert_eq!(
            m.info_hash.0,
            <[u8; 20]>::from(Sha1::digest(info.as_bytes()))
        );
        // Writing back keeps the info bytes, so the hash survives.
        let again = Metainfo::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(again.info_hash, m.info_hash);
        assert_eq!(again.announce.as_deref(), Some("u"));
    }

    #[test]
    fn round_trip_of_outer_fields() {
        let mut m = Metainfo::from_bytes(&single(5, 16384, 1)).unwrap();
        m.announce_list = vec![vec!["a".into(), "b".into()], vec!["c".into()]];
        m.url_list = vec!["http://seed/".into()];
        m.comment = Some("hi".into());
        m.created_by = Some("Shoal/0.1.0".into());
        m.creation_date = Some(1_700_000_000);
        let bytes = m.to_bytes();
        assert!(bytes.starts_with(b"d8:announce13:http://t/anno13:announce-listll1:a1:bel1:cee7:comment2:hi10:created by11:Shoal/0.1.013:creation datei1700000000e4:infod"));
        let back = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(back.trackers(), m.announce_list);
        assert_eq!(back.url_list, m.url_list);
        assert_eq!(back.comment, m.comment);
        assert_eq!(back.created_by, m.created_by);
        assert_eq!(back.creation_date, m.creation_date);
        assert_eq!(back.info_hash, m.info_hash);
    }

    #[test]
    fn malformed_optional_fields_are_ignored() {
        let info = format!("d6:lengthi5e4:name1:x12:piece lengthi16384e{}e", pieces(1));
        let file = format!("d8:announcei3e13:announce-listli1ee4:info{info}8:url-list3:urle");
        let m = Metainfo::from_bytes(file.as_bytes()).unwrap();
        assert_eq!(m.announce, None);
        assert!(m.announce_list.is_empty());
        assert_eq!(m.url_list, vec!["url".to_string()]);
    }

    #[test]
    fn limits() {
        let big = vec![b'd'; MAX_METAINFO_LEN + 1];
        assert_eq!(
            err(&big),
            MetainfoError::TooLarge {
                len: MAX_METAINFO_LEN + 1,
                max: MAX_METAINFO_LEN
            }
        );
        let good = single(5, 16384, 1);
        assert!(matches!(
            err(&good[..good.len() - 10]),
            MetainfoError::Bencode(BencodeError::Truncated(_))
        ));
        let deep = format!("d1:x{}{}e", "l".repeat(100), "e".repeat(100));
        assert_eq!(
            err(deep.as_bytes()),
            MetainfoError::Bencode(BencodeError::TooDeep {
                max: bencode::MAX_DEPTH
            })
        );
        assert_eq!(err(b"li1ee"), MetainfoError::NotADict);
        assert_eq!(err(b"d1:xi1ee"), MetainfoError::MissingInfo);
        assert_eq!(err(b"d4:infoi1ee"), MetainfoError::InfoNotADict);
    }

    #[test]
    fn bad_info_fields() {
        assert_eq!(
            err(&single(40000, 16384, 2)),
            MetainfoError::WrongPieceCount {
                expected: 3,
                got: 2
            }
        );
        assert_eq!(err(&single(5, 0, 1)), MetainfoError::BadPieceLength(0));
        assert_eq!(err(&single(5, -1, 1)), MetainfoError::BadPieceLength(-1));
        assert_eq!(
            err(&single(5, 128 << 20, 1)),
            MetainfoError::BadPieceLength(128 << 20)
        );
        assert_eq!(
            err(&single(-5, 16384, 0)),
            MetainfoError::NegativeLength(-5)
        );
        let odd = b"d4:infod6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces3:abcee";
        assert_eq!(err(odd), MetainfoError::PiecesNotMultipleOf20(3));
        let no_pieces = b"d4:infod6:lengthi5e4:name1:x12:piece lengthi16384eee";
        assert_eq!(err(no_pieces), MetainfoError::MissingPieces);
        let no_name = format!("d4:infod6:lengthi5e12:piece lengthi16384e{}ee", pieces(1));
        assert_eq!(err(no_name.as_bytes()), MetainfoError::MissingName);
        let no_len = format!("d4:infod4:name1:x12:piece lengthi16384e{}ee", pieces(1));
        assert_eq!(err(no_len.as_bytes()), MetainfoError::MissingLength);
        assert_eq!(err(&multi("le", 0)), MetainfoError::NoFiles);
        let both = format!(
            "d4:infod5:filesld6:lengthi1e4:pathl1:aeee6:lengthi1e4:name1:x12:piece lengthi16384e{}ee",
            pieces(1)
        );
        assert_eq!(err(both.as_bytes()), MetainfoError::BothLengthAndFiles);
        let wrong_type = format!(
            "d4:infod6:length3:abc4:name1:x12:piece lengthi16384e{}ee",
            pieces(1)
        );
        assert!(matches!(
            err(wrong_type.as_bytes()),
            MetainfoError::Decode(_)
        ));
    }

    #[test]
    fn overflowing_lengths() {
        let max = i64::MAX;
        let files = format!("ld6:lengthi{max}e4:pathl1:aeed6:lengthi{max}e4:pathl1:beee");
        assert_eq!(err(&multi(&files, 1)), MetainfoError::LengthOverflow);
        let huge = b"d4:infod6:lengthi99999999999999999999999e4:name1:x12:piece lengthi1eee";
        assert!(matches!(
            err(huge),
            MetainfoError::Bencode(BencodeError::IntegerOverflow(_))
        ));
    }

    #[test]
    fn path_traversal() {
        let cases: &[(&str, PathError)] = &[
            ("l2:..1:ae", PathError::ParentDir),
            ("l1:a2:..e", PathError::ParentDir),
            ("l1:.e", PathError::CurrentDir),
            ("l4:/etce", PathError::Absolute),
            ("l0:1:ae", PathError::Empty),
            ("le", PathError::NoComponents),
            ("l3:a/be", PathError::Separator),
            ("l3:a\0be", PathError::Nul),
        ];
        for (path, want) in cases {
            let files = format!("ld6:lengthi1e4:path{path}ee");
            match err(&multi(&files, 1)) {
                MetainfoError::BadPath { error, .. } => assert_eq!(error, *want, "{path}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        let bad_name = format!(
            "d4:infod6:lengthi5e4:name2:..12:piece lengthi16384e{}ee",
            pieces(1)
        );
        assert!(matches!(
            err(bad_name.as_bytes()),
            MetainfoError::BadName {
                error: PathError::ParentDir,
                ..
            }
        ));
        let dup = "ld6:lengthi1e4:pathl1:aeed6:lengthi1e4:pathl1:aeee";
        assert_eq!(
            err(&multi(dup, 1)),
            MetainfoError::DuplicatePath("dir/a".into())
        );
    }

    #[test]
    fn utf8_names_are_preferred() {
        let mut file =
            b"d4:infod6:lengthi5e4:name2:x\xff10:name.utf-81:y12:piece lengthi16384e".to_vec();
        file.extend_from_slice(pieces(1).as_bytes());
        file.extend_from_slice(b"ee");
        let m = Metainfo::from_bytes(&file).unwrap();
        assert_eq!(m.info.name, "y");
    }

    #[test]
    fn info_from_bytes_refuses_trailing_data() {
        let info = format!("d6:lengthi5e4:name1:x12:piece lengthi16384e{}ee", pieces(1));
        assert!(matches!(
            Info::from_bytes(info.as_bytes()),
            Err(MetainfoError::Bencode(BencodeError::TrailingData(1)))
        ));
        assert!(Info::from_bytes(&info.as_bytes()[..info.len() - 1]).is_ok());
    }
}
