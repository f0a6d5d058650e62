//! The network lab: many hosts in Linux network namespaces, joined by one
//! "internet" bridge, with capped links, NAT routers and processes run
//! inside the hosts — where a client's behaviour among many peers is tested
//! and measured (ARCHITECTURE.md, "Network lab").
//!
//! A [`Lab`] is a guard. It owns every namespace, link, process and file it
//! makes, and removes them all when dropped, also while a test panics.
//! Everything is named `shl-<pid>-<lab>-<host>`, with the PID of the
//! creating process, so two labs of one test binary (cargo runs tests in
//! parallel threads) never clash, and [`Lab::new`] first sweeps away what a
//! killed run left: namespaces and folders whose creating process is gone,
//! after killing the processes still inside them.
//!
//! Topology: the namespace `<prefix>-inet` holds the bridge `br0`. Each
//! host is a namespace whose `eth0` is one end of a veth pair; the other
//! end (`v-<host>`) is a port of the bridge. The pair is made with both ends
//! created directly inside their namespaces, so nothing ever appears in the
//! root namespace. Public hosts get 10.77.0.x/16, which exists only inside
//! the lab; there is no uplink and no default route, so no packet can leave
//! it. A [`Router`] is a host with a WAN side on the internet bridge and a
//! LAN bridge of its own for home hosts in 192.168.n.0/24, masquerading
//! with nftables.
//!
//! Submodules: `proc` (processes run inside hosts, with their CPU and
//! memory), `clients` (the command lines of Shoal, libtorrent,
//! Transmission, aria2, rtorrent and opentracker on a lab host), `swarm`
//! (payloads, completion checks, per-host reports).
#![allow(dead_code, unused_imports)]

pub mod clients;
pub mod proc;
pub mod swarm;
pub mod upnp;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use proc::{LabProc, ProcId};
pub use swarm::{HostReport, Payload, Watch};

/// The prefix of every namespace and folder the lab makes.
pub const PREFIX: &str = "shl";
/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";
/// The lab's public network: 10.77.0.0/16.
const PUBLIC_NET: [u8; 2] = [10, 77];
/// Linux's limit on an interface name (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;
/// Labs made by this process so far, for unique names.
static LABS: AtomicUsize = AtomicUsize::new(0);

/// One mebibyte, the unit the caps are usually given in.
pub const MIB: u64 = 1 << 20;

/// Link caps of a host in bytes per second (`None`: the veth's own speed).
#[derive(Clone, Copy, Debug, Default)]
pub struct Caps {
    /// What the host sends at most (shaped on its own `eth0`).
    pub up: Option<u64>,
    /// What the host receives at most (shaped on the bridge's end).
    pub down: Option<u64>,
}

impl Caps {
    /// No caps.
    pub fn none() -> Caps {
        Caps::default()
    }

    /// Upload capped at `bytes` per second.
    pub fn up(bytes: u64) -> Caps {
        Caps {
            up: Some(bytes),
            down: None,
        }
    }

    /// Both directions capped.
    pub fn both(up: u64, down: u64) -> Caps {
        Caps {
            up: Some(up),
            down: Some(down),
        }
    }
}

/// A host: a network namespace with one interface, `eth0`.
#[derive(Clone, Debug)]
pub struct Host {
    /// Short name, for reports (at most 13 characters: `v-<name>` names
    /// its bridge port).
    pub name: String,
    /// Its namespace.
    pub ns: String,
    /// Its address (10.77.x.y public, 192.168.n.x behind a router).
    pub ip: Ipv4Addr,
    /// Its own folder under the lab's folder (downloads, logs, configs).
    pub dir: PathBuf,
    /// The interface whose counters are the host's traffic.
    pub iface: String,
}

/// A NAT router: a namespace with `wan` on the internet bridge and `br0`
/// for its home hosts.
#[derive(Clone, Debug)]
pub struct Router {
    /// The router itself, as a host (its `ip` is the WAN address), so
    /// processes such as a UPnP daemon can run in it.
    pub host: Host,
    /// The third octet of its LAN, 192.168.`lan`.0/24.
    pub lan: u8,
    /// Home hosts made so far, for their addresses.
    homes: u8,
}

