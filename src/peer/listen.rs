//! The session's listening TCP sockets: the configured address and, when
//! IPv6 is on, its IPv6 counterpart on the same port.
//!
//! The IPv6 socket is IPv6-only (`IPV6_V6ONLY`), so it never competes with
//! the IPv4 socket for IPv4 peers and both can hold the same port. The
//! counterpart of `0.0.0.0` is `[::]` and that of `127.0.0.1` is `[::1]`
//! (a session kept on loopback stays on loopback in both families); another
//! IPv4 address has none. A listening address that is IPv6 already is
//! bound alone, as the system makes it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};

/// How many times a free port (port 0) is picked again when the IPv6
/// socket cannot have the port the system gave the IPv4 one.
const PORT_PICKS: usize = 8;
/// Connections waiting in the kernel's queue per socket, as the standard
/// library asks for.
const BACKLOG: i32 = 1024;

/// The listening sockets of a session.
#[derive(Debug)]
pub struct Listeners {
    /// The socket on the configured address.
    main: TcpListener,
    /// The IPv6-only socket on the counterpart address, same port.
    v6: Option<TcpListener>,
}

impl Listeners {
    /// Binds `addr` and, with `ipv6`, its IPv6 counterpart on the same
    /// port. A counterpart that cannot be bound on a port given by
    /// number (another program holds it, or the machine has no IPv6) is
    /// left out with a warning: peers still reach us over IPv4.
    pub async fn bind(addr: SocketAddr, ipv6: bool) -> io::Result<Listeners> {
        let other = if ipv6 { counterpart(addr.ip()) } else { None };
        let Some(v6_ip) = other else {
            return Ok(Listeners {
                main: TcpListener::bind(addr).await?,
                v6: None,
            });
        };
        let mut tries = 0;
        loop {
            tries += 1;
            let main = TcpListener::bind(addr).await?;
            let port = main.local_addr()?.port();
            match bind_v6_only(SocketAddr::new(v6_ip, port)) {
                Ok(v6) => return Ok(Listeners { main, v6: Some(v6) }),
                // The port the system picked for IPv4 is taken on IPv6:
                // pick another pair.
                Err(e)
                    if addr.port() == 0
                        && e.kind() == io::ErrorKind::AddrInUse
                        && tries < PORT_PICKS => {}
                Err(e) => {
                    tracing::warn!("not listening on [{v6_ip}]:{port}: {e}");
                    return Ok(Listeners { main, v6: None });
                }
            }
        }
    }

    /// The addresses we listen on, the configured one first.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        let mut out = vec![self.main.local_addr()?];
        if let Some(v6) = &self.v6 {
            out.push(v6.local_addr()?);
        }
        Ok(out)
    }

    /// The next connection on either socket.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        match &self.v6 {
            None => self.main.accept().await,
            Some(v6) => tokio::select! {
                r = self.main.accept() => r,
                r = v6.accept() => r,
            },
        }
    }
}

impl Listeners {
    /// The IPv6 address to name to trackers (BEP 7 `ipv6=`): the one we
    /// listen on if it is global, or, listening on `[::]`, the first
    /// global unicast address of the machine's interfaces. `None` on
    /// loopback and where the machine has no global IPv6 address.
    pub fn announce_ipv6(&self) -> Option<Ipv6Addr> {
        let ip = self
            .local_addrs()
            .ok()?
            .into_iter()
            .find_map(|a| match a.ip() {
                IpAddr::V6(v6) => Some(v6),
                IpAddr::V4(_) => None,
            })?;
        if ip.is_unspecified() {
            interface_ipv6().into_iter().find(|a| is_global_unicast(*a))
        } else {
            Some(ip).filter(|a| is_global_unicast(*a))
        }
    }
}

/// Whether `ip` is in 2000::/3, the global unicast block (no loopback,
/// link-local, unique-local, mapped or documentation address).
fn is_global_unicast(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8;
    first & 0xe000 == 0x2000 && !documentation
}

/// The IPv6 addresses of the machine's interfaces, read from the kernel
/// (nothing is sent anywhere).
fn interface_ipv6() -> Vec<Ipv6Addr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet
        // freed; `ifa_addr` is null or points at a sockaddr whose family
        // tells its type, and AF_INET6 means a sockaddr_in6.
        unsafe {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET6 {
                let sin6 = &*(addr as *const libc::sockaddr_in6);
                out.push(Ipv6Addr::from(sin6.sin6_addr.s6_addr));
            }
            cur = (*cur).ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The IPv6 address that goes with an IPv4 listening address.
fn counterpart(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Some(Ipv6Addr::UNSPECIFIED.into()),
        IpAddr::V4(v4) if v4 == Ipv4Addr::LOCALHOST => Some(Ipv6Addr::LOCALHOST.into()),
        _ => None,
    }
}

/// A listening IPv6-only socket, with the address reuse the standard
/// library's listeners have (a restarted session gets its port back while
/// old connections linger in TIME_WAIT).
fn bind_v6_only(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_only_v6(true)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_listens_on_both_loopbacks_with_one_port() {
        let l = Listeners::bind("127.0.0.1:0".parse().unwrap(), true)
            .await
            .unwrap();
        let addrs = l.local_addrs().unwrap();
        assert_eq!(addrs.len(), 2);
        assert_eq!(addrs[0].ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
        assert_eq!(addrs[1].ip(), IpAddr::from(Ipv6Addr::LOCALHOST));
        assert_eq!(addrs[0].port(), addrs[1].port());
        for a in addrs {
            let dial = tokio::spawn(async move { TcpStream::connect(a).await });
            let (_s, from) = l.accept().await.unwrap();
            assert_eq!(from.is_ipv6(), a.is_ipv6());
            dial.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn without_ipv6_one_socket() {
        let l = Listeners::bind("127.0.0.1:0".parse().unwrap(), false)
            .await
            .unwrap();
        assert_eq!(l.local_addrs().unwrap().len(), 1);
    }

    #[test]
    fn only_global_unicast_addresses_are_announced() {
        let g = |t: &str| is_global_unicast(t.parse().unwrap());
        assert!(g("2a01:4f8::1"));
        for local in [
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:1.2.3.4",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!g(local), "{local}");
        }
        // The machine's own list is read without error (whatever it holds).
        let _ = interface_ipv6();
    }

    #[tokio::test]
    async fn a_loopback_session_names_no_ipv6_address_to_trackers() {
        let l = Listeners::bind("127.0.0.1:0".parse().unwrap(), true)
            .await
            .unwrap();
        assert_eq!(l.announce_ipv6(), None);
    }

    #[test]
    fn counterparts() {
        assert_eq!(
            counterpart("0.0.0.0".parse().unwrap()),
            Some("::".parse().unwrap())
        );
        assert_eq!(
            counterpart("127.0.0.1".parse().unwrap()),
            Some("::1".parse().unwrap())
        );
        assert_eq!(counterpart("10.0.0.1".parse().unwrap()), None);
        assert_eq!(counterpart("::1".parse().unwrap()), None);
    }
}
