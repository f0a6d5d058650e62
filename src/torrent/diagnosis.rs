//! "Why is it slow?": names the one cause that limits a torrent now, with
//! the evidence (numbers) and the fix, in plain words.
//!
//! [`diagnose`] is a pure function over [`Facts`], a snapshot the torrent
//! task takes on its tick from what it keeps anyway (rates, the peer list,
//! dial outcomes, tracker statuses, the DHT, limits, the disk queue,
//! incoming connections). The rules are tried in a fixed order, from what
//! stops a download outright (no peers) to what only slows it (a limit),
//! and the first that holds is the answer; when none holds, nothing is
//! wrong and the peers are simply this fast.
//!
//! The task publishes the result in [`TorrentStats::diagnosis`]
//! (`super::TorrentStats`), so every front end shows the same words.

use std::fmt;

/// Our upload limit below which tit-for-tat peers are expected to choke
/// us: one 16 KiB block a second is less than any peer's worst uploader.
pub const LOW_UPLOAD_LIMIT: u64 = 16 * 1024;
/// Share of the download limit that counts as reaching it: rates are
/// averaged over a few seconds and the limiter lets a little less through.
pub const LIMIT_REACHED: f64 = 0.85;
/// Share of the disk write queue, averaged over the last ticks, that
/// counts as full. A disk that keeps up leaves the queue near empty; one
/// that does not keeps it between three quarters (a worker takes 16 of its
/// 64 places at a time) and full.
pub const DISK_QUEUE_FULL: f64 = 0.75;
/// How long a torrent must have run before "no peer ever dialled us" is
/// evidence (peers dial new addresses within a minute of an announce).
pub const CONNECTABLE_AFTER_SECS: u64 = 60;
/// Most piece ranges named in a message.
const MAX_RANGES: usize = 3;
/// Most files named in a message.
const MAX_FILES: usize = 3;

/// What limits a torrent now. The variants after `Fine` are not about
/// speed: the torrent is not downloading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// No address of any peer is known.
    NoPeers,
    /// Addresses are known and dials are under way; none has answered yet.
    Connecting,
    /// Addresses are known but every dial failed.
    PeersUnreachable,
    /// The disk does not keep up: its write queue is full.
    Disk,
    /// Our own download limit is what we reach.
    DownloadLimit,
    /// No connected peer has any piece we still need.
    PiecesMissing,
    /// Every connected peer with pieces we need chokes us, and our upload
    /// limit is so low that tit-for-tat peers have no reason to unchoke.
    UploadLimit,
    /// Every connected peer with pieces we need chokes us.
    Choked,
    /// No peer has ever dialled us, and some could not be dialled: only
    /// peers that accept our dials can be used.
    NotConnectable,
    /// Nothing wrong: the peers are simply this fast.
    Fine,
    /// Fetching the file list of a magnet link.
    FetchingMetadata,
    /// Checking the data on disk.
    Checking,
    /// Paused by the user.
    Paused,
    /// Stopped by an error.
    Error,
    /// Every wanted piece is here.
    Complete,
}

impl Cause {
    /// A short title, as a user would say it.
    pub fn title(self) -> &'static str {
        match self {
            Cause::NoPeers => "No peers known",
            Cause::Connecting => "Connecting to peers",
            Cause::PeersUnreachable => "Peers known but none reachable",
            Cause::Disk => "The disk is the bottleneck",
            Cause::DownloadLimit => "Limited by our download limit",
            Cause::PiecesMissing => "No connected peer has the pieces we need",
            Cause::UploadLimit => "Peers choke us: our upload limit is too low",
            Cause::Choked => "Every peer chokes us",
            Cause::NotConnectable => "We are not connectable",
            Cause::Fine => "Nothing wrong: the peers are this fast",
            Cause::FetchingMetadata => "Fetching the file list",
            Cause::Checking => "Checking the data on disk",
            Cause::Paused => "Paused",
            Cause::Error => "Stopped by an error",
            Cause::Complete => "Complete",
        }
    }

    /// A one-word name for logs, tests and the command line.
    pub fn label(self) -> &'static str {
        match self {
            Cause::NoPeers => "no-peers",
            Cause::Connecting => "connecting",
            Cause::PeersUnreachable => "peers-unreachable",
            Cause::Disk => "disk",
            Cause::DownloadLimit => "download-limit",
            Cause::PiecesMissing => "pieces-missing",
            Cause::UploadLimit => "upload-limit",
            Cause::Choked => "choked",
            Cause::NotConnectable => "not-connectable",
            Cause::Fine => "fine",
            Cause::FetchingMetadata => "fetching-metadata",
            Cause::Checking => "checking",
            Cause::Paused => "paused",
            Cause::Error => "error",
            Cause::Complete => "complete",
        }
    }
}

