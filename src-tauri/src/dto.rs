//! The shapes that cross between Rust and the UI, as JSON: the one contract
//! between the engine and the window. The engine knows nothing of serde or
//! the window; these types are built from engine types (`From` impls), so
//! the engine can change without breaking the UI. The window's TypeScript
//! types are generated from these by `ts-rs` (`bindings.rs` writes
//! `ui/src/lib/bindings.ts`; a test fails when that file is stale).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

mod diagnosis;
mod webseed;
pub use diagnosis::{Cause, Diagnosis};
pub use webseed::WebSeedRow;

use shoal::dht::DhtState;
use shoal::picker::Priority as EnginePriority;
use shoal::torrent::{PeerSnapshot, PeerSource as EnginePeerSource, TorrentState as EngineState};
use shoal::tracker::announcer::TrackerState;

/// What the window shows about the app itself (About, status bar).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version, so a bug report names the build.
    pub version: String,
}

/// Everything the window shows that changes by itself, pushed about once a
/// second (and at once after a command). Torrent rows are sent as a diff:
/// only rows that changed since the last update, plus the ids of removed
/// ones; `full` marks an update that carries every row (the first one after
/// the window subscribed).
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionUpdate {
    /// `torrents` is the whole list: drop rows not in it.
    pub full: bool,
    /// Rows new or changed since the previous update.
    pub torrents: Vec<TorrentRow>,
    /// Ids of torrents gone since the previous update.
    pub removed: Vec<String>,
    /// Session-wide figures for the status bar.
    pub global: GlobalStats,
    /// Detail of the selected torrent, for the tab shown; `None` when
    /// nothing is selected.
    pub detail: Option<TorrentDetail>,
    /// The DHT panel's data, only while the panel is open.
    pub dht: Option<DhtPanel>,
    /// Names of torrents that finished downloading since the last update,
    /// for the "download complete" notification.
    pub completed: Vec<String>,
}

/// One row of the torrent list.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct TorrentRow {
    /// The info hash in hex: the row's key.
    pub id: String,
    /// Position in the list: the order torrents were added in.
    pub order: u64,
    /// When it was first added, seconds since the Unix epoch.
    pub added_at: u64,
    /// The torrent's name.
    pub name: String,
    /// What it is doing.
    pub state: TorrentState,
    /// What went wrong, when `state` is `error`.
    pub error: Option<String>,
    /// Size of the whole torrent (0 while a magnet's metadata is unknown).
    pub total_bytes: u64,
    /// Bytes wanted (files not skipped).
    pub wanted_bytes: u64,
    /// Verified bytes.
    pub have_bytes: u64,
    /// `have_bytes / wanted_bytes`, 0 to 1.
    pub progress: f64,
    /// Bytes per second in.
    pub download_rate: u64,
    /// Bytes per second out.
    pub upload_rate: u64,
    /// Seconds until complete at the current rate; `None` if it cannot be
    /// told (no progress, or complete).
    pub eta_secs: Option<u64>,
    /// Connected peers.
    pub peers: usize,
    /// Connected peers that have everything.
    pub seeds: usize,
    /// Addresses known.
    pub known_peers: usize,
    /// Seeders in the swarm by the trackers (the largest count any gave),
    /// shown before any peer is connected.
    pub swarm_seeds: Option<u32>,
    /// Leechers in the swarm by the trackers, likewise.
    pub swarm_leechers: Option<u32>,
    /// Payload bytes received this session.
    pub downloaded: u64,
    /// Payload bytes sent this session.
    pub uploaded: u64,
    /// Uploaded over downloaded (over the data we have when we downloaded
    /// nothing this session, as for a torrent we created).
    pub ratio: f64,
    /// Every wanted piece verified.
    pub complete: bool,
    /// Verified pieces, and pieces in all (0 before the metadata).
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub num_pieces: u32,
    /// What limits it now, with the evidence and the fix (the Overview
    /// tab and the state column's tooltip).
    pub diagnosis: Diagnosis,
}

