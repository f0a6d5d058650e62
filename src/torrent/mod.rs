//! One task per torrent. It owns everything shared by the torrent's
//! connections — the picker, the choker, the peer list, our pieces, the
//! stats — and drives them from events: peer events, disk verdicts, peers
//! from trackers, commands from the session, and a one-second tick.
//!
//! **Architecture invariant:** only the torrent task mutates the picker and
//! our bitfield; peer tasks learn of our pieces through `PeerCmd::Have`.

pub mod choker;
pub mod diagnosis;
pub mod peers;
pub mod smart_ban;
mod task;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use crate::limit::RateLimits;
use crate::magnet::Magnet;
use crate::metainfo::Metainfo;
use crate::picker::Priority;
use crate::tracker::TrackerStatus;
use crate::types::{InfoHash, PeerId};

pub use peers::{BanReason, PeerSource};
pub(crate) use task::spawn;

/// What a torrent is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorrentState {
    /// A magnet link whose info dictionary is being fetched from peers.
    FetchingMetadata,
    /// Checking the data already on disk.
    Checking,
    /// Fetching pieces.
    Downloading,
    /// Every wanted piece is verified; uploading to others.
    Seeding,
    /// Stopped by the user; no connections.
    Paused,
    /// Stopped by an error (disk full, folder gone); the message says what.
    Error(String),
}

impl TorrentState {
    /// A short label.
    pub fn label(&self) -> &'static str {
        match self {
            TorrentState::FetchingMetadata => "metadata",
            TorrentState::Checking => "checking",
            TorrentState::Downloading => "downloading",
            TorrentState::Seeding => "seeding",
            TorrentState::Paused => "paused",
            TorrentState::Error(_) => "error",
        }
    }
}

/// A snapshot of a torrent, published on every tick and on every change of
/// state.
#[derive(Debug, Clone)]
pub struct TorrentStats {
    /// The torrent's name (a magnet's `dn` or its hash until the metadata
    /// arrives).
    pub name: String,
    /// What the torrent is doing.
    pub state: TorrentState,
    /// Bytes of verified pieces (counting each piece's full length).
    pub have_bytes: u64,
    /// Bytes wanted in all (every piece that touches a wanted file).
    pub wanted_bytes: u64,
    /// Total size of the torrent.
    pub total_bytes: u64,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub num_pieces: u32,
    /// Payload bytes received in this session.
    pub downloaded: u64,
    /// Payload bytes sent in this session.
    pub uploaded: u64,
    /// Payload bytes received, all time (kept in the resume record).
    pub total_downloaded: u64,
    /// Payload bytes sent, all time.
    pub total_uploaded: u64,
    /// Download rate, bytes per second.
    pub download_rate: u64,
    /// Upload rate, bytes per second.
    pub upload_rate: u64,
    /// Open connections.
    pub peers: usize,
    /// Open connections to peers that have every piece.
    pub seeds: usize,
    /// Open connections opened by an MSE handshake.
    pub encrypted_peers: usize,
    /// Addresses known.
    pub known_peers: usize,
    /// Seeders in the swarm by the trackers (announce answers and scrapes),
    /// the largest any tracker reported; known before any peer connects.
    pub swarm_seeders: Option<u32>,
    /// Leechers in the swarm by the trackers, likewise.
    pub swarm_leechers: Option<u32>,
    /// Pieces that failed their hash check.
    pub hash_failures: u32,
    /// Peers banned for bad data.
    pub banned: u32,
    /// Web seeds fetching now.
    pub web_seeds: usize,
    /// Web seeds dropped (bad data, errors, refused URLs).
    pub web_seeds_failed: usize,
    /// Whether every wanted piece is verified.
    pub complete: bool,
    /// Whether pieces are fetched in order.
    pub sequential: bool,
    /// What limits the torrent now, with the evidence and the fix
    /// ([`diagnosis`]), renewed every tick.
    pub diagnosis: diagnosis::Diagnosis,
}

