//! Trackers: the announce request and response every tracker protocol shares,
//! the errors an announce can end with, and [`announce`], which sends one
//! announce to one tracker URL over the protocol its scheme names.
//!
//! - [`http`]: HTTP and HTTPS trackers (BEP 3, compact peers per BEP 23, `peers6`).
//! - [`udp`]: UDP trackers (BEP 15).
//! - [`scrape`]: swarm counts without joining (BEP 48), over HTTP(S) and UDP.
//! - [`ssrf`]: what keeps tracker URLs from reaching services on this machine.
//! - [`announcer`]: the per-torrent task that decides when to announce to
//!   which tracker of which tier (BEP 12), with backoff and a status for display.
//!
//! Every request is bounded in time ([`HTTP_TIMEOUT`], [`udp::UdpTimeouts`])
//! and in size ([`MAX_RESPONSE_LEN`]), because a tracker is a stranger on the
//! network like any peer.

pub mod announcer;
pub mod http;
pub mod scrape;
pub mod ssrf;
pub mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use crate::types::{InfoHash, PeerId};

pub use announcer::{Announcer, AnnouncerHandle, TrackerState, TrackerStatus, TransferStats};

/// The largest HTTP tracker response body we read (DESIGN.md, "Limits against
/// bad input"). Enforced while reading, so a tracker cannot make us buffer more.
pub const MAX_RESPONSE_LEN: usize = 1024 * 1024;

/// How long one HTTP announce may take, from connecting to the last byte of the
/// body.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long establishing the TCP (and TLS) connection to an HTTP tracker may
/// take; a part of [`HTTP_TIMEOUT`].
pub const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The interval we use when a tracker's response does not give one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// The shortest re-announce interval we accept from a tracker; a smaller one
/// (including 0) is raised to this so that a broken tracker cannot make us
/// announce in a tight loop.
pub const MIN_INTERVAL_FLOOR: Duration = Duration::from_secs(30);

/// The longest re-announce interval we accept; a larger one is lowered to this
/// so that a tracker cannot make us go silent for days.
pub const MAX_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);

/// One announce: who we are, which torrent, how far along we are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent we announce; the tracker's key for its swarm.
    pub info_hash: InfoHash,
    /// Our peer id, so the tracker can tell our announces from other peers'.
    pub peer_id: PeerId,
    /// The TCP port we accept peer connections on; the tracker hands it out.
    pub port: u16,
    /// Bytes uploaded since the `started` event, for the tracker's statistics.
    pub uploaded: u64,
    /// Bytes downloaded since the `started` event, for the tracker's statistics.
    pub downloaded: u64,
    /// Bytes still missing; 0 makes us a seeder in the tracker's eyes.
    pub left: u64,
    /// Why we announce now (start, completion, stop, or a regular update).
    pub event: Event,
    /// How many peers we would like; `None` leaves it to the tracker.
    pub numwant: Option<u32>,
    /// A random number fixed for the session (BEP 7 `key`), so a tracker can
    /// recognise us after our IP address changes.
    pub key: u32,
    /// Our global IPv6 address, sent as BEP 7's `ipv6=` to HTTP trackers
    /// so that a tracker we reach over IPv4 can hand out our IPv6 address
    /// too (and one we reach over IPv6 our IPv4 one, which it sees).
    /// `None` when we do not listen on every IPv6 address or have no
    /// global one. UDP announces have no field for it (BEP 15).
    pub ipv6: Option<std::net::Ipv6Addr>,
}

/// The `event` of an announce (BEP 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None,
    /// The first announce to a tracker for this torrent.
    Started,
    /// The download finished (sent once, not when starting as a seeder).
    Completed,
    /// We are leaving the swarm; the tracker should drop us from its list.
    Stopped,
}

impl Event {
    /// The value of the HTTP `event` parameter, `None` for a regular announce.
    pub fn as_http_param(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Started => Some("started"),
            Event::Completed => Some("completed"),
            Event::Stopped => Some("stopped"),
        }
    }

    /// The event code of a UDP announce (BEP 15).
    pub fn as_udp_code(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }
}

/// What a tracker answered to a successful announce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// How long to wait before the next regular announce; clamped to
    /// [`MIN_INTERVAL_FLOOR`]..=[`MAX_INTERVAL`], [`DEFAULT_INTERVAL`] when absent.
    pub interval: Duration,
    /// The tracker's floor for any announce, including forced ones; at most
    /// [`MAX_INTERVAL`].
    pub min_interval: Option<Duration>,
    /// Peers in the swarm, IPv4 and IPv6 alike (the tracker may include us).
    pub peers: Vec<SocketAddr>,
    /// Peers with the whole torrent (`complete`), if the tracker said.
    pub seeders: Option<u32>,
    /// Peers still downloading (`incomplete`), if the tracker said.
    pub leechers: Option<u32>,
    /// A `warning message`: the announce worked but the tracker has a remark.
    pub warning: Option<String>,
}

