//! The command lines of the clients a lab host can run: Shoal (`shoal
//! seed`, `shoal download`), libtorrent (tests/support/lt_peer.py under
//! Debian's python3), Transmission 3.00 (`transmission-cli`), aria2c,
//! rtorrent and opentracker. Each binds the host's own lab address and
//! has every way of reaching beyond the lab switched off (DHT, LSD, UPnP,
//! NAT-PMP). Rates are capped by the lab's links, not by the clients
//! (libtorrent exempts peers on a local network from its own limits).
//!
//! These build a [`Command`]; [`super::Lab::spawn`] runs it in the host.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Host, Lab, Payload};

/// The port every client listens on (each host has its own address).
pub const PORT: u16 = 6881;
/// The tracker's port, HTTP and UDP.
pub const TRACKER_PORT: u16 = 6969;

/// The `shoal` binary of this build (release for benches, debug for tests).
pub fn shoal_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shoal"))
}

/// `shoal seed` of `payload` (read from its source folder) on `host`.
pub fn shoal_seed(host: &Host, payload: &Payload, peers: &[SocketAddr]) -> Command {
    shoal_seed_on(host, payload, peers, PORT)
}

/// [`shoal_seed`] listening on `port` (a second process on one host).
pub fn shoal_seed_on(host: &Host, payload: &Payload, peers: &[SocketAddr], port: u16) -> Command {
    let mut cmd = Command::new(shoal_bin());
    cmd.arg("seed").arg(&payload.torrent).arg(&payload.dir);
    net_args(&mut cmd, host, peers, port);
    cmd
}

/// `shoal download` of `source` (a .torrent path or a magnet link) into
/// the host's folder; with `stay` it keeps seeding once complete.
pub fn shoal_download(host: &Host, source: &str, peers: &[SocketAddr], stay: bool) -> Command {
    shoal_download_on(host, source, peers, stay, PORT)
}

/// [`shoal_download`] listening on `port` (a second process on one host).
pub fn shoal_download_on(
    host: &Host,
    source: &str,
    peers: &[SocketAddr],
    stay: bool,
    port: u16,
) -> Command {
    let mut cmd = Command::new(shoal_bin());
    cmd.arg("download").arg(source).arg("-o").arg(&host.dir);
    net_args(&mut cmd, host, peers, port);
    if stay {
        cmd.arg("--seed");
    }
    cmd
}

/// Shoal's network options in the lab: the host's address, no DHT, and no
/// local peer discovery (a scenario names the peers it means to test; the
/// LSD test turns it back on with [`with_lsd`]).
fn net_args(cmd: &mut Command, host: &Host, peers: &[SocketAddr], port: u16) {
    cmd.args([
        "--bind",
        &host.ip.to_string(),
        "--port",
        &port.to_string(),
        "--no-dht",
        "--no-port-mapping",
        "--no-lsd",
    ]);
    for p in peers {
        cmd.args(["--peer", &p.to_string()]);
    }
}

/// A libtorrent peer on `host`: a seeder of `payload` (`seed`), or a
/// downloader of `source` into the host's folder that stays after
/// completing (`stay`).
pub fn libtorrent(host: &Host, source: &str, save: &Path, seed: bool, stay: bool) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_peer.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script)
        .arg(source)
        .arg("--save")
        .arg(save)
        .args([
            "--port",
            &PORT.to_string(),
            "--listen",
            &host.ip.to_string(),
        ])
        .args(["--timeout", "3600"]);
    if seed {
        cmd.arg("--seed");
    }
    if stay || seed {
        cmd.arg("--stay");
    }
    cmd
}

/// A libtorrent seeder of `payload` on `host`.
pub fn libtorrent_seed(host: &Host, payload: &Payload) -> Command {
    let torrent = payload.torrent.to_string_lossy().into_owned();
    libtorrent(host, &torrent, &payload.dir, true, true)
}

