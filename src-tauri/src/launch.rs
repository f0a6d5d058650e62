//! Torrents handed to the app on its command line: by the desktop (a
//! `magnet:` link or a .torrent file opened with Shoal, see
//! `assets/shoal.desktop`), or by a second launch, whose arguments the
//! single-instance plugin passes to the running app.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime};

use shoal::magnet::Magnet;
use shoal::torrent::AddTorrent;

use crate::commands::{add_to_session, read_metainfo};
use crate::events::{self, Notice, NOTICE};
use crate::state::AppState;

/// One thing to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A magnet link, as given.
    Magnet(String),
    /// A .torrent file.
    File(PathBuf),
}

/// The targets among command-line arguments (the program name excluded):
/// `magnet:` links, `file://` URLs and paths. Options (`-x`) are skipped.
pub fn targets(args: &[String]) -> Vec<Target> {
    args.iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty() && !a.starts_with('-'))
        .filter_map(|a| {
            if a.len() >= 7 && a[..7].eq_ignore_ascii_case("magnet:") {
                Some(Target::Magnet(a.to_string()))
            } else if a.starts_with("file://") {
                url::Url::parse(a)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .map(Target::File)
            } else {
                Some(Target::File(PathBuf::from(a)))
            }
        })
        .collect()
}

/// Adds each target to the session, into the download folder. Returns a
/// message for each one that failed, and the names of those added.
pub async fn open(state: &AppState, targets: Vec<Target>) -> (Vec<String>, Vec<String>) {
    let (mut failed, mut added) = (Vec::new(), Vec::new());
    let Some(session) = state.session.clone() else {
        if !targets.is_empty() {
            failed.push("The engine is not running, so nothing can be opened.".into());
        }
        return (failed, added);
    };
    let dir = crate::state::lock(&state.config).download_dir();
    for t in targets {
        let add = match &t {
            Target::Magnet(uri) => Magnet::parse(uri)
                .map(|m| AddTorrent::magnet(m, dir.clone()))
                .map_err(|e| format!("Cannot open {uri}: this is not a usable magnet link: {e}.")),
            Target::File(p) => {
                let path = p.display().to_string();
                tauri::async_runtime::spawn_blocking(move || read_metainfo(&path))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| format!("Cannot open it: {e}.")))
                    .map(|m| AddTorrent::new(m, dir.clone()))
            }
        };
        let name = match &add {
            Ok(a) => a.source.display_name(),
            Err(_) => String::new(),
        };
        match add {
            Ok(a) => match add_to_session(state, session.clone(), a).await {
                Ok(_) => added.push(name),
                Err(e) => failed.push(format!("Cannot open {name}: {e}.")),
            },
            Err(m) => failed.push(m),
        }
    }
    (failed, added)
}

/// Handles a second launch's arguments: adds its targets, tells the window
/// how it went, and brings the window forward.
pub fn second_launch<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>) {
    let found = targets(argv.get(1..).unwrap_or_default());
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    if found.is_empty() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let (failed, added) = open(&state, found).await;
        for text in failed {
            events::emit(&app, NOTICE, Notice { error: true, text });
        }
        for name in added {
            events::emit(
                &app,
                NOTICE,
                Notice {
                    error: false,
                    text: format!("Added {name}"),
                },
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_magnets_urls_and_paths() {
        let args: Vec<String> = [
            "--flag",
            "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
            "file:///tmp/a%20b.torrent",
            "/tmp/c.torrent",
            "  ",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            targets(&args),
            vec![
                Target::Magnet(
                    "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567".into()
                ),
                Target::File("/tmp/a b.torrent".into()),
                Target::File("/tmp/c.torrent".into()),
            ]
        );
    }
}
