//! One connection to a web seed: asks the torrent for blocks, fetches
//! them, hands back what it could not deliver, and sizes its next request
//! by how fast the last one went: from one piece, doubled while a request
//! takes under [`GROW_BELOW`] up to [`MAX_REQUEST_BYTES`], halved while one
//! takes over [`SHRINK_ABOVE`]. Failures that may pass are retried after a
//! wait doubled at each failure in a row; the seed is dropped at
//! [`MAX_FAILURES_IN_A_ROW`].

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::fetch::{fetch_blocks, FetchError};
use super::{
    SeedContext, WebSeedEvent, CONNECTIONS_PER_SEED, CONNECT_TIMEOUT, FIRST_BACKOFF, GROW_BELOW,
    MAX_BACKOFF, MAX_FAILURES_IN_A_ROW, MAX_REQUEST_BYTES, SHRINK_ABOVE,
};
use crate::types::BLOCK_LEN;

/// How long a worker with nothing to fetch waits before asking again.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// What a web seed sees of us.
const USER_AGENT: &str = concat!("Shoal/", env!("CARGO_PKG_VERSION"));

/// The HTTP client of one seed's workers.
pub(super) fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(super::url::redirect_policy())
        // Names never lead to loopback, as for trackers.
        .dns_resolver(crate::tracker::ssrf::NoLoopbackNames::shared())
        // Reached directly, as peers and trackers are.
        .no_proxy()
        .pool_max_idle_per_host(CONNECTIONS_PER_SEED)
        .build()
}

/// Runs until cancelled (`Ok`) or until the seed is to be dropped
/// (`Err` with the reason).
pub(super) async fn run(
    ctx: &SeedContext,
    client: &reqwest::Client,
    evidence: IpAddr,
) -> Result<(), String> {
    let min = ctx.piece_length.clamp(BLOCK_LEN as u64, MAX_REQUEST_BYTES);
    let mut want = min;
    let mut failures = 0u32;
    loop {
        let (tx, rx) = oneshot::channel();
        let need = WebSeedEvent::Need {
            max_blocks: (want / BLOCK_LEN as u64).max(1) as usize,
            reply: tx,
        };
        if ctx.events.send((ctx.key, need)).await.is_err() {
            return Ok(());
        }
        let mut blocks = tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            r = rx => match r {
                Ok(b) => b,
                Err(_) => return Ok(()),
            },
        };
        if blocks.is_empty() {
            if !pause(ctx, IDLE_POLL).await {
                return Ok(());
            }
            continue;
        }
        blocks.sort_unstable_by_key(|b| (b.piece, b.offset));
        let started = Instant::now();
        let (delivered, result) = fetch_blocks(ctx, client, evidence, &mut blocks).await;
        let rest = blocks.split_off(delivered);
        if !rest.is_empty() {
            let _ = ctx
                .events
                .send((ctx.key, WebSeedEvent::Returned(rest)))
                .await;
        }
        match result {
            Ok(()) => {
                failures = 0;
                let took = started.elapsed();
                let full = blocks.len() as u64 * BLOCK_LEN as u64 >= want;
                if took < GROW_BELOW && full {
                    want = (want * 2).min(MAX_REQUEST_BYTES);
                } else if took > SHRINK_ABOVE {
                    want = (want / 2).max(min);
                }
            }
            Err(FetchError::Cancelled) => return Ok(()),
            Err(FetchError::Fatal(reason)) => return Err(reason),
            Err(FetchError::Transient(reason)) => {
                failures += 1;
                tracing::debug!(seed = %ctx.base, failures, "web seed: {reason}");
                if failures >= MAX_FAILURES_IN_A_ROW {
                    return Err(format!("{reason} ({failures} failures in a row)"));
                }
                want = min;
                let wait = FIRST_BACKOFF
                    .saturating_mul(1 << (failures - 1).min(16))
                    .min(MAX_BACKOFF);
                if !pause(ctx, wait).await {
                    return Ok(());
                }
            }
        }
    }
}

/// Sleeps for `d`; false if the seed was cancelled meanwhile.
async fn pause(ctx: &SeedContext, d: Duration) -> bool {
    tokio::select! {
        _ = ctx.cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}
