//! The shapes that cross from Rust to the UI, as JSON. The engine knows
//! nothing of serde or the window; these types copy what the UI needs out of
//! engine types, so the engine can change without breaking the UI's contract
//! (mirrored in `ui/src/lib/types.ts`).

use serde::Serialize;

use shoal::{FileEntry, Metainfo};

/// What the window shows about the app itself (About, status bar).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version, so a bug report names the build.
    pub version: String,
}

/// A .torrent file's contents, as the "Open torrent" view shows them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TorrentInfo {
    /// The path the user opened, echoed so the view can show where it came from.
    pub path: String,
    /// The torrent's name (the file, or the top folder of a multi-file torrent).
    pub name: String,
    /// The info hash as 40 lowercase hex digits: the torrent's identity,
    /// what other clients show and what a magnet link carries.
    pub info_hash: String,
    /// Total payload in bytes, pad files included (as the pieces cover them).
    pub total_size: u64,
    /// Bytes per piece (the last piece may be shorter).
    pub piece_length: u64,
    /// Number of pieces, so the user can judge the piece size chosen.
    pub piece_count: u32,
    /// Whether the content lives in a folder named `name`.
    pub multi_file: bool,
    /// Files in torrent order.
    pub files: Vec<FileInfo>,
    /// Tracker URLs in BEP 12 tiers (a client tries a tier's trackers before
    /// moving to the next tier).
    pub trackers: Vec<Vec<String>>,
    /// BEP 27: a private torrent uses only its trackers (no DHT, no PEX).
    pub private: bool,
    /// The creator's free-text comment, if any.
    pub comment: Option<String>,
    /// The program that made the torrent, if it said.
    pub created_by: Option<String>,
    /// When it was made, seconds since the Unix epoch, if it said.
    pub creation_date: Option<i64>,
}

/// One file of a torrent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// Path relative to the save folder, components joined with `/`, so the
    /// UI shows the same thing on every platform.
    pub path: String,
    /// Length in bytes.
    pub length: u64,
    /// A BEP 47 pad file: alignment filler that is never written to disk,
    /// shown dimmed or hidden.
    pub pad: bool,
}

impl TorrentInfo {
    /// Copies what the UI shows out of a parsed torrent.
    pub fn from_metainfo(path: String, m: &Metainfo) -> Self {
        TorrentInfo {
            path,
            name: m.info.name.clone(),
            info_hash: m.info_hash.to_hex(),
            total_size: m.info.total_length(),
            piece_length: m.info.piece_length,
            piece_count: m.info.num_pieces(),
            multi_file: m.info.multi_file,
            files: m.info.files.iter().map(FileInfo::from).collect(),
            trackers: m.trackers(),
            private: m.info.private,
            comment: m.comment.clone(),
            created_by: m.created_by.clone(),
            creation_date: m.creation_date,
        }
    }
}

impl From<&FileEntry> for FileInfo {
    fn from(f: &FileEntry) -> Self {
        let parts: Vec<String> = f
            .path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        FileInfo {
            path: parts.join("/"),
            length: f.length,
            pad: f.pad,
        }
    }
}
