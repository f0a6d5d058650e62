//! The Tauri commands the UI invokes. Each one is a thin adapter: it takes
//! plain arguments, calls the engine's public API (blocking work off the async
//! runtime), and returns a DTO or a [`CommandError`]. Commands that change
//! the session poke the update ticker, so the window sees the change at once.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tauri::ipc::Channel;
use tauri::State;

use shoal::limit::from_kib;
use shoal::magnet::Magnet;
use shoal::metainfo::MAX_METAINFO_LEN;
use shoal::session::{Session, SessionError};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentSource};
use shoal::{CreateOptions, InfoHash, Metainfo};

use crate::config::{save_settings as write_settings, write_atomic, Settings};
use crate::dto::{
    AddOptions, AppInfo, CreateProgress, CreateRequest, Created, FileRow, Priority, SessionUpdate,
    SettingsDto, Startup, TorrentPreview,
};
use crate::error::CommandError;
use crate::state::{lock, AppState, DetailTab};

/// The app's version.
#[tauri::command]
pub fn app_info() -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Start-up facts: version, messages to show, the download folder.
#[tauri::command]
pub fn startup(state: State<'_, AppState>) -> Startup {
    Startup {
        version: env!("CARGO_PKG_VERSION").to_string(),
        messages: state.startup_messages.clone(),
        download_dir: lock(&state.config).download_dir().display().to_string(),
        engine_running: state.session.is_some(),
        bench_hooks: std::env::var("SHOAL_UI_BENCH").is_ok_and(|v| v == "1"),
    }
}

/// Sends every later update to `on_update`, starting with a full one.
#[tauri::command]
pub fn subscribe(state: State<'_, AppState>, on_update: Channel<SessionUpdate>) {
    {
        let mut view = lock(&state.view);
        view.channel = Some(on_update);
        view.needs_full = true;
    }
    state.poke();
}

/// Chooses the torrent (by id; `None` for none) and tab the detail pane
/// shows.
#[tauri::command]
pub fn select_torrent(
    state: State<'_, AppState>,
    id: Option<String>,
    tab: String,
) -> Result<(), CommandError> {
    let selected = match id {
        Some(id) => Some(parse_id(&id)?),
        None => None,
    };
    {
        let mut view = lock(&state.view);
        view.selected = selected;
        view.tab = DetailTab::parse(&tab);
    }
    state.poke();
    Ok(())
}

/// Opens or closes the DHT panel (its state is gathered only while open).
#[tauri::command]
pub fn set_dht_panel(state: State<'_, AppState>, open: bool) {
    lock(&state.view).dht_open = open;
    state.poke();
}

/// Adds the .torrent file at `path`, saving into `save_dir` (the download
/// folder when absent), as the Add dialog's `options` say. Returns the
/// torrent's id.
#[tauri::command]
pub async fn add_torrent_file(
    state: State<'_, AppState>,
    path: String,
    save_dir: Option<String>,
    options: Option<AddOptions>,
) -> Result<String, CommandError> {
    let session = session(&state)?;
    let meta = tauri::async_runtime::spawn_blocking(move || read_metainfo(&path))
        .await
        .map_err(|e| CommandError::Internal(e.to_string()))??;
    let dir = save_dir_or_default(&state, save_dir);
    let add = with_options(AddTorrent::new(meta, dir), options.unwrap_or_default());
    let ih = add_to_session(&state, session, add).await?;
    Ok(ih.to_hex())
}

/// Adds a magnet link. Returns the torrent's id.
#[tauri::command]
pub async fn add_magnet(
    state: State<'_, AppState>,
    uri: String,
    save_dir: Option<String>,
    options: Option<AddOptions>,
) -> Result<String, CommandError> {
    let session = session(&state)?;
    let trimmed = uri.trim();
    if trimmed.is_empty() {
        return Err(CommandError::NoMagnet);
    }
    let magnet = Magnet::parse(trimmed).map_err(|e| CommandError::BadMagnet {
        reason: e.to_string(),
    })?;
    let dir = save_dir_or_default(&state, save_dir);
    let add = with_options(AddTorrent::magnet(magnet, dir), options.unwrap_or_default());
    let ih = add_to_session(&state, session, add).await?;
    Ok(ih.to_hex())
}

