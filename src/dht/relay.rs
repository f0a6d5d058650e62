//! The UDP relay in front of `mainline`: it owns the DHT's public socket and
//! lets nodes whose KRPC transaction ids are not 4 bytes long (libtorrent's
//! are 2) query us, which `mainline` 8 alone cannot decode.
//!
//! `mainline` binds its own socket and offers no hook to feed it datagrams,
//! so the relay stands in front of it as a small NAT on loopback. The node
//! binds an ephemeral port on 127.0.0.1; every remote node `R` is shown to
//! it as an *alias*, an address `127.A.B.C` of its own in 127.64.0.0/10 (all
//! of 127.0.0.0/8 is local on Linux) on the relay's inner port. A datagram
//! from `R` reaches the node from `alias(R)` (sent with `IP_PKTINFO`
//! choosing that source address); one the node sends to `alias(R)` arrives
//! at the inner socket, which learns the alias from `IP_PKTINFO` and sends
//! it on to `R` from the public socket. On the way the relay rewrites:
//!
//! - a query's transaction id of any length other than 4 into a fresh
//!   4-byte one, and the answer's back into the original;
//! - compact node lists (`nodes`) into aliases inward and back outward, so
//!   the node only ever talks to aliases;
//! - in the node's answers, the peers it stored (`values`, whose addresses
//!   are aliases of the announcers) and the requester's address (`ip`,
//!   BEP 42) back into real addresses.
//!
//! Every datagram is checked with our bounded bencode scanner first
//! ([`crate::bencode::MAX_DEPTH`]), so `mainline`'s unbounded recursive
//! decoder only ever sees shallow input. Anything malformed is dropped.
//!
//! What this costs: `mainline` sees loopback addresses only, so it treats
//! every node as BEP 42 "secure" (it exempts local addresses), and its own
//! reachability probe (a ping to its public address) cannot work; server
//! mode is therefore decided by us (see `DhtConfig::server_mode`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::bencode::{self, Writer};

/// Largest datagram relayed; `mainline` reads at most 2,048 bytes.
const MAX_DATAGRAM: usize = 2048;

/// First address of the alias range 127.64.0.0/10.
const ALIAS_BASE: u32 = u32::from_be_bytes([127, 64, 0, 0]);

/// Aliases handed out before the table starts over (reusing the oldest
/// numbers): 2^22 addresses fit the range; a million remote nodes is far
/// more than a node meets in hours, and bounds the table's memory
/// (~40 MB at worst).
const MAX_ALIASES: u32 = 1 << 20;

/// Queries with rewritten transaction ids awaiting the node's answer; more
/// are dropped until older ones expire.
const MAX_PENDING: usize = 4096;

/// How long a rewritten query waits for the node's answer.
const PENDING_TTL: Duration = Duration::from_secs(30);

/// Node addresses and aliases, both ways.
#[derive(Default)]
struct Aliases {
    /// Alias number of each remote address.
    by_real: HashMap<SocketAddrV4, u32>,
    /// Remote address of each alias number (index = number).
    real: Vec<SocketAddrV4>,
    /// Next number to reuse once the table is full.
    next_reuse: u32,
}

impl Aliases {
    /// The alias of `real`, made if new.
    fn alias(&mut self, real: SocketAddrV4, port: u16) -> SocketAddrV4 {
        let n = match self.by_real.get(&real) {
            Some(n) => *n,
            None => {
                let n = if (self.real.len() as u32) < MAX_ALIASES {
                    self.real.push(real);
                    self.real.len() as u32 - 1
                } else {
                    let n = self.next_reuse;
                    self.next_reuse = (n + 1) % MAX_ALIASES;
                    let old = std::mem::replace(&mut self.real[n as usize], real);
                    self.by_real.remove(&old);
                    n
                };
                self.by_real.insert(real, n);
                n
            }
        };
        SocketAddrV4::new(Ipv4Addr::from(ALIAS_BASE + n), port)
    }