/// The answer: the cause, what shows it, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// What limits the torrent now.
    pub cause: Cause,
    /// The facts behind it, with numbers.
    pub evidence: String,
    /// What the user can do; empty when nothing is to be done.
    pub fix: String,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.cause.title(), self.evidence)?;
        if !self.fix.is_empty() {
            write!(f, " Fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// Where the torrent stands, as far as the diagnosis cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Fetching a magnet's metadata.
    FetchingMetadata,
    /// Checking its data.
    Checking,
    /// Fetching pieces.
    Downloading,
    /// Every wanted piece is here.
    Complete,
    /// Paused by the user.
    Paused,
    /// Stopped by this error.
    Error(String),
}

/// One connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerFact {
    /// It chokes us.
    pub choking: bool,
    /// It has a piece we still need.
    pub has_needed: bool,
    /// Bytes per second from it.
    pub rate: u64,
}

/// One tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerFact {
    /// Its announce URL.
    pub url: String,
    /// Whether its last announce succeeded.
    pub working: bool,
    /// Whether it was ever asked (or is being asked now).
    pub contacted: bool,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Peers its last answer held.
    pub peers: u32,
}

/// The DHT as far as this torrent sees it (read from the session's
/// `Session::dht` and `Session::dht_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtFact {
    /// The session runs no DHT.
    Off,
    /// The DHT was asked for but could not start; why.
    Failed(String),
    /// The torrent is private: no DHT for it.
    Private,
    /// The DHT runs; `peers` addresses came from it for this torrent.
    Running {
        /// Addresses it gave for this torrent so far.
        peers: u32,
    },
}

/// Whether peers outside can dial us, by port mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortFact {
    /// Port mapping is off (or we listen on loopback).
    Off,
    /// Still looking for a router.
    Searching,
    /// The router forwards this address to us.
    Mapped(String),
    /// No router mapped the port; why.
    Failed(String),
}

/// Everything the rules look at, taken on one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// What the torrent is doing.
    pub phase: Phase,
    /// Download rate, bytes per second.
    pub download_rate: u64,
    /// Wanted bytes still missing.
    pub left: u64,
    /// Addresses known (connected or not).
    pub known_peers: usize,
    /// The open connections.
    pub peers: Vec<PeerFact>,
    /// Dials under way.
    pub dialling: usize,
    /// Dials that failed, all told.
    pub dial_failures: u32,
    /// Dials that ended in a connection, all told.
    pub dial_successes: u32,
    /// The commonest dial error and how often it happened.
    pub commonest_dial_error: Option<(String, u32)>,
    /// Peers that dialled us, all told.
    pub incoming: u32,
    /// Seconds the torrent has run.
    pub running_secs: u64,
    /// The trackers.
    pub trackers: Vec<TrackerFact>,
    /// The DHT.
    pub dht: DhtFact,
    /// Whether local peer discovery runs for this torrent.
    pub lsd: bool,
    /// Wanted pieces we lack that no connected peer has.
    pub missing_pieces: u32,
    /// Those pieces as inclusive ranges, first ones first.
    pub missing_ranges: Vec<(u32, u32)>,
    /// The files those pieces belong to.
    pub missing_files: Vec<String>,
    /// The download limit in force (the smaller of the torrent's and the
    /// session's), bytes per second.
    pub download_limit: Option<u64>,
    /// The upload limit in force, likewise.
    pub upload_limit: Option<u64>,
    /// Share of the disk write queue in use, averaged over recent ticks.
    pub disk_queue: f64,
    /// Port mapping.
    pub port: PortFact,
}

impl Facts {
    /// The facts of a torrent that has just started in `phase`: nothing
    /// known yet.
    pub fn starting(phase: Phase) -> Facts {
        Facts {
            phase,
            download_rate: 0,
            left: 0,
            known_peers: 0,
            peers: Vec::new(),
            dialling: 0,
            dial_failures: 0,
            dial_successes: 0,
            commonest_dial_error: None,
            incoming: 0,
            running_secs: 0,
            trackers: Vec::new(),
            dht: DhtFact::Off,
            lsd: false,
            missing_pieces: 0,
            missing_ranges: Vec::new(),
            missing_files: Vec::new(),
            download_limit: None,
            upload_limit: None,
            disk_queue: 0.0,
            port: PortFact::Off,
        }
    }
}

