//! DHT test helpers: a loopback `mainline::Testnet`, a libtorrent peer run
//! from tests/support/lt_peer.py, and a small torrent made with mktorrent.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shoal::{InfoHash, Metainfo};

/// A testnet of `n` mainline nodes on 127.0.0.1 that know each other. The
/// nodes stop when it is dropped.
pub fn testnet(n: usize) -> mainline::Testnet {
    mainline::Testnet::builder(n)
        .build()
        .expect("cannot start a mainline testnet on 127.0.0.1")
}

/// A TCP port the OS reports free (for a child process that needs a fixed
/// port; the window between this and its bind is small).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind 127.0.0.1:0")
}

/// Writes a small folder of files under `dir` and makes a .torrent of it with
/// mktorrent. Returns the .torrent's path, its info hash and the folder's
/// parent (the save folder for a seeder).
pub fn make_torrent(dir: &Path) -> (PathBuf, InfoHash, PathBuf) {
    let data = dir.join("data");
    let folder = data.join("payload");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, len) in [("a.bin", 100_000usize), ("b.bin", 33_333)] {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        std::fs::write(folder.join(name), bytes).unwrap();
    }
    let torrent = dir.join("payload.torrent");
    let status = Command::new("mktorrent")
        .args(["-l", "15", "-o"])
        .arg(&torrent)
        .arg(&folder)
        .stdout(Stdio::null())
        .status()
        .expect("mktorrent is missing: run scripts/setup.sh");
    assert!(status.success(), "mktorrent failed");
    let meta = Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    (torrent, meta.info_hash, data)
}

/// A libtorrent peer (tests/support/lt_peer.py under Debian's python3),
/// killed and reaped on drop. Its JSON status lines arrive on `lines`.
pub struct LtPeer {
    child: Child,
    /// The peer's stdout, one JSON line per message.
    pub lines: mpsc::Receiver<String>,
    /// Its listen port (TCP, and UDP for its DHT).
    pub port: u16,
}

impl LtPeer {
    /// Starts lt_peer.py on `source` with `args` added, listening on `port`.
    pub fn start(source: &Path, save: &Path, port: u16, args: &[String]) -> LtPeer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_peer.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(source)
            .arg("--save")
            .arg(save)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run /usr/bin/python3 (python3-libtorrent): run scripts/setup.sh");
        let stdout: ChildStdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LtPeer { child, lines, port }
    }

    /// Waits up to `timeout` for a line containing `needle`; panics with the
    /// lines seen otherwise (or if the process exits).
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => {
                    if seen.len() > 20 {
                        seen.remove(0);
                    }
                    seen.push(line)
                }
                Err(e) => panic!(
                    "libtorrent peer: no line with {needle:?} ({e:?}); last lines: {seen:#?}"
                ),
            }
        }
    }

    /// Waits up to `timeout` for a line containing `needle` (the time counts
    /// from the call); `None` if none came or the process exited.
    pub fn try_wait_for_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// The peer's address as other peers see it.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for LtPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// libtorrent DHT nodes (tests/support/lt_dht_nodes.py) on 127.0.0.1, killed
/// and reaped on drop. A libtorrent peer can only announce to nodes like
/// these: `mainline` nodes drop its 2-byte KRPC transaction ids.
pub struct LtDhtNodes {
    child: Child,
    /// The nodes' addresses, `127.0.0.1:PORT`.
    pub nodes: Vec<String>,
}

impl LtDhtNodes {
    /// Starts `count` nodes joined to each other and to `bootstrap`.
    pub fn start(count: usize, bootstrap: &[String]) -> LtDhtNodes {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht_nodes.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg("--count").arg(count.to_string());
        for node in bootstrap {
            cmd.arg("--bootstrap").arg(node);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run /usr/bin/python3 (python3-libtorrent): run scripts/setup.sh");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut this = LtDhtNodes {
            child,
            nodes: Vec::new(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("libtorrent DHT nodes did not start");
        let start = line.find('[').expect("nodes line");
        let end = line.rfind(']').expect("nodes line");
        this.nodes = line[start + 1..end]
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(this.nodes.len(), count, "bad nodes line {line:?}");
        this
    }
}

impl Drop for LtDhtNodes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
