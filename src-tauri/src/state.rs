//! The app's state, managed by Tauri and shared by the commands and the
//! update ticker: the one engine [`Session`], the configuration, what the
//! window is looking at, and the list order of the torrents. The engine
//! keeps everything else, across restarts too.
//!
//! Locks here are `std::sync::Mutex`es held for a copy or an insert, never
//! across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tauri::ipc::Channel;
use tokio::sync::Notify;

use shoal::session::{Session, SessionError};
use shoal::InfoHash;

use crate::config::Config;
use crate::dto::SessionUpdate;

/// The detail pane's tab: the ticker gathers only what the tab shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetailTab {
    /// Facts, piece map, speed graph.
    #[default]
    Overview,
    /// Connections.
    Peers,
    /// Files and priorities.
    Files,
    /// Trackers.
    Trackers,
}

impl DetailTab {
    /// Parses the UI's tab name; unknown names mean Overview.
    pub fn parse(s: &str) -> DetailTab {
        match s {
            "peers" => DetailTab::Peers,
            "files" => DetailTab::Files,
            "trackers" => DetailTab::Trackers,
            _ => DetailTab::Overview,
        }
    }
}

/// What the window is looking at, and where its updates go.
#[derive(Default)]
pub struct View {
    /// The selected torrent, whose detail each update carries.
    pub selected: Option<InfoHash>,
    /// The tab shown for it.
    pub tab: DetailTab,
    /// Whether the DHT panel is open (its state is gathered only then).
    pub dht_open: bool,
    /// The window's update channel; replaced when the window (re)loads.
    pub channel: Option<Channel<SessionUpdate>>,
    /// The next update must carry every row (a new subscriber).
    pub needs_full: bool,
}

/// The list order of the torrents.
#[derive(Default)]
pub struct Book {
    /// The next list position to hand out.
    next_order: u64,
    /// List position of each torrent, handed out as torrents are first seen
    /// (restored ones in the order they were first added).
    order: HashMap<InfoHash, u64>,
}

impl Book {
    /// The list position of `ih`, handing out the next one if it is new.
    pub fn order_of(&mut self, ih: InfoHash) -> u64 {
        let next = &mut self.next_order;
        *self.order.entry(ih).or_insert_with(|| {
            *next += 1;
            *next
        })
    }

    /// Forgets a removed torrent.
    pub fn forget(&mut self, ih: &InfoHash) {
        self.order.remove(ih);
    }
}

/// The state every command and the ticker share.
pub struct AppState {
    /// The engine, or `None` if it could not start (the window says why).
    pub session: Option<Session>,
    /// Configuration; the settings part changes when the user saves.
    pub config: Mutex<Config>,
    /// Messages for the window from start-up.
    pub startup_messages: Vec<String>,
    /// What the window looks at.
    pub view: Mutex<View>,
    /// The list order.
    pub book: Mutex<Book>,
    /// Wakes the ticker for an update now (after a command), not at the
    /// next tick.
    pub wake: Notify,
    /// Torrents opened from outside, waiting for the window's Add dialog.
    pub opens: Mutex<crate::launch::Opens>,
}

impl AppState {
    /// Starts the engine from `config`. A listening port in use does not
    /// stop the app: it listens on a port the system picks and says so.
    pub async fn start(config: Config) -> AppState {
        let mut messages = config.warnings.clone();
        let session = match Session::new(config.session_config()).await {
            Ok(s) => Some(s),
            Err(SessionError::Listen { addr, source }) if addr.port() != 0 => {
                let mut fallback = config.session_config();
                fallback.listen_addr.set_port(0);
                match Session::new(fallback).await {
                    Ok(s) => {
                        messages.push(format!(
                            "Port {} is in use ({source}); listening on port {} instead. \
                             Choose another port in Settings.",
                            addr.port(),
                            s.listen_port()
                        ));
                        Some(s)
                    }
                    Err(e) => {
                        messages.push(format!("The engine could not start: {e}."));
                        None
                    }
                }
            }
            Err(e) => {
                messages.push(format!("The engine could not start: {e}."));
                None
            }
        };
        for e in session.iter().flat_map(|s| s.restore_errors()) {
            messages.push(format!(
                "A saved torrent could not be restored ({e}); the file was left as it is."
            ));
        }
        if let Some(e) = session.as_ref().and_then(|s| s.dht_error()) {
            messages.push(format!(
                "The DHT is off: {e}. Torrents still find peers through trackers."
            ));
        }
        AppState {
            session,
            config: Mutex::new(config),
            startup_messages: messages,
            view: Mutex::new(View::default()),
            book: Mutex::new(Book::default()),
            wake: Notify::new(),
            opens: Mutex::new(crate::launch::Opens::default()),
        }
    }

    /// Asks the ticker for an update now.
    pub fn poke(&self) {
        self.wake.notify_one();
    }
}

/// Locks a mutex, ignoring poisoning: a panic elsewhere leaves these plain
/// maps consistent (every update is a single insert or remove).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_stable_and_increasing() {
        let mut b = Book::default();
        let a = InfoHash([1; 20]);
        let c = InfoHash([2; 20]);
        assert_eq!(b.order_of(a), 1);
        assert_eq!(b.order_of(c), 2);
        assert_eq!(b.order_of(a), 1);
        b.forget(&a);
        assert_eq!(b.order_of(a), 3);
    }
}