/// The status bar's figures.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct GlobalStats {
    /// Sum of the torrents' download rates.
    pub download_rate: u64,
    /// Sum of the torrents' upload rates.
    pub upload_rate: u64,
    /// Connected peers over all torrents.
    pub peers: usize,
    /// Nodes in the DHT routing table; `None` when the DHT is off.
    pub dht_nodes: Option<usize>,
    /// Why the DHT is off although the settings ask for it.
    pub dht_error: Option<String>,
    /// While the DHT runs but has not joined: seconds until it tries
    /// again (the status bar says "connecting, retrying in N s").
    pub dht_retry_in_secs: Option<u64>,
    /// While the DHT runs but has not joined: why, when known (names that
    /// did not resolve, bootstrap nodes that did not answer).
    pub dht_problem: Option<String>,
    /// The TCP port peers reach us on; `None` if the engine did not start.
    pub listen_port: Option<u16>,
    /// The router's address and port that peers outside dial, when a
    /// port mapping is in place (`1.2.3.4:6881`).
    pub connectable: Option<String>,
    /// What port mapping did, in words (the status bar's tooltip);
    /// `None` when it is off.
    pub port_mapping: Option<String>,
    /// Bytes free for us on the download folder's file system; `None` if
    /// it cannot be told.
    pub free_space: Option<u64>,
}

/// What the detail pane shows for the selected torrent.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct TorrentDetail {
    /// The selected torrent's id.
    pub id: String,
    /// Facts that rarely change (Overview tab).
    pub overview: Overview,
    /// The piece map (Overview tab), when known.
    pub pieces: Option<PieceMap>,
    /// Connections (Peers tab).
    pub peers: Option<Vec<PeerRow>>,
    /// Connections in all; `peers` may hold fewer (the busiest first).
    pub peer_count: usize,
    /// Web seeds (Peers tab, above the connections).
    pub web_seeds: Option<Vec<WebSeedRow>>,
    /// Files (Files tab).
    pub files: Option<Vec<FileRow>>,
    /// Trackers (Trackers tab).
    pub trackers: Option<Vec<TrackerRow>>,
}

/// The Overview tab's facts.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// 40 hex digits.
    pub info_hash: String,
    /// Where the content is saved.
    pub save_dir: String,
    /// Bytes per piece (0 before the metadata).
    pub piece_length: u64,
    /// The creator's comment.
    pub comment: Option<String>,
    /// BEP 27 private flag.
    pub private: bool,
    /// Pieces that failed their hash check.
    pub hash_failures: u32,
    /// Peers banned for bad data.
    pub banned: u32,
    /// A magnet link to the torrent, to share.
    pub magnet: String,
    /// Pieces are fetched in order (set from the window).
    pub sequential: bool,
    /// This torrent's own download limit in KiB/s (0: none; the global
    /// limit applies as well).
    pub download_limit_kib: u64,
    /// This torrent's own upload limit in KiB/s (0: none).
    pub upload_limit_kib: u64,
}

/// Which pieces we have, as the piece map draws them.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct PieceMap {
    /// Pieces in the torrent.
    pub num_pieces: u32,
    /// Our bitfield: bit 7 of byte 0 is piece 0 (the wire's order).
    pub have: Vec<u8>,
    /// Pieces being downloaded now.
    pub downloading: Vec<u32>,
    /// How many connected peers have each piece (may be empty).
    pub availability: Vec<u16>,
}