    /// The remote address behind an alias IP, if it is one.
    fn real(&self, alias: Ipv4Addr) -> Option<SocketAddrV4> {
        let n = u32::from(alias).checked_sub(ALIAS_BASE)?;
        self.real.get(n as usize).copied()
    }
}

/// A query whose transaction id was rewritten.
struct Pending {
    /// The id the querying node sent.
    original: Vec<u8>,
    /// Who sent it.
    from: SocketAddrV4,
    /// When, for expiry.
    at: Instant,
}

/// State shared by the relay task and the [`Relay`] handle.
#[derive(Default)]
struct Shared {
    /// The alias table.
    aliases: Aliases,
    /// Rewritten queries by their new 4-byte id.
    pending: HashMap<[u8; 4], Pending>,
    /// Source of the next rewritten id.
    next_tid: u32,
    /// Where the `mainline` node listens (changes when it is rebuilt).
    node: Option<SocketAddrV4>,
}

/// The handle the DHT keeps; the relay task stops when it is dropped.
pub(super) struct Relay {
    /// Shared with the task.
    shared: Arc<Mutex<Shared>>,
    /// The public address.
    public: SocketAddrV4,
    /// The inner port aliases use.
    inner_port: u16,
    /// Stops the task on drop.
    _stop: tokio_util::sync::DropGuard,
}

impl Relay {
    /// Binds the public socket on `public` and the inner one, and starts
    /// the task.
    pub(super) async fn start(public: SocketAddrV4) -> std::io::Result<Relay> {
        let outer = UdpSocket::bind(public).await?;
        let public = match outer.local_addr()? {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => return Err(std::io::Error::other("IPv6 public socket")),
        };
        // The inner socket listens on every address so that datagrams to
        // any alias in 127.64.0.0/10 reach it; anything not from the node
        // is dropped.
        let inner = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).await?;
        set_pktinfo(&inner)?;
        let inner_port = inner.local_addr()?.port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let cancel = CancellationToken::new();
        tokio::spawn(run(outer, inner, shared.clone(), cancel.clone()));
        Ok(Relay {
            shared,
            public,
            inner_port,
            _stop: cancel.drop_guard(),
        })
    }

    /// The public address other nodes reach us at.
    pub(super) fn public(&self) -> SocketAddrV4 {
        self.public
    }

    /// Where the node listens now.
    pub(super) fn node(&self) -> Option<SocketAddrV4> {
        lock(&self.shared).node
    }

    /// Tells the relay where the node listens now.
    pub(super) fn set_node(&self, node: SocketAddrV4) {
        lock(&self.shared).node = Some(node);
    }

    /// The alias the node knows `real` by.
    pub(super) fn alias(&self, real: SocketAddrV4) -> SocketAddrV4 {
        lock(&self.shared).aliases.alias(real, self.inner_port)
    }

    /// The real address behind an address the node gave us (unchanged if
    /// it is not an alias).
    pub(super) fn real(&self, addr: SocketAddrV4) -> SocketAddrV4 {
        lock(&self.shared).aliases.real(*addr.ip()).unwrap_or(addr)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update below is a whole insert or replace.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The relay task: moves datagrams both ways until cancelled.
async fn run(
    outer: UdpSocket,
    inner: UdpSocket,
    shared: Arc<Mutex<Shared>>,
    cancel: CancellationToken,
) {
    let inner_port = inner.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut from_outside = [0u8; MAX_DATAGRAM + 1];
    let mut from_node = [0u8; MAX_DATAGRAM + 1];
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = outer.recv_from(&mut from_outside) => {
                let Ok((n, SocketAddr::V4(from))) = r else { continue };
                if n > MAX_DATAGRAM || from.port() == 0 {
                    continue;
                }
                let out = {
                    let mut s = lock(&shared);
                    let Some(node) = s.node else { continue };
                    inward(&mut s, &from_outside[..n], from, inner_port)
                        .map(|bytes| (bytes, s.aliases.alias(from, inner_port), node))
                };
                if let Some((bytes, alias, node)) = out {
                    let _ = send_from(&inner, &bytes, *alias.ip(), node).await;
                }
            }
            r = recv_to(&inner, &mut from_node) => {
                let Ok((n, from, to)) = r else { continue };
                let out = {
                    let mut s = lock(&shared);
                    if n > MAX_DATAGRAM || s.node != Some(from) {
                        continue;
                    }
                    let Some(real) = s.aliases.real(to) else { continue };
                    outward(&mut s, &from_node[..n], real).map(|b| (b, real))
                };
                if let Some((bytes, real)) = out {
                    let _ = outer.send_to(&bytes, real).await;
                }
            }
        }
    }
}

