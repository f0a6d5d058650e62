//! Where the app keeps its files and how it sets up the engine: the folders
//! (platform config and data dirs from the `directories` crate), the user's
//! settings (`settings.json` in the config dir), and the environment
//! variables that override both for tests.
//!
//! | variable              | overrides                                       |
//! |-----------------------|-------------------------------------------------|
//! | `SHOAL_CONFIG_DIR`    | the config folder (settings.json)               |
//! | `SHOAL_DATA_DIR`      | the data folder (session state, created torrents)|
//! | `SHOAL_DOWNLOAD_DIR`  | the download folder, for this run               |
//! | `SHOAL_LISTEN`        | the listening address, e.g. `127.0.0.1:0`       |
//! | `SHOAL_DHT_BOOTSTRAP` | `off`, or a comma list of `HOST:PORT` nodes     |

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use shoal::dht::DhtConfig;
use shoal::session::SessionConfig;

/// The port a fresh install listens on (BitTorrent's customary 6881).
pub const DEFAULT_PORT: u16 = 6881;
/// The settings file inside the config folder.
pub const SETTINGS_FILE: &str = "settings.json";

/// Why the settings could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Writing the settings file failed.
    #[error("cannot save the settings to {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The folders the app uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Holds `settings.json`.
    pub config_dir: PathBuf,
    /// Holds the session's state (torrent list, resume data) and the
    /// .torrent files the app creates.
    pub data_dir: PathBuf,
}

impl Paths {
    /// The session state folder inside the data folder.
    pub fn state_dir(&self) -> PathBuf {
        self.data_dir.join("session")
    }

    /// Where "Create torrent" saves .torrent files unless told otherwise.
    pub fn created_dir(&self) -> PathBuf {
        self.data_dir.join("created")
    }

    /// The settings file.
    pub fn settings_file(&self) -> PathBuf {
        self.config_dir.join(SETTINGS_FILE)
    }
}

/// What the user can change in the settings dialog. Stored as JSON; a field
/// missing from the file takes its default, so old files keep working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Where new torrents are saved unless the user picks another folder.
    pub download_dir: PathBuf,
    /// The TCP (and DHT UDP) port to listen on; 0 lets the system choose.
    pub listen_port: u16,
    /// Whether to join the public mainline DHT.
    pub dht_enabled: bool,
    /// Whether to listen on IPv6 too (`[::]` beside `0.0.0.0`, same port),
    /// so that IPv6 peers can dial us.
    pub ipv6_enabled: bool,
    /// Download limit of the whole session in KiB/s (0: none).
    pub download_limit_kib: u64,
    /// Upload limit of the whole session in KiB/s (0: none).
    pub upload_limit_kib: u64,
    /// Add a magnet link or .torrent opened from outside (a browser, the
    /// file manager) at once. Off by default: a link on a web page should
    /// not start a download before the user has seen what it is.
    pub add_without_asking: bool,
    /// Protocol encryption: `off`, `prefer` (dial encrypted, fall back to
    /// plain, answer both) or `require`. Kept as its word so that a file
    /// with an unknown one still loads (as `prefer`).
    pub encryption: String,
}

impl Settings {
    /// The encryption mode; `prefer` for a word the engine does not know.
    pub fn encryption(&self) -> shoal::peer::Encryption {
        self.encryption.parse().unwrap_or_default()
    }

    /// The limits `(download, upload)` in bytes per second, `None` for none.
    pub fn rate_limits(&self) -> (Option<u64>, Option<u64>) {
        (
            shoal::limit::from_kib(self.download_limit_kib),
            shoal::limit::from_kib(self.upload_limit_kib),
        )
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            download_dir: default_download_dir(),
            listen_port: DEFAULT_PORT,
            dht_enabled: true,
            ipv6_enabled: true,
            download_limit_kib: 0,
            upload_limit_kib: 0,
            add_without_asking: false,
            encryption: shoal::peer::Encryption::default().to_string(),
        }
    }
}