impl Router {
    /// The WAN interface, the one masqueraded behind (for a UPnP daemon's
    /// config, `ext_ifname`).
    pub const WAN_IF: &'static str = "wan";
    /// The LAN bridge (for a UPnP daemon's config, `listening_ip`).
    pub const LAN_IF: &'static str = "br0";

    /// The router's LAN address, the home hosts' gateway.
    pub fn lan_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(192, 168, self.lan, 1)
    }
}

/// The lab guard. See the module documentation.
pub struct Lab {
    /// `shl-<pid>-<n>`: the prefix of this lab's namespaces.
    pub id: String,
    /// The namespace holding the internet bridge.
    inet: String,
    /// The lab's folder (`/tmp/shl-<pid>-<n>`), removed on drop.
    pub dir: PathBuf,
    /// Every namespace made, removed on drop (the bridge's last).
    namespaces: Vec<String>,
    /// Hosts made, for reports.
    pub hosts: Vec<Host>,
    /// Public addresses handed out so far.
    next_public: u16,
    /// Routers made so far, for their LAN numbers.
    routers: u8,
    /// Processes started, stopped on drop.
    pub procs: Vec<LabProc>,
    /// Downloads whose completion is watched.
    pub watches: Vec<Watch>,
    /// When the scenario's clock started (`start_clock`).
    pub t0: Instant,
}

impl Lab {
    /// A new, empty lab (only the internet bridge), after sweeping away
    /// what dead runs left behind. Panics when the machine cannot make one
    /// (not root, no `ip`): a lab test must fail, never skip.
    pub fn new() -> Lab {
        sweep();
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let id = format!("{PREFIX}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab folder");
        // Daemons that drop root (opentracker) must reach their folders.
        chmod(&dir, 0o755);
        let inet = format!("{id}-inet");
        let mut lab = Lab {
            id,
            inet: inet.clone(),
            dir,
            namespaces: Vec::new(),
            hosts: Vec::new(),
            next_public: 1,
            routers: 0,
            procs: Vec::new(),
            watches: Vec::new(),
            t0: Instant::now(),
        };
        lab.add_ns(&inet);
        ip_run(&["-n", &inet, "link", "add", "br0", "type", "bridge"]);
        ip_run(&["-n", &inet, "link", "set", "br0", "up"]);
        lab
    }

    /// A public host `name` with `caps`, on the internet bridge.
    pub fn host(&mut self, name: &str, caps: Caps) -> Host {
        let ip = self.next_public_ip();
        let inet = self.inet.clone();
        self.attach(name, &inet, ip, 16, None, caps)
    }

