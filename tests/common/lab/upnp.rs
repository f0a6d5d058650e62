//! A UPnP IGD / NAT-PMP / PCP router in the lab: miniupnpd (nftables
//! backend) in a router's namespace, and the small STUN responder it
//! needs outside.
//!
//! miniupnpd refuses to map ports when the WAN address is private (every
//! lab address is) unless a STUN check says that the router is reachable
//! from outside as it is. The responder answers each binding request with
//! the address it came from, which is the truth in the lab: nothing
//! translates the router's own packets. miniupnpd's rules live in a table
//! of their own (`inet miniupnpd`), removed with the router's namespace;
//! the daemon is started and stopped by PID with the lab's processes.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{nft, Host, Lab, ProcId, Router, NETNS_DIR};

/// The UDP port of the STUN responder.
pub const STUN_PORT: u16 = 3478;
/// miniupnpd's HTTP (SOAP) port on the router's LAN side.
pub const HTTP_PORT: u16 = 5000;

/// What the router offers.
#[derive(Clone, Copy, Debug)]
pub struct IgdOptions {
    /// UPnP IGD on (SSDP and SOAP).
    pub upnp: bool,
    /// NAT-PMP and PCP on.
    pub natpmp: bool,
    /// Least lease granted by NAT-PMP / PCP, seconds.
    pub min_lifetime: u32,
}

/// A STUN responder on a host, stopped (and its thread joined) on drop.
pub struct Stun {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Stun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers STUN binding requests on `host`:[`STUN_PORT`] with a
/// MAPPED-ADDRESS holding the request's source, until dropped.
pub fn stun_responder(host: &Host) -> Stun {
    let path = Path::new(NETNS_DIR).join(&host.ns);
    let ip = host.ip;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        use std::os::fd::AsRawFd;
        // SAFETY: a valid namespace fd; setns only changes this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let sock = UdpSocket::bind((ip, STUN_PORT)).expect("bind the STUN port");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        let _ = ready_tx.send(());
        let mut buf = [0u8; 1500];
        while !flag.load(Ordering::SeqCst) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if n < 20 || buf[0] != 0 || buf[1] != 1 {
                continue;
            }
            let SocketAddr::V4(from4) = from else {
                continue;
            };
            let mut out = Vec::with_capacity(32);
            out.extend_from_slice(&[0x01, 0x01, 0, 12]);
            // Magic cookie and transaction id, as received.
            out.extend_from_slice(&buf[4..20]);
            out.extend_from_slice(&[0x00, 0x01, 0, 8, 0, 1]);
            out.extend_from_slice(&from4.port().to_be_bytes());
            out.extend_from_slice(&from4.ip().octets());
            let _ = sock.send_to(&out, from);
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the STUN responder did not start");
    Stun {
        stop,
        thread: Some(thread),
    }
}

impl Lab {
    /// Starts miniupnpd on `router` (WAN side `wan`, LAN side `br0`,
    /// secure mode, the LAN's range allowed), its STUN check answered by
    /// `stun` (a host outside running [`stun_responder`]). Waits until it
    /// says port forwarding is enabled.
    pub fn miniupnpd(&mut self, router: &Router, stun: &Host, opts: IgdOptions) -> ProcId {
        let host = &router.host;
        nft(
            &host.ns,
            "table inet miniupnpd {\n\
             \tchain forward { type filter hook forward priority 0; policy accept; jump forward_upnp; }\n\
             \tchain forward_upnp { }\n\
             \tchain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_upnp; }\n\
             \tchain prerouting_upnp { }\n\
             \tchain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_upnp; }\n\
             \tchain postrouting_upnp { }\n\
             }\n",
        );
        let yes = |b: bool| if b { "yes" } else { "no" };
        let conf = format!(
            "ext_ifname={wan}\n\
             listening_ip={lan}\n\
             port={HTTP_PORT}\n\
             enable_upnp={upnp}\n\
             enable_natpmp={pmp}\n\
             secure_mode=yes\n\
             system_uptime=yes\n\
             uuid=6a1c3a52-0d3e-4f0b-9b0e-5d1e0c2a7f11\n\
             min_lifetime={min}\n\
             ext_perform_stun=yes\n\
             ext_stun_host={stun_ip}\n\
             ext_stun_port={STUN_PORT}\n\
             upnp_table_name=miniupnpd\n\
             upnp_nat_table_name=miniupnpd\n\
             upnp_forward_chain=forward_upnp\n\
             upnp_nat_chain=prerouting_upnp\n\
             upnp_nat_postrouting_chain=postrouting_upnp\n\
             allow 1024-65535 192.168.{net}.0/24 1024-65535\n\
             deny 0-65535 0.0.0.0/0 0-65535\n",
            wan = Router::WAN_IF,
            lan = Router::LAN_IF,
            upnp = yes(opts.upnp),
            pmp = yes(opts.natpmp),
            min = opts.min_lifetime,
            stun_ip = stun.ip,
            net = router.lan,
        );
        let path = host.dir.join("miniupnpd.conf");
        std::fs::write(&path, conf).expect("write miniupnpd.conf");
        let mut cmd = Command::new("miniupnpd");
        cmd.arg("-d")
            .arg("-f")
            .arg(&path)
            .arg("-P")
            .arg(host.dir.join("miniupnpd.pid"));
        let id = self.spawn(host, "miniupnpd", cmd);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log(host, "miniupnpd");
            if log.contains("Port forwarding is now enabled") {
                break;
            }
            assert!(
                self.proc(id).running() && Instant::now() < deadline,
                "miniupnpd did not enable port forwarding:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        id
    }

    /// miniupnpd's rules on `router` (its nftables table), as text.
    pub fn igd_rules(&self, router: &Router) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &router.host.ns])
            .args(["nft", "list", "table", "inet", "miniupnpd"])
            .output()
            .expect("nft");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether miniupnpd's rules forward `port` of the router's WAN
    /// address to `to`, for IP protocol `proto` (6 TCP, 17 UDP): its dnat
    /// rules read `@nh,72,8 0x6 th dport P dnat ip to A:P`.
    pub fn igd_forwards(&self, router: &Router, proto: u8, port: u16, to: Ipv4Addr) -> bool {
        let rules = self.igd_rules(router);
        rules.lines().any(|l| {
            l.contains(&format!("@nh,72,8 {proto:#x} "))
                && l.contains(&format!("dport {port} "))
                && l.contains(&format!("dnat ip to {to}:"))
        })
    }
}
