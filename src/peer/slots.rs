//! The session's connection slots: how many connections the whole session
//! holds, how many share one IP address, and how many handshakes one host
//! may keep us reading at once. Every socket to a peer — a dial under way,
//! an incoming connection whose handshake we read, an open connection —
//! holds a [`Slot`], taken before any per-connection state exists and given
//! back when the slot is dropped with the socket.
//!
//! When the session is full, a newcomer may take the slot of a connection
//! that has been useless for a while (neither side interested in the
//! other, no payload moving: its torrent marks it with
//! [`Slot::set_useless`]); that connection is closed through its
//! cancellation token. Otherwise the newcomer is refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// The limits the slots enforce.
#[derive(Debug, Clone, Copy)]
pub struct SlotLimits {
    /// Connections of the whole session, every state counted.
    pub total: usize,
    /// Connections with one IP address, both directions, every torrent.
    pub per_ip: usize,
    /// Incoming handshakes read at once from one IP address.
    pub pending_per_ip: usize,
    /// How long a connection must have been useless before a newcomer
    /// may take its slot.
    pub useless_after: Duration,
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The session holds its limit of connections and none is useless.
    Full,
    /// The address holds its limit of connections.
    PerIp,
    /// The address has its limit of handshakes being read.
    Pending,
}

/// The session's slots. Cheap to clone; every clone counts the same.
#[derive(Debug, Clone)]
pub struct Slots {
    /// The counts, locked briefly (never across an await).
    state: Arc<Mutex<State>>,
    /// What they are held to.
    limits: SlotLimits,
}

#[derive(Debug, Default)]
struct State {
    /// Slots held, all addresses.
    total: usize,
    /// Slots held per address, and handshakes being read per address.
    /// An address leaves the map when both are zero, so the map is never
    /// larger than the slots held.
    by_ip: HashMap<IpAddr, PerIp>,
    /// The id the next slot gets.
    next_id: u64,
    /// Connections their torrent marked useless, with since when and the
    /// token that closes them.
    useless: HashMap<u64, (Instant, CancellationToken)>,
    /// Slots given to a newcomer while their old connection closes: their
    /// drop must not count them free a second time.
    handed_over: std::collections::HashSet<u64>,
}

#[derive(Debug, Default, Clone, Copy)]
struct PerIp {
    /// Slots held by this address.
    open: usize,
    /// Of those, handshakes being read.
    pending: usize,
}

impl Slots {
    /// No slot taken yet.
    pub fn new(limits: SlotLimits) -> Slots {
        Slots {
            state: Arc::new(Mutex::new(State::default())),
            limits,
        }
    }

    /// The limits.
    pub fn limits(&self) -> SlotLimits {
        self.limits
    }

    /// Slots held now.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        lock(&self.state).total
    }

    /// A slot for a connection we dial to `ip`. With `evict`, a full
    /// session closes a useless connection to make room.
    pub fn outgoing(&self, ip: IpAddr, evict: bool) -> Result<Slot, Refusal> {
        let ip = host_key(ip);
        let mut s = lock(&self.state);
        self.take(&mut s, ip, evict)
    }

    /// A slot for a peer that dialled us from `ip`, and the mark that its
    /// handshake is being read (drop it once read). A full session closes
    /// a useless connection to make room.
    pub fn incoming(&self, ip: IpAddr) -> Result<(Slot, Pending), Refusal> {
        let ip = host_key(ip);
        let mut s = lock(&self.state);
        let per = s.by_ip.get(&ip).copied().unwrap_or_default();
        if per.pending >= self.limits.pending_per_ip {
            return Err(Refusal::Pending);
        }
        let slot = self.take(&mut s, ip, true)?;
        if let Some(p) = s.by_ip.get_mut(&ip) {
            p.pending += 1;
        }
        let pending = Pending {
            state: self.state.clone(),
            ip,
        };
        Ok((slot, pending))
    }

    fn take(&self, s: &mut State, ip: IpAddr, evict: bool) -> Result<Slot, Refusal> {
        if s.by_ip.get(&ip).map_or(0, |p| p.open) >= self.limits.per_ip {
            return Err(Refusal::PerIp);
        }
        if s.total >= self.limits.total {
            if !evict || !self.evict_one(s) {
                return Err(Refusal::Full);
            }
        } else {
            s.total += 1;
        }
        s.by_ip.entry(ip).or_default().open += 1;
        let id = s.next_id;
        s.next_id += 1;
        Ok(Slot {
            state: self.state.clone(),
            ip,
            id,
        })
    }

    /// Closes the connection useless for longest, if for at least
    /// `useless_after`, and hands its place in `total` to the caller (its
    /// address's count is freed when its slot drops with the socket).
    fn evict_one(&self, s: &mut State) -> bool {
        let now = Instant::now();
        let victim = s
            .useless
            .iter()
            .filter(|(_, (since, _))| {
                now.saturating_duration_since(*since) >= self.limits.useless_after
            })
            .min_by_key(|(_, (since, _))| *since)
            .map(|(id, _)| *id);
        let Some(id) = victim else {
            return false;
        };
        if let Some((_, token)) = s.useless.remove(&id) {
            token.cancel();
        }
        s.handed_over.insert(id);
        true
    }
}

