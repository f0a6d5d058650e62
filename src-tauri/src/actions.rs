//! The torrent list's actions beyond starting and stopping: open a
//! torrent's folder or one of its files with the desktop's handler, a
//! torrent's magnet link (to copy), and exporting its .torrent file. Each
//! calls the engine's public API; opening goes through the platform's
//! opener (`xdg-open` on Linux).

use std::path::{Path, PathBuf};

use tauri::State;

use shoal::magnet::Magnet;
use shoal::torrent::TorrentHandle;

use crate::commands::handles;
use crate::config::write_atomic;
use crate::error::CommandError;
use crate::state::AppState;

/// Opens the torrent's content (its folder, or the folder holding a
/// single-file torrent), or with `file` one of its files; with `folder`,
/// the folder holding that file instead of the file itself.
#[tauri::command]
pub async fn open_path(
    state: State<'_, AppState>,
    id: String,
    file: Option<usize>,
    folder: bool,
) -> Result<(), CommandError> {
    let h = handles(&state, std::slice::from_ref(&id))?.remove(0);
    let save_dir = h.save_dir().to_path_buf();
    let files = h.files().await;
    let target = match file {
        Some(i) => {
            let f = files.get(i).ok_or_else(|| CommandError::BadRequest {
                reason: format!("the torrent has no file {i}"),
            })?;
            let path = save_dir.join(&f.path);
            if folder {
                path.parent().map(Path::to_path_buf).unwrap_or(save_dir)
            } else {
                path
            }
        }
        None => content_root(&save_dir, &files),
    };
    open_with_desktop(&target)
}

/// The folder to show for a torrent: its own top folder when every file
/// lies in one, else the save folder.
fn content_root(save_dir: &Path, files: &[shoal::torrent::FileSnapshot]) -> PathBuf {
    let top = files
        .first()
        .and_then(|f| f.path.components().next())
        .map(|c| c.as_os_str().to_owned());
    match top {
        Some(top)
            if files.iter().all(|f| {
                f.path.components().count() > 1
                    && f.path.components().next().map(|c| c.as_os_str()) == Some(top.as_os_str())
            }) =>
        {
            save_dir.join(top)
        }
        _ => save_dir.to_path_buf(),
    }
}

/// Hands `path` to the desktop's opener, without waiting for it.
fn open_with_desktop(path: &Path) -> Result<(), CommandError> {
    if !path.exists() {
        return Err(CommandError::BadRequest {
            reason: format!("{} does not exist (yet)", path.display()),
        });
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let mut child = std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| CommandError::BadRequest {
            reason: format!("cannot run {opener} to open {}: {e}", path.display()),
        })?;
    // Reap it when it exits, so it leaves no zombie.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The torrent's magnet link (with its trackers, when known).
#[tauri::command]
pub async fn torrent_magnet(
    state: State<'_, AppState>,
    id: String,
) -> Result<String, CommandError> {
    let h = handles(&state, std::slice::from_ref(&id))?.remove(0);
    Ok(magnet_of(&h).await)
}

/// A torrent's magnet link: from its metainfo once known, else its info
/// hash and name.
pub async fn magnet_of(h: &TorrentHandle) -> String {
    match h.metainfo().await {
        Some(m) => Magnet::from_metainfo(&m).to_uri(),
        None => Magnet {
            display_name: Some(h.stats().name),
            ..Magnet::new(h.info_hash)
        }
        .to_uri(),
    }
}

/// Writes the torrent's .torrent file to `path`.
#[tauri::command]
pub async fn export_torrent(
    state: State<'_, AppState>,
    id: String,
    path: String,
) -> Result<(), CommandError> {
    let h = handles(&state, std::slice::from_ref(&id))?.remove(0);
    write_torrent_file(&h, PathBuf::from(path.trim())).await
}

/// Writes a torrent's metainfo, as a .torrent file, to `path` (atomically).
pub async fn write_torrent_file(h: &TorrentHandle, path: PathBuf) -> Result<(), CommandError> {
    let meta = h.metainfo().await.ok_or_else(|| CommandError::BadRequest {
        reason: "the torrent's metadata is not known yet, so there is no .torrent to export".into(),
    })?;
    let bytes = meta.to_bytes();
    tauri::async_runtime::spawn_blocking(move || {
        write_atomic(&path, &bytes).map_err(|source| CommandError::Write {
            path: path.display().to_string(),
            source,
        })
    })
    .await
    .map_err(|e| CommandError::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal::picker::Priority;
    use shoal::torrent::FileSnapshot;

    fn file(p: &str) -> FileSnapshot {
        FileSnapshot {
            path: PathBuf::from(p),
            length: 1,
            have_bytes: 0,
            priority: Priority::Normal,
            pad: false,
        }
    }

    #[tokio::test]
    async fn export_writes_the_same_torrent_and_the_magnet_names_it() {
        use shoal::session::{Session, SessionConfig};
        use shoal::torrent::AddTorrent;
        use shoal::{CreateOptions, Metainfo};

        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("share");
        std::fs::create_dir_all(&content).unwrap();
        std::fs::write(content.join("a.bin"), vec![5u8; 50_000]).unwrap();
        let meta = shoal::create_torrent(&content, &CreateOptions::default(), |_, _| {}).unwrap();
        let session = Session::new(SessionConfig {
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            dht: None,
            ..SessionConfig::default()
        })
        .await
        .unwrap();
        let h = session
            .add_torrent(AddTorrent::new(meta.clone(), dir.path()))
            .unwrap();
        let out = dir.path().join("exported/copy.torrent");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        write_torrent_file(&h, out.clone()).await.unwrap();
        let back = Metainfo::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(back.info_hash, meta.info_hash);
        assert_eq!(back.info.name, "share");
        let magnet = magnet_of(&h).await;
        assert!(
            magnet.contains(&format!("xt=urn:btih:{}", meta.info_hash.to_hex())),
            "{magnet}"
        );
        session.shutdown().await;
    }

    #[test]
    fn content_root_is_the_torrents_folder_or_the_save_folder() {
        let dir = Path::new("/d");
        let multi = [file("payload/a"), file("payload/docs/b")];
        assert_eq!(content_root(dir, &multi), PathBuf::from("/d/payload"));
        assert_eq!(
            content_root(dir, &[file("single.iso")]),
            PathBuf::from("/d")
        );
        assert_eq!(content_root(dir, &[]), PathBuf::from("/d"));
    }
}
