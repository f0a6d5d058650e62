//! Rate limits: token buckets that block payload passes through, one per
//! direction for the session and one per direction for each torrent.
//!
//! A [`RateLimiter`] is cheap to clone (an `Arc` inside) and shared by every
//! connection it governs. With no limit set, passing through it reads one
//! atomic and takes no lock. With a limit, the bucket holds at most about
//! one second of tokens (never less than [`MIN_BURST`], so a whole block
//! always fits even at tiny limits) and may go into debt: a [`Ticket`]
//! takes its bytes at once and is ready when the refills have paid for
//! them. Debts are counted in bytes, not time, so a new rate applies to
//! what is still owed; waiters are woken on every change of the rate and
//! plan their sleep afresh.
//!
//! A [`LimitChain`] is the limiters one transfer passes through (the
//! torrent's, then the session's): it takes its bytes from each.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::types::BLOCK_LEN;

/// The least a bucket holds when full: two blocks and change, so that a
/// block always fits and a tiny limit still moves whole blocks.
pub const MIN_BURST: u64 = 2 * BLOCK_LEN as u64 + 1024;

/// A limit given in KiB/s, as users type it, in bytes per second; 0 is no
/// limit.
pub fn from_kib(kib: u64) -> Option<u64> {
    (kib > 0).then(|| kib.saturating_mul(1024))
}

/// A limit in bytes per second as whole KiB/s (rounded up), 0 for none.
pub fn to_kib(limit: Option<u64>) -> u64 {
    limit.map_or(0, |b| b.div_ceil(1024))
}

/// Longest a waiter sleeps before it looks at its bucket again. A change of
/// rate wakes waiters at once; this only bounds the cost of a missed wake.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Rounding slack when comparing byte counts held as `f64`.
const EPSILON: f64 = 0.5;

/// A token bucket in bytes per second, shared by every clone.
#[derive(Clone)]
pub struct RateLimiter {
    /// The state every clone shares.
    inner: Arc<Inner>,
}

/// The shared state of a [`RateLimiter`].
struct Inner {
    /// Bytes per second, 0 for no limit. Read without the lock, so the
    /// unlimited path costs one atomic load; written under the lock, so the
    /// bucket is refilled at the old rate up to the moment of the change.
    rate: AtomicU64,
    /// The tokens. Locked briefly, never across an `.await`.
    bucket: Mutex<Bucket>,
    /// Wakes every waiter when the rate changes, so none sleeps on a plan
    /// made for the old rate.
    changed: Notify,
}

/// Token accounting. Invariant: `credited - balance` is the total ever
/// taken, so a reservation is paid once `credited` reaches the total taken
/// when it was made (its mark); marks are plain byte counts, valid at any
/// rate.
#[derive(Debug)]
struct Bucket {
    /// Tokens in the bucket; negative while reservations wait to be paid.
    balance: f64,
    /// Tokens ever put in (refills, refunds, resets); grows only.
    credited: f64,
    /// When tokens were last added for the time passed.
    last: Instant,
}

impl Bucket {
    /// Adds the tokens `rate` earned since the last refill, up to `cap`.
    fn refill(&mut self, rate: u64, now: Instant) {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.credit(rate as f64 * secs, burst(rate) as f64);
    }

    /// Puts `n` tokens in, up to `cap`.
    fn credit(&mut self, n: f64, cap: f64) {
        let add = n.min(cap - self.balance).max(0.0);
        self.balance += add;
        self.credited += add;
    }
}

/// The most tokens a bucket holds at `rate`: about one second's worth.
fn burst(rate: u64) -> u64 {
    rate.max(MIN_BURST)
}

/// A limit as stored: `None` and `Some(0)` both mean none.
fn to_rate(limit: Option<u64>) -> u64 {
    limit.unwrap_or(0)
}

