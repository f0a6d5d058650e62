//! Local peer discovery (BEP 14): peers on the same network segment find
//! each other without a tracker or the DHT, by multicast announces
//! (`BT-SEARCH` datagrams to 239.192.152.143:6771).
//!
//! One task per session owns the socket. Torrents register while they run
//! (never private ones: the torrent decides, as for the DHT) and get the
//! peers announced for their info hash on a channel of their own. Each
//! registered torrent is announced when it registers and then every
//! `ANNOUNCE_INTERVAL`, at most one datagram per `SEND_GAP`; received
//! datagrams are bounded in size and rate, and our own (recognised by the
//! cookie) are ignored.
//!
//! The socket is bound to the multicast port with address reuse (other
//! clients on the same machine listen there too) and joins the group on
//! the interface of the session's listening address. A session listening
//! on a loopback address runs no LSD: nobody could dial it from the
//! network, and nothing is sent off the machine.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::types::InfoHash;

/// BEP 14's IPv4 group and port.
pub const LSD_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 192, 152, 143), 6771);
/// How often each torrent is announced (libtorrent: 5 minutes).
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(300);
/// Least time between two datagrams we send.
pub const SEND_GAP: Duration = Duration::from_millis(200);
/// Largest datagram read; anything longer is not an announce.
pub const MAX_DATAGRAM: usize = 1400;
/// Info hashes read from one datagram at most.
pub const MAX_HASHES: usize = 16;
/// Datagrams handled per second at most; the rest are dropped.
pub const MAX_RECEIVED_PER_SEC: u32 = 50;

/// One announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// The TCP port the sender listens on.
    pub port: u16,
    /// The torrents it has.
    pub hashes: Vec<InfoHash>,
    /// The sender's cookie, which tells our own datagrams apart.
    pub cookie: Option<String>,
}

impl Announce {
    /// The datagram (BEP 14's HTTP-like request).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: {LSD_GROUP}\r\nPort: {}\r\n",
            self.port
        );
        for h in &self.hashes {
            s.push_str(&format!("Infohash: {}\r\n", h.to_hex()));
        }
        if let Some(c) = &self.cookie {
            s.push_str(&format!("cookie: {c}\r\n"));
        }
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    /// Reads a datagram; `None` for anything that is not a well-formed
    /// announce (wrong request line, no or bad port, no info hash).
    pub fn decode(datagram: &[u8]) -> Option<Announce> {
        if datagram.len() > MAX_DATAGRAM {
            return None;
        }
        let text = std::str::from_utf8(datagram).ok()?;
        let mut lines = text.split("\r\n");
        if lines.next()? != "BT-SEARCH * HTTP/1.1" {
            return None;
        }
        let mut port = None;
        let mut hashes = Vec::new();
        let mut cookie = None;
        for line in lines.take_while(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "port" => port = Some(value.parse::<u16>().ok().filter(|p| *p != 0)?),
                "infohash" if hashes.len() < MAX_HASHES => {
                    // BEP 14 names 40 hex digits; some clients send 32
                    // base32 ones.
                    if let Ok(h) = InfoHash::from_str_any(value) {
                        hashes.push(h);
                    }
                }
                "cookie" => cookie = Some(value.to_string()),
                _ => {}
            }
        }
        (!hashes.is_empty()).then_some(Announce {
            port: port?,
            hashes,
            cookie,
        })
    }
}

/// What torrents tell the LSD task.
enum Cmd {
    /// Announce this torrent and send it the peers announced for it.
    Register(InfoHash, mpsc::Sender<Vec<SocketAddr>>),
    /// Stop.
    Unregister(InfoHash),
}

/// The session's LSD task; torrents register through it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Lsd {
    cmds: mpsc::UnboundedSender<Cmd>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Register(h, _) => write!(f, "Register({h})"),
            Cmd::Unregister(h) => write!(f, "Unregister({h})"),
        }
    }
}

/// A torrent's place in LSD: unregisters when dropped.
#[derive(Debug)]
pub struct Registration {
    lsd: Lsd,
    info_hash: InfoHash,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.lsd.cmds.send(Cmd::Unregister(self.info_hash));
    }
}

impl Lsd {
    /// Starts LSD for a session listening on `listen` (TCP port
    /// `listen_port`). Returns `Ok(None)` when the address is a loopback
    /// one (see the module's documentation).
    pub fn start(
        listen: std::net::IpAddr,
        listen_port: u16,
        cancel: CancellationToken,
    ) -> std::io::Result<Option<Lsd>> {
        let iface = match listen {
            std::net::IpAddr::V4(ip) if ip.is_loopback() => return Ok(None),
            std::net::IpAddr::V4(ip) => ip,
            // IPv4 LSD on the default interface for a dual-stack listener.
            std::net::IpAddr::V6(ip) if ip.is_loopback() => return Ok(None),
            std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let socket = multicast_socket(iface)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let cookie = format!("{:08x}", rand::random::<u32>());
        tokio::spawn(run(socket, listen_port, cookie, rx, cancel));
        Ok(Some(Lsd { cmds: tx }))
    }

    /// Registers a torrent: it is announced at once and then every
    /// `ANNOUNCE_INTERVAL`, and peers announced for it go to `peers`,
    /// until the returned registration is dropped.
    pub fn register(
        &self,
        info_hash: InfoHash,
        peers: mpsc::Sender<Vec<SocketAddr>>,
    ) -> Registration {
        let _ = self.cmds.send(Cmd::Register(info_hash, peers));
        Registration {
            lsd: self.clone(),
            info_hash,
        }
    }
}

fn multicast_socket(iface: Ipv4Addr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, LSD_GROUP.port())).into())?;
    s.join_multicast_v4(LSD_GROUP.ip(), &iface)?;
    if !iface.is_unspecified() {
        s.set_multicast_if_v4(&iface)?;
    }
    // Link-local: never past the first router.
    s.set_multicast_ttl_v4(1)?;
    // Other clients on this machine hear us too.
    s.set_multicast_loop_v4(true)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