/// The top-level entries of the dictionary starting at `start`, as
/// (key bytes, value span) pairs. `buf` must have passed the scanner.
fn entries(buf: &[u8], start: usize) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    if buf.get(start) != Some(&b'd') {
        return None;
    }
    let mut out = Vec::new();
    let mut pos = start + 1;
    while buf.get(pos) != Some(&b'e') {
        let key_end = bencode::scan(buf, pos).ok()?;
        let key = string_content(buf, pos..key_end)?;
        let value_end = bencode::scan(buf, key_end).ok()?;
        out.push((key, key_end..value_end));
        pos = value_end;
    }
    Some(out)
}

/// The content of the byte string spanning `span`.
fn string_content(buf: &[u8], span: Range<usize>) -> Option<Range<usize>> {
    let colon = span.start + buf[span.clone()].iter().position(|&b| b == b':')?;
    buf[span.start..colon]
        .iter()
        .all(u8::is_ascii_digit)
        .then_some(colon + 1..span.end)
}

/// The byte-string value under `key` in a parsed dictionary.
fn get<'a>(buf: &'a [u8], dict: &[(Range<usize>, Range<usize>)], key: &[u8]) -> Option<&'a [u8]> {
    let (_, v) = dict.iter().find(|(k, _)| &buf[k.clone()] == key)?;
    Some(&buf[string_content(buf, v.clone())?])
}

/// Re-encodes the dictionary `dict` of `buf`, replacing values with what
/// `replace` returns for their key (`None` keeps the original bytes).
fn rewrite(
    buf: &[u8],
    dict: &[(Range<usize>, Range<usize>)],
    mut replace: impl FnMut(&[u8], &[u8]) -> Option<Vec<u8>>,
) -> Vec<u8> {
    let mut w = Writer::new();
    w.dict();
    for (k, v) in dict {
        let key = &buf[k.clone()];
        w.bytes(key);
        match replace(key, &buf[v.clone()]) {
            Some(encoded) => w.raw(&encoded),
            None => w.raw(&buf[v.clone()]),
        };
    }
    w.end();
    w.finish()
}

/// Encodes a byte string.
fn encoded_bytes(b: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(b);
    w.finish()
}

/// Rewrites the addresses in a compact node list (26 bytes a node: id,
/// IPv4, port) with `map`, dropping nodes it returns `None` for.
fn map_nodes(nodes: &[u8], mut map: impl FnMut(SocketAddrV4) -> Option<SocketAddrV4>) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes.chunks_exact(26) {
        let addr = compact(&node[20..26]);
        if let Some(mapped) = map(addr) {
            out.extend_from_slice(&node[..20]);
            out.extend_from_slice(&mapped.ip().octets());
            out.extend_from_slice(&mapped.port().to_be_bytes());
        }
    }
    out
}

/// A compact IPv4 address and port (6 bytes).
fn compact(b: &[u8]) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::new(b[0], b[1], b[2], b[3]),
        u16::from_be_bytes([b[4], b[5]]),
    )
}