/// Transmission 3.00 (`transmission-cli`) on `host` with `torrent`, its
/// data in `dir` (a seeder when the data is there: it verifies, then
/// seeds). Its settings live in the host's folder.
pub fn transmission(host: &Host, torrent: &Path, dir: &Path) -> Command {
    let config = host.dir.join("transmission");
    std::fs::create_dir_all(&config).expect("transmission config folder");
    let settings = format!(
        "{{\n  \"dht-enabled\": false,\n  \"lpd-enabled\": false,\n  \"pex-enabled\": true,\n  \
         \"utp-enabled\": false,\n  \"port-forwarding-enabled\": false,\n  \"encryption\": 0,\n  \
         \"ratio-limit-enabled\": false,\n  \"speed-limit-up-enabled\": false,\n  \
         \"speed-limit-down-enabled\": false,\n  \"peer-port\": {PORT},\n  \
         \"bind-address-ipv4\": \"{}\"\n}}\n",
        host.ip
    );
    std::fs::write(config.join("settings.json"), settings).expect("settings.json");
    let mut cmd = Command::new("transmission-cli");
    cmd.arg("-g")
        .arg(&config)
        .arg("-w")
        .arg(dir)
        .args(["-p", &PORT.to_string(), "-M", "-et"])
        .arg(torrent);
    cmd
}

/// aria2c on `host` with `torrent`, data in `dir`; as a seed it checks the
/// data first, then seeds until stopped. DHT, LSD and PEX off.
pub fn aria2(host: &Host, torrent: &Path, dir: &Path, seed: bool) -> Command {
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--bt-require-crypto=false",
        "--seed-ratio=0.0",
        "--file-allocation=none",
        "--summary-interval=0",
        "--console-log-level=warn",
        "--bt-tracker-connect-timeout=3",
        "--bt-tracker-timeout=3",
    ])
    .arg(format!("--listen-port={PORT}"))
    .arg(format!("--interface={}", host.ip))
    .arg(format!("--dir={}", dir.display()));
    if seed {
        cmd.args(["--check-integrity=true", "--bt-seed-unverified=false"]);
    }
    cmd.arg(torrent);
    cmd
}

/// rtorrent (headless, in its daemon mode) on `host` seeding or
/// downloading `torrent` in `dir`, its session in the host's folder.
pub fn rtorrent(host: &Host, torrent: &Path, dir: &Path) -> Command {
    let session = host.dir.join("rtorrent-session");
    std::fs::create_dir_all(&session).expect("rtorrent session folder");
    let rc = host.dir.join("rtorrent.rc");
    let conf = format!(
        "directory.default.set = {dir}\n\
         session.path.set = {session}\n\
         network.port_range.set = {PORT}-{PORT}\n\
         network.port_random.set = no\n\
         network.bind_address.set = {ip}\n\
         network.local_address.set = {ip}\n\
         dht.mode.set = disable\n\
         protocol.pex.set = no\n\
         trackers.use_udp.set = no\n\
         pieces.hash.on_completion.set = no\n\
         system.daemon.set = true\n\
         load.start_verbose = {torrent}\n",
        dir = dir.display(),
        session = session.display(),
        ip = host.ip,
        torrent = torrent.display(),
    );
    std::fs::write(&rc, conf).expect("rtorrent.rc");
    let mut cmd = Command::new("rtorrent");
    cmd.arg("-n")
        .arg("-o")
        .arg(format!("import={}", rc.display()));
    cmd
}

/// Debian's opentracker on `host`, serving only `payloads`. It chroots
/// into its `-d` folder (the host's folder) and reads the whitelist from
/// there; [`wait_tracker`] waits until it serves.
pub fn opentracker(host: &Host, payloads: &[&Payload]) -> Command {
    let list: String = payloads
        .iter()
        .map(|p| format!("{}\n", p.meta.info_hash.to_hex()))
        .collect();
    std::fs::write(host.dir.join("whitelist"), list).expect("whitelist");
    let mut cmd = Command::new("opentracker");
    cmd.args(["-i", &host.ip.to_string()])
        .args([
            "-p",
            &TRACKER_PORT.to_string(),
            "-P",
            &TRACKER_PORT.to_string(),
        ])
        .arg("-d")
        .arg(&host.dir)
        .args(["-w", "whitelist"]);
    cmd
}