/// One connection in the Peers tab.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct PeerRow {
    /// `ip:port`, or `[ipv6]:port`: the row's key. An IPv4 peer on a
    /// dual-stack socket is written as IPv4.
    pub addr: String,
    /// Client name and version from the peer id.
    pub client: String,
    /// Where we learnt of it.
    pub source: PeerSource,
    /// It dialled us.
    pub incoming: bool,
    /// The connection is encrypted (an MSE handshake, RC4 or header-only).
    pub encrypted: bool,
    /// We choke it.
    pub am_choking: bool,
    /// We want its pieces.
    pub am_interested: bool,
    /// It chokes us.
    pub peer_choking: bool,
    /// It wants our pieces.
    pub peer_interested: bool,
    /// Bytes per second from it.
    pub download_rate: u64,
    /// Bytes per second to it.
    pub upload_rate: u64,
    /// Bytes from it.
    pub downloaded: u64,
    /// Bytes to it.
    pub uploaded: u64,
    /// Fraction of the torrent it has.
    pub progress: f32,
}

/// One file in the Files tab.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileRow {
    /// Index in the torrent's file order, which `set_file_priority` takes.
    pub index: usize,
    /// Path, components joined with `/`, the torrent's name first.
    pub path: String,
    /// Length in bytes.
    pub length: u64,
    /// Bytes verified, when known.
    pub have_bytes: Option<u64>,
    /// How much it is wanted.
    pub priority: Priority,
    /// A BEP 47 pad file (hidden in the tree).
    pub pad: bool,
}

/// One tracker in the Trackers tab.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrackerRow {
    /// Announce URL.
    pub url: String,
    /// BEP 12 tier, from 0.
    pub tier: usize,
    /// How its announces go.
    pub status: TrackerStatus,
    /// Seconds since the epoch of the last good announce.
    pub last_announce: Option<u64>,
    /// Seconds since the epoch of the next announce.
    pub next_announce: Option<u64>,
    /// Peers in its last answer.
    pub peers: u32,
    /// Seeders it reported.
    pub seeders: Option<u32>,
    /// Leechers it reported.
    pub leechers: Option<u32>,
    /// Finished downloads it reported (scrape).
    pub completed: Option<u32>,
    /// Seconds since the epoch of its last good scrape.
    pub last_scrape: Option<u64>,
    /// Why its last scrape failed, if it did.
    pub scrape_error: Option<String>,
    /// Last error or warning.
    pub message: Option<String>,
}

/// The DHT panel.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct DhtPanel {
    /// Whether the DHT runs at all.
    pub enabled: bool,
    /// Why it is off although asked for.
    pub error: Option<String>,
    /// Our node id in hex.
    pub node_id: Option<String>,
    /// Our UDP address.
    pub local_addr: Option<String>,
    /// Nodes in the routing table.
    pub nodes: usize,
    /// Nodes by bucket, farthest first.
    pub buckets: Vec<DhtBucketRow>,
    /// `get_peers` lookups in flight.
    pub lookups_in_flight: usize,
    /// Announces in flight.
    pub announces_in_flight: usize,
    /// Joined the network.
    pub bootstrapped: bool,
    /// Answers others' queries.
    pub server_mode: bool,
    /// Estimated nodes in the whole DHT.
    pub size_estimate: usize,
    /// Seconds until the next join attempt, while not joined.
    pub retry_in_secs: Option<u64>,
    /// Join attempts since the routing table was last seen with nodes.
    pub join_attempts: u32,
    /// Why it has not joined, when known.
    pub join_problem: Option<String>,
}

/// One bucket of the routing table.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct DhtBucketRow {
    /// Leading bits shared with our id.
    pub shared_prefix_bits: u8,
    /// Nodes in it.
    pub nodes: Vec<DhtNodeRow>,
}

/// Progress of "create torrent", sent through a channel while hashing.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct CreateProgress {
    /// Bytes hashed so far.
    pub hashed: u64,
    /// Bytes to hash.
    pub total: u64,
}

/// What "create torrent" made.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// The new torrent's id (info hash).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where the .torrent file was saved.
    pub torrent_path: String,
    /// A magnet link to it.
    pub magnet: String,
}

