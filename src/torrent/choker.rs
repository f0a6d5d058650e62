//! Who we upload to. Tit-for-tat while downloading: the peers that give us
//! the most get our upload slots, and one optimistic slot rotates among the
//! rest so newcomers get a chance to prove themselves. While seeding, slots
//! go to the peers we upload to fastest, which keeps the pipe full.

use std::hash::Hash;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

/// Regular upload slots per torrent (libtorrent's default is 8 as well).
pub const UPLOAD_SLOTS: usize = 8;
/// How often the slots are re-ranked.
pub const RECHOKE_INTERVAL: Duration = Duration::from_secs(10);
/// How long one peer holds the optimistic slot.
pub const OPTIMISTIC_INTERVAL: Duration = Duration::from_secs(30);

/// What the choker needs to know of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<K> {
    /// The connection.
    pub key: K,
    /// Whether the peer wants data from us; only interested peers use a slot.
    pub interested: bool,
    /// Bytes per second it sends us (while downloading) or we send it (while
    /// seeding): the tit-for-tat ranking key.
    pub rate: u64,
}

/// The choking state of one torrent.
#[derive(Debug)]
pub struct Choker<K> {
    /// Regular slots.
    slots: usize,
    /// The peer that holds the optimistic slot.
    optimistic: Option<K>,
    /// When it got it.
    optimistic_since: Option<Instant>,
}

impl<K: Copy + Eq + Hash> Choker<K> {
    /// A choker with `slots` regular upload slots.
    pub fn new(slots: usize) -> Self {
        Choker {
            slots,
            optimistic: None,
            optimistic_since: None,
        }
    }

    /// The peers to unchoke now; every other peer is choked. `seeding` only
    /// changes what the caller put in `rate`.
    pub fn rechoke(&mut self, now: Instant, peers: &[Candidate<K>]) -> Vec<K> {
        let mut interested: Vec<&Candidate<K>> = peers.iter().filter(|c| c.interested).collect();
        // Fastest first; ties broken randomly so equal peers share the slots.
        interested.shuffle(&mut rand::thread_rng());
        interested.sort_by_key(|p| std::cmp::Reverse(p.rate));
        let mut unchoke: Vec<K> = interested.iter().take(self.slots).map(|c| c.key).collect();

        let rest: Vec<K> = interested.iter().skip(self.slots).map(|c| c.key).collect();
        let keep = match (self.optimistic, self.optimistic_since) {
            (Some(k), Some(t)) => rest.contains(&k) && now.duration_since(t) < OPTIMISTIC_INTERVAL,
            _ => false,
        };
        if !keep {
            self.optimistic = rest.choose(&mut rand::thread_rng()).copied();
            self.optimistic_since = self.optimistic.map(|_| now);
        }
        if let Some(k) = self.optimistic {
            unchoke.push(k);
        }
        unchoke
    }

    /// Whether a newly interested peer may be unchoked at once, given how
    /// many peers are unchoked now.
    pub fn has_free_slot(&self, unchoked: usize) -> bool {
        unchoked < self.slots + 1
    }

    /// Forgets a peer that disconnected.
    pub fn remove(&mut self, key: K) {
        if self.optimistic == Some(key) {
            self.optimistic = None;
            self.optimistic_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(key: u32, interested: bool, rate: u64) -> Candidate<u32> {
        Candidate {
            key,
            interested,
            rate,
        }
    }

    #[test]
    fn fastest_interested_get_slots_plus_one_optimistic() {
        let mut ch = Choker::new(2);
        let peers = [
            c(1, true, 10),
            c(2, true, 50),
            c(3, false, 99),
            c(4, true, 30),
            c(5, true, 1),
        ];
        let now = Instant::now();
        let un = ch.rechoke(now, &peers);
        assert_eq!(&un[..2], &[2, 4]);
        assert_eq!(un.len(), 3);
        assert!(
            un[2] == 1 || un[2] == 5,
            "optimistic slot goes to an interested loser"
        );
        assert!(!un.contains(&3), "uninterested peers never take a slot");
    }

    #[test]
    fn optimistic_slot_rotates_after_interval() {
        let mut ch = Choker::new(0);
        let peers: Vec<_> = (0..50).map(|k| c(k, true, 0)).collect();
        let now = Instant::now();
        let first = ch.rechoke(now, &peers);
        assert_eq!(first.len(), 1);
        assert_eq!(
            ch.rechoke(now + RECHOKE_INTERVAL, &peers),
            first,
            "kept within the interval"
        );
        let mut changed = false;
        for i in 1..10 {
            let t = now + OPTIMISTIC_INTERVAL * i;
            if ch.rechoke(t, &peers) != first {
                changed = true;
            }
        }
        assert!(changed, "the optimistic slot rotates");
    }

    #[test]
    fn few_peers_all_unchoked() {
        let mut ch = Choker::new(8);
        let peers = [c(1, true, 0), c(2, true, 0)];
        let mut un = ch.rechoke(Instant::now(), &peers);
        un.sort();
        assert_eq!(un, vec![1, 2]);
        assert!(ch.has_free_slot(2));
    }
}
