//! Shoal's desktop app: a Tauri 2 window whose Svelte UI (`ui/`, embedded
//! from `ui/dist`) is a thin client of the Shoal engine.
//!
//! Crate map:
//! - [`config`]: folders, settings, and the environment overrides for tests.
//! - [`state`]: the app state: the one engine session, what the window looks
//!   at, the app's notes on torrents.
//! - [`commands`]: the Tauri commands the UI invokes; each calls the engine's
//!   public API and nothing else.
//! - [`updates`]: the ticker that pushes session updates to the window.
//! - [`actions`]: open a torrent's folder or file, its magnet link, export.
//! - [`bindings`]: the TypeScript types of the DTOs, for the window.
//! - [`dto`]: the serde shapes that cross to the UI. The engine has no JSON of
//!   its own; serialization happens only here, at the boundary.
//! - [`error`]: the error every command returns, serialized as
//!   `{ kind, message }` for the UI to show.
//! - [`events`]: what the app pushes to the window unasked.
//! - [`launch`]: magnet links and .torrent files given on the command line,
//!   by the desktop or by a second launch.
//! - [`notify`]: desktop notifications, their text escaped.

pub mod actions;
pub mod bindings;
pub mod commands;
pub mod config;
pub mod dto;
pub mod error;
pub mod events;
pub mod launch;
pub mod notify;
pub mod state;
pub mod updates;

use tauri::Manager;

use crate::config::Config;
use crate::state::AppState;

/// Builds the app and runs it until its last window closes; the engine is
/// shut down (trackers told, files flushed) before the process exits, also
/// on SIGTERM and SIGINT.
pub fn run() {
    let app = tauri::Builder::default()
        // First, so that a second launch hands its arguments over and exits
        // before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            launch::second_launch(app, argv);
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            // The engine adds back the torrents of its state folder.
            let mut state = tauri::async_runtime::block_on(AppState::start(Config::load()));
            // Torrents given on the command line wait for the window's Add
            // dialog, unless the user chose to add them without asking.
            let args: Vec<String> = std::env::args().skip(1).collect();
            let found = launch::targets(&args);
            if launch::adds_without_asking(&state) {
                let (failed, _) = tauri::async_runtime::block_on(launch::open(&state, found));
                state.startup_messages.extend(failed);
            } else if let Some(m) = launch::queue(&state, found) {
                state.startup_messages.push(m);
            }
            for m in &state.startup_messages {
                eprintln!("shoal-desktop: {m}");
            }
            app.manage(state);
            updates::spawn(app.handle().clone());
            watch_signals(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::startup,
            commands::subscribe,
            commands::select_torrent,
            commands::set_dht_panel,
            commands::add_torrent_file,
            commands::add_magnet,
            commands::inspect_torrent,
            launch::take_opens,
            commands::create_torrent,
            commands::pause_torrents,
            commands::resume_torrents,
            commands::remove_torrents,
            commands::recheck_torrents,
            commands::set_sequential,
            commands::add_web_seed,
            commands::set_torrent_limits,
            commands::set_file_priority,
            commands::get_settings,
            actions::open_path,
            actions::torrent_magnet,
            actions::export_torrent,
            commands::save_settings,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("shoal-desktop: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            if let Some(state) = handle.try_state::<AppState>() {
                if let Some(session) = &state.session {
                    // Writes every torrent's resume record.
                    tauri::async_runtime::block_on(session.shutdown());
                }
            }
        }
    });
}

/// Turns SIGTERM and SIGINT into an orderly exit (which shuts the engine
/// down) instead of an abrupt end.
fn watch_signals(handle: tauri::AppHandle) {
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        handle.exit(0);
    });
}
