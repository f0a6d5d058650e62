//! The task that keeps our node in the DHT: while the routing table is
//! empty it retries joining with backoff ([`RETRY_FIRST`] doubling to
//! [`RETRY_MAX`]), resolving the bootstrap names again each time (a laptop
//! that started offline, or whose DNS failed at start, joins once it can),
//! and it saves the routing table to the nodes file while joined.
//!
//! `mainline` takes its bootstrap addresses once, when a node is built, and
//! re-sends its own join lookup to them on every tick while its table is
//! empty; what it cannot do is learn new addresses. So a retry whose names
//! now resolve to addresses the node was not built with rebuilds the node
//! ([`rebuild`]) behind the same relay, so on the same public address;
//! otherwise it runs a join lookup
//! (our own id), which tells whether anyone answered.
//!
//! The task holds the node only weakly: it ends when the last [`Dht`]
//! handle is dropped.

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::{Duration, Instant};

use super::{
    build, lock, pick_bootstrap, resolve_bootstrap, wake, Dht, DhtError, Inner, SocketAddrV4,
};

/// Wait before the first retry while the routing table is empty.
pub const RETRY_FIRST: Duration = Duration::from_secs(5);

/// Longest wait between retries (the backoff doubles up to it).
pub const RETRY_MAX: Duration = Duration::from_secs(5 * 60);

/// How often the routing table is saved while joined (and once at the
/// first join); the session saves it at shutdown too.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// How often the table is looked at while joined, to notice it emptied.
const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Bound on one retry's join lookup (it ends by itself when every request
/// is answered or timed out; this only guards against a stuck node).
const JOIN_LOOKUP_LIMIT: Duration = Duration::from_secs(30);

/// How joining goes, for the GUI and the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhtJoin {
    /// Whether the routing table held nodes when last looked at (every
    /// 5 s).
    pub joined: bool,
    /// Retries made since the table was last seen with nodes.
    pub attempts: u32,
    /// When the next retry runs; `None` while joined.
    pub next_retry: Option<Instant>,
    /// What stands in the way, when known: names that did not resolve, or
    /// bootstrap nodes that did not answer.
    pub problem: Option<String>,
}

impl DhtJoin {
    /// Time left until the next retry, while not joined.
    pub fn retry_in(&self) -> Option<Duration> {
        self.next_retry
            .map(|t| t.saturating_duration_since(Instant::now()))
    }
}

/// The keeper task; see the module documentation.
pub(super) async fn run(weak: Weak<Inner>) {
    let mut backoff = RETRY_FIRST;
    let mut last_save: Option<Instant> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let dht = Dht { inner };
        let table = match dht.table().await {
            Ok(t) => t,
            // The node's thread is gone (a crash): nothing left to keep.
            Err(_) if lock(&dht.inner.node).is_some() => return,
            // A rebuild is under way.
            Err(_) => Vec::new(),
        };
        if !table.is_empty() {
            *lock(&dht.inner.join) = DhtJoin {
                joined: true,
                ..DhtJoin::default()
            };
            backoff = RETRY_FIRST;
            if last_save.is_none_or(|t| t.elapsed() >= SAVE_INTERVAL) {
                last_save = Some(Instant::now());
                if let Err(e) = dht.save_nodes().await {
                    tracing::warn!("cannot save the DHT routing table: {e}");
                }
            }
            drop(dht);
            tokio::time::sleep(CHECK_INTERVAL).await;
            continue;
        }
        {
            let mut join = lock(&dht.inner.join);
            join.joined = false;
            join.next_retry = Some(Instant::now() + backoff);
        }
        drop(dht);
        tokio::time::sleep(backoff).await;
        let Some(inner) = weak.upgrade() else { return };
        retry(&Dht { inner }).await;
        backoff = (backoff * 2).min(RETRY_MAX);
    }
}

/// One retry: resolve the names again, rebuild the node if they point
/// elsewhere now, run a join lookup, and record what happened.
async fn retry(dht: &Dht) {
    let inner = &dht.inner;
    if dht.table().await.is_ok_and(|t| !t.is_empty()) {
        return;
    }
    // The entries were checked at start, so this cannot fail on syntax.
    let resolved = resolve_bootstrap(&inner.config.bootstrap)
        .await
        .unwrap_or_default();
    let mut problem = resolved.problem(&inner.config.bootstrap, &inner.saved);
    let fresh = pick_bootstrap(&resolved.addrs, &inner.saved);
    let current = lock(&inner.bootstrap).clone();
    let moved = !fresh.is_empty() && !fresh.iter().any(|a| current.contains(a));
    // A rebuild that failed earlier left no node: try again.
    let dead = lock(&inner.node).is_none();
    if moved || dead {
        tracing::info!(
            "DHT: joining through {} new bootstrap addresses",
            fresh.len()
        );
        let through = if moved {
            fresh.clone()
        } else {
            current.clone()
        };
        if let Err(e) = rebuild(inner, through).await {
            problem = Some(e.to_string());
        }
    }
    let tried = if moved { fresh.len() } else { current.len() };
    let joined = tokio::time::timeout(JOIN_LOOKUP_LIMIT, dht.bootstrapped())
        .await
        .is_ok_and(|r| r.unwrap_or(false));
    if !joined && problem.is_none() {
        problem = Some(if tried == 0 {
            "no bootstrap node is configured".to_string()
        } else {
            format!("none of the {tried} bootstrap nodes answered")
        });
    }
    let mut join = lock(&inner.join);
    join.attempts += 1;
    join.joined = joined;
    join.problem = if joined { None } else { problem };
}

/// Replaces the node by a new one behind the same relay (so on the same
/// public address), joining through `bootstrap` (real addresses), in
/// server mode if [`Inner::serving`] says so.
pub(super) async fn rebuild(inner: &Inner, bootstrap: Vec<SocketAddrV4>) -> Result<(), DhtError> {
    let _one_at_a_time = inner.rebuilding.lock().await;
    // Dropping our handle stops the old node's thread within one socket
    // read timeout (calls still holding it finish first).
    let old = lock(&inner.node).take();
    drop(old);
    let serving = inner.serving.load(Ordering::SeqCst);
    let aliases: Vec<SocketAddrV4> = bootstrap.iter().map(|a| inner.relay.alias(*a)).collect();
    let node = match build(&inner.config, &inner.relay, &aliases, serving).await {
        Ok(node) => node,
        Err(source) => {
            tracing::error!("the DHT node could not be restarted: {source}");
            return Err(DhtError::Bind {
                addr: SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0),
                source,
            });
        }
    };
    *lock(&inner.node) = Some(node);
    *lock(&inner.bootstrap) = bootstrap;
    wake(inner);
    Ok(())
}
