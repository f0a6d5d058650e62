//! The public handle on the engine: one listening port (on IPv4 and
//! IPv6, [`peer::Listeners`]) shared by every
//! torrent, the table of torrents, and an awaited shutdown.
//!
//! Incoming connections are accepted here, their handshake read (with a
//! timeout), and the socket handed to the torrent its info hash names.
//! Every connection of every torrent, either direction, holds one of the
//! session's slots ([`crate::peer::Slots`]): a connection over the
//! session's limit, over its address's limit, or from an address with
//! too many handshakes under way is closed as soon as it is accepted,
//! before anything is read or allocated for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dht::{Dht, DhtConfig};
use crate::limit::RateLimits;
use crate::magnet::Magnet;
use crate::peer;
use crate::portmap::PortMapStatus;
use crate::resume::StateDir;
use crate::torrent::{self, AddTorrent, TorrentCmd, TorrentEnv, TorrentHandle, TorrentSource};
use crate::types::{InfoHash, PeerId};

/// Connections per torrent.
pub const DEFAULT_MAX_CONNECTIONS: usize = 50;
/// Connections of the whole session, every torrent and state (dialling,
/// handshake, open) counted: libtorrent's `connections_limit`.
pub const DEFAULT_MAX_SESSION_CONNECTIONS: usize = 200;
/// Connections with one IP address, both directions, all torrents
/// together. libtorrent allows one per address and torrent; a few here
/// leave room for several clients behind one NAT and for a peer we share
/// several torrents with, while one host cannot take the session.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 8;
/// Incoming handshakes read at once from one IP address, so that one slow
/// host cannot hold the session's `MAX_PENDING_INCOMING` places.
pub const DEFAULT_MAX_HANDSHAKES_PER_IP: usize = 4;
/// How long a connection must have been useless (neither side interested,
/// no payload moving) before a newcomer may take its place when the
/// torrent or the session is full.
pub const DEFAULT_USELESS_PEER_TIMEOUT: Duration = Duration::from_secs(60);
/// Dials under way at once per torrent.
pub const DEFAULT_MAX_HALF_OPEN: usize = 8;
/// Incoming connections whose handshake we are still reading (each at
/// most the handshake timeout, 10 s); more wait in the listen queue.
const MAX_PENDING_INCOMING: usize = 64;
/// How long shutdown waits for torrents to say goodbye to trackers and
/// flush their files.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);
/// Least time between resume records written as pieces arrive.
pub const DEFAULT_RESUME_INTERVAL: Duration = Duration::from_secs(30);

