//! .torrent files (BEP 3, 12, 27, 47): reading with validation and path
//! sanitising, and writing. Owns the rule that the info hash is the SHA-1 of
//! the exact bytes of the `info` value as they stand in the file.

use std::path::PathBuf;

use bytes::Bytes;

use crate::types::{InfoHash, PieceIndex};

/// Largest .torrent file or metadata blob we accept (32 MiB).
pub const MAX_METAINFO_LEN: usize = 32 * 1024 * 1024;
/// Largest piece length we accept (64 MiB).
pub const MAX_PIECE_LEN: u64 = 64 * 1024 * 1024;

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
    /// `url-list`: web seeds (BEP 19), kept but not used yet.
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
    /// A BEP 47 pad file: never written to disk, reads as zeros.
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
    pub fn piece_len(&self, index: PieceIndex) -> u32 {
        let start = index.0 as u64 * self.piece_length;
        (self.total_length() - start).min(self.piece_length) as u32
    }
}