/// One connection as other clients show it.
#[derive(Debug, Clone)]
pub struct PeerSnapshot {
    /// Address.
    pub addr: SocketAddr,
    /// Client name and version.
    pub client: String,
    /// Where we learnt of it.
    pub source: PeerSource,
    /// Whether it dialled us.
    pub incoming: bool,
    /// Whether the connection is encrypted (MSE), and how.
    pub crypto: crate::peer::Crypto,
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
    /// Payload bytes from it.
    pub downloaded: u64,
    /// Payload bytes to it.
    pub uploaded: u64,
    /// Fraction of the torrent it has, 0.0 to 1.0.
    pub progress: f32,
}

/// What a torrent is added from.
#[derive(Debug, Clone)]
pub enum TorrentSource {
    /// A .torrent file's content.
    Metainfo(Box<Metainfo>),
    /// A magnet link: the metadata is fetched from peers first.
    Magnet(Magnet),
}

impl TorrentSource {
    /// The info hash.
    pub fn info_hash(&self) -> InfoHash {
        match self {
            TorrentSource::Metainfo(m) => m.info_hash,
            TorrentSource::Magnet(m) => m.info_hash,
        }
    }

    /// A name to show before the metadata is known.
    pub fn display_name(&self) -> String {
        match self {
            TorrentSource::Metainfo(m) => m.info.name.clone(),
            TorrentSource::Magnet(m) => m
                .display_name
                .clone()
                .unwrap_or_else(|| m.info_hash.to_hex()),
        }
    }
}

/// How to add a torrent to a session.
#[derive(Debug, Clone)]
pub struct AddTorrent {
    /// The torrent, or a magnet link to it.
    pub source: TorrentSource,
    /// The save folder: content goes to `save_dir/<name>`.
    pub save_dir: PathBuf,
    /// Start paused.
    pub paused: bool,
    /// Peers to dial at once, besides the trackers'.
    pub peers: Vec<SocketAddr>,
    /// Per-file priorities (empty: all normal).
    pub file_priorities: Vec<Priority>,
    /// Fetch pieces in order.
    pub sequential: bool,
    /// What a session remembered of the torrent: verified pieces (trusted
    /// if the files are unchanged), all-time counters. The fields above
    /// still rule.
    pub resume: Option<crate::resume::Resume>,
    /// This torrent's payload bytes per second received, `None` for no
    /// limit (the session's limit applies as well).
    pub download_limit: Option<u64>,
    /// This torrent's payload bytes per second sent, `None` for no limit.
    pub upload_limit: Option<u64>,
}

impl AddTorrent {
    /// A .torrent with defaults: not paused, no extra peers, every file
    /// wanted.
    pub fn new(metainfo: Metainfo, save_dir: impl Into<PathBuf>) -> Self {
        Self::from_source(TorrentSource::Metainfo(Box::new(metainfo)), save_dir)
    }

    /// A magnet link with the same defaults; its `x.pe` peers are dialled.
    pub fn magnet(magnet: Magnet, save_dir: impl Into<PathBuf>) -> Self {
        Self::from_source(TorrentSource::Magnet(magnet), save_dir)
    }

    /// Either, with the defaults.
    pub fn from_source(source: TorrentSource, save_dir: impl Into<PathBuf>) -> Self {
        AddTorrent {
            source,
            save_dir: save_dir.into(),
            paused: false,
            peers: Vec::new(),
            file_priorities: Vec::new(),
            sequential: false,
            resume: None,
            download_limit: None,
            upload_limit: None,
        }
    }
}

/// Commands to a torrent task.
#[derive(Debug)]
pub(crate) enum TorrentCmd {
    /// A peer dialled us and named this torrent; it holds its session slot.
    Incoming(crate::peer::Incoming, SocketAddr, crate::peer::Slot),
    /// Dial these addresses.
    AddPeers(Vec<SocketAddr>, PeerSource),
    /// Snapshot of the connections.
    Peers(oneshot::Sender<Vec<PeerSnapshot>>),
    /// The banned addresses, oldest first, and why.
    Banned(oneshot::Sender<Vec<(std::net::IpAddr, BanReason)>>),
    /// Stop transfers, close connections.
    Pause,
    /// Resume after a pause.
    Resume,
    /// Change file priorities.
    FilePriorities(Vec<Priority>),
    /// The metainfo, once known.
    Metainfo(oneshot::Sender<Option<Arc<Metainfo>>>),
    /// Per-file progress.
    Files(oneshot::Sender<Vec<FileSnapshot>>),
    /// The trackers' status.
    Trackers(oneshot::Sender<Vec<TrackerStatus>>),
    /// The piece map.
    Pieces(oneshot::Sender<PieceSnapshot>),
    /// Fetch pieces in order, or rarest first.
    Sequential(bool),
    /// Check the data on disk again.
    Recheck,
    /// The web seeds.
    WebSeeds(oneshot::Sender<Vec<crate::webseed::WebSeedSnapshot>>),
    /// Add a web seed; the answer says why one is refused.
    AddWebSeed(String, oneshot::Sender<Result<(), String>>),
    /// A setting held outside the task changed (rate limits): record it.
    SettingsChanged,
}

