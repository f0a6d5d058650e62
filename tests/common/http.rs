//! HTTP servers on 127.0.0.1 for web seed tests, each a process owned by a
//! guard that stops it by PID: nginx (Debian's, with its own configuration
//! in a temporary folder; answers ranged requests with 206), Python's
//! `http.server` (ignores `Range`, answers 200 with the whole file), and
//! `tests/support/bad_http.py` (ranged, but one file's bytes are wrong).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::procs::{free_port, manifest_path, wait_for, Proc};

/// A server and where it listens.
pub struct Server {
    /// The process, stopped on drop.
    pub proc: Proc,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its configuration and logs (nginx), removed on drop.
    pub dir: Option<tempfile::TempDir>,
}

impl Server {
    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// nginx's access log (status codes of each request).
    pub fn access_log(&self) -> String {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join("access.log")).ok())
            .unwrap_or_default()
    }
}

fn wait_listening(port: u16) {
    wait_for("the HTTP server to listen", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
}

/// nginx serving `root`, one process (no master), sending at most
/// `limit_rate` bytes per second per connection when given.
pub fn nginx(root: &Path, limit_rate: Option<u64>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let d = dir.path().display();
    let limit = limit_rate.map_or(String::new(), |r| format!("limit_rate {r};"));
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n access_log {d}/access.log;\n client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
         default_type application/octet-stream;\n\
         server {{ listen 127.0.0.1:{port}; root {root}; {limit} }}\n}}\n",
        root = root.display()
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new("/usr/sbin/nginx");
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let proc = Proc::spawn("nginx", &mut cmd);
    wait_listening(port);
    Server {
        proc,
        port,
        dir: Some(dir),
    }
}

/// Python's `http.server` serving `root`: every answer is 200 with the
/// whole file, whatever `Range` asks.
pub fn python_http(root: &Path) -> Server {
    let port = free_port();
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args([
        "-m",
        "http.server",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
    ])
    .arg("--directory")
    .arg(root)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let proc = Proc::spawn("python3 -m http.server", &mut cmd);
    wait_listening(port);
    Server {
        proc,
        port,
        dir: None,
    }
}

/// `bad_http.py` serving `root`, with the file at URL path `corrupt`
/// (decoded, e.g. `/pub/content/a.bin`) served with every byte flipped.
pub fn corrupting_http(root: &Path, corrupt: &str) -> Server {
    let port = free_port();
    let script: PathBuf = manifest_path("tests/support/bad_http.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script)
        .arg("--root")
        .arg(root)
        .args(["--port", &port.to_string(), "--corrupt", corrupt])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let proc = Proc::spawn("bad_http.py", &mut cmd);
    wait_listening(port);
    Server {
        proc,
        port,
        dir: None,
    }
}
