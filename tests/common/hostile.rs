//! A scripted hostile peer: plain blocking TCP and the peer wire protocol
//! written out byte by byte from BEP 3, 6, 9, 10 and 11 (not Shoal's own
//! codec, so a mistake there cannot hide one here). Each attack of
//! tests/hostile_peers.rs drives one `Attacker`; what it sends is whatever
//! the attack needs, legal or not.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

/// BEP 3 message ids.
pub mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    /// BEP 6.
    pub const HAVE_ALL: u8 = 14;
    /// BEP 10.
    pub const EXTENDED: u8 = 20;
}

/// The ids we ask the other side to use for our extensions (BEP 10 `m`).
pub const OUR_UT_METADATA: u8 = 3;
pub const OUR_UT_PEX: u8 = 4;

/// One message: length prefix, id, payload.
pub fn frame(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.extend_from_slice(&(1 + payload.len() as u32).to_be_bytes());
    out.push(id);
    out.extend_from_slice(payload);
    out
}

/// A `request` or `cancel` body: index, begin, length.
pub fn block(index: u32, begin: u32, len: u32) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&index.to_be_bytes());
    b[4..8].copy_from_slice(&begin.to_be_bytes());
    b[8..].copy_from_slice(&len.to_be_bytes());
    b
}

/// A `piece` body: index, begin, data.
pub fn piece(index: u32, begin: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + data.len());
    b.extend_from_slice(&index.to_be_bytes());
    b.extend_from_slice(&begin.to_be_bytes());
    b.extend_from_slice(data);
    b
}

/// A bencoded byte string.
fn bstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(s);
}

/// Our BEP 10 handshake: ut_metadata and ut_pex under our ids, and a
/// `metadata_size` if given (any value: bombs included).
pub fn ext_handshake(metadata_size: Option<u64>) -> Vec<u8> {
    let mut d = b"d1:md".to_vec();
    bstr(&mut d, b"ut_metadata");
    d.extend_from_slice(format!("i{OUR_UT_METADATA}e").as_bytes());
    bstr(&mut d, b"ut_pex");
    d.extend_from_slice(format!("i{OUR_UT_PEX}e").as_bytes());
    d.push(b'e');
    if let Some(size) = metadata_size {
        bstr(&mut d, b"metadata_size");
        d.extend_from_slice(format!("i{size}e").as_bytes());
    }
    d.push(b'e');
    d
}

/// A ut_metadata message (BEP 9): the dictionary, then `data` if any.
pub fn metadata_msg(msg_type: u8, piece: u32, total_size: Option<u64>, data: &[u8]) -> Vec<u8> {
    let mut d = b"d8:msg_typei".to_vec();
    d.extend_from_slice(format!("{msg_type}e5:piecei{piece}e").as_bytes());
    if let Some(t) = total_size {
        d.extend_from_slice(format!("10:total_sizei{t}e").as_bytes());
    }
    d.push(b'e');
    d.extend_from_slice(data);
    d
}

/// A ut_pex message (BEP 11) adding `added`, compact IPv4.
pub fn pex_msg(added: &[SocketAddrV4]) -> Vec<u8> {
    let mut compact = Vec::with_capacity(added.len() * 6);
    for a in added {
        compact.extend_from_slice(&a.ip().octets());
        compact.extend_from_slice(&a.port().to_be_bytes());
    }
    let mut d = b"d".to_vec();
    bstr(&mut d, b"added");
    bstr(&mut d, &compact);
    d.push(b'e');
    d
}

/// The 68-byte handshake, offering the extension protocol and the fast
/// extension.
pub fn handshake(info_hash: &[u8; 20]) -> [u8; 68] {
    let mut h = [0u8; 68];
    h[0] = 19;
    h[1..20].copy_from_slice(b"BitTorrent protocol");
    h[25] = 0x10; // BEP 10
    h[27] = 0x04; // BEP 6
    h[28..48].copy_from_slice(info_hash);
    h[48..56].copy_from_slice(b"-XX0001-");
    for (i, b) in h[56..68].iter_mut().enumerate() {
        *b = b'a' + i as u8;
    }
    h
}

/// One connection of a hostile peer.
pub struct Attacker {
    pub stream: TcpStream,
}

