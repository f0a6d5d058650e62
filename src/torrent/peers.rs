//! The one list of peers a torrent knows about, whatever told us of them
//! (tracker, DHT, PEX, magnet `x.pe`, the user, or the peer itself dialling
//! in): de-duplicated by address, with the source recorded, bans, and a
//! retry backoff so a dead address is not dialled in a tight loop.
//!
//! Trust is kept by IP address, not by connection: the strikes against an
//! address and its ban outlive its connections, so a peer that sends bad
//! data cannot wipe its record by reconnecting.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Most addresses one torrent remembers; more are ignored, so a peer that
/// floods us with PEX cannot grow this without bound.
pub const MAX_KNOWN_PEERS: usize = 4000;
/// Most addresses in the list that one peer told us of by PEX: an honest
/// peer's first message names at most 50, then differences once a minute;
/// a peer cannot fill the list with its own picks.
pub const MAX_PEX_PER_TELLER: usize = 200;
/// Failed connection attempts after which an address is forgotten, unless it
/// was added by hand.
pub const MAX_CONNECT_FAILURES: u32 = 6;
/// First retry delay after a failure; doubles with each further failure.
pub const RETRY_BASE: Duration = Duration::from_secs(10);
/// First retry delay after a refusal (the peer took the connection and hung
/// up before its handshake); doubles with each further failure.
pub const REFUSED_RETRY: Duration = Duration::from_secs(2);

/// Most IP addresses whose strikes are remembered; past it, the address
/// with the fewest strikes is forgotten to make room.
pub const MAX_STRUCK_IPS: usize = 1024;
/// Most banned IP addresses remembered; past it, the oldest ban is lifted
/// to make room (a peer with that many addresses can always find a new
/// one).
pub const MAX_BANNED_IPS: usize = 4096;

/// Why an address was banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BanReason {
    /// A block it sent differed from the same block of the piece once it
    /// passed its hash: it sent bad data, whoever else contributed.
    BadBlock,
    /// Pieces it alone sent failed their hash too often.
    Strikes,
}

impl BanReason {
    /// A few words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            BanReason::BadBlock => "sent a block that differed from the verified piece",
            BanReason::Strikes => "sent pieces that failed their hash",
        }
    }
}

/// Where we learnt of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerSource {
    /// An HTTP or UDP tracker.
    Tracker,
    /// The mainline DHT.
    Dht,
    /// Local peer discovery (BEP 14).
    Lsd,
    /// Peer exchange (BEP 11).
    Pex,
    /// An `x.pe` parameter of a magnet link.
    Magnet,
    /// Added by the user (`--peer`, the GUI).
    Manual,
    /// The peer connected to us.
    Incoming,
}

impl PeerSource {
    /// A one-word label for tables.
    pub fn label(self) -> &'static str {
        match self {
            PeerSource::Tracker => "tracker",
            PeerSource::Dht => "dht",
            PeerSource::Lsd => "lsd",
            PeerSource::Pex => "pex",
            PeerSource::Magnet => "magnet",
            PeerSource::Manual => "manual",
            PeerSource::Incoming => "incoming",
        }
    }
}

/// What we are doing with a known address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not connected; may be dialled once `next_attempt` has passed.
    Idle,
    /// A dial or a connection is under way.
    Busy,
}

#[derive(Debug, Clone)]
struct KnownPeer {
    /// The first source that named this address.
    source: PeerSource,
    /// Idle or busy.
    phase: Phase,
    /// Consecutive failed attempts, for the backoff.
    failures: u32,
    /// Earliest time of the next dial.
    next_attempt: Instant,
    /// It had every piece when we were last connected.
    seed: bool,
    /// The peer whose PEX message named it, if that was the first source.
    told_by: Option<IpAddr>,
}