/// What the Add dialog shows about a magnet link or a .torrent file's path
/// before adding it: name, size, files.
#[tauri::command]
pub async fn inspect_torrent(source: String) -> Result<TorrentPreview, CommandError> {
    let trimmed = source.trim().to_string();
    if trimmed.len() >= 7 && trimmed[..7].eq_ignore_ascii_case("magnet:") {
        let m = Magnet::parse(&trimmed).map_err(|e| CommandError::BadMagnet {
            reason: e.to_string(),
        })?;
        return Ok(TorrentPreview {
            id: m.info_hash.to_hex(),
            name: m
                .display_name
                .clone()
                .unwrap_or_else(|| m.info_hash.to_hex()),
            magnet: true,
            total_length: None,
            files: Vec::new(),
            comment: None,
        });
    }
    let meta = tauri::async_runtime::spawn_blocking(move || read_metainfo(&trimmed))
        .await
        .map_err(|e| CommandError::Internal(e.to_string()))??;
    Ok(preview_of(&meta))
}

/// The preview of a parsed .torrent.
pub fn preview_of(meta: &Metainfo) -> TorrentPreview {
    let files = meta
        .info
        .files
        .iter()
        .enumerate()
        .map(|(index, f)| FileRow {
            index,
            path: f
                .path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/"),
            length: f.length,
            have_bytes: None,
            priority: Priority::Normal,
            pad: f.pad,
        })
        .collect();
    TorrentPreview {
        id: meta.info_hash.to_hex(),
        name: meta.info.name.clone(),
        magnet: false,
        total_length: Some(meta.info.total_length()),
        files,
        comment: meta.comment.clone(),
    }
}

/// Applies the Add dialog's choices. Files to skip are known only for a
/// .torrent (a magnet's list is empty until its metadata arrives); an
/// index past the end is ignored.
pub fn with_options(mut add: AddTorrent, options: AddOptions) -> AddTorrent {
    add.paused = options.paused;
    let files = match &add.source {
        TorrentSource::Metainfo(m) => m.info.files.len(),
        TorrentSource::Magnet(_) => 0,
    };
    if files > 0 && !options.skip_files.is_empty() {
        let mut prios = vec![shoal::picker::Priority::Normal; files];
        for i in options.skip_files {
            if let Some(slot) = prios.get_mut(i) {
                *slot = shoal::picker::Priority::Skip;
            }
        }
        add.file_priorities = prios;
    }
    add
}

/// Creates a torrent from a file or folder, hashing on a blocking thread and
/// reporting progress on `on_progress`; saves the .torrent and adds it,
/// seeding from where the content is.
#[tauri::command]
pub async fn create_torrent(
    state: State<'_, AppState>,
    request: CreateRequest,
    on_progress: Channel<CreateProgress>,
) -> Result<Created, CommandError> {
    let session = session(&state)?;
    let content = PathBuf::from(request.path.trim());
    if request.path.trim().is_empty() {
        return Err(CommandError::NoPath);
    }
    let created_dir = lock(&state.config).paths.created_dir();
    let options = CreateOptions {
        piece_length: (request.piece_length > 0).then_some(request.piece_length),
        trackers: request
            .trackers
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| vec![t.to_string()])
            .collect(),
        private: request.private,
        comment: Some(request.comment.trim().to_string()).filter(|c| !c.is_empty()),
        ..CreateOptions::default()
    };
    let output = request.output.trim().to_string();
    let path = content.clone();
    let (meta, torrent_path) = tauri::async_runtime::spawn_blocking(move || {
        // At most one progress message per percent.
        let last = AtomicU64::new(u64::MAX);
        let meta = shoal::create_torrent(&path, &options, |hashed, total| {
            let pct = (hashed * 100).checked_div(total).unwrap_or(100);
            if last.swap(pct, Ordering::Relaxed) != pct {
                let _ = on_progress.send(CreateProgress { hashed, total });
            }
        })
        .map_err(|e| CommandError::Create {
            reason: e.to_string(),
        })?;
        let torrent_path = if output.is_empty() {
            created_dir.join(format!("{}.torrent", meta.info.name))
        } else {
            PathBuf::from(output)
        };
        let write_err = |source| CommandError::Write {
            path: torrent_path.display().to_string(),
            source,
        };
        if let Some(parent) = torrent_path.parent() {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        write_atomic(&torrent_path, &meta.to_bytes()).map_err(write_err)?;
        Ok::<_, CommandError>((meta, torrent_path))
    })
    .await
    .map_err(|e| CommandError::Internal(e.to_string()))??;
    let name = meta.info.name.clone();
    let magnet = Magnet::from_metainfo(&meta).to_uri();
    // The content is `save_dir/name`: seed from the folder that holds it.
    let canonical = content.canonicalize().unwrap_or(content);
    let save_dir = canonical
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let ih = add_to_session(&state, session, AddTorrent::new(meta, save_dir)).await?;
    Ok(Created {
        id: ih.to_hex(),
        name,
        torrent_path: torrent_path.display().to_string(),
        magnet,
    })
}