/// Names what limits the torrent now.
pub fn diagnose(f: &Facts) -> Diagnosis {
    match &f.phase {
        Phase::Downloading => {}
        Phase::FetchingMetadata if f.peers.is_empty() => {}
        Phase::FetchingMetadata => {
            let n = f.peers.len();
            return say(
                Cause::FetchingMetadata,
                format!("Asking {n} connected {} for it.", peers_word(n)),
                "",
            );
        }
        Phase::Checking => return say(Cause::Checking, "Hashing the files on disk.", ""),
        Phase::Paused => return say(Cause::Paused, "Paused.", "Resume it."),
        Phase::Error(e) => {
            return say(
                Cause::Error,
                format!("{}.", e.trim_end_matches('.')),
                "Fix the problem, then resume it.",
            )
        }
        Phase::Complete => return say(Cause::Complete, "Every wanted piece is here.", ""),
    }
    if f.peers.is_empty() {
        return no_connection(f);
    }
    if f.disk_queue >= DISK_QUEUE_FULL {
        let rate = if f.download_rate > 0 {
            format!(" (receiving {}/s)", bytes(f.download_rate))
        } else {
            String::new()
        };
        return say(
            Cause::Disk,
            format!(
                "The disk write queue is {:.0}% full: blocks arrive faster than the disk writes them{rate}.",
                f.disk_queue * 100.0,
            ),
            "Save to a faster disk, or close what else is writing to it.",
        );
    }
    if let Some(limit) = f.download_limit {
        if f.download_rate as f64 >= limit as f64 * LIMIT_REACHED {
            return say(
                Cause::DownloadLimit,
                format!(
                    "Downloading at {}/s; our download limit is {}/s.",
                    bytes(f.download_rate),
                    bytes(limit)
                ),
                "Raise or remove the download limit.",
            );
        }
    }
    let n = f.peers.len();
    let useful: Vec<&PeerFact> = f.peers.iter().filter(|p| p.has_needed).collect();
    if useful.is_empty() {
        return pieces_missing(f, n);
    }
    if useful.iter().all(|p| p.choking) {
        let u = useful.len();
        if let Some(limit) = f.upload_limit.filter(|l| *l < LOW_UPLOAD_LIMIT) {
            return say(
                Cause::UploadLimit,
                format!(
                    "All {u} {} with pieces we need choke us; our upload limit is {}/s, and peers unchoke those who upload to them.",
                    peers_word(u),
                    bytes(limit)
                ),
                format!("Raise the upload limit to at least {}/s.", bytes(LOW_UPLOAD_LIMIT * 4)),
            );
        }
        return say(
            Cause::Choked,
            format!(
                "All {u} connected {} with pieces we need choke us (they are serving others).",
                peers_word(u)
            ),
            "Wait: peers rotate whom they serve every few seconds; more peers help.",
        );
    }
    if f.incoming == 0 && f.dial_failures > 0 && f.running_secs >= CONNECTABLE_AFTER_SECS {
        return say(
            Cause::NotConnectable,
            format!(
                "No peer has dialled us in {} s, and {} of our dials failed; only peers that accept our dials can be used ({n} connected). {}",
                f.running_secs,
                f.dial_failures,
                port_words(&f.port)
            ),
            "Forward the listening port on the router, or turn on UPnP / NAT-PMP there.",
        );
    }
    let unchoked = f.peers.iter().filter(|p| !p.choking).count();
    say(
        Cause::Fine,
        format!(
            "{unchoked} of {n} connected {} send to us, {}/s in all; no limit or error holds us back.",
            peers_word(n),
            bytes(f.download_rate)
        ),
        "",
    )
}

/// No connection: no address, dials under way, or every dial failed.
fn no_connection(f: &Facts) -> Diagnosis {
    if f.known_peers == 0 {
        return say(Cause::NoPeers, discovery_words(f), discovery_fix(f));
    }
    if f.dial_failures == 0 {
        let known = format!("{} {} known", f.known_peers, peers_word(f.known_peers));
        let evidence = if f.dialling > 0 {
            format!("{known}, {} dials under way.", f.dialling)
        } else {
            format!("{known}; waiting to dial them again.")
        };
        return say(Cause::Connecting, evidence, "");
    }
    let mut evidence = format!(
        "{} {} known; {} dials failed",
        f.known_peers,
        peers_word(f.known_peers),
        f.dial_failures
    );
    if let Some((e, count)) = &f.commonest_dial_error {
        evidence.push_str(&format!(", most often ({count}) with \"{e}\""));
    }
    evidence.push('.');
    if f.incoming == 0 {
        evidence.push_str(" No peer has dialled us either.");
    }
    say(
        Cause::PeersUnreachable,
        evidence,
        "Check that nothing (a firewall, a VPN) blocks outgoing connections; wait for more peers.",
    )
}