/// A datagram from the outside, as the node must see it; `None` drops it.
fn inward(s: &mut Shared, buf: &[u8], from: SocketAddrV4, inner_port: u16) -> Option<Vec<u8>> {
    bencode::validate_exact(buf).ok()?;
    let top = entries(buf, 0)?;
    match get(buf, &top, b"y")? {
        b"q" => {
            let tid = get(buf, &top, b"t")?;
            if tid.len() == 4 {
                return Some(buf.to_vec());
            }
            if tid.is_empty() || tid.len() > 16 {
                return None;
            }
            let now = Instant::now();
            if s.pending.len() >= MAX_PENDING {
                s.pending
                    .retain(|_, p| now.duration_since(p.at) < PENDING_TTL);
                if s.pending.len() >= MAX_PENDING {
                    return None;
                }
            }
            // The high bit marks our ids apart from the node's own
            // counter, which starts at 0.
            s.next_tid = s.next_tid.wrapping_add(1);
            let fresh = (s.next_tid | 0x8000_0000).to_be_bytes();
            s.pending.insert(
                fresh,
                Pending {
                    original: tid.to_vec(),
                    from,
                    at: now,
                },
            );
            Some(rewrite(buf, &top, |k, _| {
                (k == b"t").then(|| encoded_bytes(&fresh))
            }))
        }
        b"r" => {
            let (_, r_span) = top.iter().find(|(k, _)| &buf[k.clone()] == b"r")?;
            let r = entries(buf, r_span.start)?;
            let aliases = &mut s.aliases;
            let r_new = rewrite(buf, &r, |k, _| {
                if k != b"nodes" {
                    return None;
                }
                let nodes = get(buf, &r, b"nodes")?;
                Some(encoded_bytes(&map_nodes(nodes, |a| {
                    Some(aliases.alias(a, inner_port))
                })))
            });
            Some(rewrite(buf, &top, |k, _| {
                (k == b"r").then(|| r_new.clone())
            }))
        }
        b"e" => Some(buf.to_vec()),
        _ => None,
    }
}

/// A datagram from the node to `to` (a real address), as `to` must see
/// it; `None` drops it.
fn outward(s: &mut Shared, buf: &[u8], to: SocketAddrV4) -> Option<Vec<u8>> {
    bencode::validate_exact(buf).ok()?;
    let top = entries(buf, 0)?;
    let kind = get(buf, &top, b"y")?;
    if kind == b"q" {
        return Some(buf.to_vec());
    }
    let tid: [u8; 4] = get(buf, &top, b"t")?.try_into().ok()?;
    let original = match s.pending.get(&tid) {
        Some(p) if p.from == to => s.pending.remove(&tid).map(|p| p.original),
        _ => None,
    };
    let aliases = &s.aliases;
    let unalias = |a: SocketAddrV4| aliases.real(*a.ip());
    let r_new = match top.iter().find(|(k, _)| &buf[k.clone()] == b"r") {
        Some((_, span)) if kind == b"r" => {
            let r = entries(buf, span.start)?;
            Some(rewrite(buf, &r, |k, v| match k {
                b"nodes" => Some(encoded_bytes(&map_nodes(get(buf, &r, b"nodes")?, unalias))),
                b"values" => Some(unalias_values(v, aliases)),
                _ => None,
            }))
        }
        _ => None,
    };
    Some(rewrite(buf, &top, |k, _| match k {
        b"t" => original.as_deref().map(encoded_bytes),
        b"r" => r_new.clone(),
        b"ip" => {
            let mut b = to.ip().octets().to_vec();
            b.extend_from_slice(&to.port().to_be_bytes());
            Some(encoded_bytes(&b))
        }
        _ => None,
    }))
}

