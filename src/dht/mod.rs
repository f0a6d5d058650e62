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
//! **Datagrams from strangers are parsed by `mainline`, not by us.** It
//! owns its UDP socket and hands each datagram straight to serde_bencode,
//! which recurses without a depth limit; the crate (8.0) offers no hook
//! before that parse (its `RequestFilter` sees parsed requests only), so
//! our bounded `bencode::scan` cannot stand in front. What bounds the depth
//! is `mainline` reading at most 2,048 bytes of a datagram: the deepest one
//! needs between 512 KiB and 1 MiB of the node thread's default 2 MiB stack
//! in a debug build (measured by lowering `RUST_MIN_STACK`), and
//! tests/dht.rs sends it. A `mainline` that reads larger datagrams, or a
//! smaller thread stack, would turn one datagram into a crash.
//!
//! **Private torrents (BEP 27) must not use the DHT.** This module does not
//! know about torrents' flags: the caller simply does not spawn a
//! [`DhtAnnouncer`] (nor call [`Dht::get_peers`] / [`Dht::announce`]) for a
//! torrent whose info dictionary has `private = 1`.

mod announcer;
mod state;

use std::collections::HashSet;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Nodes to join the DHT through, as `HOST:PORT` (names are resolved once,
    /// at start; at most [`MAX_BOOTSTRAP_NODES`] of the addresses are used). Empty means "start a new DHT": the node waits for others to
    /// contact it, which only makes sense for the first node of a test network.
    /// Default: [`DEFAULT_BOOTSTRAP_NODES`].
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
    /// Answer other nodes' requests from the start. When false, `mainline`'s
    /// adaptive mode decides: it turns server mode on after a while if the
    /// node turns out not to be firewalled.
    pub server_mode: bool,
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
        }
    }
}

/// What can go wrong with the DHT.
#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    /// A bootstrap entry that is not `HOST:PORT`.
    #[error("DHT bootstrap node {0:?} is not HOST:PORT with a port from 1 to 65535")]
    BadBootstrapAddress(String),
    /// Bootstrap nodes were configured but none of their names resolved to an
    /// IPv4 address, so the node could never join the DHT.
    #[error("none of the DHT bootstrap nodes resolved to an IPv4 address (tried {})", .tried.join(", "))]
    NoBootstrapAddress {
        /// The configured entries, for the message.
        tried: Vec<String>,
    },
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
    /// `mainline`'s handle: a channel to the node's thread.
    dht: AsyncDht,
    /// Where the node listens, read once at start (it never changes).
    local_addr: SocketAddrV4,
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
    /// Starts the DHT node: resolves the bootstrap names, binds the UDP
    /// socket and starts `mainline`'s node thread, which joins the DHT in the
    /// background. Contacts no node other than those in `config.bootstrap`
    /// (the public routers only if the config says so, as its default does).
    pub async fn start(config: DhtConfig) -> Result<Dht, DhtError> {
        let bootstrap = resolve_bootstrap(&config.bootstrap).await?;
        let mut builder = mainline::Dht::builder();
        builder
            .bind_address(config.bind)
            // Always explicit: without a port, mainline tries 6881 first.
            .port(config.port)
            .bootstrap(&bootstrap);
        if let Some(timeout) = config.request_timeout {
            builder.request_timeout(timeout);
        }
        if config.server_mode {
            builder.server_mode();
        }
        let addr = SocketAddrV4::new(config.bind, config.port);
        // Binding and spawning the node thread is quick but blocking.
        let built = tokio::task::spawn_blocking(move || builder.build())
            .await
            .map_err(|_| DhtError::Stopped)?;
        let dht = built
            .map_err(|source| DhtError::Bind { addr, source })?
            .as_async();
        let info = guard(dht.info()).await?;
        let local_addr = info.local_addr();
        Ok(Dht {
            inner: Arc::new(Inner {
                dht,
                local_addr,
                counters: Arc::default(),
                directory: Mutex::new(state::Directory::default()),
                waker: bind_waker(local_addr),
            }),
        })
    }

    /// The UDP address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::V4(self.inner.local_addr)
    }

    /// Waits until the node has joined the DHT: runs a lookup of our own id
    /// (as joining does) and returns whether it found any node. Bounded by
    /// the request timeout: a lookup ends when every request is answered or
    /// timed out.
    pub async fn bootstrapped(&self) -> Result<bool, DhtError> {
        let id = *guard(self.inner.dht.info()).await?.id();
        let nodes = self.find_node(id).await?;
        Ok(!nodes.is_empty())
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
        let dht = &self.inner.dht;
        // `send` inside panics only if the node thread is gone.
        let stream =
            std::panic::catch_unwind(AssertUnwindSafe(|| dht.get_peers(Id::from(info_hash.0))))
                .ok();
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
        let announce = self.inner.dht.announce_peer(Id::from(info_hash.0), port);
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
    async fn find_node(&self, target: Id) -> Result<Box<[mainline::Node]>, DhtError> {
        let lookup = self.inner.dht.find_node(target);
        self.wake();
        let nodes = guard(lookup).await?;
        if let Ok(mut directory) = self.inner.directory.lock() {
            directory.learn(&nodes);
        }
        Ok(nodes)
    }

    /// Nudges the node's thread to read its command channel now (see
    /// [`Inner::waker`]). An empty datagram is not a valid KRPC message, so
    /// the node drops it after waking.
    fn wake(&self) {
        if let Some(socket) = &self.inner.waker {
            let _ = socket.send_to(&[], wake_target(self.inner.local_addr));
        }
    }
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

/// Checks and resolves the bootstrap entries to IPv4 addresses. Names that do
/// not resolve are skipped (logged); it is an error only if entries were
/// given and none resolved.
async fn resolve_bootstrap(entries: &[String]) -> Result<Vec<SocketAddrV4>, DhtError> {
    let mut out = Vec::new();
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
            Ok(addrs) => out.extend(addrs.filter_map(|a| match a {
                SocketAddr::V4(v4) => Some(v4),
                SocketAddr::V6(_) => None,
            })),
            Err(e) => tracing::warn!("DHT bootstrap node {entry} does not resolve: {e}"),
        }
    }
    if out.is_empty() && !entries.is_empty() {
        return Err(DhtError::NoBootstrapAddress {
            tried: entries.to_vec(),
        });
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_BOOTSTRAP_NODES {
        out.shuffle(&mut rand::thread_rng());
        out.truncate(MAX_BOOTSTRAP_NODES);
    }
    Ok(out)
}

