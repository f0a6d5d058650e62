//! The mainline DHT (BEP 5): a thin, documented layer over the `mainline`
//! crate's `AsyncDht`.
//!
//! This module owns our one DHT node: its configuration ([`DhtConfig`]), the
//! handle the rest of the engine talks to ([`Dht`]: peer lookups, announces,
//! a [`DhtState`] snapshot for the GUI) and the per-torrent task that looks up
//! and announces on a schedule ([`DhtAnnouncer`]).
//!
//! `mainline` runs the node on its own thread (an actor fed by a channel), so
//! nothing here blocks the async runtime once the node is started. The node
//! stops when the last [`Dht`] clone is dropped: its thread notices within
//! one socket read timeout (50 ms) and exits.
//!
//! **Datagrams from strangers reach `mainline` only through our relay**
//! ([`relay`]), which owns the public UDP socket: it checks each one with
//! our bounded `bencode::scan` (serde_bencode inside `mainline` recurses
//! without a depth limit) and rewrites what `mainline` 8 cannot take
//! (transaction ids other than 4 bytes long, which libtorrent sends).
//!
//! **Private torrents (BEP 27) must not use the DHT.** This module does not
//! know about torrents' flags: the caller simply does not spawn a
//! [`DhtAnnouncer`] (nor call [`Dht::get_peers`] / [`Dht::announce`]) for a
//! torrent whose info dictionary has `private = 1`.

mod announcer;
mod keeper;
mod relay;
pub mod saved;
mod state;

use std::collections::HashSet;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{FutureExt, Stream};
use mainline::async_dht::{AsyncDht, GetStream};
use mainline::errors::PutQueryError;
use mainline::Id;
use rand::seq::SliceRandom;

use crate::types::InfoHash;

pub use announcer::{DhtAnnouncer, DhtSchedule};
pub use keeper::{DhtJoin, RETRY_FIRST, RETRY_MAX, SAVE_INTERVAL};
pub use state::{DhtBucket, DhtNode, DhtState};

/// The public routers a new node joins the DHT through, as `mainline` ships
/// them. Only used when the configuration does not name other nodes.
pub const DEFAULT_BOOTSTRAP_NODES: [&str; 4] = mainline::DEFAULT_BOOTSTRAP_NODES;

/// Most bootstrap nodes handed to `mainline`; a longer list is sampled down
/// at random. `mainline` sends every lookup to all of its bootstrap nodes as
/// long as its routing table holds fewer nodes than that list, so a long list
/// (say, every node of a test network) would turn each lookup into a burst
/// of hundreds of packets and delay the first answers by milliseconds.
pub const MAX_BOOTSTRAP_NODES: usize = 8;

/// Request timeout for [`DhtConfig::testnet`]: on loopback a node answers in
/// well under a millisecond, so a short timeout only shortens the tail of
/// each query (a query ends when every request is answered or timed out).
pub const TESTNET_REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// How the DHT node is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtConfig {
    /// Nodes to join the DHT through, as `HOST:PORT`. Names are resolved at
    /// start and again at every retry while the routing table is empty (a
    /// laptop that starts offline joins once it is online); at most
    /// [`MAX_BOOTSTRAP_NODES`] addresses, with the saved nodes, are used.
    /// Empty (and no saved nodes) means "start a new DHT": the node waits
    /// for others to contact it, which only makes sense for the first node
    /// of a test network. Default: [`DEFAULT_BOOTSTRAP_NODES`].
    pub bootstrap: Vec<String>,
    /// UDP port to listen on; 0 lets the OS choose. The app passes its
    /// BitTorrent listen port, as other clients do, so that one port number
    /// identifies us in both protocols.
    pub port: u16,
    /// Address to bind the UDP socket to (IPv4 only: `mainline` does not speak
    /// BEP 32). Default: all interfaces.
    pub bind: Ipv4Addr,
    /// How long to wait for each DHT request's answer; `None` keeps
    /// `mainline`'s default (2 s). Tests on loopback use a short one.
    pub request_timeout: Option<Duration>,
    /// Answer other nodes' requests from the start: the caller knows we are
    /// connectable (a public address, a test network). When false the node
    /// is read-only (BEP 43: its queries say `ro`, it answers no one) until
    /// [`Dht::serve`] is called (the port got mapped) or `mainline`'s
    /// adaptive mode finds, after 15 minutes, that it is not firewalled.
    pub server_mode: bool,
    /// Where the routing table is kept across runs ([`saved`]), or `None`
    /// to keep nothing. Its nodes are extra bootstrap nodes at start.
    pub nodes_file: Option<PathBuf>,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            bootstrap: DEFAULT_BOOTSTRAP_NODES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            port: 0,
            bind: Ipv4Addr::UNSPECIFIED,
            request_timeout: None,
            server_mode: false,
            nodes_file: None,
        }
    }
}