/// One file of a torrent as the GUI shows it.
#[derive(Debug, Clone)]
pub struct FileSnapshot {
    /// Path under the save folder.
    pub path: std::path::PathBuf,
    /// Size in bytes.
    pub length: u64,
    /// Bytes of the file inside verified pieces.
    pub have_bytes: u64,
    /// Its priority.
    pub priority: Priority,
    /// A BEP 47 pad file (hidden by clients).
    pub pad: bool,
}

/// The state of every piece, for a piece map.
#[derive(Debug, Clone, Default)]
pub struct PieceSnapshot {
    /// Verified pieces, as bitfield bytes in wire order.
    pub have: Vec<u8>,
    /// Number of pieces.
    pub num_pieces: u32,
    /// Pieces being fetched now.
    pub downloading: Vec<u32>,
    /// How many connected peers have each piece.
    pub availability: Vec<u16>,
}

/// Session-wide facts a torrent needs.
#[derive(Debug, Clone)]
pub(crate) struct TorrentEnv {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The port we listen on.
    pub listen_port: u16,
    /// Our global IPv6 address, named to HTTP trackers (BEP 7 `ipv6=`).
    pub announce_ipv6: Option<std::net::Ipv6Addr>,
    /// Most connections for this torrent.
    pub max_connections: usize,
    /// Most dials under way at once.
    pub max_half_open: usize,
    /// The session's DHT, if it runs one.
    pub dht: Option<crate::dht::Dht>,
    /// Why the session's DHT is not running although asked for, for the
    /// diagnosis.
    pub dht_error: Option<String>,
    /// The session's port mapping, if on, for the diagnosis ("are we
    /// connectable?").
    pub port_map: Option<crate::portmap::PortMap>,
    /// The session's local peer discovery, if it runs it.
    pub lsd: Option<crate::lsd::Lsd>,
    /// The session's state folder, if it keeps one.
    pub state: Option<crate::resume::StateDir>,
    /// Least time between resume records written as pieces arrive.
    pub resume_interval: std::time::Duration,
    /// Set when the torrent is removed from the session.
    pub removed: Arc<std::sync::atomic::AtomicBool>,
    /// The session-wide limits, passed through after the torrent's own.
    pub limits: RateLimits,
    /// The session's connection slots: each dial takes one first.
    pub slots: crate::peer::Slots,
    /// The session's encryption mode, shared with every dial.
    pub encryption: crate::peer::EncryptionPolicy,
}

/// A handle on a running torrent.
#[derive(Debug, Clone)]
pub struct TorrentHandle {
    /// The torrent's identity.
    pub info_hash: InfoHash,
    /// Commands to the task.
    pub(crate) cmds: mpsc::Sender<TorrentCmd>,
    /// Where its content goes.
    save_dir: Arc<PathBuf>,
    /// When it was first added, seconds since the Unix epoch.
    added_at: u64,
    /// Its latest stats.
    stats: watch::Receiver<TorrentStats>,
    /// Its own limits, shared with the task and its connections, so they
    /// are changed without a round trip to the task.
    limits: RateLimits,
}

impl TorrentHandle {
    /// The save folder: the content is at `save_dir/<name>`.
    pub fn save_dir(&self) -> &std::path::Path {
        &self.save_dir
    }

    /// When the torrent was first added (kept across restarts), seconds
    /// since the Unix epoch.
    pub fn added_at(&self) -> u64 {
        self.added_at
    }

    /// The latest stats.
    pub fn stats(&self) -> TorrentStats {
        self.stats.borrow().clone()
    }