/// The peer list of one torrent. Owned by the torrent task.
#[derive(Debug, Default)]
pub struct PeerList {
    /// Known addresses.
    peers: HashMap<SocketAddr, KnownPeer>,
    /// Addresses that sent bad data, and why; never dialled or accepted.
    /// At most `MAX_BANNED_IPS`.
    banned: HashMap<IpAddr, BanReason>,
    /// The keys of `banned`, oldest ban first, for lifting the oldest
    /// when full.
    ban_order: VecDeque<IpAddr>,
    /// Failed pieces each address sent alone. At most `MAX_STRUCK_IPS`
    /// entries.
    strikes: HashMap<IpAddr, u32>,
    /// Addresses that turned out to be ourselves (a tracker or the DHT
    /// hands us our own announce); never dialled.
    own: HashSet<SocketAddr>,
    /// Our listening port: a loopback address with it is ourselves.
    own_port: u16,
    /// We have every piece we want: seeds have nothing for us and we
    /// nothing for them, so they are not dialled.
    skip_seeds: bool,
    /// How many listed addresses each PEX sender named (kept in step with
    /// `told_by`), for `MAX_PEX_PER_TELLER`.
    pex_tellers: HashMap<IpAddr, usize>,
}

impl PeerList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list that knows our listening port, so our own loopback
    /// address is never taken for a peer.
    pub fn with_own_port(port: u16) -> Self {
        PeerList {
            own_port: port,
            ..Self::default()
        }
    }

    /// Remembers that `addr` is ourselves: it is forgotten and never
    /// dialled again.
    pub fn mark_own(&mut self, addr: SocketAddr) {
        self.forget(&addr);
        self.own.insert(addr);
    }

    /// Learns of an address from a PEX message of the peer at `teller`,
    /// unless that peer already named `MAX_PEX_PER_TELLER` listed
    /// addresses. Returns whether it was new.
    pub fn add_from_pex(&mut self, addr: SocketAddr, teller: IpAddr, now: Instant) -> bool {
        // An IPv6 sender counts by its /64, as the connection limits count
        // it: otherwise it would get a fresh share from each of its
        // addresses.
        let teller = crate::peer::host_key(teller);
        let told = self.pex_tellers.get(&teller).copied().unwrap_or(0);
        if told >= MAX_PEX_PER_TELLER || !self.add(addr, PeerSource::Pex, now) {
            return false;
        }
        if let Some(p) = self.peers.get_mut(&addr) {
            p.told_by = Some(teller);
        }
        self.pex_tellers.insert(teller, told + 1);
        true
    }

    /// Drops an address from the list, and from its PEX sender's count.
    fn forget(&mut self, addr: &SocketAddr) {
        let Some(teller) = self.peers.remove(addr).and_then(|p| p.told_by) else {
            return;
        };
        if let Some(n) = self.pex_tellers.get_mut(&teller) {
            *n -= 1;
            if *n == 0 {
                self.pex_tellers.remove(&teller);
            }
        }
    }

    /// Learns of an address. Returns whether it was new.
    pub fn add(&mut self, addr: SocketAddr, source: PeerSource, now: Instant) -> bool {
        if self.banned.contains_key(&addr.ip())
            || !could_be_a_peer(addr)
            || self.own.contains(&addr)
            || (addr.port() == self.own_port && self.own_port != 0 && addr.ip().is_loopback())
        {
            return false;
        }
        if self.peers.contains_key(&addr) {
            return false;
        }
        if self.peers.len() >= MAX_KNOWN_PEERS {
            return false;
        }
        self.peers.insert(
            addr,
            KnownPeer {
                source,
                phase: Phase::Idle,
                failures: 0,
                next_attempt: now,
                seed: false,
                told_by: None,
            },
        );
        true
    }

    /// Records a connection that exists already (an incoming one); the
    /// address is busy until `disconnected`.
    pub fn add_connected(&mut self, addr: SocketAddr, source: PeerSource, now: Instant) {
        self.add(addr, source, now);
        if let Some(p) = self.peers.get_mut(&addr) {
            p.phase = Phase::Busy;
        }
    }

    /// Up to `max` addresses to dial now, marked busy. Manually added and
    /// magnet peers come first, then the rest in no particular order.
    pub fn take_candidates(&mut self, now: Instant, max: usize) -> Vec<SocketAddr> {
        if max == 0 {
            return Vec::new();
        }
        let mut ready: Vec<(u8, SocketAddr)> = self
            .peers
            .iter()
            .filter(|(a, p)| {
                p.phase == Phase::Idle
                    && p.next_attempt <= now
                    && !self.banned.contains_key(&a.ip())
                    && !(p.seed && self.skip_seeds)
            })
            .map(|(a, p)| {
                let rank = match p.source {
                    PeerSource::Manual | PeerSource::Magnet => 0,
                    _ => 1 + p.failures.min(200) as u8,
                };
                (rank, *a)
            })
            .collect();
        ready.sort_unstable_by_key(|(rank, _)| *rank);
        ready.truncate(max);
        for (_, a) in &ready {
            if let Some(p) = self.peers.get_mut(a) {
                p.phase = Phase::Busy;
            }
        }
        ready.into_iter().map(|(_, a)| a).collect()
    }

    /// When the next address becomes dialable (now, if one is), among
    /// those `take_candidates` would hand out; `None` when none will be.
    pub fn next_due(&self) -> Option<Instant> {
        self.peers
            .iter()
            .filter(|(a, p)| {
                p.phase == Phase::Idle
                    && !self.banned.contains_key(&a.ip())
                    && !(p.seed && self.skip_seeds)
            })
            .map(|(_, p)| p.next_attempt)
            .min()
    }

    /// A dial failed or a connection ended before it was useful: back off.
    pub fn failed(&mut self, addr: SocketAddr, now: Instant) {
        self.back_off(addr, now, RETRY_BASE);
    }

    /// The peer took the connection and hung up before its handshake: it
    /// is alive, so try again soon (backing off from `REFUSED_RETRY`).
    pub fn refused(&mut self, addr: SocketAddr, now: Instant) {
        self.back_off(addr, now, REFUSED_RETRY);
    }

    fn back_off(&mut self, addr: SocketAddr, now: Instant, base: Duration) {
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        p.failures += 1;
        if p.failures >= MAX_CONNECT_FAILURES && p.source != PeerSource::Manual {
            self.forget(&addr);
            return;
        }
        p.phase = Phase::Idle;
        p.next_attempt = now + base * 2u32.pow(p.failures.min(8) - 1);
    }

    /// A connection that worked has ended: the address may be dialled again
    /// after a short pause.
    pub fn disconnected(&mut self, addr: SocketAddr, now: Instant) {
        if let Some(p) = self.peers.get_mut(&addr) {
            p.failures = 0;
            p.phase = Phase::Idle;
            p.next_attempt = now + RETRY_BASE;
        }
    }

    /// Makes every idle address dialable now (banned and our own stay
    /// undialled): the user resumed a torrent that stopped on an error.
    pub fn retry_now(&mut self, now: Instant) {
        for p in self.peers.values_mut() {
            if p.phase == Phase::Idle {
                p.next_attempt = p.next_attempt.min(now);
            }
        }
    }

    /// Makes a busy address available to dial again from `at` (a metadata
    /// fetch that worked, or one abandoned, before the data connection).
    pub fn release(&mut self, addr: SocketAddr, at: Instant) {
        if let Some(p) = self.peers.get_mut(&addr) {
            p.failures = 0;
            p.phase = Phase::Idle;
            p.next_attempt = at;
        }
    }

    /// Remembers that the peer at `addr` has every piece.
    pub fn mark_seed(&mut self, addr: SocketAddr) {
        if let Some(p) = self.peers.get_mut(&addr) {
            p.seed = true;
        }
    }

    /// Whether seeds are left undialled (we are complete).
    pub fn set_skip_seeds(&mut self, skip: bool) {
        self.skip_seeds = skip;
    }

    /// Forgets an address (for example one that turned out to be ourselves).
    pub fn remove(&mut self, addr: SocketAddr) {
        self.forget(&addr);
    }

    /// Bans an IP address: it is forgotten and never dialled or accepted.
    /// Returns whether it was not banned already.
    pub fn ban(&mut self, ip: IpAddr, reason: BanReason) -> bool {
        if self.banned.contains_key(&ip) {
            return false;
        }
        while self.banned.len() >= MAX_BANNED_IPS {
            match self.ban_order.pop_front() {
                Some(old) => self.banned.remove(&old),
                None => break,
            };
        }
        self.banned.insert(ip, reason);
        self.ban_order.push_back(ip);
        self.strikes.remove(&ip);
        let gone: Vec<SocketAddr> = self
            .peers
            .keys()
            .filter(|a| a.ip() == ip)
            .copied()
            .collect();
        for a in gone {
            self.forget(&a);
        }
        true
    }

    /// Whether an IP address is banned.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.banned.contains_key(&ip)
    }

    /// The banned addresses and why, oldest ban first.
    pub fn banned(&self) -> Vec<(IpAddr, BanReason)> {
        self.ban_order
            .iter()
            .filter_map(|ip| self.banned.get(ip).map(|r| (*ip, *r)))
            .collect()
    }

    /// Counts a strike against `ip` (a piece it alone sent failed its
    /// hash) and returns its strikes so far. Strikes outlive connections.
    pub fn strike(&mut self, ip: IpAddr) -> u32 {
        if !self.strikes.contains_key(&ip) && self.strikes.len() >= MAX_STRUCK_IPS {
            // Forget the address with the fewest strikes.
            if let Some(least) = self
                .strikes
                .iter()
                .min_by_key(|(_, n)| **n)
                .map(|(ip, _)| *ip)
            {
                self.strikes.remove(&least);
            }
        }
        let n = self.strikes.entry(ip).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Strikes against `ip` so far.
    pub fn strikes(&self, ip: IpAddr) -> u32 {
        self.strikes.get(&ip).copied().unwrap_or(0)
    }

    /// Number of known addresses.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no address is known.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The source an address was learnt from.
    pub fn source(&self, addr: &SocketAddr) -> Option<PeerSource> {
        self.peers.get(addr).map(|p| p.source)
    }
}