/// Settings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where to listen for peers. Port 0 picks a free one.
    pub listen_addr: SocketAddr,
    /// Also listen on IPv6, on the same port: `[::]` beside `0.0.0.0`,
    /// `[::1]` beside `127.0.0.1` (see [`peer::Listeners`]). Off by default
    /// in the library; the command line and the desktop app turn it on.
    pub ipv6: bool,
    /// Our peer id; a fresh one when `None`.
    pub peer_id: Option<PeerId>,
    /// Connections per torrent (`DEFAULT_MAX_CONNECTIONS`, 50).
    pub max_connections: usize,
    /// Connections of the whole session
    /// (`DEFAULT_MAX_SESSION_CONNECTIONS`, 200), so that many torrents
    /// cannot run the process out of descriptors or memory.
    pub max_session_connections: usize,
    /// Connections with one IP address (`DEFAULT_MAX_CONNECTIONS_PER_IP`,
    /// 8), so that one host cannot take the session's places.
    pub max_connections_per_ip: usize,
    /// Incoming handshakes read at once from one IP address
    /// (`DEFAULT_MAX_HANDSHAKES_PER_IP`, 4).
    pub max_handshakes_per_ip: usize,
    /// How long a peer must have been useless to us and we to it before a
    /// newcomer takes its place when slots are short
    /// (`DEFAULT_USELESS_PEER_TIMEOUT`, 60 s).
    pub useless_peer_timeout: Duration,
    /// Dials under way at once per torrent.
    pub max_half_open: usize,
    /// The DHT node to run, or `None` for no DHT. Off by default in the
    /// library, so that nothing reaches the public DHT unless asked to; the
    /// command line and the desktop app turn it on. A port of 0 takes the
    /// listening port's number.
    pub dht: Option<DhtConfig>,
    /// Where the session keeps its torrents across restarts (see
    /// [`crate::resume`]), or `None` to keep nothing. Torrents stored there
    /// are added back when the session starts.
    pub state_dir: Option<PathBuf>,
    /// Least time between resume records written while pieces arrive
    /// (settings changes are written at once).
    pub resume_interval: Duration,
    /// Payload bytes per second received by all torrents together; `None`
    /// (the default) for no limit. Changed later with
    /// [`Session::set_rate_limits`].
    pub download_limit: Option<u64>,
    /// Payload bytes per second sent by all torrents together; `None` (the
    /// default) for no limit.
    pub upload_limit: Option<u64>,
    /// Local peer discovery (BEP 14, [`crate::lsd`]). Off by default in the
    /// library; the command line and the desktop app turn it on. Never runs
    /// on a loopback listening address.
    pub lsd: bool,
    /// Port mapping ([`crate::portmap`]): ask the router, by UPnP IGD or
    /// PCP / NAT-PMP, to forward our listening port. Off by default in the
    /// library, so that nothing is sent to a router unless asked to; the
    /// command line and the desktop app turn it on. Never runs on a
    /// loopback listening address.
    pub port_mapping: bool,
    /// The lease port mappings ask for (`portmap::DEFAULT_LEASE`, 1 h);
    /// renewed at half of it.
    pub port_mapping_lease: Duration,
    /// Protocol encryption (MSE): off, prefer (the default: dial encrypted
    /// and fall back to plain, answer both) or require.
    pub encryption: peer::Encryption,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            listen_addr: SocketAddr::from(([0, 0, 0, 0], 6881)),
            ipv6: false,
            peer_id: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_session_connections: DEFAULT_MAX_SESSION_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            max_handshakes_per_ip: DEFAULT_MAX_HANDSHAKES_PER_IP,
            useless_peer_timeout: DEFAULT_USELESS_PEER_TIMEOUT,
            max_half_open: DEFAULT_MAX_HALF_OPEN,
            dht: None,
            state_dir: None,
            resume_interval: DEFAULT_RESUME_INTERVAL,
            download_limit: None,
            upload_limit: None,
            lsd: false,
            port_mapping: false,
            port_mapping_lease: crate::portmap::DEFAULT_LEASE,
            encryption: peer::Encryption::default(),
        }
    }
}

/// Why a session call failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The listening port could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The torrent is in the session already.
    #[error("torrent {0} is already added")]
    Duplicate(InfoHash),
    /// The session is shutting down.
    #[error("the session is shutting down")]
    ShuttingDown,
    /// No torrent with this info hash.
    #[error("no torrent {0} in the session")]
    NotFound(InfoHash),
    /// The torrent was removed but its files could not all be deleted.
    #[error("removed, but deleting its data failed: {0}")]
    DeleteFailed(String),
}

/// A torrent in the session's table.
#[derive(Clone)]
struct Entry {
    /// The handle given out.
    handle: TorrentHandle,
    /// Ends the torrent's task.
    cancel: CancellationToken,
    /// Cancelled once the torrent's task has ended.
    done: CancellationToken,
    /// Tells the task it is being removed (no more resume records).
    removed: Arc<AtomicBool>,
    /// Its save folder.
    save_dir: PathBuf,
}