/// Rewrites a `values` list of compact peers: aliases back to the real IP
/// (the port is the one announced), others unchanged.
fn unalias_values(list: &[u8], aliases: &Aliases) -> Vec<u8> {
    let mut w = Writer::new();
    w.list();
    let mut pos = 1;
    while list.get(pos).is_some_and(|&b| b != b'e') {
        let Ok(end) = bencode::scan(list, pos) else {
            break;
        };
        match string_content(list, pos..end) {
            Some(c) if c.len() == 6 => {
                let peer = compact(&list[c]);
                let ip = aliases.real(*peer.ip()).map_or(*peer.ip(), |r| *r.ip());
                let mut b = ip.octets().to_vec();
                b.extend_from_slice(&peer.port().to_be_bytes());
                w.bytes(&b);
            }
            _ => {
                w.raw(&list[pos..end]);
            }
        }
        pos = end;
    }
    w.end();
    w.finish()
}

/// Asks the kernel for each datagram's destination address (`IP_PKTINFO`).
fn set_pktinfo(socket: &UdpSocket) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid fd, option level and name, and a pointer to a c_int
    // with its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_PKTINFO,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Room for one `in_pktinfo` control message.
const CMSG_ROOM: usize = 64;

/// Receives a datagram on the inner socket: its length, source, and the
/// local address it was sent to.
async fn recv_to(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddrV4, Ipv4Addr)> {
    socket
        .async_io(Interest::READABLE, || {
            // SAFETY: every pointer handed to recvmsg points into locals
            // that outlive the call, with their true lengths; the control
            // messages are read with the libc macros, within `control`.
            unsafe {
                let mut from: libc::sockaddr_in = std::mem::zeroed();
                let mut control = [0u8; CMSG_ROOM];
                let mut iov = libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: buf.len(),
                };
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
                msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = CMSG_ROOM as _;
                let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, 0);
                if n < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut to = None;
                let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
                while !cmsg.is_null() {
                    if (*cmsg).cmsg_level == libc::IPPROTO_IP
                        && (*cmsg).cmsg_type == libc::IP_PKTINFO
                    {
                        let info: libc::in_pktinfo =
                            std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                        to = Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)));
                    }
                    cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
                }
                let source = SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr)),
                    u16::from_be(from.sin_port),
                );
                let to = to.ok_or_else(|| std::io::Error::other("no destination address"))?;
                Ok((n as usize, source, to))
            }
        })
        .await
}

