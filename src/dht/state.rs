//! The DHT node as the GUI shows it: [`DhtState`], and the directory of node
//! ids behind its per-bucket view.
//!
//! `mainline` exposes its routing table only as a list of addresses (its
//! "bootstrap" export), without the node ids that decide which bucket a node
//! sits in. Node lookups, however, return nodes with their ids. So we keep a
//! directory `address -> id` filled by every node lookup we run, and group the
//! table's addresses into buckets by the number of leading bits their id
//! shares with ours (Kademlia's bucket index). To keep the directory in step
//! with the table, [`Dht::state`] starts a refresh in the background at most
//! every [`BUCKET_REFRESH_INTERVAL`]: a lookup of our own id, then one
//! lookup per bucket (our id with that bit flipped), as Kademlia's bucket
//! refresh does. Nothing runs while no one asks for the state.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mainline::Id;

use super::{guard, Dht, DhtError};

/// How often the bucket view may trigger node lookups to learn ids.
pub const BUCKET_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Bucket lookups run at most this many at a time during a refresh.
const REFRESH_CONCURRENCY: usize = 4;

/// A snapshot of our DHT node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtState {
    /// Our node id, 40 hex digits. It can change once, if the node learns a
    /// public IP its random id is not valid for (BEP 42).
    pub node_id: String,
    /// The UDP address the node listens on.
    pub local_addr: SocketAddr,
    /// Nodes in the routing table that are not stale.
    pub nodes: usize,
    /// The routing table's nodes by bucket, for those whose id we know,
    /// ordered from the farthest bucket (0 bits shared with our id) to the
    /// nearest; empty buckets are left out. `nodes` minus the nodes listed
    /// here is how many table entries have an id we have not learned yet.
    pub buckets: Vec<DhtBucket>,
    /// `get_peers` lookups in flight.
    pub lookups_in_flight: usize,
    /// Announces in flight.
    pub announces_in_flight: usize,
    /// Whether the node has joined the DHT (its routing table is not empty).
    pub bootstrapped: bool,
    /// Whether the node answers other nodes' requests.
    pub server_mode: bool,
    /// `mainline`'s estimate of the number of nodes in the whole DHT.
    pub dht_size_estimate: usize,
    /// Time until the next join retry while the routing table is empty
    /// (see [`DhtJoin`](super::DhtJoin)); `None` once joined.
    pub retry_in: Option<Duration>,
    /// Join retries made since the table was last seen with nodes.
    pub join_attempts: u32,
    /// Why the node has not joined, when known (names that did not
    /// resolve, bootstrap nodes that did not answer).
    pub join_problem: Option<String>,
}

/// One Kademlia bucket of the routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtBucket {
    /// How many leading bits the ids in this bucket share with ours: 0 holds
    /// the farthest half of the id space, each next bucket half as much.
    pub shared_prefix_bits: u8,
    /// The nodes, ordered by id.
    pub nodes: Vec<DhtNode>,
}

/// One node of the routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtNode {
    /// Its node id, 40 hex digits.
    pub id: String,
    /// Its UDP address.
    pub addr: SocketAddr,
}

/// Node ids learned from lookups, and the refresh schedule.
#[derive(Default)]
pub(super) struct Directory {
    /// Latest id seen at each address; pruned to the routing table's
    /// addresses at each snapshot, so it stays as small as the table.
    ids: HashMap<SocketAddrV4, Id>,
    /// When the last refresh started; `None` before the first.
    last_refresh: Option<Instant>,
}

impl Directory {
    /// Records the ids of nodes a lookup returned.
    pub(super) fn learn(&mut self, nodes: &[(SocketAddrV4, Id)]) {
        self.ids.extend(nodes.iter().copied());
    }

    /// Whether a refresh is due; if so, records that one starts now.
    fn take_refresh(&mut self, now: Instant) -> bool {
        let due = self
            .last_refresh
            .is_none_or(|t| now.duration_since(t) >= BUCKET_REFRESH_INTERVAL);
        if due {
            self.last_refresh = Some(now);
        }
        due
    }
}

/// Number of leading bits two ids share (160 if equal).
fn shared_prefix_bits(a: &Id, b: &Id) -> u8 {
    a.xor(b).leading_zeros()
}

/// Groups table nodes with known ids into buckets relative to `own`.
fn buckets(
    own: &Id,
    table: &HashSet<SocketAddrV4>,
    ids: &HashMap<SocketAddrV4, Id>,
) -> Vec<DhtBucket> {
    let mut by_bucket: Vec<(u8, Id, SocketAddrV4)> = table
        .iter()
        .filter_map(|addr| {
            ids.get(addr)
                .map(|id| (shared_prefix_bits(own, id), *id, *addr))
        })
        .collect();
    by_bucket.sort_by(|a, b| (a.0, a.1.as_bytes()).cmp(&(b.0, b.1.as_bytes())));
    let mut out: Vec<DhtBucket> = Vec::new();
    for (bits, id, addr) in by_bucket {
        let node = DhtNode {
            id: id.to_string(),
            addr: SocketAddr::V4(addr),
        };
        match out.last_mut() {
            Some(bucket) if bucket.shared_prefix_bits == bits => bucket.nodes.push(node),
            _ => out.push(DhtBucket {
                shared_prefix_bits: bits,
                nodes: vec![node],
            }),
        }
    }
    out
}

