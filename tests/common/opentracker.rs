//! A real opentracker (the Debian package) on a free loopback port, for the
//! tests that need a tracker. Debian builds it with an info-hash whitelist:
//! `-w FILE` is read relative to the `-d` folder, which it chroots into, so
//! each instance gets its own temporary folder holding the whitelist.
//! The process is killed and reaped when the guard is dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shoal::InfoHash;

/// A running opentracker; killed on drop.
pub struct Opentracker {
    /// The tracker process, killed by PID on drop.
    child: Child,
    /// The TCP (HTTP) and UDP port, the same number for both.
    pub port: u16,
    /// The chroot folder with the whitelist; removed after the process ends.
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl Opentracker {
    /// Starts opentracker on 127.0.0.1, serving only the given info hashes,
    /// and waits until it accepts connections. Panics with the tracker's
    /// output if it does not come up (the test must fail, not skip).
    pub fn start(whitelist: &[InfoHash]) -> Opentracker {
        Self::start_on(free_port(), whitelist)
    }

    /// Like [`Opentracker::start`] on a given port (a torrent naming the
    /// tracker's URL must exist before the tracker can whitelist its hash).
    pub fn start_on(port: u16, whitelist: &[InfoHash]) -> Opentracker {
        let dir = tempfile::tempdir().expect("temp dir");
        // opentracker may read the whitelist after dropping root.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod temp dir");
        let list: String = whitelist
            .iter()
            .map(|h| format!("{}\n", h.to_hex()))
            .collect();
        let list_path = dir.path().join("whitelist");
        std::fs::write(&list_path, list).expect("write whitelist");
        std::fs::set_permissions(&list_path, std::fs::Permissions::from_mode(0o644))
            .expect("chmod whitelist");
        let log_path = dir.path().join("log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new("opentracker")
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &port.to_string(),
            ])
            .arg("-d")
            .arg(dir.path())
            .args(["-w", "whitelist"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("opentracker must be installed (scripts/setup.sh installs it)");
        let mut tracker = Opentracker {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && whitelist.first().is_none_or(|h| tracker.serves(h))
            {
                return tracker;
            }
            if let Ok(Some(status)) = tracker.child.try_wait() {
                let mut out = String::new();
                let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut out));
                panic!("opentracker exited with {status} before listening: {out}");
            }
            assert!(
                Instant::now() < deadline,
                "opentracker did not listen on port {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the tracker already serves `hash`: it listens before it has
    /// read its whitelist, and refuses every hash until then. Asks with a
    /// `stopped` announce, which adds no peer to the swarm.
    fn serves(&self, hash: &InfoHash) -> bool {
        let encoded: String = hash.0.iter().map(|b| format!("%{b:02x}")).collect();
        let request = format!(
            "GET /announce?info_hash={encoded}&peer_id=-PROBE-0000000000000&port=1\
             &uploaded=0&downloaded=0&left=0&compact=1&event=stopped HTTP/1.0\r\n\r\n"
        );
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let mut response = Vec::new();
        conn.write_all(request.as_bytes()).is_ok()
            && conn.read_to_end(&mut response).is_ok()
            && response.windows(8).any(|w| w == b"interval")
    }

    /// Its HTTP announce URL.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    /// Its UDP announce URL.
    pub fn udp_url(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }
}

impl Drop for Opentracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both TCP and UDP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind TCP");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], port))).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP");
}
