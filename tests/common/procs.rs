//! Real peers started by the tests — libtorrent (through
//! tests/support/lt_peer.py), Transmission and aria2 — each owned by a guard
//! that stops the process it started, by PID, when dropped.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dht::LtPeer;

/// A free TCP port on 127.0.0.1 (the OS picks it; there is a small window
/// before the caller binds it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A child process stopped on drop: SIGTERM, then SIGKILL after a grace
/// period.
pub struct Proc {
    /// What it is, for messages.
    pub name: String,
    child: Child,
}

impl Proc {
    /// Starts `cmd`, which must exist: a missing tool fails the test.
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}; run `make setup`"));
        Proc {
            name: name.to_string(),
            child,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Takes its stdout.
    pub fn stdout(&mut self) -> std::process::ChildStdout {
        self.child.stdout.take().expect("stdout piped")
    }

    /// Takes its stdin.
    pub fn stdin(&mut self) -> std::process::ChildStdin {
        self.child.stdin.take().expect("stdin piped")
    }

    /// Takes its stderr.
    pub fn stderr(&mut self) -> std::process::ChildStderr {
        self.child.stderr.take().expect("stderr piped")
    }

    /// Kills it with SIGKILL, as a crash or the OOM killer would, and
    /// waits for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it and waits for it.
    pub fn stop(&mut self) {
        if self.running() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !self.running() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `limit`
/// saying what it waited for.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A libtorrent peer (python3-libtorrent from Debian, run with
/// /usr/bin/python3, which is where Debian installs the module): the
/// process of `super::dht::LtPeer`, started from options.
pub struct Libtorrent {
    peer: LtPeer,
}

/// How to run a libtorrent peer.
#[derive(Default)]
pub struct LtOptions {
    /// Peers to dial.
    pub peers: Vec<SocketAddr>,
    /// Start as a seed (the data is in the save folder).
    pub seed: bool,
    /// Keep running after the download completes.
    pub stay: bool,
    /// DHT bootstrap nodes (DHT stays off without them).
    pub dht_bootstrap: Vec<SocketAddr>,
    /// Bytes per second it sends at most.
    pub upload_limit: Option<u64>,
    /// Print why each peer disconnected.
    pub report_peers: bool,
    /// Unchoke nobody, loopback peers included.
    pub unchoke_nobody: bool,
    /// libtorrent settings, `name=value` (an integer, true or false), set
    /// after the script's own.
    pub settings: Vec<String>,
    /// Addresses to listen on instead of 127.0.0.1 (such as `::1`).
    pub listen: Vec<IpAddr>,
    /// libtorrent's encryption policy both ways (`forced`, `enabled`,
    /// `disabled`) and allowed level (`rc4`, `plaintext`, `both`); its
    /// defaults (enabled, both) when `None`.
    pub encryption: Option<(&'static str, &'static str)>,
}

impl Libtorrent {
    /// Starts a libtorrent peer on `source` (a .torrent path or a magnet).
    pub fn start(source: &str, save: &Path, opts: LtOptions) -> Libtorrent {
        let mut args = Vec::new();
        for p in &opts.peers {
            args.extend(["--peer".to_string(), p.to_string()]);
        }
        for p in &opts.dht_bootstrap {
            args.extend(["--dht-bootstrap".to_string(), p.to_string()]);
        }
        if opts.seed {
            args.push("--seed".into());
        }
        if opts.stay {
            args.push("--stay".into());
        }
        if opts.report_peers {
            args.push("--report-peers".into());
        }
        if let Some(l) = opts.upload_limit {
            args.extend(["--upload-limit".to_string(), l.to_string()]);
        }
        if opts.unchoke_nobody {
            args.push("--unchoke-nobody".into());
        }
        for s in &opts.settings {
            args.extend(["--set".to_string(), s.clone()]);
        }
        if !opts.listen.is_empty() {
            let list: Vec<String> = opts.listen.iter().map(|a| a.to_string()).collect();
            args.extend(["--listen".to_string(), list.join(",")]);
        }
        if let Some((policy, level)) = opts.encryption {
            args.extend([
                "--enc-policy".to_string(),
                policy.to_string(),
                "--enc-level".to_string(),
                level.to_string(),
            ]);
        }
        Libtorrent {
            peer: LtPeer::start(Path::new(source), save, free_port(), &args),
        }
    }

    /// A libtorrent seeder of `torrent` with its content in `save`, sending
    /// at most `upload_limit` bytes per second, once it listens. Waits on a
    /// blocking thread, so async tests can await it.
    pub async fn seeding(torrent: &Path, save: &Path, upload_limit: Option<u64>) -> Libtorrent {
        let (torrent, save) = (torrent.to_owned(), save.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut lt = Libtorrent::start(
                torrent.to_str().expect("UTF-8 torrent path"),
                &save,
                LtOptions {
                    seed: true,
                    stay: true,
                    upload_limit,
                    ..Default::default()
                },
            );
            lt.wait_started(Duration::from_secs(20));
            lt
        })
        .await
        .expect("the libtorrent seeder starts")
    }

    /// Its listening port.
    pub fn port(&self) -> u16 {
        self.peer.port
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.peer.addr()
    }

    /// Waits until it reports a complete download; panics on its error or
    /// after `limit`.
    pub fn wait_done(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.peer.lines.recv_timeout(left) {
                Ok(line) => {
                    if line.contains("\"done\": true") {
                        return;
                    }
                    if line.contains("\"error\"") {
                        panic!("libtorrent failed: {line}");
                    }
                    last = line;
                }
                Err(_) => panic!("libtorrent did not finish within {limit:?}; last status: {last}"),
            }
        }
    }

    /// Waits for a status line that `pred` accepts and returns it; panics
    /// on its error or after `limit`.
    pub fn wait_line(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.peer.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(line) if line.contains("\"error\"") => panic!("libtorrent failed: {line}"),
                Ok(line) => last = line,
                Err(_) => panic!("no such libtorrent status within {limit:?}; last: {last}"),
            }
        }
    }

    /// Waits until it listens (its first status line).
    pub fn wait_started(&mut self, limit: Duration) {
        match self.peer.lines.recv_timeout(limit) {
            Ok(l) if !l.contains("\"error\"") => {}
            other => panic!("libtorrent did not start: {other:?}"),
        }
    }
}