    /// A NAT router `name`: WAN on the internet bridge with a public
    /// address, a LAN bridge for home hosts, IPv4 forwarding on, and
    /// nftables masquerading whatever leaves by the WAN. New connections
    /// from the WAN to the LAN are dropped unless a port forward
    /// ([`Lab::port_forward`]) made them.
    pub fn router(&mut self, name: &str, caps: Caps) -> Router {
        self.routers += 1;
        let lan = self.routers;
        let wan_ip = self.next_public_ip();
        let inet = self.inet.clone();
        let host = self.attach(name, &inet, wan_ip, 16, Some(Router::WAN_IF), caps);
        let ns = host.ns.clone();
        ip_run(&["-n", &ns, "link", "add", Router::LAN_IF, "type", "bridge"]);
        let lan_addr = format!("192.168.{lan}.1/24");
        ip_run(&["-n", &ns, "addr", "add", &lan_addr, "dev", Router::LAN_IF]);
        ip_run(&["-n", &ns, "link", "set", Router::LAN_IF, "up"]);
        in_ns(&ns, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
        let rules = format!(
            "table ip nat {{\n\
             \tchain prerouting {{ type nat hook prerouting priority -100; }}\n\
             \tchain postrouting {{ type nat hook postrouting priority 100; \
             oifname \"{wan}\" masquerade; }}\n\
             }}\n\
             table ip filter {{\n\
             \tchain forward {{ type filter hook forward priority 0; policy accept;\n\
             \t\tiifname \"{wan}\" ct state established,related accept;\n\
             \t\tiifname \"{wan}\" ct status dnat accept;\n\
             \t\tiifname \"{wan}\" drop; }}\n\
             }}\n",
            wan = Router::WAN_IF
        );
        nft(&ns, &rules);
        Router {
            host,
            lan,
            homes: 1,
        }
    }

    /// A home host `name` behind `router`, its default route through it.
    pub fn home_host(&mut self, router: &mut Router, name: &str, caps: Caps) -> Host {
        router.homes += 1;
        let ip = Ipv4Addr::new(192, 168, router.lan, router.homes);
        let rns = router.host.ns.clone();
        let h = self.attach(name, &rns, ip, 24, None, caps);
        let gw = router.lan_ip().to_string();
        ip_cmd(&["-n", &h.ns, "route", "add", "default", "via", &gw]);
        h
    }

    /// Forwards `proto` (`tcp` or `udp`) port `wan_port` of the router's
    /// WAN address to `host`:`port` (a static port mapping, as a user would
    /// set one up by hand).
    pub fn port_forward(
        &self,
        router: &Router,
        proto: &str,
        wan_port: u16,
        host: &Host,
        port: u16,
    ) {
        let rule = format!(
            "add rule ip nat prerouting iifname \"{}\" {proto} dport {wan_port} dnat to {}:{port}\n",
            Router::WAN_IF,
            host.ip
        );
        nft(&router.host.ns, &rule);
    }

    /// Starts the scenario's clock: completion times count from here.
    pub fn start_clock(&mut self) {
        self.t0 = Instant::now();
    }

    /// Time since `start_clock`.
    pub fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Bytes `host` has sent and received on its interface so far: what
    /// went over its link, whatever the client (headers included).
    pub fn counters(&self, host: &Host) -> (u64, u64) {
        let out = ip_out(&["-n", &host.ns, "-s", "-j", "link", "show", &host.iface]);
        (
            json_u64(&out, "\"tx\"", "\"bytes\""),
            json_u64(&out, "\"rx\"", "\"bytes\""),
        )
    }

    /// Runs `f` on a thread inside `host`'s network namespace (to probe a
    /// lab address from the test itself) and returns its result.
    pub fn in_host<T: Send + 'static>(
        &self,
        host: &Host,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let path = Path::new(NETNS_DIR).join(&host.ns);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open the namespace");
            use std::os::fd::AsRawFd;
            // SAFETY: a valid namespace fd; setns only changes this thread,
            // which ends after `f`.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the thread in the namespace panicked")
    }

