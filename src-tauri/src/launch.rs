//! Torrents handed to the app on its command line: by the desktop (a
//! `magnet:` link or a .torrent file opened with Shoal, see
//! `assets/shoal.desktop`), or by a second launch, whose arguments the
//! single-instance plugin passes to the running app.
//!
//! A link clicked on a web page must not start a download unseen, so unless
//! the setting "add without asking" is on, each target waits in [`Opens`]
//! until the window takes it ([`take_opens`]) and shows it in the Add
//! dialog, where the user confirms or cancels. The window is told of new
//! ones by the [`OPENS`](crate::events::OPENS) event, and takes what waits
//! when it starts, so a target that came before the window is not lost.

use std::collections::VecDeque;
use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime, State};

use shoal::magnet::Magnet;
use shoal::torrent::AddTorrent;

use crate::commands::{add_to_session, read_metainfo};
use crate::events::{self, Notice, NOTICE, OPENS};
use crate::state::{lock, AppState};

/// Most targets that wait for the window at once: a flood of launches
/// (a script, a page opening links in a loop) cannot grow the queue or
/// stack up dialogs without end; the rest are dropped and said so.
pub const MAX_WAITING_OPENS: usize = 32;

/// One thing to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A magnet link, as given.
    Magnet(String),
    /// A .torrent file.
    File(PathBuf),
}

impl Target {
    /// The target as the Add dialog's field takes it: the link, or the
    /// file's path.
    pub fn text(&self) -> String {
        match self {
            Target::Magnet(uri) => uri.clone(),
            Target::File(p) => p.display().to_string(),
        }
    }
}

/// Targets waiting for the window's Add dialog, oldest first.
#[derive(Debug, Default)]
pub struct Opens {
    /// What [`Target::text`] gave, at most [`MAX_WAITING_OPENS`].
    waiting: VecDeque<String>,
}

impl Opens {
    /// Queues targets; returns how many were dropped because the queue is
    /// full.
    pub fn push(&mut self, targets: Vec<Target>) -> usize {
        let mut dropped = 0;
        for t in targets {
            if self.waiting.len() < MAX_WAITING_OPENS {
                self.waiting.push_back(t.text());
            } else {
                dropped += 1;
            }
        }
        dropped
    }

    /// Hands every waiting target over, emptying the queue.
    pub fn take(&mut self) -> Vec<String> {
        self.waiting.drain(..).collect()
    }
}

/// Hands the window the targets waiting for its Add dialog (each once).
#[tauri::command]
pub fn take_opens(state: State<'_, AppState>) -> Vec<String> {
    lock(&state.opens).take()
}

/// Whether targets from outside are added without the Add dialog.
pub fn adds_without_asking(state: &AppState) -> bool {
    lock(&state.config).settings.add_without_asking
}

/// Queues targets for the Add dialog, with a message if some were dropped.
pub fn queue(state: &AppState, targets: Vec<Target>) -> Option<String> {
    let dropped = lock(&state.opens).push(targets);
    (dropped > 0).then(|| {
        format!(
            "{dropped} more torrents were opened than Shoal asks about at once \
             ({MAX_WAITING_OPENS}); they were not added."
        )
    })
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

/// Handles a second launch's arguments: brings the window forward and hands
/// its targets to the Add dialog, or, with "add without asking", adds them
/// and tells the window how it went.
pub fn second_launch<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>) {
    let found = targets(argv.get(1..).unwrap_or_default());
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    if found.is_empty() {
        return;
    }
    let state = app.state::<AppState>();
    if !adds_without_asking(&state) {
        if let Some(text) = queue(&state, found) {
            events::emit(app, NOTICE, Notice { error: true, text });
        }
        events::emit(app, OPENS, ());
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
    fn waiting_targets_are_bounded_and_taken_once() {
        let mut opens = Opens::default();
        let many: Vec<Target> = (0..MAX_WAITING_OPENS + 5)
            .map(|i| Target::File(format!("/tmp/{i}.torrent").into()))
            .collect();
        assert_eq!(opens.push(vec![Target::Magnet("magnet:?a".into())]), 0);
        assert_eq!(opens.push(many), 6);
        let taken = opens.take();
        assert_eq!(taken.len(), MAX_WAITING_OPENS);
        assert_eq!(taken[0], "magnet:?a");
        assert_eq!(taken[1], "/tmp/0.torrent");
        assert!(opens.take().is_empty());
    }

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