impl DhtConfig {
    /// A node for a test network on loopback (for example a
    /// `mainline::Testnet`): bound to 127.0.0.1 on a port from the OS, joining
    /// through `bootstrap` only, with [`TESTNET_REQUEST_TIMEOUT`], answering
    /// requests from the start.
    pub fn testnet<S: AsRef<str>>(bootstrap: &[S]) -> Self {
        DhtConfig {
            bootstrap: bootstrap.iter().map(|s| s.as_ref().to_string()).collect(),
            port: 0,
            bind: Ipv4Addr::LOCALHOST,
            request_timeout: Some(TESTNET_REQUEST_TIMEOUT),
            server_mode: true,
            nodes_file: None,
        }
    }
}

/// What can go wrong with the DHT.
#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    /// A bootstrap entry that is not `HOST:PORT`.
    #[error("DHT bootstrap node {0:?} is not HOST:PORT with a port from 1 to 65535")]
    BadBootstrapAddress(String),
    /// The UDP socket could not be bound (port in use, no such address ...).
    #[error("cannot start the DHT on UDP {addr}: {source}")]
    Bind {
        /// Where we tried to bind.
        addr: SocketAddrV4,
        /// Why the OS refused.
        source: std::io::Error,
    },
    /// An announce found no node to store our address at, or every node
    /// refused or ignored it.
    #[error("announcing {info_hash} to the DHT failed: {source}")]
    Announce {
        /// The torrent, in hex, for the message.
        info_hash: String,
        /// `mainline`'s reason.
        source: PutQueryError,
    },
    /// The DHT node's thread is gone (it can only stop by crashing while a
    /// handle is alive), so the DHT is unusable until restarted.
    #[error("the DHT node has stopped")]
    Stopped,
}

/// Our DHT node. Cheap to clone: every clone talks to the same node, which
/// stops when the last clone is dropped.
#[derive(Clone)]
pub struct Dht {
    /// Shared by all clones.
    inner: Arc<Inner>,
}

