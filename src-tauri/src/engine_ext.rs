//! Detail the window shows that the engine reports in its own calls (files,
//! trackers, pieces), turned into DTOs. Where the engine has no call yet,
//! the value is derived from what it does report (the metainfo, the stats)
//! and marked as such: per-file progress is then known only for complete
//! torrents, tracker status is "unknown", and the piece map is drawn from
//! the piece count alone.

use shoal::metainfo::Metainfo;
use shoal::picker::Priority;
use shoal::torrent::{TorrentHandle, TorrentStats};

use crate::dto::{FileRow, PieceMap, TrackerRow};

/// The files of a torrent (empty before a magnet's metadata arrives).
pub async fn files(
    _h: &TorrentHandle,
    meta: Option<&Metainfo>,
    priorities: Option<Vec<Priority>>,
    stats: &TorrentStats,
) -> Vec<FileRow> {
    let Some(meta) = meta else {
        return Vec::new();
    };
    meta.info
        .files
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let priority = priorities
                .as_ref()
                .and_then(|p| p.get(index).copied())
                .unwrap_or_default();
            let parts: Vec<String> = f
                .path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            FileRow {
                index,
                path: parts.join("/"),
                length: f.length,
                have_bytes: (stats.complete && priority != Priority::Skip).then_some(f.length),
                priority: priority_label(priority).to_string(),
                pad: f.pad,
            }
        })
        .collect()
}

/// The trackers of a torrent.
pub async fn trackers(_h: &TorrentHandle, meta: Option<&Metainfo>) -> Vec<TrackerRow> {
    let Some(meta) = meta else {
        return Vec::new();
    };
    meta.trackers()
        .into_iter()
        .enumerate()
        .flat_map(|(tier, urls)| {
            urls.into_iter().map(move |url| TrackerRow {
                url,
                tier,
                status: "unknown".to_string(),
                last_announce: None,
                next_announce: None,
                peers: 0,
                seeders: None,
                leechers: None,
                message: None,
            })
        })
        .collect()
}

/// The piece map; `None` before the metadata.
pub async fn pieces(_h: &TorrentHandle, stats: &TorrentStats) -> Option<PieceMap> {
    if stats.num_pieces == 0 {
        return None;
    }
    let n = stats.num_pieces as usize;
    let mut have = vec![0u8; n.div_ceil(8)];
    if stats.complete || stats.pieces_have == stats.num_pieces {
        for i in 0..n {
            have[i / 8] |= 0x80 >> (i % 8);
        }
    }
    Some(PieceMap {
        num_pieces: stats.num_pieces,
        have,
        downloading: Vec::new(),
        availability: Vec::new(),
    })
}

/// The UI's name for a priority.
pub fn priority_label(p: Priority) -> &'static str {
    match p {
        Priority::Skip => "skip",
        Priority::Normal => "normal",
        Priority::High => "high",
    }
}

/// A priority from the UI's name.
pub fn parse_priority(s: &str) -> Option<Priority> {
    match s {
        "skip" => Some(Priority::Skip),
        "normal" => Some(Priority::Normal),
        "high" => Some(Priority::High),
        _ => None,
    }
}
