//! What the app pushes to the window without being asked. Each event has a
//! name here and a payload from [`crate::dto`]; the UI subscribes to them in
//! `ui/src/lib/api.ts`, nowhere else.

use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};

/// Sends an event to every window. A window that is gone is not an error the
/// caller can act on, so failures are only logged.
pub fn emit<R: Runtime, P: Serialize + Clone>(app: &AppHandle<R>, name: &str, payload: P) {
    if let Err(e) = app.emit(name, payload) {
        eprintln!("shoal-desktop: cannot emit {name}: {e}");
    }
}

/// A message for the window's corner: a torrent another launch handed over
/// was added, or could not be.
pub const NOTICE: &str = "shoal://notice";

/// Payload of [`NOTICE`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// Whether it reports a failure.
    pub error: bool,
    /// The sentence to show.
    pub text: String,
}

/// Torrents opened from outside wait for the Add dialog: the window takes
/// them with `take_opens`. No payload.
pub const OPENS: &str = "shoal://opens";