/// A running session. Cheap to clone.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    /// The DHT node, if on.
    dht: Option<Dht>,
    /// Why the DHT is off although the configuration asked for it.
    dht_error: Option<String>,
    /// Local peer discovery, if on.
    lsd: Option<crate::lsd::Lsd>,
    /// Port mapping, if on: its status for the stats.
    port_map: Option<crate::portmap::PortMap>,
    /// Our peer id.
    peer_id: PeerId,
    /// The port we listen on.
    listen_port: u16,
    /// The addresses we listen on (one per family with IPv6 on).
    listen_addrs: Vec<SocketAddr>,
    /// Our global IPv6 address for trackers, read once at start.
    announce_ipv6: Option<std::net::Ipv6Addr>,
    /// Settings.
    config: SessionConfig,
    /// The session-wide limits every connection of every torrent passes
    /// through (after its torrent's own).
    limits: RateLimits,
    /// The places every connection of the session takes one of.
    slots: peer::Slots,
    /// The encryption mode and the peers known to refuse MSE, shared by
    /// every torrent's dials.
    encryption: peer::EncryptionPolicy,
    /// Torrents by info hash. Locked briefly, never across an await.
    torrents: Mutex<HashMap<InfoHash, Entry>>,
    /// The state folder, if the session keeps one.
    state: Option<StateDir>,
    /// Torrents of the state folder that could not be added back.
    restore_errors: Mutex<Vec<String>>,
    /// Cancels every task of the session.
    cancel: CancellationToken,
    /// Every task of the session, awaited on shutdown.
    tasks: TaskTracker,
}