/// An id that shares exactly `bits` leading bits with `own`: the target of
/// a lookup that finds the nodes of bucket `bits`.
fn bucket_target(own: &Id, bits: u8) -> Id {
    let mut target = *Id::random().as_bytes();
    let own = own.as_bytes();
    let bits = usize::from(bits.min(159));
    for (i, byte) in target.iter_mut().enumerate() {
        let start = i * 8;
        if start + 8 <= bits {
            *byte = own[i];
        } else if start <= bits {
            // This byte holds the flipped bit: keep the shared bits above it,
            // flip it, and keep the random bits below it.
            let keep = bits - start; // 0..=7 shared bits in this byte
            let flip = 0x80u8 >> keep;
            let shared_mask = !(0xffu8 >> keep);
            *byte = (own[i] & shared_mask) | (!own[i] & flip) | (*byte & !(shared_mask | flip));
        }
    }
    Id::from(target)
}

/// Builds the snapshot; starts a bucket refresh in the background if due.
pub(super) async fn snapshot(dht: &Dht) -> Result<DhtState, DhtError> {
    let inner = &dht.inner;
    let info = guard(dht.node()?.info()).await?;
    let table: HashSet<SocketAddrV4> = dht.table().await?.into_iter().collect();
    let join = dht.join_status();
    let bootstrapped = !table.is_empty();
    let own = *info.id();
    let (buckets, refresh) = match inner.directory.lock() {
        Ok(mut directory) => {
            directory.ids.retain(|addr, _| table.contains(addr));
            let b = buckets(&own, &table, &directory.ids);
            (b, directory.take_refresh(Instant::now()))
        }
        // A panic while holding the lock cannot happen (no code in it
        // panics); if it did, the state simply shows no buckets.
        Err(_) => (Vec::new(), false),
    };
    if refresh {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(refresh_buckets(dht.clone()));
        }
    }
    Ok(DhtState {
        node_id: own.to_string(),
        local_addr: dht.local_addr(),
        nodes: table.len(),
        buckets,
        lookups_in_flight: inner.counters.lookups.load(Ordering::Relaxed),
        announces_in_flight: inner.counters.announces.load(Ordering::Relaxed),
        bootstrapped,
        server_mode: info.server_mode(),
        dht_size_estimate: info.dht_size_estimate().0,
        retry_in: if bootstrapped { None } else { join.retry_in() },
        join_attempts: join.attempts,
        join_problem: if bootstrapped { None } else { join.problem },
    })
}

/// Learns the ids of the routing table's nodes: a lookup of our own id, then
/// one per bucket down to the deepest one that lookup reached.
async fn refresh_buckets(dht: Dht) {
    let Ok(node) = dht.node() else { return };
    let Ok(info) = guard(node.info()).await else {
        return;
    };
    drop(node);
    let own = *info.id();
    let Ok(closest) = dht.find_node(own).await else {
        return;
    };
    let deepest = closest
        .iter()
        .map(|(_, id)| shared_prefix_bits(&own, id))
        .max()
        .unwrap_or(0)
        .min(159);
    futures::stream::iter(0..deepest)
        .map(|bits| {
            let dht = dht.clone();
            async move {
                let _ = dht.find_node(bucket_target(&own, bits)).await;
            }
        })
        .buffer_unordered(REFRESH_CONCURRENCY)
        .collect::<()>()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(hex_prefix: &str) -> Id {
        let mut s = hex_prefix.to_string();
        while s.len() < 40 {
            s.push('0');
        }
        s.parse().unwrap()
    }

    #[test]
    fn bucket_target_shares_exactly_the_prefix() {
        let own = Id::random();
        for bits in [0u8, 1, 7, 8, 9, 15, 16, 100, 159] {
            for _ in 0..20 {
                let t = bucket_target(&own, bits);
                assert_eq!(shared_prefix_bits(&own, &t), bits, "bits {bits}");
            }
        }
    }

    #[test]
    fn nodes_are_grouped_by_shared_prefix() {
        let own = id("00");
        let a: SocketAddrV4 = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddrV4 = "127.0.0.1:2".parse().unwrap();
        let c: SocketAddrV4 = "127.0.0.1:3".parse().unwrap();
        let unknown: SocketAddrV4 = "127.0.0.1:4".parse().unwrap();
        let gone: SocketAddrV4 = "127.0.0.1:5".parse().unwrap();
        let ids = HashMap::from([
            (a, id("80")), // first bit differs: bucket 0
            (b, id("c0")), // bucket 0 too
            (c, id("01")), // 7 shared bits
            (gone, id("02")),
        ]);
        let table = HashSet::from([a, b, c, unknown]);
        let got = buckets(&own, &table, &ids);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].shared_prefix_bits, 0);
        assert_eq!(got[0].nodes.len(), 2);
        assert_eq!(got[0].nodes[0].addr, SocketAddr::V4(a));
        assert_eq!(got[1].shared_prefix_bits, 7);
        assert_eq!(got[1].nodes[0].id, id("01").to_string());
    }

    #[test]
    fn refresh_is_rate_limited() {
        let mut d = Directory::default();
        let t = Instant::now();
        assert!(d.take_refresh(t));
        assert!(!d.take_refresh(t + Duration::from_secs(1)));
        assert!(d.take_refresh(t + BUCKET_REFRESH_INTERVAL));
    }
}