/// Options of "create torrent", as the dialog sends them.
#[derive(Debug, Clone, Deserialize, Default, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateRequest {
    /// The file or folder to share.
    pub path: String,
    /// Piece length in bytes; 0 or absent picks one.
    pub piece_length: u64,
    /// Tracker URLs, one tier each (blank lines separate nothing).
    pub trackers: Vec<String>,
    /// BEP 27 private flag.
    pub private: bool,
    /// Free-text comment.
    pub comment: String,
    /// Where to save the .torrent; empty: the app's "created" folder.
    pub output: String,
}

/// What the Add dialog shows before anything is added: enough to decide
/// (name, size, files), read from the .torrent file or the magnet link.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct TorrentPreview {
    /// The info hash in hex (the id the torrent will have).
    pub id: String,
    /// The torrent's name; a magnet's `dn`, or its hash, until the metadata
    /// is fetched.
    pub name: String,
    /// A magnet link: its files are not known before it is added.
    pub magnet: bool,
    /// Total size in bytes, when known.
    pub total_length: Option<u64>,
    /// The files, in torrent order (empty for a magnet link), so the user
    /// can leave some out.
    pub files: Vec<FileRow>,
    /// The torrent's comment, if any.
    pub comment: Option<String>,
}

/// Choices made in the Add dialog.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct AddOptions {
    /// Add it paused.
    pub paused: bool,
    /// Indices (torrent order) of files not to download.
    pub skip_files: Vec<usize>,
}

/// The settings dialog's contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "Settings")]
pub struct SettingsDto {
    /// Default save folder.
    pub download_dir: String,
    /// Listening port (0: any).
    pub listen_port: u16,
    /// Join the DHT.
    pub dht_enabled: bool,
    /// Listen on IPv6 too.
    pub ipv6_enabled: bool,
    /// Protocol encryption: off, prefer or require.
    #[ts(type = "'off' | 'prefer' | 'require'")]
    pub encryption: String,
    /// KiB/s, 0 for none (stored, not yet enforced).
    pub download_limit_kib: u64,
    /// KiB/s, 0 for none (stored, not yet enforced).
    pub upload_limit_kib: u64,
    /// Add torrents opened from outside without showing the Add dialog.
    pub add_without_asking: bool,
}

/// The app's start-up facts, fetched once by the window.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct Startup {
    /// The app's version.
    pub version: String,
    /// Messages to show at once: a port in use, a DHT that did not start,
    /// settings that could not be read, an engine that did not start.
    pub messages: Vec<String>,
    /// The download folder in force.
    pub download_dir: String,
    /// Whether the engine runs (if not, every command fails).
    pub engine_running: bool,
    /// `SHOAL_UI_BENCH=1`: the window offers a hook that feeds it synthetic
    /// updates and times them (`make bench-ui`).
    pub bench_hooks: bool,
}

/// What a torrent is doing, as the list shows it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, TS)]
#[serde(rename_all = "camelCase")]
pub enum TorrentState {
    /// A magnet link's info dictionary is being fetched.
    Metadata,
    /// The data on disk is being checked.
    Checking,
    /// Pieces are being fetched.
    Downloading,
    /// Every wanted piece is verified.
    Seeding,
    /// Stopped by the user.
    Paused,
    /// Stopped by an error (`TorrentRow::error` says which).
    Error,
}

impl From<&EngineState> for TorrentState {
    fn from(s: &EngineState) -> Self {
        match s {
            EngineState::FetchingMetadata => TorrentState::Metadata,
            EngineState::Checking => TorrentState::Checking,
            EngineState::Downloading => TorrentState::Downloading,
            EngineState::Seeding => TorrentState::Seeding,
            EngineState::Paused => TorrentState::Paused,
            EngineState::Error(_) => TorrentState::Error,
        }
    }
}

/// Where we learnt of a peer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, TS)]
#[serde(rename_all = "camelCase")]
pub enum PeerSource {
    /// An HTTP or UDP tracker.
    Tracker,
    /// The DHT.
    Dht,
    /// Local peer discovery.
    Lsd,
    /// Peer exchange.
    Pex,
    /// A magnet link's `x.pe`.
    Magnet,
    /// Added by hand.
    Manual,
    /// It connected to us.
    Incoming,
}