fn pieces_missing(f: &Facts, n: usize) -> Diagnosis {
    let mut evidence = format!(
        "None of the {n} connected {} has any of the {} pieces we still need",
        peers_word(n),
        f.missing_pieces
    );
    if !f.missing_ranges.is_empty() {
        let ranges: Vec<String> = f
            .missing_ranges
            .iter()
            .take(MAX_RANGES)
            .map(|&(a, b)| {
                if a == b {
                    format!("{a}")
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        let more = if f.missing_ranges.len() > MAX_RANGES {
            ", …"
        } else {
            ""
        };
        evidence.push_str(&format!(" (pieces {}{more})", ranges.join(", ")));
    }
    if !f.missing_files.is_empty() {
        let files: Vec<&str> = f
            .missing_files
            .iter()
            .take(MAX_FILES)
            .map(String::as_str)
            .collect();
        let more = if f.missing_files.len() > MAX_FILES {
            format!(" and {} more", f.missing_files.len() - MAX_FILES)
        } else {
            String::new()
        };
        evidence.push_str(&format!("; missing from {}{more}", files.join(", ")));
    }
    evidence.push('.');
    say(
        Cause::PiecesMissing,
        evidence,
        "Wait for a peer that has them (a seeder), or skip those files.",
    )
}

/// What the trackers and the DHT say when no peer is known.
fn discovery_words(f: &Facts) -> String {
    let mut parts = Vec::new();
    if f.trackers.is_empty() {
        parts.push("The torrent has no tracker.".to_string());
    } else {
        let failing: Vec<&TrackerFact> = f
            .trackers
            .iter()
            .filter(|t| !t.working && t.error.is_some())
            .collect();
        let working = f.trackers.iter().filter(|t| t.working).count();
        let n = f.trackers.len();
        if !failing.is_empty() {
            let named: Vec<String> = failing
                .iter()
                .take(MAX_FILES)
                .map(|t| format!("{}: {}", t.url, t.error.as_deref().unwrap_or("")))
                .collect();
            parts.push(format!(
                "{} of {n} {} failing ({}).",
                failing.len(),
                if n == 1 { "tracker" } else { "trackers" },
                named.join("; ")
            ));
        }
        if working > 0 {
            parts.push(format!(
                "{working} of {n} {} answered with no peers.",
                if n == 1 { "tracker" } else { "trackers" }
            ));
        }
        if failing.is_empty() && working == 0 {
            parts.push(format!(
                "Waiting for {} to answer.",
                if n == 1 {
                    "the tracker"
                } else {
                    "the trackers"
                }
            ));
        }
    }
    parts.push(match &f.dht {
        DhtFact::Off => "The DHT is off.".into(),
        DhtFact::Failed(e) => format!("The DHT could not start: {e}."),
        DhtFact::Private => "The torrent is private: no DHT.".into(),
        DhtFact::Running { peers: 0 } => {
            "The DHT has found no peers for it yet (it may not have joined the network).".into()
        }
        DhtFact::Running { peers } => format!("The DHT gave {peers} addresses, all gone."),
    });
    parts.join(" ")
}

fn discovery_fix(f: &Facts) -> String {
    let trackers_fail = !f.trackers.is_empty() && f.trackers.iter().all(|t| !t.working);
    match (&f.dht, trackers_fail) {
        (DhtFact::Off, _) | (DhtFact::Failed(_), _) => {
            "Turn on the DHT, add a working tracker, or add a peer by hand.".into()
        }
        (_, true) => "Add a working tracker, or add a peer by hand.".into(),
        _ => "Wait: the swarm may be empty now; add a peer by hand if you know one.".into(),
    }
}

fn port_words(p: &PortFact) -> String {
    match p {
        PortFact::Off => "Port mapping is off.".into(),
        PortFact::Searching => "Port mapping is still looking for the router.".into(),
        PortFact::Mapped(a) => format!("The router maps {a} to us, yet nobody came."),
        PortFact::Failed(e) => format!("Port mapping failed: {e}."),
    }
}

fn say(cause: Cause, evidence: impl Into<String>, fix: impl Into<String>) -> Diagnosis {
    Diagnosis {
        cause,
        evidence: evidence.into(),
        fix: fix.into(),
    }
}

fn peers_word(n: usize) -> &'static str {
    if n == 1 {
        "peer"
    } else {
        "peers"
    }
}

/// Bytes in binary units, one decimal: `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The wanted pieces we lack that nobody connected has, as inclusive
/// ranges: `missing(i)` says whether piece `i` is one.
pub fn ranges(num_pieces: u32, missing: impl Fn(u32) -> bool) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for i in (0..num_pieces).filter(|&i| missing(i)) {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => out.push((i, i)),
        }
    }
    out
}

#[cfg(test)]
mod tests;
