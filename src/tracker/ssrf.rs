//! Keeping tracker URLs from being used against services on this machine
//! (server-side request forgery).
//!
//! A .torrent or magnet link names its trackers, and we send each an HTTP
//! `GET`: whoever wrote the torrent chooses a URL we fetch from inside the
//! user's machine, where local services often trust any request from
//! 127.0.0.1. We cannot refuse loopback trackers outright (running one there
//! is a real, if rare, setup, and our tests do it), so we follow libtorrent's
//! `ssrf_mitigation`:
//!
//! - A tracker on this machine must look like a tracker: its path must end
//!   in `/announce` (or `/announce.php`), the convention of trackers, which a
//!   local REST API's endpoints do not share. This holds for the URL in the
//!   torrent and for every redirect we follow ([`redirect_policy`]).
//!   "On this machine" means a loopback address written in the URL, or the
//!   names `localhost` and `*.localhost`.
//! - Any other name that resolves to loopback addresses has those addresses
//!   dropped ([`NoLoopbackNames`]): a DNS name cannot lead us to a local
//!   service whatever its path. (libtorrent applies the path rule to such a
//!   name instead; we are stricter, since a tracker that needs a DNS name
//!   pointing at 127.0.0.1 is not a setup we know of.)
//! - A URL whose query already holds announce parameters (`info_hash`,
//!   `peer_id`, `port`, `uploaded`, `downloaded`, `left`, `event`, `key`,
//!   `corrupt`) is refused wherever it points: those are ours to add, and a
//!   URL that fixes them is crafted.
//!
//! UDP trackers are left alone, as libtorrent leaves them: their requests
//! are binary packets that open with a fixed magic number, not requests a
//! local service would act on.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use super::TrackerError;

/// Announce parameters a tracker URL must not carry already.
const ANNOUNCE_PARAMS: [&str; 9] = [
    "info_hash",
    "peer_id",
    "port",
    "uploaded",
    "downloaded",
    "left",
    "event",
    "key",
    "corrupt",
];

/// Checks a tracker URL as the torrent gives it, before we add the
/// announce parameters.
pub fn check_url(url: &Url) -> Result<(), TrackerError> {
    if url
        .query_pairs()
        .any(|(k, _)| ANNOUNCE_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p)))
    {
        return Err(refused(url, "its query already holds announce parameters"));
    }
    check_destination(url)
}

/// Checks where a request goes: the tracker URL, or a redirect target
/// (which carries our announce parameters, so only the host and path
/// count).
pub fn check_destination(url: &Url) -> Result<(), TrackerError> {
    if names_this_machine(url) && !is_announce_path(url.path()) {
        return Err(refused(
            url,
            "it points at this machine and its path is not an announce path",
        ));
    }
    Ok(())
}

fn refused(url: &Url, reason: &str) -> TrackerError {
    TrackerError::Refused {
        url: url.as_str().to_owned(),
        reason: reason.to_owned(),
    }
}

/// Whether the URL's host is this machine by its literal address or by the
/// name `localhost`.
pub(crate) fn names_this_machine(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_loopback(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_loopback(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => is_localhost_name(name),
        None => false,
    }
}

/// `localhost` and the names under it (RFC 6761), which resolvers answer
/// with loopback addresses.
fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Loopback, also as an IPv4-mapped IPv6 address.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The tracker convention: a path whose last segment is `announce` (or
/// `announce.php`).
fn is_announce_path(path: &str) -> bool {
    path.ends_with("/announce") || path.ends_with("/announce.php")
}

/// The redirect policy of the tracker client: at most `max` redirects, each
/// target checked with [`check_destination`].
pub fn redirect_policy(max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(format!("more than {max} redirects"));
        }
        match check_destination(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e.to_string()),
        }
    })
}

/// The tracker client's resolver: the system's, but a name other than
/// `localhost` never yields a loopback address.
#[derive(Debug, Default)]
pub struct NoLoopbackNames;

impl NoLoopbackNames {
    /// As a resolver for `reqwest::ClientBuilder::dns_resolver`.
    pub fn shared() -> Arc<Self> {
        Arc::new(NoLoopbackNames)
    }
}

impl Resolve for NoLoopbackNames {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is replaced by the caller; 0 is a placeholder.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = keep_addresses(&host, found);
            if kept.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to loopback addresses; refused").into();
                return Err(e);
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The addresses of `name` we may connect to.
fn keep_addresses(name: &str, found: Vec<SocketAddr>) -> Vec<SocketAddr> {
    if is_localhost_name(name) {
        return found;
    }
    found.into_iter().filter(|a| !is_loopback(a.ip())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> bool {
        check_url(&Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn local_trackers_need_an_announce_path() {
        assert!(check("http://127.0.0.1:6969/announce"));
        assert!(check("http://127.0.0.1:6969/announce?passkey=abc"));
        assert!(check("http://localhost/tracker/announce.php"));
        assert!(check("https://[::1]:443/x/announce"));
        for bad in [
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/api/shutdown",
            "http://127.1.2.3/announce/../admin",
            "http://LOCALHOST:9000/delete?all=1",
            "http://app.localhost./config",
            "http://[::1]/admin",
            "http://[::ffff:127.0.0.1]/admin",
            "http://127.0.0.1/announcements",
        ] {
            assert!(!check(bad), "{bad}");
        }
    }

    #[test]
    fn remote_trackers_keep_any_path() {
        assert!(check("http://tracker.example/whatever"));
        assert!(check("http://192.168.1.10:8080/"));
        assert!(check("udp://tracker.example:1337"));
    }

    #[test]
    fn announce_parameters_in_the_url_are_refused() {
        assert!(!check("http://tracker.example/announce?info_hash=abc"));
        assert!(!check("http://tracker.example/announce?passkey=1&PORT=80"));
        assert!(check("http://tracker.example/announce?passkey=1&uid=2"));
        // A redirect target carries our parameters: only its host and path count.
        let target = Url::parse("http://127.0.0.1/announce?info_hash=x&port=1").unwrap();
        assert!(check_destination(&target).is_ok());
        let target = Url::parse("http://127.0.0.1/admin?info_hash=x").unwrap();
        assert!(check_destination(&target).is_err());
    }

    #[test]
    fn names_other_than_localhost_lose_loopback_addresses() {
        let found = vec![
            SocketAddr::from(([127, 0, 0, 1], 0)),
            SocketAddr::from(([10, 0, 0, 1], 0)),
            "[::1]:0".parse().unwrap(),
        ];
        assert_eq!(
            keep_addresses("tracker.example", found.clone()),
            vec![SocketAddr::from(([10, 0, 0, 1], 0))]
        );
        assert_eq!(keep_addresses("localhost", found.clone()), found);
    }
}