    /// A receiver that sees every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<TorrentStats> {
        self.stats.clone()
    }

    /// Dials these peers as well as those the trackers give.
    pub async fn add_peers(&self, peers: Vec<SocketAddr>) {
        let _ = self
            .cmds
            .send(TorrentCmd::AddPeers(peers, PeerSource::Manual))
            .await;
    }

    /// The web seeds (BEP 19), fetching, idle or failed.
    pub async fn web_seeds(&self) -> Vec<crate::webseed::WebSeedSnapshot> {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(TorrentCmd::WebSeeds(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Adds a web seed (an HTTP or HTTPS URL, see `crate::webseed::url`);
    /// it starts at once if the torrent is downloading. Fails with the
    /// reason for a URL that is refused or listed already, or before a
    /// magnet's metadata is known.
    pub async fn add_web_seed(&self, url: &str) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        if self
            .cmds
            .send(TorrentCmd::AddWebSeed(url.to_owned(), tx))
            .await
            .is_err()
        {
            return Err("the torrent is gone".into());
        }
        rx.await
            .unwrap_or_else(|_| Err("the torrent is gone".into()))
    }

    /// The connections now.
    pub async fn peers(&self) -> Vec<PeerSnapshot> {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(TorrentCmd::Peers(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The addresses banned for sending bad data, oldest ban first, and
    /// why each was banned.
    pub async fn banned(&self) -> Vec<(std::net::IpAddr, BanReason)> {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(TorrentCmd::Banned(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Stops transfers and closes connections.
    pub async fn pause(&self) {
        let _ = self.cmds.send(TorrentCmd::Pause).await;
    }

    /// Resumes after a pause.
    pub async fn resume(&self) {
        let _ = self.cmds.send(TorrentCmd::Resume).await;
    }

    /// Sets per-file priorities (in torrent file order).
    pub async fn set_file_priorities(&self, priorities: Vec<Priority>) {
        let _ = self.cmds.send(TorrentCmd::FilePriorities(priorities)).await;
    }

    /// The metainfo: at once for a .torrent, once fetched for a magnet.
    pub async fn metainfo(&self) -> Option<Arc<Metainfo>> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(TorrentCmd::Metainfo(tx)).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Per-file progress and priority (empty until the metadata is known).
    pub async fn files(&self) -> Vec<FileSnapshot> {
        self.ask(TorrentCmd::Files).await.unwrap_or_default()
    }

    /// Each tracker's status.
    pub async fn trackers(&self) -> Vec<TrackerStatus> {
        self.ask(TorrentCmd::Trackers).await.unwrap_or_default()
    }

    /// The piece map.
    pub async fn pieces(&self) -> PieceSnapshot {
        self.ask(TorrentCmd::Pieces).await.unwrap_or_default()
    }

    /// Fetches pieces in order (for watching while downloading) or rarest
    /// first.
    pub async fn set_sequential(&self, on: bool) {
        let _ = self.cmds.send(TorrentCmd::Sequential(on)).await;
    }

    /// Sets this torrent's limits in payload bytes per second, `None` for
    /// none. Its connections follow at once; the session's limits still
    /// apply.
    pub fn set_rate_limits(&self, download: Option<u64>, upload: Option<u64>) {
        self.limits.set(download, upload);
        // Only for the resume record: if the queue is full, the next
        // record carries the new limits anyway.
        let _ = self.cmds.try_send(TorrentCmd::SettingsChanged);
    }

    /// This torrent's limits `(download, upload)` in bytes per second.
    pub fn rate_limits(&self) -> (Option<u64>, Option<u64>) {
        self.limits.get()
    }

    /// Checks the data on disk again; pieces that no longer match are
    /// downloaded again.
    pub async fn recheck(&self) {
        let _ = self.cmds.send(TorrentCmd::Recheck).await;
    }

    async fn ask<T>(&self, cmd: impl FnOnce(oneshot::Sender<T>) -> TorrentCmd) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(cmd(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Waits until the torrent is complete or has failed, whichever first.
    pub async fn wait_complete(&self) -> Result<(), String> {
        let mut rx = self.stats.clone();
        loop {
            {
                let s = rx.borrow_and_update();
                if s.complete {
                    return Ok(());
                }
                if let TorrentState::Error(e) = &s.state {
                    return Err(e.clone());
                }
            }
            if rx.changed().await.is_err() {
                return Err("the torrent was removed".into());
            }
        }
    }
}