/// A registered torrent.
struct Entry {
    /// Where its peers go.
    peers: mpsc::Sender<Vec<SocketAddr>>,
    /// When it is announced next.
    next: Instant,
}

async fn run(
    socket: UdpSocket,
    port: u16,
    cookie: String,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    cancel: CancellationToken,
) {
    let mut torrents: HashMap<InfoHash, Entry> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut last_send = Instant::now() - SEND_GAP;
    // Received datagrams in the current second, for the rate limit.
    let mut window = (Instant::now(), 0u32);
    loop {
        // The next announce due, no sooner than the send gap allows.
        let due = torrents
            .iter()
            .min_by_key(|(_, e)| e.next)
            .map(|(h, e)| (*h, e.next.max(last_send + SEND_GAP)));
        let sleep = async {
            match due {
                Some((_, at)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(Cmd::Register(h, peers)) => {
                    torrents.insert(h, Entry { peers, next: Instant::now() });
                }
                Some(Cmd::Unregister(h)) => {
                    torrents.remove(&h);
                }
            },
            () = sleep => {
                let Some((h, _)) = due else { continue };
                let msg = Announce { port, hashes: vec![h], cookie: Some(cookie.clone()) };
                if let Err(e) = socket.send_to(&msg.encode(), SocketAddr::from(LSD_GROUP)).await {
                    tracing::debug!("LSD announce failed: {e}");
                }
                last_send = Instant::now();
                if let Some(e) = torrents.get_mut(&h) {
                    e.next = last_send + ANNOUNCE_INTERVAL;
                }
            }
            r = socket.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                let now = Instant::now();
                if now.duration_since(window.0) >= Duration::from_secs(1) {
                    window = (now, 0);
                }
                window.1 += 1;
                if window.1 > MAX_RECEIVED_PER_SEC {
                    continue;
                }
                let Some(a) = Announce::decode(&buf[..n]) else { continue };
                if a.cookie.as_deref() == Some(cookie.as_str()) {
                    continue;
                }
                let peer = SocketAddr::new(from.ip(), a.port);
                for h in &a.hashes {
                    if let Some(e) = torrents.get(h) {
                        let _ = e.peers.try_send(vec![peer]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c9e15763f722f23e98a29decdfae341b98d53056";

    #[test]
    fn announce_round_trip() {
        let a = Announce {
            port: 6881,
            hashes: vec![HEX.parse().unwrap()],
            cookie: Some("abc".into()),
        };
        let bytes = a.encode();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            format!(
                "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n\
                 Infohash: {HEX}\r\ncookie: abc\r\n\r\n\r\n"
            )
        );
        assert_eq!(Announce::decode(&bytes), Some(a));
    }

    #[test]
    fn reads_what_other_clients_send() {
        // Header names in any case, extra headers, no cookie.
        let text = format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nport: 51413\r\n\
             INFOHASH: {}\r\nUser-Agent: x\r\n\r\n\r\n",
            HEX.to_uppercase()
        );
        let a = Announce::decode(text.as_bytes()).unwrap();
        assert_eq!(a.port, 51413);
        assert_eq!(a.hashes, vec![HEX.parse().unwrap()]);
        assert_eq!(a.cookie, None);
    }

    #[test]
    fn refuses_what_is_not_an_announce() {
        let ok = format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {HEX}\r\n\r\n");
        assert!(Announce::decode(ok.as_bytes()).is_some());
        for bad in [
            format!("M-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {HEX}\r\n\r\n"),
            format!("BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: {HEX}\r\n\r\n"),
            format!("BT-SEARCH * HTTP/1.1\r\nPort: x\r\nInfohash: {HEX}\r\n\r\n"),
            format!("BT-SEARCH * HTTP/1.1\r\nInfohash: {HEX}\r\n\r\n"),
            "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz\r\n\r\n".to_string(),
            "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nno colon\r\n\r\n".to_string(),
        ] {
            assert_eq!(Announce::decode(bad.as_bytes()), None, "{bad:?}");
        }
        let long = format!(
            "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: {HEX}\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_DATAGRAM)
        );
        assert_eq!(Announce::decode(long.as_bytes()), None);
        let many: String = (0..MAX_HASHES + 5)
            .map(|_| format!("Infohash: {HEX}\r\n"))
            .collect();
        let a =
            Announce::decode(format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n{many}\r\n").as_bytes())
                .unwrap();
        assert_eq!(a.hashes.len(), MAX_HASHES);
    }
}