/// Transmission 3.00's command-line client, with DHT, LPD, PEX, uTP and
/// port mapping off in its settings.json.
pub fn transmission(torrent: &Path, download_dir: &Path, config_dir: &Path, port: u16) -> Proc {
    transmission_encrypting(torrent, download_dir, config_dir, port, 0)
}

/// `transmission` with its `encryption` setting: 0 prefers plaintext, 1
/// prefers encryption, 2 requires it.
pub fn transmission_encrypting(
    torrent: &Path,
    download_dir: &Path,
    config_dir: &Path,
    port: u16,
    encryption: u8,
) -> Proc {
    std::fs::create_dir_all(config_dir).expect("config dir");
    let encryption = encryption.to_string();
    let settings = serde_json_like(&[
        ("dht-enabled", "false"),
        ("lpd-enabled", "false"),
        ("pex-enabled", "false"),
        ("utp-enabled", "false"),
        ("port-forwarding-enabled", "false"),
        ("encryption", &encryption),
        ("ratio-limit-enabled", "false"),
        ("speed-limit-up-enabled", "false"),
        ("speed-limit-down-enabled", "false"),
        ("peer-port", &port.to_string()),
        ("bind-address-ipv4", "\"127.0.0.1\""),
    ]);
    std::fs::write(config_dir.join("settings.json"), settings).expect("settings.json");
    let mut cmd = Command::new("transmission-cli");
    cmd.arg("-g")
        .arg(config_dir)
        .arg("-w")
        .arg(download_dir)
        .arg("-p")
        .arg(port.to_string())
        .arg("-M")
        .arg("-et")
        .arg(torrent)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Proc::spawn("transmission-cli", &mut cmd)
}

fn serde_json_like(pairs: &[(&str, &str)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v}"))
        .collect();
    format!("{{\n{}\n}}\n", body.join(",\n"))
}

/// aria2c on a torrent, with DHT, LPD and PEX off. As a seed it checks the
/// data first and seeds until stopped.
pub fn aria2(torrent: &Path, dir: &Path, port: u16, seed: bool) -> Proc {
    aria2_with(torrent, dir, port, seed, &["--bt-require-crypto=false"])
}

/// `aria2` with more options (later ones win).
pub fn aria2_with(torrent: &Path, dir: &Path, port: u16, seed: bool, extra: &[&str]) -> Proc {
    let mut cmd = Command::new("aria2c");
    cmd.arg("--enable-dht=false")
        .arg("--enable-dht6=false")
        .arg("--bt-enable-lpd=false")
        .arg("--enable-peer-exchange=false")
        .args(extra)
        .arg(format!("--listen-port={port}"))
        .arg("--seed-ratio=0.0")
        .arg("--file-allocation=none")
        .arg("--summary-interval=0")
        .arg("--console-log-level=warn")
        .arg("--bt-stop-timeout=0")
        .arg("--bt-tracker-connect-timeout=3")
        .arg("--bt-tracker-timeout=3")
        .arg(format!("--dir={}", dir.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if seed {
        cmd.arg("--check-integrity=true")
            .arg("--bt-seed-unverified=false");
    }
    cmd.arg(torrent);
    Proc::spawn("aria2c", &mut cmd)
}

/// A path inside the crate, for tools and fixtures.
pub fn manifest_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `shoal seed TORRENT DIR` listening on 127.0.0.1:`port`, DHT off, with
/// `extra` arguments; returns once it listens.
pub fn shoal_seed(torrent: &Path, dir: &Path, port: u16, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("seed")
        .arg(torrent)
        .arg(dir)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--no-dht",
            "--no-port-mapping",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let seed = Proc::spawn("shoal seed", &mut cmd);
    wait_for("the seeder to listen", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    seed
}

/// `shoal download TORRENT -o DIR` on 127.0.0.1 with the DHT off, dialling
/// `peer`; the caller adds arguments and starts it.
pub fn shoal_download(torrent: &Path, dir: &Path, peer: SocketAddr) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(dir)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dht",
            "--no-port-mapping",
        ])
        .args(["--peer", &peer.to_string()]);
    cmd
}