/// Pauses these torrents.
#[tauri::command]
pub async fn pause_torrents(
    state: State<'_, AppState>,
    ids: Vec<String>,
) -> Result<(), CommandError> {
    for h in handles(&state, &ids)? {
        h.pause().await;
    }
    state.poke();
    Ok(())
}

/// Resumes these torrents.
#[tauri::command]
pub async fn resume_torrents(
    state: State<'_, AppState>,
    ids: Vec<String>,
) -> Result<(), CommandError> {
    for h in handles(&state, &ids)? {
        h.resume().await;
    }
    state.poke();
    Ok(())
}

/// Checks these torrents' data on disk again.
#[tauri::command]
pub async fn recheck_torrents(
    state: State<'_, AppState>,
    ids: Vec<String>,
) -> Result<(), CommandError> {
    for h in handles(&state, &ids)? {
        h.recheck().await;
    }
    state.poke();
    Ok(())
}

/// Sets a torrent's own rate limits in KiB/s (0: none); the global limits
/// apply as well. Kept across restarts.
#[tauri::command]
pub async fn set_torrent_limits(
    state: State<'_, AppState>,
    id: String,
    download_kib: u64,
    upload_kib: u64,
) -> Result<(), CommandError> {
    let h = handles(&state, std::slice::from_ref(&id))?.remove(0);
    h.set_rate_limits(from_kib(download_kib), from_kib(upload_kib));
    state.poke();
    Ok(())
}

/// Adds a web seed (an HTTP or HTTPS URL, BEP 19) to a torrent.
#[tauri::command]
pub async fn add_web_seed(
    state: State<'_, AppState>,
    id: String,
    url: String,
) -> Result<(), CommandError> {
    let h = handles(&state, std::slice::from_ref(&id))?.remove(0);
    let url = url.trim();
    if url.is_empty() {
        return Err(CommandError::BadRequest {
            reason: "no URL given: enter an http:// or https:// address".into(),
        });
    }
    h.add_web_seed(url)
        .await
        .map_err(|reason| CommandError::BadRequest {
            reason: format!("the web seed was not added: {reason}"),
        })?;
    state.poke();
    Ok(())
}

/// Turns sequential download (pieces in order, for previewing) on or off.
#[tauri::command]
pub async fn set_sequential(
    state: State<'_, AppState>,
    id: String,
    on: bool,
) -> Result<(), CommandError> {
    let h = handles(&state, std::slice::from_ref(&id))?.remove(0);
    h.set_sequential(on).await;
    state.poke();
    Ok(())
}