/// Everything the app starts from: folders, settings, and the overrides in
/// force for this run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The folders.
    pub paths: Paths,
    /// The user's settings as stored.
    pub settings: Settings,
    /// `SHOAL_DOWNLOAD_DIR`, which wins over the setting for this run.
    pub download_dir_override: Option<PathBuf>,
    /// `SHOAL_LISTEN`, which wins over the port setting.
    pub listen_override: Option<SocketAddr>,
    /// `SHOAL_DHT_BOOTSTRAP`: `Some(None)` is "off", `Some(Some(list))` a
    /// loopback test network.
    pub dht_override: Option<Option<Vec<String>>>,
    /// Problems met while loading (a settings file that does not parse, a
    /// bad variable), shown in the window rather than failing the start.
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads the configuration from the environment and the settings file.
    pub fn load() -> Config {
        Config::load_with(|name| std::env::var(name).ok())
    }

    /// As [`Config::load`], with the environment given as a function (tests).
    pub fn load_with(env: impl Fn(&str) -> Option<String>) -> Config {
        let mut warnings = Vec::new();
        let project = directories::ProjectDirs::from("org", "shoal", "shoal");
        let nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let config_dir = nonempty("SHOAL_CONFIG_DIR")
            .map(PathBuf::from)
            .or_else(|| project.as_ref().map(|p| p.config_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from(".shoal/config"));
        let data_dir = nonempty("SHOAL_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| project.as_ref().map(|p| p.data_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from(".shoal/data"));
        let paths = Paths {
            config_dir,
            data_dir,
        };
        let settings = match std::fs::read(paths.settings_file()) {
            Ok(bytes) => match serde_json::from_slice::<Settings>(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    warnings.push(format!(
                        "The settings in {} could not be read ({e}); using the defaults.",
                        paths.settings_file().display()
                    ));
                    Settings::default()
                }
            },
            Err(_) => Settings::default(),
        };
        let listen_override = match nonempty("SHOAL_LISTEN") {
            Some(v) => match v.trim().parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    warnings.push(format!(
                        "SHOAL_LISTEN={v} is not an address like 127.0.0.1:6881; ignored."
                    ));
                    None
                }
            },
            None => None,
        };
        let dht_override = nonempty("SHOAL_DHT_BOOTSTRAP").map(|v| {
            if v.trim().eq_ignore_ascii_case("off") {
                None
            } else {
                Some(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            }
        });
        Config {
            paths,
            settings,
            download_dir_override: nonempty("SHOAL_DOWNLOAD_DIR").map(PathBuf::from),
            listen_override,
            dht_override,
            warnings,
        }
    }

    /// The download folder in force.
    pub fn download_dir(&self) -> PathBuf {
        self.download_dir_override
            .clone()
            .unwrap_or_else(|| self.settings.download_dir.clone())
    }

    /// The address to listen on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_override.unwrap_or(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            self.settings.listen_port,
        ))
    }

    /// The DHT set-up: the public bootstrap nodes when the setting is on,
    /// unless a test overrides it.
    pub fn dht(&self) -> Option<DhtConfig> {
        match &self.dht_override {
            Some(None) => None,
            Some(Some(nodes)) => Some(DhtConfig::testnet(nodes)),
            None if self.settings.dht_enabled => Some(DhtConfig::default()),
            None => None,
        }
    }

    /// The engine's configuration.
    pub fn session_config(&self) -> SessionConfig {
        SessionConfig {
            listen_addr: self.listen_addr(),
            // `[::1]` beside the tests' `127.0.0.1` (SHOAL_LISTEN): still
            // loopback.
            ipv6: self.settings.ipv6_enabled,
            dht: self.dht(),
            state_dir: Some(self.paths.state_dir()),
            download_limit: self.settings.rate_limits().0,
            upload_limit: self.settings.rate_limits().1,
            // Local peer discovery, as in other desktop clients; the engine
            // runs none on a loopback address (the tests' SHOAL_LISTEN).
            lsd: true,
            // Ask the router to forward the port, as other desktop
            // clients do; never on a loopback address (the tests').
            port_mapping: true,
            encryption: self.settings.encryption(),
            ..SessionConfig::default()
        }
    }
}

/// Saves the settings atomically (temporary file, fsync, rename).
pub fn save_settings(paths: &Paths, settings: &Settings) -> Result<(), ConfigError> {
    let path = paths.settings_file();
    let err = |source| ConfigError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&paths.config_dir).map_err(err)?;
    // Serializing plain strings, numbers and booleans cannot fail.
    let json = serde_json::to_vec_pretty(settings).unwrap_or_default();
    write_atomic(&path, &json).map_err(err)
}

