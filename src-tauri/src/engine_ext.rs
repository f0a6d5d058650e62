//! A torrent's files, trackers and pieces as the engine reports them,
//! turned into the DTOs of the detail tabs; priority names.

use std::time::{SystemTime, UNIX_EPOCH};

use shoal::picker::Priority;
use shoal::torrent::TorrentHandle;
use shoal::tracker::announcer::TrackerState;

use crate::dto::{FileRow, PieceMap, TrackerRow};

/// The files of a torrent with their progress and priority (empty before
/// a magnet's metadata arrives).
pub async fn files(h: &TorrentHandle) -> Vec<FileRow> {
    h.files()
        .await
        .into_iter()
        .enumerate()
        .map(|(index, f)| {
            let parts: Vec<String> = f
                .path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            FileRow {
                index,
                path: parts.join("/"),
                length: f.length,
                have_bytes: Some(f.have_bytes),
                priority: priority_label(f.priority).to_string(),
                pad: f.pad,
            }
        })
        .collect()
}

/// The trackers of a torrent and how their announces went.
pub async fn trackers(h: &TorrentHandle) -> Vec<TrackerRow> {
    h.trackers()
        .await
        .into_iter()
        .map(|t| TrackerRow {
            url: t.url,
            tier: t.tier,
            status: match t.state {
                TrackerState::NotContacted => "not contacted",
                TrackerState::Working => "working",
                TrackerState::Updating => "updating",
                TrackerState::Error => "error",
            }
            .to_string(),
            last_announce: t.last_announce.and_then(epoch_secs),
            next_announce: t.next_announce.and_then(epoch_secs),
            peers: t.peers,
            seeders: t.seeders,
            leechers: t.leechers,
            message: t.message,
        })
        .collect()
}

/// The piece map; `None` before the metadata.
pub async fn pieces(h: &TorrentHandle) -> Option<PieceMap> {
    let p = h.pieces().await;
    (p.num_pieces > 0).then_some(PieceMap {
        num_pieces: p.num_pieces,
        have: p.have,
        downloading: p.downloading,
        availability: p.availability,
    })
}

fn epoch_secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
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