/// Sends `bytes` from the inner socket to `to` with source address `src`
/// (an alias on loopback).
async fn send_from(
    socket: &UdpSocket,
    bytes: &[u8],
    src: Ipv4Addr,
    to: SocketAddrV4,
) -> std::io::Result<()> {
    socket
        .async_io(Interest::WRITABLE, || {
            // SAFETY: as in `recv_to`; the one control message is written
            // with the libc macros inside `control`, sized by CMSG_SPACE.
            unsafe {
                let mut dest: libc::sockaddr_in = std::mem::zeroed();
                dest.sin_family = libc::AF_INET as libc::sa_family_t;
                dest.sin_port = to.port().to_be();
                dest.sin_addr.s_addr = u32::from(*to.ip()).to_be();
                let mut iov = libc::iovec {
                    iov_base: bytes.as_ptr() as *mut libc::c_void,
                    iov_len: bytes.len(),
                };
                let mut control = [0u8; CMSG_ROOM];
                let space = libc::CMSG_SPACE(std::mem::size_of::<libc::in_pktinfo>() as u32);
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_name = (&mut dest as *mut libc::sockaddr_in).cast();
                msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = space as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::IPPROTO_IP;
                (*cmsg).cmsg_type = libc::IP_PKTINFO;
                (*cmsg).cmsg_len =
                    libc::CMSG_LEN(std::mem::size_of::<libc::in_pktinfo>() as u32) as _;
                let mut info: libc::in_pktinfo = std::mem::zeroed();
                info.ipi_spec_dst.s_addr = u32::from(src).to_be();
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
                let n = libc::sendmsg(socket.as_raw_fd(), &msg, 0);
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn a_short_transaction_id_is_widened_and_restored() {
        let mut s = Shared::default();
        let lt = addr("10.0.0.9:6881");
        let q = b"d1:ad2:id20:abcdefghij01234567896:target20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe";
        let widened = inward(&mut s, q, lt, 7000).unwrap();
        let top = entries(&widened, 0).unwrap();
        let tid: [u8; 4] = get(&widened, &top, b"t").unwrap().try_into().unwrap();
        // The node's answer, with its nodes (aliases) and the requester's
        // address (an alias too).
        let known = s.aliases.alias(addr("10.0.0.7:7777"), 7000);
        let seen = s.aliases.alias(lt, 7000);
        let mut answer = b"d2:ip6:".to_vec();
        answer.extend_from_slice(&seen.ip().octets());
        answer.extend_from_slice(&seen.port().to_be_bytes());
        answer.extend_from_slice(b"1:rd2:id20:ABCDEFGHIJ01234567895:nodes26:ZYXWVUTSRQ9876543210");
        answer.extend_from_slice(&known.ip().octets());
        answer.extend_from_slice(&known.port().to_be_bytes());
        answer.extend_from_slice(b"e1:t4:");
        answer.extend_from_slice(&tid);
        answer.extend_from_slice(b"1:y1:re");
        let out = outward(&mut s, &answer, lt).unwrap();
        let top = entries(&out, 0).unwrap();
        assert_eq!(get(&out, &top, b"t").unwrap(), b"aa");
        assert_eq!(get(&out, &top, b"ip").unwrap(), &[10, 0, 0, 9, 0x1a, 0xe1]);
        let (_, r) = top.iter().find(|(k, _)| &out[k.clone()] == b"r").unwrap();
        let r = entries(&out, r.start).unwrap();
        let nodes = get(&out, &r, b"nodes").unwrap();
        assert_eq!(compact(&nodes[20..26]), addr("10.0.0.7:7777"));
        assert!(s.pending.is_empty());
    }

    #[test]
    fn inward_nodes_become_aliases_and_bad_input_is_dropped() {
        let mut s = Shared::default();
        let mut r = b"d1:rd2:id20:ABCDEFGHIJ01234567895:nodes26:ZYXWVUTSRQ9876543210".to_vec();
        r.extend_from_slice(&[10, 1, 2, 3, 0, 80]);
        r.extend_from_slice(b"e1:t4:abcd1:y1:re");
        let out = inward(&mut s, &r, addr("10.9.9.9:1"), 7000).unwrap();
        let top = entries(&out, 0).unwrap();
        let (_, rs) = top.iter().find(|(k, _)| &out[k.clone()] == b"r").unwrap();
        let rd = entries(&out, rs.start).unwrap();
        let alias = compact(&get(&out, &rd, b"nodes").unwrap()[20..26]);
        assert_eq!(alias.port(), 7000);
        assert_eq!(s.aliases.real(*alias.ip()), Some(addr("10.1.2.3:80")));
        // Four-byte queries pass untouched; garbage and deep nesting do not.
        let q = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t4:abcd1:y1:qe";
        assert_eq!(inward(&mut s, q, addr("10.0.0.1:1"), 7000).unwrap(), q);
        assert!(inward(&mut s, b"not bencode", addr("10.0.0.1:1"), 7000).is_none());
        let deep = [b"l".repeat(1000), b"e".repeat(1000)].concat();
        assert!(inward(&mut s, &deep, addr("10.0.0.1:1"), 7000).is_none());
    }

    #[test]
    fn stored_peers_go_out_with_their_real_address() {
        let mut s = Shared::default();
        let announcer = addr("10.0.0.5:6881");
        let alias = s.aliases.alias(announcer, 7000);
        let mut values = b"l6:".to_vec();
        values.extend_from_slice(&alias.ip().octets());
        values.extend_from_slice(&51413u16.to_be_bytes());
        values.extend_from_slice(b"e");
        let out = unalias_values(&values, &s.aliases);
        assert_eq!(&out[3..9], &[10, 0, 0, 5, 0xc8, 0xd5]);
    }
}