impl From<EnginePeerSource> for PeerSource {
    fn from(s: EnginePeerSource) -> Self {
        match s {
            EnginePeerSource::Tracker => PeerSource::Tracker,
            EnginePeerSource::Dht => PeerSource::Dht,
            EnginePeerSource::Lsd => PeerSource::Lsd,
            EnginePeerSource::Pex => PeerSource::Pex,
            EnginePeerSource::Magnet => PeerSource::Magnet,
            EnginePeerSource::Manual => PeerSource::Manual,
            EnginePeerSource::Incoming => PeerSource::Incoming,
        }
    }
}

/// How much a file is wanted; the window sends it back to set it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, TS)]
#[serde(rename_all = "camelCase")]
pub enum Priority {
    /// Not downloaded.
    Skip,
    /// Downloaded after the Normal files.
    Low,
    /// Downloaded.
    Normal,
    /// Downloaded first.
    High,
}

impl From<EnginePriority> for Priority {
    fn from(p: EnginePriority) -> Self {
        match p {
            EnginePriority::Skip => Priority::Skip,
            EnginePriority::Low => Priority::Low,
            EnginePriority::Normal => Priority::Normal,
            EnginePriority::High => Priority::High,
        }
    }
}

impl From<Priority> for EnginePriority {
    fn from(p: Priority) -> Self {
        match p {
            Priority::Skip => EnginePriority::Skip,
            Priority::Low => EnginePriority::Low,
            Priority::Normal => EnginePriority::Normal,
            Priority::High => EnginePriority::High,
        }
    }
}

/// How a tracker's announces go.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, TS)]
#[serde(rename_all = "camelCase")]
pub enum TrackerStatus {
    /// Not announced to yet.
    NotContacted,
    /// The last announce succeeded.
    Working,
    /// An announce is in flight.
    Updating,
    /// The last announce failed.
    Error,
}

impl From<TrackerState> for TrackerStatus {
    fn from(s: TrackerState) -> Self {
        match s {
            TrackerState::NotContacted => TrackerStatus::NotContacted,
            TrackerState::Working => TrackerStatus::Working,
            TrackerState::Updating => TrackerStatus::Updating,
            TrackerState::Error => TrackerStatus::Error,
        }
    }
}

/// One node of a DHT bucket.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct DhtNodeRow {
    /// Its node id in hex.
    pub id: String,
    /// Its UDP address.
    pub addr: String,
}

impl From<PeerSnapshot> for PeerRow {
    fn from(p: PeerSnapshot) -> Self {
        PeerRow {
            addr: std::net::SocketAddr::new(p.addr.ip().to_canonical(), p.addr.port()).to_string(),
            client: p.client,
            source: p.source.into(),
            incoming: p.incoming,
            encrypted: p.crypto.is_encrypted(),
            am_choking: p.am_choking,
            am_interested: p.am_interested,
            peer_choking: p.peer_choking,
            peer_interested: p.peer_interested,
            download_rate: p.download_rate,
            upload_rate: p.upload_rate,
            downloaded: p.downloaded,
            uploaded: p.uploaded,
            progress: p.progress,
        }
    }
}

impl From<DhtState> for DhtPanel {
    fn from(s: DhtState) -> Self {
        DhtPanel {
            enabled: true,
            error: None,
            node_id: Some(s.node_id),
            local_addr: Some(s.local_addr.to_string()),
            nodes: s.nodes,
            buckets: s
                .buckets
                .into_iter()
                .map(|b| DhtBucketRow {
                    shared_prefix_bits: b.shared_prefix_bits,
                    nodes: b
                        .nodes
                        .into_iter()
                        .map(|n| DhtNodeRow {
                            id: n.id,
                            addr: n.addr.to_string(),
                        })
                        .collect(),
                })
                .collect(),
            lookups_in_flight: s.lookups_in_flight,
            announces_in_flight: s.announces_in_flight,
            bootstrapped: s.bootstrapped,
            server_mode: s.server_mode,
            size_estimate: s.dht_size_estimate,
            // Rounded up: "retrying in 0 s" would read as stuck.
            retry_in_secs: s
                .retry_in
                .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)),
            join_attempts: s.join_attempts,
            join_problem: s.join_problem,
        }
    }
}

