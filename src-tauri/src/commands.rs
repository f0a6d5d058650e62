//! The Tauri commands the UI invokes. Each one is a thin adapter: it takes
//! plain arguments, calls the engine's public API (blocking work off the async
//! runtime), and returns a DTO or a [`CommandError`].

use std::io::Read;
use std::path::Path;

use tauri::{AppHandle, Runtime};

use shoal::metainfo::MAX_METAINFO_LEN;
use shoal::Metainfo;

use crate::dto::{AppInfo, TorrentInfo};
use crate::error::CommandError;
use crate::events::{self, TorrentOpened};

/// The app's version.
#[tauri::command]
pub fn app_info() -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Reads the .torrent file at `path` and returns what it describes.
#[tauri::command]
pub async fn torrent_info<R: Runtime>(
    app: AppHandle<R>,
    path: String,
) -> Result<TorrentInfo, CommandError> {
    let info = tauri::async_runtime::spawn_blocking(move || read_torrent_info(&path))
        .await
        .map_err(|e| CommandError::Internal(e.to_string()))??;
    events::emit(
        &app,
        events::TORRENT_OPENED,
        TorrentOpened {
            name: info.name.clone(),
            info_hash: info.info_hash.clone(),
        },
    );
    Ok(info)
}

/// Reads and parses a .torrent file, refusing anything larger than the
/// engine's limit before reading it. Blocking.
pub fn read_torrent_info(path: &str) -> Result<TorrentInfo, CommandError> {
    let trimmed = path.trim();
    if trimmed.is_empty() {
        return Err(CommandError::NoPath);
    }
    let read_err = |source| CommandError::Read {
        path: trimmed.to_string(),
        source,
    };
    let file = std::fs::File::open(Path::new(trimmed)).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(CommandError::NotAFile {
            path: trimmed.to_string(),
        });
    }
    let too_large = |len| CommandError::TooLarge {
        path: trimmed.to_string(),
        len,
        limit: MAX_METAINFO_LEN,
    };
    if meta.len() > MAX_METAINFO_LEN as u64 {
        return Err(too_large(meta.len()));
    }
    // Read at most one byte past the limit, in case the file grew meanwhile.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_METAINFO_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() > MAX_METAINFO_LEN {
        return Err(too_large(bytes.len() as u64));
    }
    let metainfo = Metainfo::from_bytes(&bytes).map_err(|e| CommandError::BadTorrent {
        path: trimmed.to_string(),
        reason: e.to_string(),
    })?;
    Ok(TorrentInfo::from_metainfo(trimmed.to_string(), &metainfo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_path_is_refused() {
        assert!(matches!(read_torrent_info("  "), Err(CommandError::NoPath)));
    }

    #[test]
    fn missing_file_says_so() {
        let err = read_torrent_info("/nonexistent/x.torrent").unwrap_err();
        assert_eq!(err.kind(), "read");
        assert!(err.to_string().contains("/nonexistent/x.torrent"));
    }

    #[test]
    fn folder_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_torrent_info(dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(err.kind(), "notAFile");
    }

    #[test]
    fn garbage_is_a_bad_torrent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.torrent");
        std::fs::write(&path, b"this is not bencode").unwrap();
        let err = read_torrent_info(path.to_str().unwrap()).unwrap_err();
        assert_eq!(err.kind(), "badTorrent");
    }

    #[test]
    fn single_file_torrent_is_described() {
        // A hand-made single-file torrent: 5 bytes in one 16 KiB piece.
        let mut t = Vec::new();
        t.extend_from_slice(b"d8:announce30:http://127.0.0.1:6969/announce7:comment5:hello4:infod");
        t.extend_from_slice(b"6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:");
        t.extend_from_slice(&[7u8; 20]);
        t.extend_from_slice(b"ee");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.torrent");
        std::fs::write(&path, &t).unwrap();
        let info = read_torrent_info(path.to_str().unwrap()).unwrap();
        assert_eq!(info.name, "a.txt");
        assert_eq!(info.total_size, 5);
        assert_eq!(info.piece_length, 16384);
        assert_eq!(info.piece_count, 1);
        assert_eq!(info.files.len(), 1);
        assert_eq!(info.files[0].path, "a.txt");
        assert_eq!(
            info.trackers,
            vec![vec!["http://127.0.0.1:6969/announce".to_string()]]
        );
        assert_eq!(info.comment.as_deref(), Some("hello"));
        assert_eq!(info.info_hash.len(), 40);
    }
}