impl Session {
    /// Opens the listening port and starts the session.
    pub async fn new(config: SessionConfig) -> Result<Session, SessionError> {
        raise_open_file_limit();
        let listen_err = |source| SessionError::Listen {
            addr: config.listen_addr,
            source,
        };
        let listener = peer::Listeners::bind(config.listen_addr, config.ipv6)
            .await
            .map_err(listen_err)?;
        let listen_addrs = listener.local_addrs().map_err(listen_err)?;
        let announce_ipv6 = listener.announce_ipv6();
        // `local_addrs` always holds the configured address.
        let listen_port = listen_addrs[0].port();
        let mut dht_error = None;
        let dht = match &config.dht {
            Some(c) => {
                let mut c = c.clone();
                if c.port == 0 {
                    c.port = listen_port;
                }
                // The routing table is kept beside the torrents.
                if c.nodes_file.is_none() {
                    c.nodes_file = config
                        .state_dir
                        .as_ref()
                        .map(|d| d.join(crate::dht::saved::NODES_FILE));
                }
                // Bound to a public address, we are connectable: answer
                // other nodes from the start rather than after mainline's
                // 15-minute probe.
                if is_public_ipv4(config.listen_addr.ip()) || is_public_ipv4(c.bind.into()) {
                    c.server_mode = true;
                }
                let started = match Dht::start(c.clone()).await {
                    // The UDP port may be taken even though TCP was free.
                    Err(_) if c.port != 0 => Dht::start(DhtConfig { port: 0, ..c }).await,
                    r => r,
                };
                match started {
                    Ok(d) => Some(d),
                    Err(e) => {
                        // Torrents still work through trackers and peers
                        // added by hand; say why the DHT is off.
                        tracing::warn!("running without the DHT: {e}");
                        dht_error = Some(e.to_string());
                        None
                    }
                }
            }
            None => None,
        };
        let cancel = CancellationToken::new();
        let lsd = if config.lsd {
            match crate::lsd::Lsd::start(config.listen_addr.ip(), listen_port, cancel.child_token())
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("running without local peer discovery: {e}");
                    None
                }
            }
        } else {
            None
        };
        // Started before the torrents, so that the mapping is in place
        // soon; the task removes its mappings when the session ends.
        let mut port_map_task = None;
        let port_map = if config.port_mapping && !config.listen_addr.ip().is_loopback() {
            let udp_port = dht
                .as_ref()
                .map(|d| d.local_addr().port())
                .filter(|p| *p == listen_port);
            let (pm, task) = crate::portmap::PortMap::start(
                crate::portmap::PortMapConfig {
                    tcp_port: listen_port,
                    udp_port,
                    lease: config.port_mapping_lease,
                },
                cancel.child_token(),
            );
            port_map_task = Some(task);
            Some(pm)
        } else {
            None
        };
        let state = config.state_dir.as_ref().map(StateDir::new);
        let stored = match &state {
            Some(s) => {
                let dir = s.clone();
                tokio::task::spawn_blocking(move || dir.load())
                    .await
                    .unwrap_or_default()
            }
            None => Default::default(),
        };
        let (stored, errors) = stored;
        let mut restore_errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let inner = Arc::new(Inner {
            dht,
            dht_error,
            lsd,
            port_map,
            peer_id: config.peer_id.unwrap_or_else(PeerId::generate),
            listen_port,
            listen_addrs,
            announce_ipv6,
            limits: RateLimits::new(config.download_limit, config.upload_limit),
            slots: peer::Slots::new(peer::SlotLimits {
                total: config.max_session_connections,
                per_ip: config.max_connections_per_ip,
                pending_per_ip: config.max_handshakes_per_ip,
                useless_after: config.useless_peer_timeout,
            }),
            encryption: peer::EncryptionPolicy::new(config.encryption),
            config,
            torrents: Mutex::new(HashMap::new()),
            state,
            restore_errors: Mutex::new(Vec::new()),
            cancel,
            tasks: TaskTracker::new(),
        });
        let session = Session { inner };
        if let Some(task) = port_map_task {
            session.inner.tasks.spawn(task);
        }
        if let (Some(dht), Some(map)) = (&session.inner.dht, &session.inner.port_map) {
            session.inner.tasks.spawn(serve_dht_when_mapped(
                dht.clone(),
                map.clone(),
                session.inner.cancel.child_token(),
            ));
        }
        for s in stored {
            let r = s.resume;
            let source = match s.metainfo {
                Some(m) => TorrentSource::Metainfo(Box::new(m)),
                None => match r.magnet.as_deref().map(Magnet::parse) {
                    Some(Ok(m)) => TorrentSource::Magnet(m),
                    Some(Err(e)) => {
                        restore_errors.push(format!("{}: {e}", r.name));
                        continue;
                    }
                    None => continue,
                },
            };
            let mut add = AddTorrent::from_source(source, r.save_dir.clone());
            add.paused = r.paused;
            add.sequential = r.sequential;
            add.file_priorities = r.priorities.clone();
            add.download_limit = r.download_limit;
            add.upload_limit = r.upload_limit;
            let name = r.name.clone();
            add.resume = Some(r);
            if let Err(e) = session.add_torrent(add) {
                restore_errors.push(format!("{name}: {e}"));
            }
        }
        for e in &restore_errors {
            tracing::warn!("not restored: {e}");
        }
        *lock(&session.inner.restore_errors) = restore_errors;
        let weak = Arc::downgrade(&session.inner);
        let cancel = session.inner.cancel.clone();
        session
            .inner
            .tasks
            .spawn(accept_loop(listener, weak, cancel));
        Ok(session)
    }

    /// Torrents of the state folder that could not be added back when the
    /// session started, each with the reason.
    pub fn restore_errors(&self) -> Vec<String> {
        lock(&self.inner.restore_errors).clone()
    }

    /// The state folder, if the session keeps one.
    pub fn state_dir(&self) -> Option<&Path> {
        self.inner.state.as_ref().map(|s| s.root())
    }

    /// The port peers reach us on.
    pub fn listen_port(&self) -> u16 {
        self.inner.listen_port
    }

    /// The addresses we listen on: the configured one, and its IPv6
    /// counterpart when IPv6 is on and could be bound.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.inner.listen_addrs.clone()
    }

    /// Our peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// Adds a torrent and starts it (checking any data already on disk).
    pub fn add_torrent(&self, add: AddTorrent) -> Result<TorrentHandle, SessionError> {
        if self.inner.cancel.is_cancelled() {
            return Err(SessionError::ShuttingDown);
        }
        let info_hash = add.source.info_hash();
        let mut torrents = lock(&self.inner.torrents);
        if torrents.contains_key(&info_hash) {
            return Err(SessionError::Duplicate(info_hash));
        }
        let removed = Arc::new(AtomicBool::new(false));
        let env = TorrentEnv {
            peer_id: self.inner.peer_id,
            listen_port: self.inner.listen_port,
            announce_ipv6: self.inner.announce_ipv6,
            max_connections: self.inner.config.max_connections,
            max_half_open: self.inner.config.max_half_open,
            dht: self.inner.dht.clone(),
            dht_error: self.inner.dht_error.clone(),
            port_map: self.inner.port_map.clone(),
            lsd: self.inner.lsd.clone(),
            state: self.inner.state.clone(),
            resume_interval: self.inner.config.resume_interval,
            removed: removed.clone(),
            limits: self.inner.limits.clone(),
            slots: self.inner.slots.clone(),
            encryption: self.inner.encryption.clone(),
        };
        let cancel = self.inner.cancel.child_token();
        let done = CancellationToken::new();
        let save_dir = add.save_dir.clone();
        let (handle, join) = torrent::spawn(add, env, cancel.clone());
        let finished = done.clone();
        self.inner.tasks.spawn(async move {
            let _ = join.await;
            finished.cancel();
        });
        torrents.insert(
            info_hash,
            Entry {
                handle: handle.clone(),
                cancel,
                done,
                removed,
                save_dir,
            },
        );
        Ok(handle)
    }

    /// The torrent with this info hash.
    pub fn torrent(&self, info_hash: &InfoHash) -> Option<TorrentHandle> {
        lock(&self.inner.torrents)
            .get(info_hash)
            .map(|e| e.handle.clone())
    }

    /// Every torrent.
    pub fn torrents(&self) -> Vec<TorrentHandle> {
        lock(&self.inner.torrents)
            .values()
            .map(|e| e.handle.clone())
            .collect()
    }

    /// Removes a torrent: stops it (telling its trackers), forgets it in the
    /// state folder and, if `delete_data`, deletes its files — only the
    /// torrent's own files, and then the folders they leave empty.
    pub async fn remove(
        &self,
        info_hash: &InfoHash,
        delete_data: bool,
    ) -> Result<(), SessionError> {
        let entry = lock(&self.inner.torrents)
            .remove(info_hash)
            .ok_or(SessionError::NotFound(*info_hash))?;
        // Asked before the task ends: the metainfo of a magnet may be known.
        let meta = if delete_data {
            entry.handle.metainfo().await
        } else {
            None
        };
        entry.removed.store(true, Ordering::Release);
        entry.cancel.cancel();
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, entry.done.cancelled())
            .await
            .is_err()
        {
            tracing::warn!("torrent {info_hash} did not stop within {SHUTDOWN_TIMEOUT:?}");
        }
        let state = self.inner.state.clone();
        let ih = *info_hash;
        let save_dir = entry.save_dir;
        let result = tokio::task::spawn_blocking(move || -> Result<(), String> {
            if let Some(s) = state {
                s.remove(&ih).map_err(|e| e.to_string())?;
            }
            match meta {
                Some(m) => {
                    crate::storage::delete_files(&m.info, &save_dir).map_err(|e| e.to_string())
                }
                None => Ok(()),
            }
        })
        .await
        .map_err(|e| SessionError::DeleteFailed(e.to_string()))?;
        result.map_err(SessionError::DeleteFailed)
    }

    /// Sets the session-wide limits in payload bytes per second, `None` for
    /// none. Connections under way follow at once.
    pub fn set_rate_limits(&self, download: Option<u64>, upload: Option<u64>) {
        self.inner.limits.set(download, upload);
    }

    /// The session-wide limits `(download, upload)` in bytes per second.
    pub fn rate_limits(&self) -> (Option<u64>, Option<u64>) {
        self.inner.limits.get()
    }

    /// The DHT node, if the session runs one.
    pub fn dht(&self) -> Option<&Dht> {
        self.inner.dht.as_ref()
    }

    /// Why the DHT is not running although the configuration asked for it.
    pub fn dht_error(&self) -> Option<&str> {
        self.inner.dht_error.as_deref()
    }

    /// What port mapping achieved: [`PortMapStatus::Off`] when it is
    /// not on.
    pub fn port_mapping(&self) -> PortMapStatus {
        self.inner
            .port_map
            .as_ref()
            .map_or(PortMapStatus::Off, |p| p.status())
    }

    /// Stops every torrent (telling trackers, flushing files) and waits for
    /// every task to end, at most `SHUTDOWN_TIMEOUT`.
    pub async fn shutdown(&self) {
        if let Some(dht) = &self.inner.dht {
            match tokio::time::timeout(SHUTDOWN_TIMEOUT, dht.save_nodes()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!("cannot save the DHT routing table: {e}"),
                Err(_) => tracing::warn!("saving the DHT routing table timed out"),
            }
        }
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop within {SHUTDOWN_TIMEOUT:?}");
        }
        lock(&self.inner.torrents).clear();
    }
}