/// The state behind every clone of a [`Dht`].
struct Inner {
    /// `mainline`'s handle: a channel to the node's thread. Replaced when
    /// the node is rebuilt (new bootstrap addresses, server mode on); `None`
    /// only for the moment of a rebuild, when calls fail as
    /// [`DhtError::Stopped`] or yield nothing.
    node: Mutex<Option<AsyncDht>>,
    /// Where other nodes reach us: the relay's public socket, which
    /// outlives rebuilds of the node, so port mappings and other nodes'
    /// tables stay true.
    local_addr: SocketAddrV4,
    /// The relay in front of the node (see [`relay`]): the node itself
    /// listens on an ephemeral port on 127.0.0.1 and sees other nodes by
    /// loopback aliases.
    relay: relay::Relay,
    /// The configuration, for rebuilds and re-resolving the bootstrap names.
    config: DhtConfig,
    /// Nodes read from the nodes file at start: extra bootstrap nodes.
    saved: Vec<SocketAddrV4>,
    /// The bootstrap addresses the current node was built with; a retry
    /// rebuilds the node only when the names now resolve to others.
    bootstrap: Mutex<Vec<SocketAddrV4>>,
    /// Whether the node answers requests: set from the configuration, and by
    /// [`Dht::serve`]; kept across rebuilds.
    serving: AtomicBool,
    /// Joining progress, written by the keeper task, read by the GUI.
    join: Mutex<DhtJoin>,
    /// One rebuild at a time (the keeper's and [`Dht::serve`]'s).
    rebuilding: tokio::sync::Mutex<()>,
    /// Lookups and announces in flight, for [`DhtState`]; shared with the
    /// guards inside streams and futures so they count down when dropped.
    counters: Arc<Counters>,
    /// Node ids learned from node lookups, for the per-bucket view of the
    /// routing table (`mainline` exposes the table's addresses, not its ids).
    directory: Mutex<state::Directory>,
    /// A socket to nudge the node's thread with: it polls its command channel
    /// only between socket reads (up to 50 ms apart when the network is
    /// quiet), so an empty datagram to its port makes it pick up a new
    /// lookup at once. `None` if it could not be bound (then lookups start
    /// within 50 ms instead).
    waker: Option<UdpSocket>,
}

/// In-flight counters.
#[derive(Default)]
struct Counters {
    /// `get_peers` lookups whose stream has not ended or been dropped.
    lookups: AtomicUsize,
    /// Announces not yet finished or dropped.
    announces: AtomicUsize,
}

