//! A tracker that listens on IPv6 (`[::1]`), for the IPv6 tests:
//! tests/support/tracker6/server.mjs, the `bittorrent-tracker` package
//! under Node (installed by scripts/setup.sh). Debian's opentracker is
//! built IPv4-only (started on `::1` it prints "V4 Tracker is V4 only!"
//! and exits), so it cannot serve these tests. The process is stopped by
//! PID when the guard is dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::procs::{free_port, Proc};

/// A running IPv6 tracker; stopped on drop.
pub struct Tracker6 {
    /// The node process.
    _proc: Proc,
    /// The HTTP (TCP) and UDP port, the same number for both.
    pub port: u16,
}

#[allow(dead_code)]
impl Tracker6 {
    /// Starts the tracker on `[::1]` and waits until it listens. Panics
    /// with its output if it does not (the test must fail, not skip).
    pub fn start() -> Tracker6 {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tracker6");
        let port = free_port();
        let mut proc = Proc::spawn(
            "tracker6 (node; scripts/setup.sh installs its package)",
            Command::new("node")
                .arg(dir.join("server.mjs"))
                .arg(port.to_string())
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = proc.stdout();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) if l.contains("listening") => {}
            other => panic!("the IPv6 tracker did not start: {other:?}"),
        }
        Tracker6 { _proc: proc, port }
    }

    /// Its HTTP announce URL on `[::1]`.
    pub fn http_url(&self) -> String {
        format!("http://[::1]:{}/announce", self.port)
    }

    /// Its UDP announce URL on `[::1]`.
    pub fn udp_url(&self) -> String {
        format!("udp://[::1]:{}/announce", self.port)
    }
}