/// Writes a file so that a crash leaves the old content or the new (the
/// engine's atomic write: temp file, fsync, rename, fsync of the folder).
pub use shoal::resume::write_atomic;

/// The user's Downloads folder, or `~/Downloads`, or `./Downloads`.
fn default_download_dir() -> PathBuf {
    if let Some(user) = directories::UserDirs::new() {
        if let Some(d) = user.download_dir() {
            return d.to_path_buf();
        }
        return user.home_dir().join("Downloads");
    }
    PathBuf::from("Downloads")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn overrides_win() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        let c = Config::load_with(env(&[
            ("SHOAL_CONFIG_DIR", cfg.to_str().unwrap()),
            ("SHOAL_DATA_DIR", "/tmp/shoal-data"),
            ("SHOAL_DOWNLOAD_DIR", "/tmp/dl"),
            ("SHOAL_LISTEN", "127.0.0.1:0"),
            ("SHOAL_DHT_BOOTSTRAP", "off"),
        ]));
        assert_eq!(c.paths.config_dir, cfg);
        assert_eq!(
            c.paths.state_dir(),
            PathBuf::from("/tmp/shoal-data/session")
        );
        assert_eq!(c.download_dir(), PathBuf::from("/tmp/dl"));
        assert_eq!(c.listen_addr(), "127.0.0.1:0".parse().unwrap());
        assert!(c.dht().is_none());
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn bootstrap_list_makes_a_loopback_node() {
        let c = Config::load_with(env(&[
            ("SHOAL_CONFIG_DIR", "/nonexistent/cfg"),
            ("SHOAL_DHT_BOOTSTRAP", "127.0.0.1:7000, 127.0.0.1:7001"),
        ]));
        let d = c.dht().unwrap();
        assert_eq!(d.bootstrap, vec!["127.0.0.1:7000", "127.0.0.1:7001"]);
        assert_eq!(d.bind, Ipv4Addr::LOCALHOST);
    }

    #[test]
    fn defaults_turn_the_dht_on() {
        let c = Config::load_with(env(&[("SHOAL_CONFIG_DIR", "/nonexistent/cfg")]));
        assert_eq!(c.listen_addr().port(), DEFAULT_PORT);
        assert_eq!(c.dht(), Some(DhtConfig::default()));
    }

    #[test]
    fn settings_round_trip_and_bad_files_warn() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("c"),
            data_dir: dir.path().join("d"),
        };
        let s = Settings {
            download_dir: "/x".into(),
            listen_port: 5000,
            dht_enabled: false,
            ipv6_enabled: false,
            download_limit_kib: 1,
            upload_limit_kib: 2,
            add_without_asking: true,
            encryption: "require".into(),
        };
        save_settings(&paths, &s).unwrap();
        let vars = [("SHOAL_CONFIG_DIR", paths.config_dir.to_str().unwrap())];
        let c = Config::load_with(env(&vars));
        assert_eq!(c.settings, s);
        assert!(c.dht().is_none());
        assert_eq!(
            c.session_config().encryption,
            shoal::peer::Encryption::Require
        );

        std::fs::write(paths.settings_file(), b"{ not json").unwrap();
        let c = Config::load_with(env(&vars));
        assert_eq!(c.settings, Settings::default());
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn an_older_settings_file_asks_before_adding() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SETTINGS_FILE), br#"{"listenPort": 7000}"#).unwrap();
        let c = Config::load_with(env(&[("SHOAL_CONFIG_DIR", dir.path().to_str().unwrap())]));
        assert_eq!(c.settings.listen_port, 7000);
        assert!(!c.settings.add_without_asking);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn bad_listen_address_warns() {
        let c = Config::load_with(env(&[
            ("SHOAL_CONFIG_DIR", "/nonexistent/cfg"),
            ("SHOAL_LISTEN", "nowhere"),
        ]));
        assert!(c.listen_override.is_none());
        assert!(c.warnings[0].contains("SHOAL_LISTEN"));
    }

    #[test]
    fn limits_in_kib_become_bytes_and_zero_is_none() {
        let mut s = Settings::default();
        assert_eq!(s.rate_limits(), (None, None));
        s.download_limit_kib = 100;
        assert_eq!(s.rate_limits(), (Some(102_400), None));
    }
}