impl Attacker {
    /// Dials `to` from the loopback address `from` (each attacker its own,
    /// so a ban by address hits it alone), with small socket buffers when
    /// `small_buffers` (a peer that never reads fills them soon), and
    /// exchanges handshakes for `info_hash`.
    pub fn dial(
        from: Ipv4Addr,
        to: SocketAddr,
        info_hash: &[u8; 20],
        small_buffers: bool,
    ) -> io::Result<Attacker> {
        let mut a = Attacker::connect(from, to, small_buffers)?;
        a.stream.write_all(&handshake(info_hash))?;
        let mut theirs = [0u8; 68];
        a.stream.read_exact(&mut theirs)?;
        if theirs[28..48] != info_hash[..] {
            return Err(io::Error::other("handshake for another torrent"));
        }
        Ok(a)
    }

    /// A TCP connection to `to` from `from`, before any handshake.
    pub fn connect(from: Ipv4Addr, to: SocketAddr, small_buffers: bool) -> io::Result<Attacker> {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        if small_buffers {
            s.set_recv_buffer_size(16 * 1024)?;
            s.set_send_buffer_size(16 * 1024)?;
        }
        s.bind(&SocketAddr::from((from, 0)).into())?;
        s.connect_timeout(&to.into(), Duration::from_secs(10))?;
        let a = Attacker { stream: s.into() };
        a.stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        a.stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(a)
    }

    /// Takes one connection from `listener` (a peer that dialled us, as a
    /// magnet's `x.pe` makes Shoal do) and answers its handshake. Like a
    /// peer that speaks no protocol encryption, it hangs up on an
    /// encrypted handshake (at most 4), so that Shoal redials in plain.
    pub fn accept(listener: &TcpListener, info_hash: &[u8; 20]) -> io::Result<Attacker> {
        for _ in 0..4 {
            let (stream, _) = listener.accept()?;
            let mut a = Attacker { stream };
            a.stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            a.stream.set_write_timeout(Some(Duration::from_secs(10)))?;
            let mut theirs = [0u8; 68];
            a.stream.read_exact(&mut theirs[..20])?;
            if theirs[0] != 19 || &theirs[1..20] != b"BitTorrent protocol" {
                continue;
            }
            a.stream.read_exact(&mut theirs[20..])?;
            a.stream.write_all(&handshake(info_hash))?;
            return Ok(a);
        }
        Err(io::Error::other("no plain handshake in 4 connections"))
    }

    /// Sends one message.
    pub fn send(&mut self, id: u8, payload: &[u8]) -> io::Result<()> {
        self.stream.write_all(&frame(id, payload))
    }

    /// Sends raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one message (length 0 is a keep-alive, id `None`); fails on
    /// a read timeout or a closed socket.
    pub fn read_msg(&mut self) -> io::Result<(Option<u8>, Vec<u8>)> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            return Ok((None, Vec::new()));
        }
        if len > 1 << 20 {
            return Err(io::Error::other("a frame over 1 MiB"));
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        let id = body.remove(0);
        Ok((Some(id), body))
    }

    /// Reads and discards until the other side closes the connection (end
    /// of stream or a reset): true if that happened within `limit`.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = self
                .stream
                .set_read_timeout(Some(left.min(Duration::from_secs(1))));
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }

    /// Writes `chunk` over and over for up to `limit`, never reading:
    /// returns `Closed` when a write fails (the other side hung up) and
    /// `Stalled` when one made no progress for `stall` (it stopped
    /// reading us), with the bytes written.
    pub fn flood(&mut self, chunk: &[u8], limit: Duration, stall: Duration) -> (Flood, usize) {
        let _ = self.stream.set_write_timeout(Some(stall));
        let deadline = Instant::now() + limit;
        let mut sent = 0;
        while Instant::now() < deadline {
            match self.stream.write_all(chunk) {
                Ok(()) => sent += chunk.len(),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return (Flood::Stalled, sent)
                }
                Err(_) => return (Flood::Closed, sent),
            }
        }
        (Flood::Sent, sent)
    }
}

/// Whether an I/O error is a read or write timeout, not the other side
/// closing the connection.
pub fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// How a flood ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Flood {
    /// A write failed: the other side closed the connection.
    Closed,
    /// Writes stopped making progress: the other side stopped reading.
    Stalled,
    /// Everything was written within the time given.
    Sent,
}

/// The peak resident memory (VmHWM) and the anonymous resident memory
/// (RssAnon) of a process now, in KiB, from /proc/PID/status.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} in /proc/{pid}/status"))
    };
    (kib("VmHWM:"), kib("RssAnon:"))
}