impl Dht {
    /// Starts the DHT node: reads the saved nodes, resolves the bootstrap
    /// names, binds the UDP socket and starts `mainline`'s node thread,
    /// which joins the DHT in the background, and the task that keeps it
    /// joined (retries while the routing table is empty, saves the table).
    /// Contacts no node other than those in `config.bootstrap` and the
    /// nodes file (the public routers only if the config says so, as its
    /// default does). Names that do not resolve are no error: they are
    /// tried again with backoff, and [`DhtState`] says so.
    pub async fn start(config: DhtConfig) -> Result<Dht, DhtError> {
        let saved = match &config.nodes_file {
            Some(path) => {
                let path = path.clone();
                match tokio::task::spawn_blocking(move || saved::load(&path)).await {
                    Ok(Ok(nodes)) => nodes,
                    Ok(Err(e)) => {
                        tracing::warn!("{e}");
                        Vec::new()
                    }
                    Err(_) => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        let resolved = resolve_bootstrap(&config.bootstrap).await?;
        let bootstrap = pick_bootstrap(&resolved.addrs, &saved);
        let addr = SocketAddrV4::new(config.bind, config.port);
        let relay = relay::Relay::start(addr)
            .await
            .map_err(|source| DhtError::Bind { addr, source })?;
        let local_addr = relay.public();
        let aliases: Vec<SocketAddrV4> = bootstrap.iter().map(|a| relay.alias(*a)).collect();
        let node = build(&config, &relay, &aliases, config.server_mode)
            .await
            .map_err(|source| DhtError::Bind { addr, source })?;
        let problem = resolved.problem(&config.bootstrap, &saved);
        if let Some(p) = &problem {
            tracing::warn!("DHT: {p}; retrying");
        }
        let inner = Arc::new(Inner {
            node: Mutex::new(Some(node)),
            local_addr,
            relay,
            serving: AtomicBool::new(config.server_mode),
            config,
            saved,
            bootstrap: Mutex::new(bootstrap),
            join: Mutex::new(DhtJoin {
                problem,
                ..DhtJoin::default()
            }),
            rebuilding: tokio::sync::Mutex::new(()),
            counters: Arc::default(),
            directory: Mutex::new(state::Directory::default()),
            waker: bind_waker(),
        });
        tokio::spawn(keeper::run(Arc::downgrade(&inner)));
        Ok(Dht { inner })
    }

    /// The UDP address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::V4(self.inner.local_addr)
    }

    /// The current `mainline` handle.
    fn node(&self) -> Result<AsyncDht, DhtError> {
        lock(&self.inner.node).clone().ok_or(DhtError::Stopped)
    }

    /// Waits until the node has joined the DHT: runs a lookup of our own id
    /// (as joining does) and returns whether it found any node. Bounded by
    /// the request timeout: a lookup ends when every request is answered or
    /// timed out.
    pub async fn bootstrapped(&self) -> Result<bool, DhtError> {
        let id = *guard(self.node()?.info()).await?.id();
        let nodes = self.find_node(id).await?;
        Ok(!nodes.is_empty())
    }

    /// How joining goes: attempts, the next retry, what is wrong. Cheap
    /// (no call into the node); [`DhtState`] carries the same.
    pub fn join_status(&self) -> DhtJoin {
        lock(&self.inner.join).clone()
    }

    /// Starts answering other nodes' requests (server mode) if the node does
    /// not yet: call it once we are known to be connectable (the UDP port
    /// got mapped). `mainline` fixes the mode when a node is built, so the
    /// node is rebuilt on the same port, joining through the nodes of its
    /// routing table.
    pub async fn serve(&self) -> Result<(), DhtError> {
        if self.inner.serving.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let table = self.table().await.unwrap_or_default();
        let bootstrap = if table.is_empty() {
            lock(&self.inner.bootstrap).clone()
        } else {
            pick_bootstrap(&table, &[])
        };
        keeper::rebuild(&self.inner, bootstrap).await
    }

    /// The routing table's addresses (real ones, not the node's aliases).
    async fn table(&self) -> Result<Vec<SocketAddrV4>, DhtError> {
        let relay = &self.inner.relay;
        Ok(guard(self.node()?.to_bootstrap())
            .await?
            .iter()
            .filter_map(|s| s.parse().ok())
            .map(|a| relay.real(a))
            .collect())
    }

    /// Writes the routing table to the nodes file now (the keeper also does
    /// every [`SAVE_INTERVAL`]); the session calls it at shutdown. Returns
    /// how many nodes were written; 0 without a nodes file or with an empty
    /// table (an empty table never replaces a saved one).
    pub async fn save_nodes(&self) -> std::io::Result<usize> {
        let Some(path) = self.inner.config.nodes_file.clone() else {
            return Ok(0);
        };
        let table = self.table().await.unwrap_or_default();
        if table.is_empty() {
            return Ok(0);
        }
        tokio::task::spawn_blocking(move || saved::save(&path, &table))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Looks up peers for a torrent. Batches of peers arrive as nodes answer
    /// (the first one as soon as the first node that knows a peer replies),
    /// de-duplicated within this lookup; the stream ends when the lookup is
    /// done (every request answered or timed out) and counts as in flight
    /// until then or until dropped.
    ///
    /// `mainline` merges queries for the same info hash: a lookup started
    /// while an [`announce`](Self::announce) of the same torrent is still
    /// finding nodes joins that query and gets no peers. [`DhtAnnouncer`]
    /// orders the two; direct callers should too.
    pub fn get_peers(&self, info_hash: InfoHash) -> PeerStream {
        let in_flight = InFlight::new(&self.inner.counters, |c| &c.lookups);
        // `send` inside panics only if the node thread is gone.
        let stream = self.node().ok().and_then(|dht| {
            std::panic::catch_unwind(AssertUnwindSafe(|| dht.get_peers(Id::from(info_hash.0)))).ok()
        });
        self.wake();
        PeerStream {
            stream,
            seen: HashSet::new(),
            in_flight: Some(in_flight),
        }
    }

    /// Announces that we have `info_hash` on TCP `port` (`None`: the port
    /// this DHT node's UDP packets come from, BEP 5's `implied_port`) to the
    /// nodes closest to it. Returns when those nodes have answered.
    pub async fn announce(&self, info_hash: InfoHash, port: Option<u16>) -> Result<(), DhtError> {
        let _in_flight = InFlight::new(&self.inner.counters, |c| &c.announces);
        let dht = self.node()?;
        let announce = dht.announce_peer(Id::from(info_hash.0), port);
        self.wake();
        match guard(announce).await? {
            Ok(_) => Ok(()),
            Err(source) => Err(DhtError::Announce {
                info_hash: info_hash.to_hex(),
                source,
            }),
        }
    }

    /// A snapshot of the node for the GUI: id, routing table, activity. See
    /// [`DhtState`] for how the buckets are derived.
    pub async fn state(&self) -> Result<DhtState, DhtError> {
        state::snapshot(self).await
    }

    /// A node lookup; learns the ids of the nodes it finds for the bucket
    /// view.
    async fn find_node(&self, target: Id) -> Result<Vec<(SocketAddrV4, Id)>, DhtError> {
        let dht = self.node()?;
        let lookup = dht.find_node(target);
        self.wake();
        let nodes = guard(lookup).await?;
        let relay = &self.inner.relay;
        let found: Vec<(SocketAddrV4, Id)> = nodes
            .iter()
            .map(|n| (relay.real(n.address()), *n.id()))
            .collect();
        if let Ok(mut directory) = self.inner.directory.lock() {
            directory.learn(&found);
        }
        Ok(found)
    }

    /// Nudges the node's thread to read its command channel now (see
    /// [`Inner::waker`]). An empty datagram is not a valid KRPC message, so
    /// the node drops it after waking.
    fn wake(&self) {
        wake(&self.inner);
    }
}

/// See [`Dht::wake`].
fn wake(inner: &Inner) {
    if let (Some(socket), Some(node)) = (&inner.waker, inner.relay.node()) {
        let _ = socket.send_to(&[], node);
    }
}

/// Builds a `mainline` node on a free port of 127.0.0.1 behind `relay`,
/// joining through `bootstrap` (aliases). The relay is told the node's
/// address before the node starts, so that its first datagrams (the join
/// lookup, sent at once) pass.
async fn build(
    config: &DhtConfig,
    relay: &relay::Relay,
    bootstrap: &[SocketAddrV4],
    server_mode: bool,
) -> std::io::Result<AsyncDht> {
    let mut last_error = None;
    // The port is found free and then bound by mainline: another socket can
    // take it in between, rarely; then try another.
    for _ in 0..8 {
        let port = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        relay.set_node(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let mut builder = mainline::Dht::builder();
        builder
            .bind_address(Ipv4Addr::LOCALHOST)
            .port(port)
            .bootstrap(bootstrap);
        if let Some(timeout) = config.request_timeout {
            builder.request_timeout(timeout);
        }
        if server_mode {
            builder.server_mode();
        }
        // Binding and spawning the node thread is quick but blocking.
        match tokio::task::spawn_blocking(move || builder.build()).await {
            Ok(Ok(node)) => return Ok(node.as_async()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => last_error = Some(e),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no free port on 127.0.0.1")))
}

/// Locks a mutex, ignoring poisoning: every value behind these locks is
/// replaced whole, so a panic elsewhere cannot leave one half-written.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for Dht {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dht")
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

/// Peers found by one lookup ([`Dht::get_peers`]): batches of new addresses
/// as they arrive, ending when the lookup is done.
pub struct PeerStream {
    /// `mainline`'s stream of raw batches; `None` if the node thread is gone.
    stream: Option<GetStream<Vec<SocketAddrV4>>>,
    /// Addresses already yielded: many nodes return the same peers.
    seen: HashSet<SocketAddrV4>,
    /// Counts this lookup as in flight until it ends or is dropped.
    in_flight: Option<InFlight>,
}

impl Stream for PeerStream {
    type Item = Vec<SocketAddr>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(stream) = this.stream.as_mut() else {
                this.in_flight = None;
                return Poll::Ready(None);
            };
            match Pin::new(stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.stream = None;
                }
                Poll::Ready(Some(batch)) => {
                    let fresh: Vec<SocketAddr> = batch
                        .into_iter()
                        .filter(|a| a.port() != 0 && !a.ip().is_unspecified())
                        .filter(|a| this.seen.insert(*a))
                        .map(SocketAddr::V4)
                        .collect();
                    if !fresh.is_empty() {
                        return Poll::Ready(Some(fresh));
                    }
                }
            }
        }
    }
}

/// Counts one lookup or announce in flight while alive.
struct InFlight {
    /// Keeps the counters alive even if every `Dht` clone is gone.
    counters: Arc<Counters>,
    /// Which counter: `lookups` or `announces`.
    which: fn(&Counters) -> &AtomicUsize,
}

impl InFlight {
    fn new(counters: &Arc<Counters>, which: fn(&Counters) -> &AtomicUsize) -> InFlight {
        which(counters).fetch_add(1, Ordering::Relaxed);
        InFlight {
            counters: counters.clone(),
            which,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        (self.which)(&self.counters).fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs a call into `mainline`, turning its "node thread gone" panics into
/// [`DhtError::Stopped`] so that a dead DHT cannot take a torrent down.
async fn guard<T>(future: impl Future<Output = T>) -> Result<T, DhtError> {
    AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .map_err(|_| DhtError::Stopped)
}

/// The bootstrap entries' addresses, and the names that did not resolve.
#[derive(Debug, Default)]
struct Resolved {
    /// IPv4 addresses, sorted, without duplicates, all of them.
    addrs: Vec<SocketAddrV4>,
    /// Entries that gave no IPv4 address, with why.
    failed: Vec<String>,
}

impl Resolved {
    /// What to tell the user when no entry resolved (the node cannot join
    /// through its configuration); `None` when some did, or none were
    /// given.
    fn problem(&self, entries: &[String], saved: &[SocketAddrV4]) -> Option<String> {
        if !self.addrs.is_empty() || entries.is_empty() {
            return None;
        }
        let mut p = format!(
            "none of the bootstrap nodes resolved to an IPv4 address ({})",
            self.failed.join("; ")
        );
        if !saved.is_empty() {
            p.push_str(&format!("; trying {} saved nodes", saved.len()));
        }
        Some(p)
    }
}

/// Checks and resolves the bootstrap entries to IPv4 addresses. A malformed
/// entry is an error; a name that does not resolve (offline, no DNS) is
/// recorded in [`Resolved::failed`] and tried again later.
async fn resolve_bootstrap(entries: &[String]) -> Result<Resolved, DhtError> {
    let mut out = Resolved::default();
    for entry in entries {
        let port_ok = entry
            .rsplit_once(':')
            .and_then(|(host, port)| (!host.is_empty()).then_some(port))
            .and_then(|port| port.parse::<u16>().ok())
            .is_some_and(|port| port != 0);
        if !port_ok {
            return Err(DhtError::BadBootstrapAddress(entry.clone()));
        }
        match tokio::net::lookup_host(entry.as_str()).await {
            Ok(addrs) => {
                let before = out.addrs.len();
                out.addrs.extend(addrs.filter_map(|a| match a {
                    SocketAddr::V4(v4) => Some(v4),
                    SocketAddr::V6(_) => None,
                }));
                if out.addrs.len() == before {
                    out.failed.push(format!("{entry}: no IPv4 address"));
                }
            }
            Err(e) => {
                tracing::debug!("DHT bootstrap node {entry} does not resolve: {e}");
                out.failed.push(format!("{entry}: {e}"));
            }
        }
    }
    out.addrs.sort();
    out.addrs.dedup();
    Ok(out)
}

/// The bootstrap addresses handed to `mainline`: all of them when they fit
/// in [`MAX_BOOTSTRAP_NODES`]; otherwise up to half from the configured
/// routers and the rest from the saved nodes (each sampled at random), so
/// that neither a stale file nor a dead router list alone decides.
fn pick_bootstrap(configured: &[SocketAddrV4], saved: &[SocketAddrV4]) -> Vec<SocketAddrV4> {
    let mut rng = rand::thread_rng();
    let mut configured = configured.to_vec();
    let mut saved: Vec<SocketAddrV4> = saved
        .iter()
        .filter(|a| !configured.contains(a))
        .copied()
        .collect();
    configured.shuffle(&mut rng);
    saved.shuffle(&mut rng);
    let from_saved = saved
        .len()
        .min(MAX_BOOTSTRAP_NODES - configured.len().min(MAX_BOOTSTRAP_NODES / 2));
    let mut out: Vec<SocketAddrV4> = saved.into_iter().take(from_saved).collect();
    let room = MAX_BOOTSTRAP_NODES - out.len();
    out.extend(configured.into_iter().take(room));
    out.sort();
    out
}

/// Binds the wake-up socket on loopback, where the node listens.
fn bind_waker() -> Option<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).ok()?;
    socket.set_nonblocking(true).ok()?;
    Some(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bootstrap_entries_are_checked() {
        for bad in ["router.example", "host:", ":6881", "host:0", "host:70000"] {
            let err = resolve_bootstrap(&[bad.to_string()]).await.unwrap_err();
            assert!(
                matches!(err, DhtError::BadBootstrapAddress(ref s) if s == bad),
                "{bad}: {err}"
            );
        }
        let ok = resolve_bootstrap(&["127.0.0.1:6881".to_string()])
            .await
            .unwrap();
        assert_eq!(ok.addrs, vec!["127.0.0.1:6881".parse().unwrap()]);
        assert!(ok.failed.is_empty());
        assert!(resolve_bootstrap(&[]).await.unwrap().addrs.is_empty());
    }

    #[test]
    fn bootstrap_is_bounded_and_mixes_routers_with_saved_nodes() {
        let addrs = |ports: std::ops::RangeInclusive<u16>| -> Vec<SocketAddrV4> {
            ports
                .map(|p| SocketAddrV4::new(Ipv4Addr::LOCALHOST, p))
                .collect()
        };
        let routers = addrs(1..=30);
        let saved = addrs(101..=130);
        let only_routers = pick_bootstrap(&routers, &[]);
        assert_eq!(only_routers.len(), MAX_BOOTSTRAP_NODES);
        let only_saved = pick_bootstrap(&[], &saved);
        assert_eq!(only_saved.len(), MAX_BOOTSTRAP_NODES);
        let both = pick_bootstrap(&routers, &saved);
        assert_eq!(both.len(), MAX_BOOTSTRAP_NODES);
        let from_routers = both.iter().filter(|a| a.port() <= 30).count();
        assert_eq!(from_routers, MAX_BOOTSTRAP_NODES / 2);
        let few = pick_bootstrap(&addrs(1..=2), &addrs(1..=3));
        assert_eq!(few, addrs(1..=3), "small lists are kept whole, once");
    }

    #[test]
    fn default_config_uses_public_routers_and_testnet_does_not() {
        let d = DhtConfig::default();
        assert_eq!(d.bootstrap.len(), DEFAULT_BOOTSTRAP_NODES.len());
        let t = DhtConfig::testnet(&["127.0.0.1:1"]);
        assert_eq!(t.bootstrap, vec!["127.0.0.1:1".to_string()]);
        assert_eq!(t.bind, Ipv4Addr::LOCALHOST);
        assert_eq!(t.request_timeout, Some(TESTNET_REQUEST_TIMEOUT));
        assert!(t.nodes_file.is_none() && d.nodes_file.is_none());
    }
}
