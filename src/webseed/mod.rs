//! Web seeds (BEP 19, the GetRight-style `url-list`): HTTP(S) servers that
//! hold the torrent's files and serve byte ranges of them.
//!
//! One task per web seed runs a few workers ([`CONNECTIONS_PER_SEED`]),
//! each with its own HTTP connection. A worker asks the torrent task for
//! blocks (the picker hands a web seed runs of whole, consecutive pieces,
//! see `Picker::pick_run`), fetches them with ranged `GET`s file by file
//! (`fetch.rs`), and writes each block through the disk workers exactly as
//! a peer task does; the torrent task hears of each block as it would of a
//! peer's. The request grows while the server is fast and shrinks while
//! it is slow (`worker.rs`).
//!
//! The torrent task owns the seed's fate: it counts the pieces that fail
//! their hash with the seed as their only sender, drops the seed at the
//! second, and drops it too on a fatal error a worker reports (a 4xx, a
//! body of the wrong size, a redirect loop, too many failures in a row).
//! A dropped seed stays listed, failed, with the reason.
//!
//! - [`url`]: which URL serves which file, and which URLs we refuse.
//! - `fetch`: one ranged `GET`, read within its bounds.
//! - `worker`: the loop of one connection: pick, fetch, deliver, adapt.

mod fetch;
pub mod url;
mod worker;

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::picker::PeerKey;
use crate::rate::Counter;
use crate::storage::disk::Disk;
use crate::storage::Layout;
use crate::types::BlockRef;

pub use url::WebSeedUrlError;

/// HTTP connections (concurrent requests) to one web seed: enough to hide
/// a request's round trip, few enough to be polite to a server shared by
/// many downloaders.
pub const CONNECTIONS_PER_SEED: usize = 3;
/// The largest range asked for in one request, grown to while the server
/// answers fast.
pub const MAX_REQUEST_BYTES: u64 = 8 * 1024 * 1024;
/// A request answered faster than this grows the next one (doubling).
pub(crate) const GROW_BELOW: Duration = Duration::from_secs(2);
/// A request slower than this shrinks the next one (halving, down to a
/// piece).
pub(crate) const SHRINK_ABOVE: Duration = Duration::from_secs(8);
/// Failures in a row (network errors, 5xx, short bodies) after which a
/// seed is dropped.
pub const MAX_FAILURES_IN_A_ROW: u32 = 5;
/// The first wait after a failure; doubled at each failure in a row.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between retries.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;
/// Time to open a connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest silence while reading a response (headers or body).
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Web seeds kept per torrent (from the torrent and added by the user):
/// the metainfo parser keeps at most as many from `url-list`.
pub const MAX_WEB_SEEDS: usize = 64;
/// Pieces that fail their hash with a web seed as their only sender
/// before the seed is dropped (a bit flipped on the way should not drop
/// an honest server; a server with a wrong file fails piece after piece).
pub const STRIKES_TO_DROP: u32 = 2;

/// Whether a web seed is in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSeedState {
    /// Not fetching now (the torrent is complete, paused or checking).
    Idle,
    /// Fetching.
    Active,
    /// Dropped for good, with the reason.
    Failed(String),
}

impl WebSeedState {
    /// A short label.
    pub fn label(&self) -> &'static str {
        match self {
            WebSeedState::Idle => "idle",
            WebSeedState::Active => "active",
            WebSeedState::Failed(_) => "failed",
        }
    }
}

/// One web seed as the peers list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSeedSnapshot {
    /// The URL, as the torrent or the user gave it.
    pub url: String,
    /// In use, idle, or failed and why.
    pub state: WebSeedState,
    /// Bytes per second from it.
    pub download_rate: u64,
    /// Payload bytes from it (blocks delivered).
    pub downloaded: u64,
    /// Whether it answered a ranged request with the whole file (some
    /// servers do; we read only what we need and stop).
    pub ignores_ranges: bool,
}