    /// Whether `from` can open a TCP connection to `to` (tried once, for
    /// at most two seconds).
    pub fn can_connect(&self, from: &Host, to: std::net::SocketAddr) -> bool {
        self.in_host(from, move || {
            std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2)).is_ok()
        })
    }

    /// Waits until something listens on TCP `host`:`port` (probed from
    /// inside the host), panicking after `limit`.
    pub fn wait_listening(&self, host: &Host, port: u16, limit: Duration) {
        let addr = std::net::SocketAddr::from((host.ip, port));
        let ok = self.in_host(host, move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        });
        assert!(
            ok,
            "nothing listened on {addr} ({}) within {limit:?}",
            host.name
        );
    }

    fn next_public_ip(&mut self) -> Ipv4Addr {
        let n = self.next_public;
        self.next_public += 1;
        assert!(n < 0xfffe, "the lab's /16 is full");
        Ipv4Addr::new(
            PUBLIC_NET[0],
            PUBLIC_NET[1],
            (n >> 8) as u8,
            (n & 0xff) as u8,
        )
    }

    /// Makes host `name`: its namespace, a veth pair with `eth0` (or
    /// `ifname`) inside it and `v-<name>` as a port of `br0` in `parent`,
    /// its address and caps, `lo` up.
    fn attach(
        &mut self,
        name: &str,
        parent: &str,
        ip: Ipv4Addr,
        prefix_len: u8,
        ifname: Option<&str>,
        caps: Caps,
    ) -> Host {
        let port = format!("v-{name}");
        assert!(port.len() <= IFNAME_MAX, "host name {name:?} is too long");
        assert!(
            !self.hosts.iter().any(|h| h.name == name),
            "two hosts named {name}"
        );
        let ns = format!("{}-{name}", self.id);
        self.add_ns(&ns);
        let iface = ifname.unwrap_or("eth0").to_string();
        ip_run(&[
            "link", "add", &port, "netns", parent, "type", "veth", "peer", "name", &iface, "netns",
            &ns,
        ]);
        ip_run(&["-n", parent, "link", "set", &port, "master", "br0"]);
        ip_run(&["-n", parent, "link", "set", &port, "up"]);
        let cidr = format!("{ip}/{prefix_len}");
        ip_run(&["-n", &ns, "addr", "add", &cidr, "dev", &iface]);
        ip_run(&["-n", &ns, "link", "set", &iface, "up"]);
        if let Some(up) = caps.up {
            shape(&ns, &iface, up);
        }
        if let Some(down) = caps.down {
            shape(parent, &port, down);
        }
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).expect("host folder");
        chmod(&dir, 0o755);
        let host = Host {
            name: name.to_string(),
            ns,
            ip,
            dir,
            iface,
        };
        self.hosts.push(host.clone());
        host
    }

    /// Adds namespace `ns` (recorded first, so a failure half-way still
    /// removes it) with `lo` up.
    fn add_ns(&mut self, ns: &str) {
        self.namespaces.push(ns.to_string());
        ip_run(&["netns", "add", ns]);
        ip_run(&["-n", ns, "link", "set", "lo", "up"]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        proc::stop_all(&mut self.procs);
        // Hosts first, the bridge's namespace last: deleting a namespace
        // deletes its veth ends, and with them their peers.
        for ns in self.namespaces.iter().rev() {
            remove_ns(ns);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the namespaces and folders of labs whose creating process is
/// gone, killing whatever still runs inside them.
pub fn sweep() {
    if let Ok(rd) = std::fs::read_dir(NETNS_DIR) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if owner_dead(&name) {
                remove_ns(&name);
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if owner_dead(&name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Whether `name` is a lab name (`shl-<pid>-...`) whose process is gone.
fn owner_dead(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills every process inside `ns` (by the PIDs `ip netns pids` lists),
/// then deletes it.
fn remove_ns(ns: &str) {
    for _ in 0..3 {
        let pids = ip_out(&["netns", "pids", ns]);
        let pids: Vec<i32> = pids
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            // SAFETY: a plain kill(2) of a process inside our namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A tbf qdisc capping `dev`'s egress in `ns` at `bytes_per_sec`.
fn shape(ns: &str, dev: &str, bytes_per_sec: u64) {
    let rate = format!("{}bit", bytes_per_sec * 8);
    // A burst of ~20 ms at the rate (at least a few full frames) and a
    // queue of ~100 ms: TCP sees a link of that speed, not a policer.
    let burst = (bytes_per_sec / 50).max(16 * 1024).to_string();
    let limit = (bytes_per_sec / 10).max(64 * 1024).to_string();
    run(Command::new("tc").args([
        "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate", &rate, "burst", &burst,
        "limit", &limit,
    ]));
}

/// Loads nftables `rules` in `ns`.
pub fn nft(ns: &str, rules: &str) {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nft must be installed (scripts/setup.sh)");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(rules.as_bytes())
        .expect("write nft rules");
    let st = child.wait().expect("nft");
    assert!(st.success(), "nft failed in {ns} on:\n{rules}");
}

/// Runs `cmd ...` inside `ns`, which must succeed.
pub fn in_ns(ns: &str, cmd: &[&str]) {
    run(Command::new("ip").args(["netns", "exec", ns]).args(cmd));
}

fn ip_run(args: &[&str]) {
    run(Command::new("ip").args(args));
}

/// `ip` for a step that may race with the kernel (a route on a link that
/// just came up): retried briefly.
fn ip_cmd(args: &[&str]) {
    for _ in 0..20 {
        if Command::new("ip")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ip_run(args);
}

fn ip_out(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("iproute2 must be installed (scripts/setup.sh)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; run scripts/setup.sh"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The number after `key` in the object after `section` of `ip -j`
/// output (enough JSON for `"stats64":{"rx":{"bytes":N,...`).
fn json_u64(json: &str, section: &str, key: &str) -> u64 {
    let Some(s) = json.find(section) else {
        return 0;
    };
    let rest = &json[s..];
    let Some(k) = rest.find(key) else {
        return 0;
    };
    rest[k + key.len()..]
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}