impl RateLimiter {
    /// A limiter at `limit` bytes per second; `None` or `Some(0)` is none.
    pub fn new(limit: Option<u64>) -> Self {
        let rate = to_rate(limit);
        let full = burst(rate) as f64;
        RateLimiter {
            inner: Arc::new(Inner {
                rate: AtomicU64::new(rate),
                bucket: Mutex::new(Bucket {
                    balance: full,
                    credited: full,
                    last: Instant::now(),
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// A limiter with no limit.
    pub fn unlimited() -> Self {
        Self::new(None)
    }

    /// The limit in bytes per second, `None` when there is none.
    pub fn limit(&self) -> Option<u64> {
        match self.inner.rate.load(Ordering::Relaxed) {
            0 => None,
            r => Some(r),
        }
    }

    /// Changes the limit; `None` or `Some(0)` removes it. Takes effect at
    /// once, for waiters too.
    pub fn set_limit(&self, limit: Option<u64>) {
        let new = to_rate(limit);
        {
            let mut b = self.lock();
            let old = self.inner.rate.load(Ordering::Relaxed);
            if old == new {
                return;
            }
            let now = Instant::now();
            if old == 0 {
                // Nothing was counted while unlimited: start full, which
                // also settles every debt left from before.
                b.last = now;
                let cap = burst(new) as f64;
                b.credit(cap, cap);
            } else {
                b.refill(old, now);
                if new != 0 {
                    let cap = burst(new) as f64;
                    b.balance = b.balance.min(cap);
                }
            }
            self.inner.rate.store(new, Ordering::Relaxed);
        }
        self.inner.changed.notify_waiters();
    }

    /// Waits until `n` bytes may pass. Dropped before it is done, the bytes
    /// are given back.
    pub async fn acquire(&self, n: u32) {
        let mut t = self.reserve(n);
        if !t.is_ready() {
            ChainTicket { tickets: vec![t] }.wait_or_refund().await;
        }
    }

    /// Takes `n` bytes now, into debt if need be; the ticket says when the
    /// debt is paid. Dropping the ticket keeps the bytes taken (they were
    /// sent or received); [`Ticket::refund`] gives them back.
    pub fn reserve(&self, n: u32) -> Ticket {
        if self.inner.rate.load(Ordering::Relaxed) == 0 {
            return Ticket { wait: None };
        }
        let mut b = self.lock();
        let rate = self.inner.rate.load(Ordering::Relaxed);
        if rate == 0 {
            return Ticket { wait: None };
        }
        b.refill(rate, Instant::now());
        b.balance -= f64::from(n);
        if b.balance >= -EPSILON {
            return Ticket { wait: None };
        }
        let mark = b.credited - b.balance;
        drop(b);
        Ticket {
            wait: Some(Pending {
                limiter: self.clone(),
                mark,
                n,
            }),
        }
    }

    /// How long until `mark` is paid, at most `MAX_SLEEP`: `None` when it
    /// is (or the limit is gone).
    fn remaining(&self, mark: f64) -> Option<Duration> {
        let mut b = self.lock();
        let rate = self.inner.rate.load(Ordering::Relaxed);
        if rate == 0 {
            return None;
        }
        b.refill(rate, Instant::now());
        let owed = mark - b.credited;
        if owed <= EPSILON {
            return None;
        }
        // At most `MAX_SLEEP`, which also keeps the conversion in range.
        let secs = (owed / rate as f64).min(MAX_SLEEP.as_secs_f64());
        Some(Duration::from_secs_f64(secs))
    }

    /// Gives back `n` bytes of a reservation that will not be used.
    fn refund(&self, n: u32) {
        let mut b = self.lock();
        let rate = self.inner.rate.load(Ordering::Relaxed);
        if rate != 0 {
            b.credit(f64::from(n), burst(rate) as f64);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Bucket> {
        // A poisoned lock only means a panic elsewhere; the counts are
        // still numbers.
        self.inner.bucket.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::unlimited()
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit())
            .finish()
    }
}

/// Bytes taken from one limiter, possibly not yet paid for.
#[derive(Debug)]
#[must_use = "a ticket's bytes are taken; wait on it or refund it"]
pub struct Ticket {
    /// What is still owed; `None` once paid.
    wait: Option<Pending>,
}

/// An unpaid reservation.
#[derive(Debug)]
struct Pending {
    /// Where the bytes were taken.
    limiter: RateLimiter,
    /// Paid once the bucket's `credited` reaches this.
    mark: f64,
    /// The bytes taken, for a refund.
    n: u32,
}

impl Ticket {
    /// Whether the bytes are paid for (checks the bucket).
    pub fn is_ready(&mut self) -> bool {
        match &self.wait {
            None => true,
            Some(p) if p.limiter.remaining(p.mark).is_none() => {
                self.wait = None;
                true
            }
            Some(_) => false,
        }
    }

    /// Waits until the bytes are paid for. Cancel-safe: dropped half way,
    /// the ticket still stands and may be waited on again.
    pub async fn wait(&mut self) {
        while let Some(p) = &self.wait {
            let (limiter, mark) = (p.limiter.clone(), p.mark);
            let changed = limiter.inner.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change between the check
            // and the sleep still wakes us.
            changed.as_mut().enable();
            let Some(sleep) = limiter.remaining(mark) else {
                self.wait = None;
                return;
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = changed => {}
            }
        }
    }

    /// Gives back bytes not yet paid for (the transfer they were for will
    /// not happen). Paid bytes stay taken.
    pub fn refund(mut self) {
        if let Some(p) = self.wait.take() {
            p.limiter.refund(p.n);
        }
    }
}

/// The limiters one transfer passes through, e.g. its torrent's and the
/// session's. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct LimitChain {
    /// Every limiter the bytes are taken from.
    links: Vec<RateLimiter>,
}

impl LimitChain {
    /// Passes through each of `links`.
    pub fn new(links: Vec<RateLimiter>) -> Self {
        LimitChain { links }
    }

    /// Takes `n` bytes from every limiter now; the ticket is ready when all
    /// are paid. Without limits it allocates nothing and takes no lock.
    pub fn reserve(&self, n: u32) -> ChainTicket {
        let mut tickets = Vec::new();
        for l in &self.links {
            let mut t = l.reserve(n);
            if !t.is_ready() {
                tickets.push(t);
            }
        }
        ChainTicket { tickets }
    }

    /// Waits until `n` bytes may pass every limiter. Dropped before it is
    /// done, the unpaid bytes are given back.
    pub async fn acquire(&self, n: u32) {
        self.reserve(n).wait_or_refund().await;
    }
}

/// Bytes taken from every limiter of a chain.
#[derive(Debug, Default)]
#[must_use = "a ticket's bytes are taken; wait on it or refund it"]
pub struct ChainTicket {
    /// The tickets not yet known to be paid.
    tickets: Vec<Ticket>,
}

impl ChainTicket {
    /// Whether every limiter is paid (checks the buckets).
    pub fn is_ready(&mut self) -> bool {
        self.tickets.retain_mut(|t| !t.is_ready());
        self.tickets.is_empty()
    }

    /// Waits until every limiter is paid. Cancel-safe.
    pub async fn wait(&mut self) {
        while let Some(t) = self.tickets.last_mut() {
            t.wait().await;
            self.tickets.pop();
        }
    }

    /// Waits until every limiter is paid; dropped before that, gives back
    /// what is unpaid.
    async fn wait_or_refund(self) {
        /// Refunds what it holds when dropped.
        struct Guard(Option<ChainTicket>);
        impl Drop for Guard {
            fn drop(&mut self) {
                if let Some(t) = self.0.take() {
                    t.refund();
                }
            }
        }
        let mut guard = Guard(Some(self));
        if let Some(t) = guard.0.as_mut() {
            t.wait().await;
        }
        guard.0 = None;
    }

    /// Gives back the bytes not yet paid for.
    pub fn refund(self) {
        for t in self.tickets {
            t.refund();
        }
    }
}

/// A download and an upload limiter: a torrent's own, or the session's.
#[derive(Clone, Debug, Default)]
pub struct RateLimits {
    /// Governs payload received.
    pub download: RateLimiter,
    /// Governs payload sent.
    pub upload: RateLimiter,
}

impl RateLimits {
    /// Limits in bytes per second; `None` is none.
    pub fn new(download: Option<u64>, upload: Option<u64>) -> Self {
        RateLimits {
            download: RateLimiter::new(download),
            upload: RateLimiter::new(upload),
        }
    }

    /// Changes both limits; `None` removes one.
    pub fn set(&self, download: Option<u64>, upload: Option<u64>) {
        self.download.set_limit(download);
        self.upload.set_limit(upload);
    }

    /// The limits `(download, upload)` in bytes per second.
    pub fn get(&self) -> (Option<u64>, Option<u64>) {
        (self.download.limit(), self.upload.limit())
    }
}

#[cfg(test)]
mod tests;
