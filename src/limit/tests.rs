use std::time::Duration;

use tokio::time::Instant;

use super::*;

const KIB: u64 = 1024;
const MIB: u32 = 1024 * 1024;

#[tokio::test(start_paused = true)]
async fn unlimited_returns_at_once() {
    let l = RateLimiter::unlimited();
    let t0 = Instant::now();
    for _ in 0..100 {
        l.acquire(MIB).await;
    }
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(l.limit(), None);
    assert_eq!(RateLimiter::new(Some(0)).limit(), None, "0 means no limit");
}

#[tokio::test(start_paused = true)]
async fn one_mib_at_100_kib_takes_nine_seconds() {
    let l = RateLimiter::new(Some(100 * KIB));
    let t0 = Instant::now();
    l.acquire(MIB).await;
    let took = t0.elapsed();
    // A full bucket (one second) then 924 KiB at 100 KiB/s.
    assert!(took >= Duration::from_millis(9200), "{took:?}");
    assert!(took < Duration::from_millis(9400), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn blocks_pass_at_the_rate() {
    let l = RateLimiter::new(Some(64 * KIB));
    let t0 = Instant::now();
    for _ in 0..64 {
        l.acquire(BLOCK_LEN).await;
    }
    // 1 MiB at 64 KiB/s, less the first second's burst.
    let took = t0.elapsed();
    assert!(took >= Duration::from_secs(15), "{took:?}");
    assert!(took < Duration::from_millis(15100), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_block_fits_under_a_tiny_limit() {
    let l = RateLimiter::new(Some(1));
    let t0 = Instant::now();
    l.acquire(BLOCK_LEN).await;
    assert_eq!(t0.elapsed(), Duration::ZERO, "the bucket holds a block");
}

#[tokio::test(start_paused = true)]
async fn waiters_share_the_rate() {
    let l = RateLimiter::new(Some(100 * KIB));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move {
                for _ in 0..16 {
                    l.acquire(BLOCK_LEN).await;
                }
                t0.elapsed()
            })
        })
        .collect();
    let mut last = Duration::ZERO;
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    // 1 MiB in all: as long as one waiter taking it alone.
    assert!(last >= Duration::from_millis(9200), "{last:?}");
    assert!(last < Duration::from_millis(9400), "{last:?}");
}

#[tokio::test(start_paused = true)]
async fn removing_the_limit_wakes_a_waiter() {
    let l = RateLimiter::new(Some(KIB));
    let t0 = Instant::now();
    let waiter = {
        let l = l.clone();
        // About a thousand seconds at 1 KiB/s.
        tokio::spawn(async move { l.acquire(MIB).await })
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!waiter.is_finished());
    l.set_limit(None);
    waiter.await.unwrap();
    // At once, not at the waiter's next look at the bucket.
    assert_eq!(t0.elapsed(), Duration::from_millis(2500));
}

#[tokio::test(start_paused = true)]
async fn raising_the_limit_wakes_a_waiter() {
    let l = RateLimiter::new(Some(KIB));
    let t0 = Instant::now();
    let waiter = {
        let l = l.clone();
        tokio::spawn(async move { l.acquire(MIB).await })
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    l.set_limit(Some(10 * MIB as u64));
    waiter.await.unwrap();
    // What is still owed (under 1 MiB) at 10 MiB/s: a tenth of a second,
    // not the waiter's next look at the bucket.
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(2650), "{took:?}");
    assert_eq!(l.limit(), Some(10 * MIB as u64));
}

#[tokio::test(start_paused = true)]
async fn lowering_the_limit_slows_what_is_owed() {
    let l = RateLimiter::new(Some(100 * KIB));
    let t0 = Instant::now();
    let waiter = {
        let l = l.clone();
        tokio::spawn(async move { l.acquire(MIB).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    // 824 KiB owed, now at 50 KiB/s.
    l.set_limit(Some(50 * KIB));
    waiter.await.unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(17400), "{took:?}");
    assert!(took < Duration::from_millis(17600), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_limit_set_later_starts_with_a_full_bucket() {
    let l = RateLimiter::unlimited();
    l.acquire(10 * MIB).await;
    l.set_limit(Some(100 * KIB));
    let t0 = Instant::now();
    l.acquire(100 * KIB as u32).await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
    l.acquire(100 * KIB as u32).await;
    assert!(
        t0.elapsed() >= Duration::from_millis(999),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_acquire_gives_its_bytes_back() {
    let l = RateLimiter::new(Some(100 * KIB));
    let r = tokio::time::timeout(Duration::from_secs(1), l.acquire(MIB)).await;
    assert!(r.is_err(), "1 MiB cannot pass in a second");
    let t0 = Instant::now();
    l.acquire(100 * KIB as u32).await;
    assert_eq!(t0.elapsed(), Duration::ZERO, "the bucket refilled");
}

#[tokio::test(start_paused = true)]
async fn tickets_go_into_debt_and_refund() {
    let l = RateLimiter::new(Some(100 * KIB));
    let mut first = l.reserve(100 * KIB as u32);
    assert!(first.is_ready(), "the burst");
    let mut second = l.reserve(50 * KIB as u32);
    assert!(!second.is_ready());
    let mut third = l.reserve(50 * KIB as u32);
    second.refund();
    let t0 = Instant::now();
    third.wait().await;
    // Only the third's 50 KiB were owed.
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(499), "{took:?}");
    assert!(took < Duration::from_millis(600), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_chain_passes_at_its_slowest_link() {
    let torrent = RateLimiter::new(Some(50 * KIB));
    let global = RateLimiter::new(Some(100 * KIB));
    let chain = LimitChain::new(vec![torrent.clone(), global.clone()]);
    let t0 = Instant::now();
    chain.acquire(MIB).await;
    // A one-second burst, then the rest at 50 KiB/s.
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(19400), "{took:?}");
    assert!(took < Duration::from_millis(19600), "{took:?}");

    let mut t = chain.reserve(MIB);
    assert!(!t.is_ready());
    torrent.set_limit(None);
    global.set_limit(None);
    let t0 = Instant::now();
    t.wait().await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn an_unlimited_chain_is_always_ready() {
    let chain = LimitChain::new(vec![RateLimiter::unlimited(), RateLimiter::unlimited()]);
    let mut t = chain.reserve(MIB);
    assert!(t.is_ready());
    assert!(LimitChain::default().reserve(MIB).is_ready());
}

#[test]
fn limits_read_back() {
    let l = RateLimits::new(Some(5), None);
    assert_eq!(l.get(), (Some(5), None));
    l.set(None, Some(7));
    assert_eq!(l.get(), (None, Some(7)));
}

#[test]
fn kib_converts_both_ways_and_zero_is_none() {
    assert_eq!(from_kib(0), None);
    assert_eq!(from_kib(64), Some(65_536));
    assert_eq!(to_kib(None), 0);
    assert_eq!(to_kib(Some(65_536)), 64);
    assert_eq!(to_kib(Some(1)), 1);
}
