//! Shoal's desktop app: a Tauri 2 window whose Svelte UI (`ui/`, embedded
//! from `ui/dist`) is a thin client of the Shoal engine.
//!
//! Crate map:
//! - [`commands`]: the Tauri commands the UI invokes; each calls the engine's
//!   public API and nothing else.
//! - [`dto`]: the serde shapes that cross to the UI. The engine has no JSON of
//!   its own; serialization happens only here, at the boundary.
//! - [`error`]: the error every command returns, serialized as
//!   `{ kind, message }` for the UI to show.
//! - [`events`]: what the app pushes to the window unasked.

pub mod commands;
pub mod dto;
pub mod error;
pub mod events;

/// Builds the app and runs it until its last window closes.
pub fn run() {
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::torrent_info
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("shoal-desktop: {e}");
        std::process::exit(1);
    }
}
