//! The torrent list kept across restarts, until the engine keeps it itself
//! (`SessionConfig::state_dir`): `torrents.json` in the data folder lists each
//! torrent's save folder and paused flag; its .torrent is stored beside it as
//! `torrents/<info hash>.torrent` once known (a magnet link until then).
//! On start the list is added back; the engine checks the data already on
//! disk, so progress comes back verified, not trusted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use shoal::magnet::Magnet;
use shoal::torrent::{AddTorrent, TorrentState};
use shoal::{InfoHash, Metainfo};

use crate::config::write_atomic;
use crate::state::{lock, AppState};

/// The list file inside the data folder.
pub const LIST_FILE: &str = "torrents.json";

/// One saved torrent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedTorrent {
    /// Info hash, hex.
    pub id: String,
    /// Save folder.
    pub save_dir: PathBuf,
    /// Paused by the user.
    pub paused: bool,
    /// A magnet link, for a torrent whose metadata was not known yet.
    pub magnet: Option<String>,
}

/// Writes the list and any .torrent not stored yet. Errors are reported to
/// the log only: the running session is unaffected.
pub async fn save(state: &AppState) {
    let Some(session) = &state.session else {
        return;
    };
    let data_dir = lock(&state.config).paths.data_dir.clone();
    let mut list = Vec::new();
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for h in session.torrents() {
        let (hidden, dir) = {
            let book = lock(&state.book);
            (
                book.hidden.contains(&h.info_hash),
                book.save_dirs.get(&h.info_hash).cloned(),
            )
        };
        let Some(dir) = dir.filter(|_| !hidden) else {
            continue;
        };
        let id = h.info_hash.to_hex();
        let path = torrent_file(&data_dir, &id);
        let meta = h.metainfo().await;
        let magnet = match &meta {
            Some(m) => {
                if !path.exists() {
                    files.push((path, m.to_bytes()));
                }
                None
            }
            None => Some(
                Magnet {
                    info_hash: h.info_hash,
                    display_name: Some(h.stats().name),
                    trackers: Vec::new(),
                    peers: Vec::new(),
                }
                .to_uri(),
            ),
        };
        list.push(SavedTorrent {
            id,
            save_dir: dir,
            paused: h.stats().state == TorrentState::Paused,
            magnet,
        });
    }
    list.sort_by(|a, b| a.id.cmp(&b.id));
    let json = serde_json::to_vec_pretty(&list).unwrap_or_default();
    {
        let mut last = lock(&state.saved_list);
        if *last == json && files.is_empty() {
            return;
        }
        *last = json.clone();
    }
    let result = tauri::async_runtime::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir.join("torrents"))?;
        for (path, bytes) in files {
            write_atomic(&path, &bytes)?;
        }
        write_atomic(&data_dir.join(LIST_FILE), &json)
    })
    .await;
    if let Ok(Err(e)) = result {
        eprintln!("shoal-desktop: cannot save the torrent list: {e}");
    }
}

/// Adds the saved torrents back; returns a message for each that could not
/// be.
pub async fn restore(state: &AppState) -> Vec<String> {
    let Some(session) = state.session.clone() else {
        return Vec::new();
    };
    let data_dir = lock(&state.config).paths.data_dir.clone();
    let list: Vec<SavedTorrent> = match std::fs::read(data_dir.join(LIST_FILE)) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(l) => l,
            Err(e) => {
                return vec![format!(
                "The saved torrent list {} could not be read ({e}); starting with an empty list.",
                data_dir.join(LIST_FILE).display()
            )]
            }
        },
        Err(_) => return Vec::new(),
    };
    let mut messages = Vec::new();
    for t in list {
        let add = match &t.magnet {
            Some(uri) => Magnet::parse(uri)
                .map(|m| AddTorrent::magnet(m, t.save_dir.clone()))
                .map_err(|e| e.to_string()),
            None => std::fs::read(torrent_file(&data_dir, &t.id))
                .map_err(|e| e.to_string())
                .and_then(|b| Metainfo::from_bytes(&b).map_err(|e| e.to_string()))
                .map(|m| AddTorrent::new(m, t.save_dir.clone())),
        };
        match add {
            Ok(mut a) => {
                a.paused = t.paused;
                let ih: InfoHash = a.source.info_hash();
                if let Err(e) =
                    crate::commands::add_to_session(state, session.clone(), a, t.save_dir).await
                {
                    messages.push(format!(
                        "Torrent {} could not be restored: {e}.",
                        ih.to_hex()
                    ));
                }
            }
            Err(e) => messages.push(format!("Torrent {} could not be restored: {e}.", t.id)),
        }
    }
    messages
}

fn torrent_file(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("torrents").join(format!("{id}.torrent"))
}