/// Whether `ip` is a public IPv4 address: one other hosts on the Internet
/// can reach us at (not private, loopback, link-local, shared CGNAT space,
/// documentation, broadcast or unspecified).
fn is_public_ipv4(ip: std::net::IpAddr) -> bool {
    let std::net::IpAddr::V4(v4) = ip else {
        return false;
    };
    let [a, b, ..] = v4.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_multicast()
        || cgnat
        || a == 0
        || a >= 240)
}

/// Turns the DHT's server mode on once the port mapping reports the UDP
/// port mapped: from then on other nodes can reach us. Polls the mapping's
/// status (it has no notification) until then or until the session ends.
async fn serve_dht_when_mapped(dht: Dht, map: crate::portmap::PortMap, cancel: CancellationToken) {
    loop {
        if let crate::portmap::PortMapStatus::Mapped { udp: true, .. } = map.status() {
            if let Err(e) = dht.serve().await {
                tracing::warn!("the DHT could not switch to server mode: {e}");
            }
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the map is still sound.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(
    listener: peer::Listeners,
    inner: std::sync::Weak<Inner>,
    cancel: CancellationToken,
) {
    let mut pending = JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = pending.join_next(), if !pending.is_empty() => {}
            // At the cap, connections wait in the kernel's listen queue
            // until a handshake is read (each within the handshake
            // timeout): accepting and closing them would drop a burst of
            // peers (a restart, leechers arriving together), who then back
            // off for seconds. One host cannot fill the cap: it has at most
            // `max_handshakes_per_ip` of the places.
            r = listener.accept(), if pending.len() < MAX_PENDING_INCOMING => {
                let (stream, addr) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Some(session) = inner.upgrade() else {
                    break;
                };
                // Over a limit: closed now, before anything is read or
                // allocated for it. Not logged above trace: a host that
                // opens connections in a loop must not fill a disk.
                let (slot, reading) = match session.slots.incoming(addr.ip()) {
                    Ok(x) => x,
                    Err(why) => {
                        tracing::trace!(%addr, ?why, "connection refused");
                        drop(stream);
                        continue;
                    }
                };
                drop(session);
                // Small messages (requests, haves) must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                let stream = peer::PeerStream::from(stream);
                let inner = inner.clone();
                pending.spawn(async move {
                    let mode = match inner.upgrade() {
                        Some(i) => i.config.encryption,
                        None => return,
                    };
                    let find = |h: &[u8; 20]| find_by_req2(&inner, h);
                    let incoming = peer::read_incoming(stream, mode, &find).await;
                    drop(reading);
                    let Ok(incoming) = incoming else {
                        return;
                    };
                    let Some(inner) = inner.upgrade() else {
                        return;
                    };
                    let handle = lock(&inner.torrents)
                        .get(&incoming.handshake.info_hash)
                        .map(|e| e.handle.clone());
                    if let Some(t) = handle {
                        let _ = t.cmds.send(TorrentCmd::Incoming(incoming, addr, slot)).await;
                    }
                });
            }
        }
    }
    pending.abort_all();
}
/// The torrent an MSE initiator names by HASH('req2', info hash): each
/// torrent's is computed under the table's lock (one SHA-1 of 24 bytes a
/// torrent, once per encrypted handshake).
fn find_by_req2(inner: &std::sync::Weak<Inner>, wanted: &[u8; 20]) -> Option<InfoHash> {
    let inner = inner.upgrade()?;
    let torrents = lock(&inner.torrents);
    torrents
        .keys()
        .find(|ih| &peer::mse::req2(ih) == wanted)
        .copied()
}

/// Raises the soft limit on open files to the hard limit: every
/// connection and every open file of every torrent is a descriptor, and
/// the usual soft limit (1,024) runs out with a few busy torrents. Failing
/// to raise it is not an error (the session runs within what it has).
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0
        || lim.rlim_cur >= lim.rlim_max
    {
        return;
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads the struct we pass; raising the soft limit up
    // to the hard one needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        tracing::debug!("could not raise the open file limit");
    }
}