/// One connection's place in the session. Dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    /// The session's counts.
    state: Arc<Mutex<State>>,
    /// The peer's address, whose count this slot is part of.
    ip: IpAddr,
    /// Names the slot in the useless set.
    id: u64,
}

impl Slot {
    /// Marks the connection useless since `since` (`None`: useful again),
    /// with the token that closes it should a newcomer need its place.
    pub fn set_useless(&self, since: Option<(Instant, CancellationToken)>) {
        let mut s = lock(&self.state);
        if s.handed_over.contains(&self.id) {
            return;
        }
        match since {
            Some(v) => {
                s.useless.insert(self.id, v);
            }
            None => {
                s.useless.remove(&self.id);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = lock(&self.state);
        s.useless.remove(&self.id);
        let handed_over = s.handed_over.remove(&self.id);
        if !handed_over {
            s.total = s.total.saturating_sub(1);
        }
        release_ip(&mut s, self.ip, |p| p.open = p.open.saturating_sub(1));
    }
}

/// An incoming handshake being read; dropping it ends the count.
#[derive(Debug)]
pub struct Pending {
    /// The session's counts.
    state: Arc<Mutex<State>>,
    /// The peer's address.
    ip: IpAddr,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut s = lock(&self.state);
        release_ip(&mut s, self.ip, |p| p.pending = p.pending.saturating_sub(1));
    }
}

/// The key an address's slots are counted under. An IPv4 peer on a
/// dual-stack socket (`::ffff:a.b.c.d`) is one host either way. An IPv6
/// address counts under its /64: one subscriber or one LAN gets a /64 and
/// picks addresses within it at will (privacy addresses, or any number of
/// them), so counting each address alone would let one host take every
/// slot; a /64 is then held to the per-address limit as a NAT's one IPv4
/// address is.
pub fn host_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

fn release_ip(s: &mut State, ip: IpAddr, f: impl FnOnce(&mut PerIp)) {
    if let Some(p) = s.by_ip.get_mut(&ip) {
        f(p);
        if p.open == 0 && p.pending == 0 {
            s.by_ip.remove(&ip);
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A poisoned lock only means a panic elsewhere; the counts are still
    // sound (every change is one statement).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn slots(total: usize, per_ip: usize) -> Slots {
        Slots::new(SlotLimits {
            total,
            per_ip,
            pending_per_ip: 2,
            useless_after: Duration::ZERO,
        })
    }

    #[test]
    fn per_ip_limit_refuses_and_frees_on_drop() {
        let s = slots(10, 2);
        let a = s.outgoing(ip(1), false).unwrap();
        let _b = s.incoming(ip(1)).unwrap();
        assert_eq!(s.outgoing(ip(1), false).unwrap_err(), Refusal::PerIp);
        assert_eq!(s.incoming(ip(1)).unwrap_err(), Refusal::PerIp);
        let _c = s.outgoing(ip(2), false).unwrap();
        drop(a);
        assert!(s.outgoing(ip(1), false).is_ok());
    }

    #[test]
    fn global_limit_refuses_and_frees_on_drop() {
        let s = slots(2, 5);
        let a = s.outgoing(ip(1), true).unwrap();
        let _b = s.outgoing(ip(2), true).unwrap();
        assert_eq!(s.outgoing(ip(3), true).unwrap_err(), Refusal::Full);
        assert_eq!(s.incoming(ip(3)).unwrap_err(), Refusal::Full);
        drop(a);
        assert_eq!(s.held(), 1);
        assert!(s.incoming(ip(3)).is_ok());
        assert_eq!(s.held(), 1, "the incoming slot was dropped again");
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_its_ipv4_address() {
        let s = slots(10, 1);
        let _a = s.outgoing(ip(1), false).unwrap();
        let mapped = match ip(1) {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        };
        assert_eq!(s.incoming(mapped).unwrap_err(), Refusal::PerIp);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_prefix() {
        let s = slots(10, 2);
        let v6 = |t: &str| t.parse::<IpAddr>().unwrap();
        let _a = s.outgoing(v6("2001:db8:1:2::1"), false).unwrap();
        let _b = s.incoming(v6("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).unwrap();
        // A third address of the same /64 is the same host.
        assert_eq!(
            s.outgoing(v6("2001:db8:1:2::3"), false).unwrap_err(),
            Refusal::PerIp
        );
        // The neighbouring /64 is another.
        assert!(s.outgoing(v6("2001:db8:1:3::1"), false).is_ok());
    }

    #[test]
    fn pending_handshakes_per_ip_are_capped() {
        let s = slots(10, 10);
        let (_a, pa) = s.incoming(ip(1)).unwrap();
        let (_b, _pb) = s.incoming(ip(1)).unwrap();
        assert_eq!(s.incoming(ip(1)).unwrap_err(), Refusal::Pending);
        // A handshake read: its host may start another.
        drop(pa);
        assert!(s.incoming(ip(1)).is_ok());
    }

    #[test]
    fn a_useless_connection_makes_room_for_a_newcomer() {
        let s = slots(2, 5);
        let a = s.outgoing(ip(1), true).unwrap();
        let b = s.outgoing(ip(2), true).unwrap();
        let (ta, tb) = (CancellationToken::new(), CancellationToken::new());
        let t0 = Instant::now();
        a.set_useless(Some((t0 + Duration::from_millis(1), ta.clone())));
        b.set_useless(Some((t0, tb.clone())));
        // Without eviction, refused.
        assert_eq!(s.outgoing(ip(3), false).unwrap_err(), Refusal::Full);
        std::thread::sleep(Duration::from_millis(5));
        let c = s.outgoing(ip(3), true).unwrap();
        assert!(tb.is_cancelled(), "the longest useless one is closed");
        assert!(!ta.is_cancelled());
        assert_eq!(s.held(), 2);
        // Its drop does not free the place it handed over.
        drop(b);
        assert_eq!(s.held(), 2);
        assert_eq!(s.outgoing(ip(4), false).unwrap_err(), Refusal::Full);
        drop(c);
        drop(a);
        assert_eq!(s.held(), 0);
    }

    #[test]
    fn a_connection_useful_again_is_not_evicted() {
        let s = Slots::new(SlotLimits {
            total: 1,
            per_ip: 5,
            pending_per_ip: 2,
            useless_after: Duration::from_secs(60),
        });
        let a = s.outgoing(ip(1), true).unwrap();
        let t = CancellationToken::new();
        // Useless, but not for long enough.
        a.set_useless(Some((Instant::now(), t.clone())));
        assert_eq!(s.outgoing(ip(2), true).unwrap_err(), Refusal::Full);
        a.set_useless(None);
        assert_eq!(s.outgoing(ip(2), true).unwrap_err(), Refusal::Full);
        assert!(!t.is_cancelled());
    }
}