/// The announce URL of an opentracker on `host`.
pub fn tracker_url(host: &Host) -> String {
    format!("http://{}:{TRACKER_PORT}/announce", host.ip)
}

/// Waits until the tracker on `host` serves `payload` (it listens before
/// it has read its whitelist and refuses every hash until then). Asks
/// with a `stopped` announce, which adds no peer.
pub fn wait_tracker(lab: &Lab, host: &Host, payload: &Payload, limit: Duration) {
    use std::io::{Read, Write};
    let encoded: String = payload
        .meta
        .info_hash
        .0
        .iter()
        .map(|b| format!("%{b:02x}"))
        .collect();
    let addr = SocketAddr::from((host.ip, TRACKER_PORT));
    let ok = lab.in_host(host, move || {
        let request = format!(
            "GET /announce?info_hash={encoded}&peer_id=-PROBE-0000000000000&port=1\
             &uploaded=0&downloaded=0&left=0&compact=1&event=stopped HTTP/1.0\r\n\r\n"
        );
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(mut c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut resp = Vec::new();
                if c.write_all(request.as_bytes()).is_ok()
                    && c.read_to_end(&mut resp).is_ok()
                    && resp.windows(8).any(|w| w == b"interval")
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    });
    assert!(
        ok,
        "the tracker on {} did not serve within {limit:?}",
        host.name
    );
}

/// `host`:[`PORT`], where its client listens.
pub fn addr(host: &Host) -> SocketAddr {
    SocketAddr::from((host.ip, PORT))
}

/// How many peers, complete or not, the tracker on `host` knows for
/// `payload`, from a scrape (0 when it does not answer). Complete alone
/// would not do: a client that announces before checking its data
/// (Transmission) stays "incomplete" until its next announce.
pub fn scrape_peers(lab: &Lab, host: &Host, payload: &Payload) -> u64 {
    use std::io::{Read, Write};
    let encoded: String = payload
        .meta
        .info_hash
        .0
        .iter()
        .map(|b| format!("%{b:02x}"))
        .collect();
    let addr = SocketAddr::from((host.ip, TRACKER_PORT));
    lab.in_host(host, move || {
        let Ok(mut c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
            return 0;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!("GET /scrape?info_hash={encoded} HTTP/1.0\r\n\r\n");
        let mut resp = Vec::new();
        if c.write_all(request.as_bytes()).is_err() || c.read_to_end(&mut resp).is_err() {
            return 0;
        }
        let count = |key: &[u8]| -> u64 {
            resp.windows(key.len())
                .position(|w| w == key)
                .and_then(|i| {
                    let digits: String = resp[i + key.len()..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .map(|&b| b as char)
                        .collect();
                    digits.parse().ok()
                })
                .unwrap_or(0)
        };
        count(b"8:completei") + count(b"10:incompletei")
    })
}

/// Starts opentracker on a new host `tracker` serving the payload that
/// `payload_for` makes (given the tracker's URL), and waits until it serves
/// it.
pub fn tracked(
    lab: &mut Lab,
    payload_for: impl FnOnce(&Lab, String) -> Payload,
) -> (Host, Payload) {
    let t = lab.host("tracker", super::Caps::none());
    let payload = payload_for(lab, tracker_url(&t));
    lab.spawn(&t, "opentracker", opentracker(&t, &[&payload]));
    wait_tracker(lab, &t, &payload, Duration::from_secs(30));
    (t, payload)
}

/// A Shoal command of this module with local peer discovery back on.
pub fn with_lsd(cmd: Command) -> Command {
    let mut out = Command::new(cmd.get_program());
    out.args(cmd.get_args().filter(|a| *a != "--no-lsd"));
    out
}