/// Why an announce failed.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    /// The URL's scheme is none we speak.
    #[error("unsupported tracker URL scheme {0:?} (expected http, https or udp)")]
    UnsupportedScheme(String),
    /// The URL cannot be used at all.
    #[error("invalid tracker URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL is refused before any request: it would reach a service on
    /// this machine, or it is crafted (see [`ssrf`]).
    #[error("tracker URL {url:?} refused: {reason}")]
    Refused {
        /// The URL (or redirect target) as given.
        url: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The tracker cannot be scraped: its URL's last path part does not
    /// start with `announce` (BEP 48).
    #[error("tracker {0:?} does not support scrape (no `announce` in its URL's last path part)")]
    NoScrape(String),
    /// The tracker's host name resolved to no address.
    #[error("tracker host {0:?} has no address")]
    NoAddress(String),
    /// No (complete) answer within the time allowed.
    #[error("tracker did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// The HTTP tracker answered with a status other than 2xx and no failure reason.
    #[error("tracker answered with HTTP status {0}")]
    HttpStatus(u16),
    /// The tracker refused the announce and said why (`failure reason`, or a
    /// UDP error packet).
    #[error("tracker refused the announce: {0}")]
    Failure(String),
    /// The answer is not a valid tracker response.
    #[error("malformed tracker response: {0}")]
    Malformed(String),
    /// The response body exceeds [`MAX_RESPONSE_LEN`].
    #[error("tracker response exceeds the limit of {limit} bytes")]
    TooBig {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The HTTP request failed below the HTTP layer (connect, TLS, protocol);
    /// the message includes the cause.
    #[error("HTTP request failed: {0}")]
    Http(String),
    /// A socket error (for example a refused connection).
    #[error("network error talking to the tracker: {0}")]
    Io(#[from] std::io::Error),
}

/// Sends one announce to the tracker at `url`, over HTTP(S) or UDP according
/// to its scheme. Bounded in time by [`HTTP_TIMEOUT`] or the UDP timeouts.
pub async fn announce(url: &str, req: &AnnounceRequest) -> Result<AnnounceResponse, TrackerError> {
    match scheme_of(url)?.as_str() {
        "http" | "https" => http::announce(url, req).await,
        "udp" => udp::announce(url, req).await,
        other => Err(TrackerError::UnsupportedScheme(other.to_owned())),
    }
}

/// The lowercase scheme of `url`, or why it has none.
pub(crate) fn scheme_of(url: &str) -> Result<String, TrackerError> {
    let parsed = url::Url::parse(url).map_err(|e| TrackerError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(parsed.scheme().to_ascii_lowercase())
}

/// Turns interval seconds from a tracker into a duration within our bounds.
pub(crate) fn clamp_interval(secs: Option<i64>) -> Duration {
    match secs {
        None => DEFAULT_INTERVAL,
        Some(s) => Duration::from_secs(s.max(0) as u64).clamp(MIN_INTERVAL_FLOOR, MAX_INTERVAL),
    }
}

/// Turns a tracker's `min interval` seconds into a duration of at most
/// [`MAX_INTERVAL`]: a floor larger than the longest interval we accept
/// would silence us for as long as the tracker likes, and one beyond what
/// a clock can add would overflow it.
pub(crate) fn clamp_min_interval(secs: i64) -> Duration {
    Duration::from_secs(secs.max(0) as u64).min(MAX_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_clamped() {
        assert_eq!(clamp_interval(None), DEFAULT_INTERVAL);
        assert_eq!(clamp_interval(Some(0)), MIN_INTERVAL_FLOOR);
        assert_eq!(clamp_interval(Some(-5)), MIN_INTERVAL_FLOOR);
        assert_eq!(clamp_interval(Some(1800)), Duration::from_secs(1800));
        assert_eq!(clamp_interval(Some(i64::MAX)), MAX_INTERVAL);
        assert_eq!(clamp_min_interval(-1), Duration::ZERO);
        assert_eq!(clamp_min_interval(900), Duration::from_secs(900));
        assert_eq!(clamp_min_interval(i64::MAX), MAX_INTERVAL);
    }

    #[test]
    fn event_codes() {
        assert_eq!(Event::None.as_udp_code(), 0);
        assert_eq!(Event::Completed.as_udp_code(), 1);
        assert_eq!(Event::Started.as_udp_code(), 2);
        assert_eq!(Event::Stopped.as_udp_code(), 3);
        assert_eq!(Event::None.as_http_param(), None);
        assert_eq!(Event::Stopped.as_http_param(), Some("stopped"));
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        let req = AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            port: 1,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Event::Started,
            numwant: None,
            key: 0,
            ipv6: None,
        };
        assert!(matches!(
            announce("wss://tracker.example/announce", &req).await,
            Err(TrackerError::UnsupportedScheme(s)) if s == "wss"
        ));
        assert!(matches!(
            announce("not a url", &req).await,
            Err(TrackerError::InvalidUrl { .. })
        ));
    }
}