/// Removes these torrents from the list, deleting their data if asked.
#[tauri::command]
pub async fn remove_torrents(
    state: State<'_, AppState>,
    ids: Vec<String>,
    delete_data: bool,
) -> Result<(), CommandError> {
    let session = session(&state)?;
    for h in handles(&state, &ids)? {
        lock(&state.book).forget(&h.info_hash);
        session
            .remove(&h.info_hash, delete_data)
            .await
            .map_err(|e| CommandError::Engine {
                reason: e.to_string(),
            })?;
    }
    state.poke();
    Ok(())
}

/// Sets the priority of some files of a torrent.
#[tauri::command]
pub async fn set_file_priority(
    state: State<'_, AppState>,
    id: String,
    indices: Vec<usize>,
    priority: Priority,
) -> Result<(), CommandError> {
    let p = shoal::picker::Priority::from(priority);
    let h = handles(&state, std::slice::from_ref(&id))?.remove(0);
    let files = h.files().await;
    if files.is_empty() {
        return Err(CommandError::BadRequest {
            reason: "the torrent's files are not known yet (its metadata is still being fetched)"
                .into(),
        });
    }
    let mut prios: Vec<_> = files.iter().map(|f| f.priority).collect();
    for &i in &indices {
        if let Some(slot) = prios.get_mut(i) {
            *slot = p;
        }
    }
    h.set_file_priorities(prios).await;
    state.poke();
    Ok(())
}

/// The settings as stored (not the test overrides).
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsDto {
    let s = lock(&state.config).settings.clone();
    SettingsDto {
        download_dir: s.download_dir.display().to_string(),
        listen_port: s.listen_port,
        dht_enabled: s.dht_enabled,
        ipv6_enabled: s.ipv6_enabled,
        encryption: s.encryption().to_string(),
        download_limit_kib: s.download_limit_kib,
        upload_limit_kib: s.upload_limit_kib,
        add_without_asking: s.add_without_asking,
    }
}

/// Saves the settings. The rate limits apply at once, the download folder
/// to the next torrent added; the port, the DHT and IPv6 to the next start, which the returned
/// sentence says when they changed.
#[tauri::command]
pub fn save_settings(
    state: State<'_, AppState>,
    settings: SettingsDto,
) -> Result<String, CommandError> {
    if settings.download_dir.trim().is_empty() {
        return Err(CommandError::BadRequest {
            reason: "the download folder must not be empty".into(),
        });
    }
    let new = Settings {
        download_dir: PathBuf::from(settings.download_dir.trim()),
        listen_port: settings.listen_port,
        dht_enabled: settings.dht_enabled,
        ipv6_enabled: settings.ipv6_enabled,
        encryption: settings
            .encryption
            .parse::<shoal::peer::Encryption>()
            .map_err(|reason| CommandError::BadRequest { reason })?
            .to_string(),
        download_limit_kib: settings.download_limit_kib,
        upload_limit_kib: settings.upload_limit_kib,
        add_without_asking: settings.add_without_asking,
    };
    let mut config = lock(&state.config);
    write_settings(&config.paths, &new).map_err(|e| CommandError::Settings {
        reason: e.to_string(),
    })?;
    let restart = config.settings.listen_port != new.listen_port
        || config.settings.dht_enabled != new.dht_enabled
        || config.settings.ipv6_enabled != new.ipv6_enabled
        || config.settings.encryption != new.encryption;
    if let Some(s) = &state.session {
        let (down, up) = new.rate_limits();
        s.set_rate_limits(down, up);
    }
    config.settings = new;
    Ok(if restart {
        "Settings saved. The port, DHT, IPv6 and encryption changes take effect when Shoal restarts."
            .into()
    } else {
        "Settings saved.".into()
    })
}

/// The running session, or the reason there is none.
fn session(state: &AppState) -> Result<Session, CommandError> {
    state.session.clone().ok_or(CommandError::NoEngine)
}

/// The save folder given, or the download folder in force.
fn save_dir_or_default(state: &AppState, given: Option<String>) -> PathBuf {
    match given
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    {
        Some(d) => PathBuf::from(d),
        None => lock(&state.config).download_dir(),
    }
}

