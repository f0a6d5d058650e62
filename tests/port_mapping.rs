//! Port mapping in the network lab: Shoal seeds behind a NAT router that
//! runs miniupnpd (tests/common/lab/upnp.rs), asks it to forward its port,
//! and a libtorrent host outside dials the router's address and downloads
//! from Shoal. The router's own rules show the mapping while Shoal runs,
//! its renewal with a short lease, and that it is gone once Shoal has
//! stopped (SIGTERM). Without the mapping the router drops the outside
//! host's connection (the lab's routers forward nothing by default).

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::lab::clients::{self, PORT};
use common::lab::upnp::{stun_responder, IgdOptions};
use common::lab::{Caps, Lab, Payload, ProcId, MIB};

/// One scenario at a time.
static SERIAL: Mutex<()> = Mutex::new(());
/// The most a step (a mapping, a renewal, a download) may take.
const STEP: Duration = Duration::from_secs(90);
/// The lease Shoal asks for: short, so that a renewal (at half of it)
/// comes within the test.
const LEASE_SECS: u64 = 20;

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// IP protocol numbers, as miniupnpd's rules name them.
const TCP: u8 = 6;
const UDP: u8 = 17;

/// `shoal seed` of `payload` on `host`, with port mapping on (the lab's
/// commands turn it off), a short lease, and the DHT on (so that its UDP
/// port, the listening port's number, is mapped too), joining through
/// `dht_node` (a lab host; nothing answers there, which does not matter).
fn shoal_seed_mapped(
    host: &common::lab::Host,
    payload: &Payload,
    dht_node: &common::lab::Host,
) -> Command {
    let cmd = clients::shoal_seed(host, payload, &[]);
    let mut out = Command::new(cmd.get_program());
    out.args(
        cmd.get_args()
            .filter(|a| *a != "--no-port-mapping" && *a != "--no-dht"),
    )
    .args(["--port-mapping-lease", &LEASE_SECS.to_string()])
    .args(["--dht-bootstrap", &format!("{}:{}", dht_node.ip, PORT + 1)]);
    out
}

/// Waits until `label`'s log on `host` holds a line with `needle`, and
/// returns that line; fails after [`STEP`].
fn wait_log(
    lab: &mut Lab,
    host: &common::lab::Host,
    id: ProcId,
    label: &str,
    needle: &str,
) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        let log = lab.log(host, label);
        if let Some(l) = log.lines().find(|l| l.contains(needle)) {
            return l.to_string();
        }
        assert!(
            lab.proc(id).running() && Instant::now() < deadline,
            "no {needle:?} in {label}'s log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scenario(opts: IgdOptions, expect_protocol: &[&str]) {
    let _serial = serial();
    let mut lab = Lab::new();
    let mut router = lab.router("router", Caps::none());
    let home = lab.home_host(&mut router, "home", Caps::none());
    let outside = lab.host("outside", Caps::none());
    let _stun = stun_responder(&outside);
    lab.miniupnpd(&router, &outside, opts);
    let payload = Payload::new(&lab, "mapped.bin", 4 * MIB, 256 * 1024, &[], 11);
    let wan = router.host.ip;
    let shoal = lab.spawn(&home, "seed", shoal_seed_mapped(&home, &payload, &outside));

    // Mapped, on the router's WAN address, by the expected protocol.
    let line = wait_log(&mut lab, &home, shoal, "seed", "connectable:");
    println!("{line}");
    let external = format!("{wan}:{PORT}");
    assert!(
        line.contains(&external),
        "mapped elsewhere than {external}: {line}"
    );
    assert!(
        expect_protocol
            .iter()
            .any(|p| line.contains(&format!("with {p} "))),
        "not mapped with {expect_protocol:?}: {line}"
    );
    assert!(
        line.contains("TCP and UDP"),
        "the DHT's UDP port is not mapped: {line}"
    );
    assert!(
        lab.igd_forwards(&router, UDP, PORT, home.ip),
        "the router has no rule forwarding UDP {PORT} to {}:\n{}",
        home.ip,
        lab.igd_rules(&router)
    );
    assert!(
        lab.igd_forwards(&router, TCP, PORT, home.ip),
        "the router has no rule forwarding {PORT} to {}:\n{}",
        home.ip,
        lab.igd_rules(&router)
    );

    // The outside host dials the router's address and downloads.
    let mut lt = clients::libtorrent(&outside, &payload.torrent_arg(), &outside.dir, false, false);
    lt.args(["--peer", &external]);
    lab.spawn(&outside, "libtorrent", lt);
    lab.watch(&outside, &payload);
    lab.run_until_done(STEP);

    // Renewed before the lease ran out, and still in place.
    let renewed = wait_log(&mut lab, &home, shoal, "seed", "port mapping renewed");
    println!("{renewed}");
    assert!(
        lab.igd_forwards(&router, TCP, PORT, home.ip),
        "the mapping is gone after its renewal:\n{}",
        lab.igd_rules(&router)
    );

    // Gone once Shoal has stopped.
    lab.proc(shoal).terminate();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lab.proc(shoal).running() {
        assert!(Instant::now() < deadline, "shoal did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !lab.igd_forwards(&router, TCP, PORT, home.ip)
            && !lab.igd_forwards(&router, UDP, PORT, home.ip),
        "the mapping outlived shoal:\n{}\nshoal's log:\n{}",
        lab.igd_rules(&router),
        lab.log(&home, "seed")
    );
    println!("{}", lab.log(&home, "seed"));
}

/// UPnP IGD maps the port (NAT-PMP and PCP are on too; UPnP is tried first).
#[test]
fn upnp_maps_renews_and_removes_the_port() {
    scenario(
        IgdOptions {
            upnp: true,
            natpmp: true,
            min_lifetime: 10,
        },
        &["UPnP"],
    );
}

/// With UPnP off on the router, PCP (miniupnpd answers it on the NAT-PMP
/// port) or NAT-PMP maps the port.
#[test]
fn pcp_or_natpmp_maps_when_upnp_is_off() {
    scenario(
        IgdOptions {
            upnp: false,
            natpmp: true,
            min_lifetime: 10,
        },
        &["PCP", "NAT-PMP"],
    );
}

/// Port mapping is off unless asked for, and never runs on a loopback
/// listening address even when asked for (the tests' sessions send
/// nothing to a router).
#[tokio::test]
async fn off_by_default_and_on_loopback() {
    use shoal::portmap::PortMapStatus;
    use shoal::session::{Session, SessionConfig};
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let plain = Session::new(SessionConfig {
        listen_addr: loopback,
        ..SessionConfig::default()
    })
    .await
    .expect("session");
    assert!(!SessionConfig::default().port_mapping);
    assert_eq!(plain.port_mapping(), PortMapStatus::Off);
    plain.shutdown().await;
    let asked = Session::new(SessionConfig {
        listen_addr: loopback,
        port_mapping: true,
        ..SessionConfig::default()
    })
    .await
    .expect("session");
    assert_eq!(asked.port_mapping(), PortMapStatus::Off);
    asked.shutdown().await;
}
