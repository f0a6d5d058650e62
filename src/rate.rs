//! Transfer rates: a byte counter that the owner of a connection bumps, and a
//! sliding-window rate estimate that the torrent task samples once a tick.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonically growing byte count, written by one task and read by
/// others without a lock.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n` bytes.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How far back a rate looks. Five seconds smooths TCP bursts yet follows a
/// peer that stalls.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

/// A rate in bytes per second over the last `RATE_WINDOW`, from samples of a
/// growing total.
#[derive(Debug, Clone, Default)]
pub struct Rate {
    /// `(when, total)` samples, oldest first, none older than the window
    /// except the one that anchors it.
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Records the total at `now`.
    pub fn sample(&mut self, now: Instant, total: u64) {
        self.samples.push_back((now, total));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
    }

    /// Bytes per second between the oldest and newest sample.
    pub fn per_second(&self) -> u64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, b0)), Some(&(t1, b1))) if t1 > t0 => {
                let secs = t1.duration_since(t0).as_secs_f64();
                (b1.saturating_sub(b0) as f64 / secs) as u64
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_window() {
        let t = Instant::now();
        let mut r = Rate::default();
        assert_eq!(r.per_second(), 0);
        for i in 0..=10u64 {
            r.sample(t + Duration::from_secs(i), i * 1000);
        }
        assert_eq!(r.per_second(), 1000);
        // A stall drains the rate to zero once the window has passed.
        for i in 11..=20u64 {
            r.sample(t + Duration::from_secs(i), 10_000);
        }
        assert_eq!(r.per_second(), 0);
    }

    #[test]
    fn counter_adds() {
        let c = Counter::default();
        c.add(5);
        c.add(7);
        assert_eq!(c.get(), 12);
    }
}