/// Adds a torrent to the session and gives it the next place in the list.
pub async fn add_to_session(
    state: &AppState,
    session: Session,
    add: AddTorrent,
) -> Result<InfoHash, CommandError> {
    let ih = add.source.info_hash();
    let handle = match session.add_torrent(add) {
        Ok(h) => h,
        Err(SessionError::Duplicate(_)) => {
            return Err(CommandError::Duplicate {
                name: session
                    .torrent(&ih)
                    .map(|h| h.stats().name)
                    .unwrap_or_default(),
            })
        }
        Err(e) => {
            return Err(CommandError::Engine {
                reason: e.to_string(),
            })
        }
    };
    lock(&state.book).order_of(handle.info_hash);
    state.poke();
    Ok(handle.info_hash)
}

/// The handles of these ids, failing on the first unknown one.
pub(crate) fn handles(
    state: &AppState,
    ids: &[String],
) -> Result<Vec<TorrentHandle>, CommandError> {
    let session = session(state)?;
    ids.iter()
        .map(|id| {
            let ih = parse_id(id)?;
            session
                .torrent(&ih)
                .ok_or_else(|| CommandError::UnknownTorrent { id: id.clone() })
        })
        .collect()
}

fn parse_id(id: &str) -> Result<InfoHash, CommandError> {
    id.parse::<InfoHash>()
        .map_err(|_| CommandError::UnknownTorrent { id: id.to_string() })
}

/// Reads and parses a .torrent file (blocking).
pub fn read_metainfo(path: &str) -> Result<Metainfo, CommandError> {
    let trimmed = path.trim();
    let bytes = read_torrent_bytes(trimmed)?;
    Metainfo::from_bytes(&bytes).map_err(|e| CommandError::BadTorrent {
        path: trimmed.to_string(),
        reason: e.to_string(),
    })
}

/// Reads a .torrent file's bytes, refusing anything larger than the
/// engine's limit before reading it. Blocking.
fn read_torrent_bytes(trimmed: &str) -> Result<Vec<u8>, CommandError> {
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
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_path_is_refused() {
        assert!(matches!(read_metainfo("  "), Err(CommandError::NoPath)));
    }

    #[test]
    fn missing_file_says_so() {
        let err = read_metainfo("/nonexistent/x.torrent").unwrap_err();
        assert_eq!(err.kind(), "read");
        assert!(err.to_string().contains("/nonexistent/x.torrent"));
    }

    #[test]
    fn folder_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_metainfo(dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(err.kind(), "notAFile");
    }

    #[test]
    fn garbage_is_a_bad_torrent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.torrent");
        std::fs::write(&path, b"this is not bencode").unwrap();
        let err = read_metainfo(path.to_str().unwrap()).unwrap_err();
        assert_eq!(err.kind(), "badTorrent");
    }

    #[test]
    fn single_file_torrent_is_read() {
        // A hand-made single-file torrent: 5 bytes in one 16 KiB piece.
        let mut t = Vec::new();
        t.extend_from_slice(b"d8:announce30:http://127.0.0.1:6969/announce7:comment5:hello4:infod");
        t.extend_from_slice(b"6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:");
        t.extend_from_slice(&[7u8; 20]);
        t.extend_from_slice(b"ee");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.torrent");
        std::fs::write(&path, &t).unwrap();
        let m = read_metainfo(&format!("  {}  ", path.display())).unwrap();
        assert_eq!(m.info.name, "a.txt");
        assert_eq!(m.info.total_length(), 5);
        assert_eq!(m.info.num_pieces(), 1);
        assert_eq!(m.comment.as_deref(), Some("hello"));

        let p = preview_of(&m);
        assert_eq!((p.name.as_str(), p.total_length), ("a.txt", Some(5)));
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.files[0].path, "a.txt");
        let add = with_options(
            AddTorrent::new(m, "/tmp"),
            AddOptions {
                paused: true,
                skip_files: vec![0, 7],
            },
        );
        assert!(add.paused);
        assert_eq!(add.file_priorities, vec![shoal::picker::Priority::Skip]);
    }
}