impl From<shoal::tracker::announcer::TrackerStatus> for TrackerRow {
    fn from(t: shoal::tracker::announcer::TrackerStatus) -> Self {
        TrackerRow {
            url: t.url,
            tier: t.tier,
            status: t.state.into(),
            last_announce: t.last_announce.and_then(epoch_secs),
            next_announce: t.next_announce.and_then(epoch_secs),
            peers: t.peers,
            seeders: t.seeders,
            leechers: t.leechers,
            completed: t.completed,
            last_scrape: t.last_scrape.and_then(epoch_secs),
            scrape_error: t.scrape_error,
            message: t.message,
        }
    }
}

impl From<(usize, shoal::torrent::FileSnapshot)> for FileRow {
    /// A file with its index in the torrent's order.
    fn from((index, f): (usize, shoal::torrent::FileSnapshot)) -> Self {
        let parts: Vec<String> = f
            .path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        FileRow {
            index,
            path: parts.join("/"),
            length: f.length,
            have_bytes: Some(f.have_bytes),
            priority: f.priority.into(),
            pad: f.pad,
        }
    }
}

impl From<shoal::torrent::PieceSnapshot> for PieceMap {
    fn from(p: shoal::torrent::PieceSnapshot) -> Self {
        PieceMap {
            num_pieces: p.num_pieces,
            have: p.have,
            downloading: p.downloading,
            availability: p.availability,
        }
    }
}

/// Seconds since the epoch (`None` before it).
fn epoch_secs(t: std::time::SystemTime) -> Option<u64> {
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl TorrentRow {
    /// A row from the engine's stats of the torrent `ih`, at `order` in the
    /// list.
    pub fn from_stats(
        ih: shoal::InfoHash,
        order: u64,
        added_at: u64,
        s: &shoal::torrent::TorrentStats,
    ) -> Self {
        let left = s.wanted_bytes.saturating_sub(s.have_bytes);
        let progress = if s.wanted_bytes == 0 {
            if s.complete {
                1.0
            } else {
                0.0
            }
        } else {
            (s.have_bytes as f64 / s.wanted_bytes as f64).min(1.0)
        };
        let eta_secs = (!s.complete && s.download_rate > 0 && left > 0)
            .then(|| left.div_ceil(s.download_rate));
        // All time, as other clients show it; a torrent seeded from data it
        // never downloaded counts its size.
        let base = if s.total_downloaded > 0 {
            s.total_downloaded
        } else {
            s.have_bytes
        };
        let ratio = if base == 0 {
            0.0
        } else {
            s.total_uploaded as f64 / base as f64
        };
        let error = match &s.state {
            EngineState::Error(e) => Some(e.clone()),
            _ => None,
        };
        TorrentRow {
            id: ih.to_hex(),
            order,
            added_at,
            name: s.name.clone(),
            state: (&s.state).into(),
            error,
            total_bytes: s.total_bytes,
            wanted_bytes: s.wanted_bytes,
            have_bytes: s.have_bytes,
            progress,
            download_rate: s.download_rate,
            upload_rate: s.upload_rate,
            eta_secs,
            peers: s.peers,
            seeds: s.seeds,
            known_peers: s.known_peers,
            swarm_seeds: s.swarm_seeders,
            swarm_leechers: s.swarm_leechers,
            downloaded: s.total_downloaded,
            uploaded: s.total_uploaded,
            ratio,
            complete: s.complete,
            pieces_have: s.pieces_have,
            num_pieces: s.num_pieces,
            diagnosis: (&s.diagnosis).into(),
        }
    }
}