/// What a web seed's workers tell the torrent task.
#[derive(Debug)]
pub(crate) enum WebSeedEvent {
    /// A worker wants up to `max_blocks` blocks; the picker answers on
    /// `reply` (empty: nothing to do now).
    Need {
        max_blocks: usize,
        reply: oneshot::Sender<Vec<BlockRef>>,
    },
    /// A server that ignores `Range` is sending a whole file: the waiting
    /// pieces from `first` to at most `last` (those wholly in the file),
    /// in order, to read from the same body; answered on `reply`.
    Claim {
        first: u32,
        last: u32,
        max_blocks: usize,
        reply: oneshot::Sender<Vec<BlockRef>>,
    },
    /// A block is written (queued to the disk workers).
    Received(BlockRef),
    /// Blocks that were picked but will not be delivered.
    Returned(Vec<BlockRef>),
    /// The seed cannot be used: drop it with this reason.
    Failed(String),
}

/// What one seed's task works with.
pub(crate) struct SeedContext {
    /// The seed's key in the picker.
    pub key: PeerKey,
    /// The URL checked by [`url::check`].
    pub base: ::url::Url,
    /// Which torrent bytes lie in which file.
    pub layout: Layout,
    /// File paths relative to the torrent's root (`name` not included), as
    /// URL path segments, and whether the torrent has a folder.
    pub files: Arc<url::FileUrls>,
    /// The torrent's piece length, the smallest request.
    pub piece_length: u64,
    /// Where blocks go.
    pub disk: Disk,
    /// The seed's counters, read by the torrent task.
    pub shared: Arc<SeedShared>,
    /// To the torrent task.
    pub events: mpsc::Sender<(PeerKey, WebSeedEvent)>,
    /// Ends the workers.
    pub cancel: CancellationToken,
}

/// Counters a seed's workers bump and the torrent task reads.
#[derive(Debug, Default)]
pub(crate) struct SeedShared {
    /// Payload bytes delivered.
    pub downloaded: Counter,
    /// Set once the server answered a ranged request with the whole file.
    pub ignores_ranges: std::sync::atomic::AtomicBool,
}

/// The address the disk's evidence names for blocks from web seed `n`,
/// so that blame (strikes, smart ban) can tell web seeds from peers and
/// from each other: an address of the discard prefix `100::/64` (RFC
/// 6666), which no peer connection can come from.
pub(crate) fn evidence_ip(n: u32) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        0x100,
        0,
        0,
        0,
        0,
        0,
        (n >> 16) as u16,
        n as u16,
    ))
}

/// The web seed number behind an address from [`evidence_ip`].
pub(crate) fn seed_of_evidence(ip: IpAddr) -> Option<u32> {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (s[..6] == [0x100, 0, 0, 0, 0, 0]).then_some(((s[6] as u32) << 16) | s[7] as u32)
        }
        IpAddr::V4(_) => None,
    }
}

/// Runs a seed: [`CONNECTIONS_PER_SEED`] workers until `cancel` or a
/// fatal error (reported as [`WebSeedEvent::Failed`]).
pub(crate) async fn run(ctx: SeedContext, evidence: IpAddr) {
    let client = match worker::client() {
        Ok(c) => c,
        Err(e) => {
            let _ = ctx
                .events
                .send((ctx.key, WebSeedEvent::Failed(format!("HTTP client: {e}"))))
                .await;
            return;
        }
    };
    let ctx = Arc::new(ctx);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS_PER_SEED {
        let (ctx, client) = (ctx.clone(), client.clone());
        workers.spawn(async move { worker::run(&ctx, &client, evidence).await });
    }
    while let Some(done) = workers.join_next().await {
        if let Ok(Err(reason)) = done {
            ctx.cancel.cancel();
            let _ = ctx
                .events
                .send((ctx.key, WebSeedEvent::Failed(reason)))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_addresses_round_trip_and_are_not_peers() {
        for n in [0, 1, 63, 70_000] {
            assert_eq!(seed_of_evidence(evidence_ip(n)), Some(n));
        }
        assert_eq!(seed_of_evidence("127.0.0.1".parse().unwrap()), None);
        assert_eq!(seed_of_evidence("::1".parse().unwrap()), None);
        assert_eq!(seed_of_evidence("2001:db8::1".parse().unwrap()), None);
    }
}