/// Where to send wake-up datagrams: the node's address, or loopback if it
/// listens on all interfaces.
fn wake_target(local: SocketAddrV4) -> SocketAddrV4 {
    if local.ip().is_unspecified() {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, local.port())
    } else {
        local
    }
}

/// Binds the wake-up socket on the interface the node will receive from.
fn bind_waker(local: SocketAddrV4) -> Option<UdpSocket> {
    let target = wake_target(local);
    let bind_ip = if target.ip().is_loopback() {
        Ipv4Addr::LOCALHOST
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    let socket = UdpSocket::bind(SocketAddrV4::new(bind_ip, 0)).ok()?;
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
        assert_eq!(ok, vec!["127.0.0.1:6881".parse().unwrap()]);
        assert!(resolve_bootstrap(&[]).await.unwrap().is_empty());
        let many: Vec<String> = (1..=30).map(|p| format!("127.0.0.1:{p}")).collect();
        let some = resolve_bootstrap(&many).await.unwrap();
        assert_eq!(some.len(), MAX_BOOTSTRAP_NODES);
        assert!(some.iter().all(|a| (1..=30).contains(&a.port())));
    }

    #[test]
    fn default_config_uses_public_routers_and_testnet_does_not() {
        let d = DhtConfig::default();
        assert_eq!(d.bootstrap.len(), DEFAULT_BOOTSTRAP_NODES.len());
        let t = DhtConfig::testnet(&["127.0.0.1:1"]);
        assert_eq!(t.bootstrap, vec!["127.0.0.1:1".to_string()]);
        assert_eq!(t.bind, Ipv4Addr::LOCALHOST);
        assert_eq!(t.request_timeout, Some(TESTNET_REQUEST_TIMEOUT));
    }

    #[test]
    fn wake_target_prefers_loopback_for_wildcard() {
        let any: SocketAddrV4 = "0.0.0.0:7000".parse().unwrap();
        assert_eq!(wake_target(any), "127.0.0.1:7000".parse().unwrap());
        let lo: SocketAddrV4 = "127.0.0.2:7000".parse().unwrap();
        assert_eq!(wake_target(lo), lo);
    }
}