/// Whether `addr` could be a peer at all. Trackers, PEX and the DHT hand
/// us addresses from strangers; these never belong to a peer, and dialling
/// them would only send our connection attempts where nothing listens or
/// where a stranger pointed them: port 0, the unspecified address, the
/// IPv4 block 0.0.0.0/8 ("this network"), the broadcast address and
/// multicast groups, also when written as IPv4-mapped IPv6.
pub fn could_be_a_peer(addr: SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    let ip = match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => !(v4.octets()[0] == 0 || v4.is_broadcast() || v4.is_multicast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn seeds_are_not_dialled_while_we_are_complete() {
        let now = Instant::now();
        let mut l = PeerList::new();
        l.add(a(1), PeerSource::Tracker, now);
        l.add(a(2), PeerSource::Tracker, now);
        assert_eq!(l.take_candidates(now, 10).len(), 2);
        l.mark_seed(a(1));
        l.disconnected(a(1), now);
        l.disconnected(a(2), now);
        let later = now + RETRY_BASE;
        l.set_skip_seeds(true);
        assert_eq!(l.take_candidates(later, 10), vec![a(2)]);
        l.disconnected(a(2), now);
        // Wanting pieces again (a file selected), seeds are useful again.
        l.set_skip_seeds(false);
        let mut c = l.take_candidates(later, 10);
        c.sort();
        assert_eq!(c, vec![a(1), a(2)]);
    }

    #[test]
    fn next_due_is_the_earliest_retry() {
        let now = Instant::now();
        let mut l = PeerList::new();
        assert_eq!(l.next_due(), None);
        l.add(a(1), PeerSource::Tracker, now);
        assert_eq!(l.next_due(), Some(now));
        let c = l.take_candidates(now, 10);
        assert_eq!(l.next_due(), None, "busy addresses are not due");
        l.failed(c[0], now);
        assert_eq!(l.next_due(), Some(now + RETRY_BASE));
        l.mark_seed(a(1));
        l.set_skip_seeds(true);
        assert_eq!(
            l.next_due(),
            None,
            "seeds are not dialled while we are complete"
        );
    }

    #[test]
    fn dedupes_and_records_source() {
        let now = Instant::now();
        let mut l = PeerList::new();
        assert!(l.add(a(1), PeerSource::Tracker, now));
        assert!(!l.add(a(1), PeerSource::Dht, now));
        assert_eq!(l.source(&a(1)), Some(PeerSource::Tracker));
        assert!(
            !l.add(a(0), PeerSource::Dht, now),
            "port 0 is not an address"
        );
        assert_eq!(l.len(), 1);
    }

    /// Addresses that can never be a peer are refused, whoever names them.
    #[test]
    fn addresses_that_are_never_peers_are_refused() {
        let now = Instant::now();
        let mut l = PeerList::new();
        for bad in [
            "0.0.0.0:6881",
            "0.1.2.3:6881",
            "0.255.255.255:6881",
            "255.255.255.255:6881",
            "224.0.0.1:6881",
            "239.255.255.250:1900",
            "10.0.0.1:0",
            "[::]:6881",
            "[ff02::1]:6881",
            "[::ffff:0.0.0.0]:6881",
            "[::ffff:255.255.255.255]:6881",
            "[::ffff:224.0.0.1]:6881",
        ] {
            let addr: SocketAddr = bad.parse().unwrap();
            for source in [PeerSource::Pex, PeerSource::Tracker, PeerSource::Dht] {
                assert!(!l.add(addr, source, now), "{bad} from {source:?}");
            }
        }
        assert!(l.is_empty());
        for good in [
            "1.2.3.4:6881",
            "192.168.1.2:51413",
            "[2001:db8::1]:6881",
            "127.0.0.1:1",
        ] {
            assert!(l.add(good.parse().unwrap(), PeerSource::Pex, now), "{good}");
        }
    }

    #[test]
    fn candidates_are_taken_once_and_back_off() {
        let now = Instant::now();
        let mut l = PeerList::new();
        l.add(a(1), PeerSource::Tracker, now);
        l.add(a(2), PeerSource::Manual, now);
        let c = l.take_candidates(now, 10);
        assert_eq!(c[0], a(2), "manual peers first");
        assert_eq!(c.len(), 2);
        assert!(
            l.take_candidates(now, 10).is_empty(),
            "busy peers are not handed out"
        );
        l.failed(a(1), now);
        assert!(l.take_candidates(now, 10).is_empty());
        assert_eq!(l.take_candidates(now + RETRY_BASE, 10), vec![a(1)]);
    }

    #[test]
    fn a_refusal_is_retried_soon() {
        let now = Instant::now();
        let mut l = PeerList::new();
        l.add(a(1), PeerSource::Tracker, now);
        l.add(a(2), PeerSource::Tracker, now);
        let _ = l.take_candidates(now, 10);
        l.refused(a(1), now);
        l.failed(a(2), now);
        assert_eq!(l.take_candidates(now + REFUSED_RETRY, 10), vec![a(1)]);
        assert!(REFUSED_RETRY < RETRY_BASE);
    }

    #[test]
    fn repeated_failures_forget_but_manual_stays() {
        let mut now = Instant::now();
        let mut l = PeerList::new();
        l.add(a(1), PeerSource::Tracker, now);
        l.add(a(2), PeerSource::Manual, now);
        for _ in 0..MAX_CONNECT_FAILURES {
            now += Duration::from_secs(100_000);
            for c in l.take_candidates(now, 10) {
                l.failed(c, now);
            }
        }
        assert_eq!(l.source(&a(1)), None);
        assert_eq!(l.source(&a(2)), Some(PeerSource::Manual));
    }

    #[test]
    fn bans_stick() {
        let now = Instant::now();
        let mut l = PeerList::new();
        l.add(a(1), PeerSource::Tracker, now);
        assert!(l.ban(a(1).ip(), BanReason::BadBlock));
        assert!(!l.ban(a(1).ip(), BanReason::Strikes), "banned once");
        assert!(l.is_empty());
        assert!(!l.add(a(5), PeerSource::Pex, now));
        assert!(l.is_banned(a(9).ip()));
        assert_eq!(l.banned(), vec![(a(1).ip(), BanReason::BadBlock)]);
    }

    fn ip(i: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i))
    }

    /// Strikes belong to the address, not to a connection: a peer that
    /// disconnects and comes back (from another port) keeps them.
    #[test]
    fn strikes_outlive_connections() {
        let now = Instant::now();
        let mut l = PeerList::new();
        let first = SocketAddr::new(ip(1), 50_000);
        l.add_connected(first, PeerSource::Incoming, now);
        assert_eq!(l.strike(ip(1)), 1);
        l.remove(first);
        let again = SocketAddr::new(ip(1), 50_001);
        l.add_connected(again, PeerSource::Incoming, now);
        assert_eq!(l.strikes(ip(1)), 1);
        assert_eq!(l.strike(ip(1)), 2);
        assert_eq!(l.strikes(ip(2)), 0);
    }

    /// The strikes and bans an address flood can make are bounded, and a
    /// flood of one-strike addresses does not wipe a repeat offender's.
    #[test]
    fn strikes_and_bans_are_bounded() {
        let mut l = PeerList::new();
        l.strike(ip(0));
        l.strike(ip(0));
        for i in 1..(2 * MAX_STRUCK_IPS as u32) {
            l.strike(ip(i));
        }
        assert_eq!(l.strikes.len(), MAX_STRUCK_IPS);
        assert_eq!(l.strikes(ip(0)), 2, "the repeat offender is kept");
        for i in 0..(MAX_BANNED_IPS as u32 + 10) {
            l.ban(ip(100_000 + i), BanReason::BadBlock);
        }
        assert_eq!(l.banned().len(), MAX_BANNED_IPS);
        assert!(!l.is_banned(ip(100_000)), "the oldest ban was lifted");
        assert!(l.is_banned(ip(100_000 + MAX_BANNED_IPS as u32 + 9)));
    }

    #[test]
    fn never_ourselves() {
        let now = Instant::now();
        let mut l = PeerList::with_own_port(7000);
        assert!(
            !l.add(a(7000), PeerSource::Dht, now),
            "our loopback address"
        );
        assert!(l.add(a(7001), PeerSource::Dht, now));
        l.mark_own(a(7001));
        assert!(!l.add(a(7001), PeerSource::Tracker, now));
        assert!(l.is_empty());
    }

    #[test]
    fn one_pex_sender_fills_only_its_share() {
        let now = Instant::now();
        let mut l = PeerList::new();
        let (liar, honest): (IpAddr, IpAddr) = ([10, 9, 9, 9].into(), [10, 8, 8, 8].into());
        let addr = |i: usize| SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 6881));
        let taken = (0..1000)
            .filter(|i| l.add_from_pex(addr(*i), liar, now))
            .count();
        assert_eq!(taken, MAX_PEX_PER_TELLER);
        assert!(
            l.add_from_pex(addr(5000), honest, now),
            "others still heard"
        );
        // Forgetting its addresses (dead, banned) frees its share.
        l.ban(addr(0).ip(), BanReason::Strikes);
        assert!(l.add_from_pex(addr(1000), liar, now));
        assert!(!l.add_from_pex(addr(1001), liar, now));
        let mut later = now;
        for _ in 0..MAX_CONNECT_FAILURES {
            later += Duration::from_secs(1_000_000);
            for c in l.take_candidates(later, 10_000) {
                l.failed(c, later);
            }
        }
        assert!(l.is_empty());
        assert!(l.pex_tellers.is_empty(), "counts follow the list");
    }

    #[test]
    fn an_ipv6_pex_sender_has_one_share_for_its_64() {
        let now = Instant::now();
        let mut l = PeerList::new();
        let addr = |i: usize| SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 6881));
        let teller = |n: u16| IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, n]);
        let taken = (0..1000)
            .filter(|i| l.add_from_pex(addr(*i), teller(*i as u16), now))
            .count();
        assert_eq!(taken, MAX_PEX_PER_TELLER);
        let neighbour = IpAddr::from([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1]);
        assert!(l.add_from_pex(addr(5000), neighbour, now));
    }

    #[test]
    fn bounded() {
        let now = Instant::now();
        let mut l = PeerList::new();
        for i in 0..(MAX_KNOWN_PEERS + 10) {
            let addr = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 6881));
            l.add(addr, PeerSource::Pex, now);
        }
        assert_eq!(l.len(), MAX_KNOWN_PEERS);
    }
}
