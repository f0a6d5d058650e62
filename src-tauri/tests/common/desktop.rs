//! Runs the real desktop app under WebDriver: a private X server (Xvfb),
//! tauri-driver (which starts Debian's WebKitWebDriver, which starts the app),
//! and a throwaway HOME and XDG folders so the app and WebKit touch nothing
//! of the user's. Everything started here is stopped by PID on drop.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

use super::process::{descendants, find_program, stop_pids, ChildGuard};

/// How long Xvfb and tauri-driver get to come up.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the app gets to open its window for a new session.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(90);

/// A private X server on a display no one else uses.
pub struct Xvfb {
    /// The server process, stopped on drop.
    guard: ChildGuard,
    /// Its display number (`:N`).
    pub display: u32,
}

impl Xvfb {
    /// Starts Xvfb on the first free display from :90.
    pub fn start() -> Xvfb {
        let xvfb = find_program("Xvfb", &[], "apt-get install xvfb (make test does)");
        for display in 90..190 {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
            let lock = PathBuf::from(format!("/tmp/.X{display}-lock"));
            if socket.exists() || lock.exists() {
                continue;
            }
            let mut guard = ChildGuard::spawn(
                "Xvfb",
                Command::new(&xvfb)
                    .arg(format!(":{display}"))
                    .args([
                        "-screen",
                        "0",
                        "1280x800x24",
                        "-nolisten",
                        "tcp",
                        "-noreset",
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            );
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if guard.exited().is_some() {
                    break; // taken meanwhile: try the next display
                }
                if socket.exists() {
                    return Xvfb { guard, display };
                }
                assert!(
                    Instant::now() < deadline,
                    "Xvfb :{display} did not come up within {START_TIMEOUT:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("no free X display between :90 and :189");
    }
}

/// Folders that stand in for the user's home and XDG dirs.
pub struct Sandbox {
    /// Removed on drop.
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// Creates the folders.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("shoal-desktop-test-")
            .tempdir()
            .expect("cannot create a temporary folder");
        for sub in [
            "home",
            "config",
            "data",
            "cache",
            "state",
            "runtime",
            "downloads",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("cannot create sandbox folder");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("runtime"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("cannot chmod the runtime folder");
        Sandbox { dir }
    }

    /// Where the app downloads to.
    pub fn downloads(&self) -> PathBuf {
        self.dir.path().join("downloads")
    }

    /// The app's data folder (its session state is in `session/`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data/shoal")
    }

    /// The address of the sandbox's D-Bus session bus (see [`SessionBus`]).
    pub fn bus_address(&self) -> String {
        format!("unix:path={}", self.dir.path().join("bus").display())
    }

    /// Points a command's HOME and XDG dirs at the sandbox, and the app's
    /// own folders too; the app listens on loopback only, with no DHT.
    pub fn apply(&self, cmd: &mut Command) {
        let p = self.dir.path();
        cmd.env("DBUS_SESSION_BUS_ADDRESS", self.bus_address())
            .env("SHOAL_CONFIG_DIR", p.join("config/shoal"))
            .env("SHOAL_DATA_DIR", self.data_dir())
            .env("SHOAL_DOWNLOAD_DIR", self.downloads())
            .env("SHOAL_LISTEN", "127.0.0.1:0")
            .env("SHOAL_DHT_BOOTSTRAP", "off")
            .env("HOME", p.join("home"))
            .env("XDG_CONFIG_HOME", p.join("config"))
            .env("XDG_DATA_HOME", p.join("data"))
            .env("XDG_CACHE_HOME", p.join("cache"))
            .env("XDG_STATE_HOME", p.join("state"))
            .env("XDG_RUNTIME_DIR", p.join("runtime"));
    }
}

/// A private D-Bus session bus in the sandbox, through which a second launch
/// of the app finds the first (the single-instance plugin).
pub struct SessionBus {
    /// dbus-daemon, stopped on drop.
    guard: ChildGuard,
}

impl SessionBus {
    /// Starts dbus-daemon on the sandbox's bus socket.
    pub fn start(sandbox: &Sandbox) -> SessionBus {
        let daemon = find_program("dbus-daemon", &[], "apt-get install dbus (make test does)");
        let socket = sandbox.dir.path().join("bus");
        let mut guard = ChildGuard::spawn(
            "dbus-daemon",
            Command::new(daemon)
                .args(["--session", "--nofork", "--nopidfile"])
                .arg(format!("--address={}", sandbox.bus_address()))
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        );
        let deadline = Instant::now() + START_TIMEOUT;
        while !socket.exists() {
            if let Some(status) = guard.exited() {
                panic!("dbus-daemon exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "dbus-daemon did not open {} within {START_TIMEOUT:?}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SessionBus { guard }
    }

    /// Stops the daemon now.
    pub fn stop(&mut self) {
        self.guard.stop();
    }
}

/// tauri-driver and, under it, WebKitWebDriver and the app.
pub struct Driver {
    /// tauri-driver itself.
    guard: ChildGuard,
    /// The port tauri-driver listens on.
    pub port: u16,
}

impl Driver {
    /// Starts tauri-driver on free ports, with the display and the sandbox
    /// in its environment (WebKitWebDriver and the app inherit them).
    pub fn start(xvfb: &Xvfb, sandbox: &Sandbox) -> Driver {
        let home_cargo = std::env::var_os("HOME")
            .map(|h| vec![PathBuf::from(h).join(".cargo/bin")])
            .unwrap_or_default();
        let tauri_driver = find_program(
            "tauri-driver",
            &home_cargo,
            "run `make test`, or `cargo install tauri-driver --locked --version ^2`",
        );
        let webkit_driver = find_program(
            "WebKitWebDriver",
            &[],
            "apt-get install webkit2gtk-driver (make test does)",
        );
        let (port, native_port) = two_free_ports();
        let mut cmd = Command::new(tauri_driver);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .arg("--native-driver")
            .arg(webkit_driver)
            .env("DISPLAY", format!(":{}", xvfb.display))
            .env_remove("WAYLAND_DISPLAY")
            // No accessibility bus in a headless X server. (Leave WebKit's
            // compositing alone: WEBKIT_DISABLE_COMPOSITING_MODE=1 makes
            // WebKitWebDriver's screenshots hang.)
            .env("NO_AT_BRIDGE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        sandbox.apply(&mut cmd);
        // Orphans of tauri-driver (WebKitWebDriver, the app) become this
        // process's children, so they can be reaped, not left as zombies.
        become_subreaper();
        let mut guard = ChildGuard::spawn("tauri-driver", &mut cmd);
        // Both tauri-driver and the WebKitWebDriver it starts must listen
        // before a session can be opened.
        let deadline = Instant::now() + START_TIMEOUT;
        for p in [port, native_port] {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                if let Some(status) = guard.exited() {
                    panic!("tauri-driver exited early: {status}");
                }
                assert!(
                    Instant::now() < deadline,
                    "the WebDriver servers did not listen on ports {port} and {native_port} within {START_TIMEOUT:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Driver { guard, port }
    }

    /// Opens a WebDriver session that starts `application` (with `args`).
    pub async fn session(&self, application: &Path, args: &[&str]) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".to_string(),
            serde_json::json!({ "application": application, "args": args }),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let connect = builder.connect(&url);
        match tokio::time::timeout(SESSION_TIMEOUT, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("cannot open a WebDriver session on the app: {e}"),
            Err(_) => panic!("the app did not open a session within {SESSION_TIMEOUT:?}"),
        }
    }
}

impl Driver {
    /// Running processes below tauri-driver started from `app`.
    pub fn app_pids(&self, app: &Path) -> Vec<u32> {
        let want = app.canonicalize().unwrap_or_else(|_| app.to_path_buf());
        descendants(self.guard.pid())
            .into_iter()
            .filter(|p| {
                std::fs::read_link(format!("/proc/{p}/exe"))
                    .map(|exe| exe == want)
                    .unwrap_or(false)
            })
            .collect()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // WebKitWebDriver and the app are tauri-driver's descendants; note
        // them first, since SIGTERM to tauri-driver stops WebKitWebDriver but
        // an app whose session was not closed could outlive it.
        let below = descendants(self.guard.pid());
        self.guard.stop();
        stop_pids(&below);
    }
}

/// Makes this process the reaper of its descendants' orphans (Linux).
fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes plain integers and touches
    // no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "prctl(PR_SET_CHILD_SUBREAPER) failed");
}

/// Two ports nobody listens on right now (the OS picks them).
fn two_free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("cannot bind a port");
    let b = TcpListener::bind("127.0.0.1:0").expect("cannot bind a port");
    let ports = (
        a.local_addr().expect("bound").port(),
        b.local_addr().expect("bound").port(),
    );
    drop((a, b));
    ports
}
