//! HTTP(S) tracker announces (BEP 3): building the announce URL with the
//! binary info hash and peer id percent-encoded byte by byte, reading the
//! response within [`MAX_RESPONSE_LEN`] and [`HTTP_TIMEOUT`], and parsing the
//! bencoded answer: compact and dictionary peer lists (BEP 23), `peers6`,
//! `failure reason`, `warning message`, intervals and swarm counts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_bencode::value::Value;
use serde_bytes::ByteBuf;

use super::{
    clamp_interval, clamp_min_interval, AnnounceRequest, AnnounceResponse, TrackerError,
    HTTP_CONNECT_TIMEOUT, HTTP_TIMEOUT, MAX_RESPONSE_LEN,
};

/// How many redirects we follow before giving up on a tracker.
pub const MAX_REDIRECTS: usize = 5;

/// What we send as `User-Agent`.
const USER_AGENT: &str = concat!("Shoal/", env!("CARGO_PKG_VERSION"));

/// A successful HTTP announce: the response, and the `tracker id` the tracker
/// asked us to send back in later announces (BEP 3), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnnounce {
    /// The parsed response.
    pub response: AnnounceResponse,
    /// The tracker's `tracker id`, to echo as `trackerid` next time.
    pub tracker_id: Option<Vec<u8>>,
}

/// Announces to the HTTP(S) tracker at `url`.
pub async fn announce(url: &str, req: &AnnounceRequest) -> Result<AnnounceResponse, TrackerError> {
    announce_with_tracker_id(url, req, None)
        .await
        .map(|a| a.response)
}

/// Announces to the HTTP(S) tracker at `url`, echoing `tracker_id` from an
/// earlier response when given, and returns the new one along with the
/// response.
pub async fn announce_with_tracker_id(
    url: &str,
    req: &AnnounceRequest,
    tracker_id: Option<&[u8]>,
) -> Result<HttpAnnounce, TrackerError> {
    let base = reqwest::Url::parse(url).map_err(|e| TrackerError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    super::ssrf::check_url(&base)?;
    let full = announce_url(url, req, tracker_id);
    let parsed = reqwest::Url::parse(&full).map_err(|e| TrackerError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(TrackerError::UnsupportedScheme(other.to_owned())),
    }
    let client = client()?;
    tokio::time::timeout(HTTP_TIMEOUT, fetch(client, parsed))
        .await
        .map_err(|_| TrackerError::Timeout(HTTP_TIMEOUT))?
}

/// The full announce URL: `base` with the announce parameters appended to its
/// query (after `&` when it already has one, as private trackers' passkeys do).
pub fn announce_url(base: &str, req: &AnnounceRequest, tracker_id: Option<&[u8]>) -> String {
    let (base, fragment) = match base.find('#') {
        Some(i) => base.split_at(i),
        None => (base, ""),
    };
    let _ = fragment; // a fragment is never sent to the server
    let sep = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    let mut url = format!(
        "{base}{sep}info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&key={:08x}",
        percent_encode(&req.info_hash.0),
        percent_encode(&req.peer_id.0),
        req.port,
        req.uploaded,
        req.downloaded,
        req.left,
        req.key,
    );
    if let Some(event) = req.event.as_http_param() {
        url.push_str("&event=");
        url.push_str(event);
    }
    if let Some(n) = req.numwant {
        url.push_str(&format!("&numwant={n}"));
    }
    if let Some(ip) = req.ipv6 {
        url.push_str("&ipv6=");
        url.push_str(&percent_encode(ip.to_string().as_bytes()));
    }
    if let Some(id) = tracker_id {
        url.push_str("&trackerid=");
        url.push_str(&percent_encode(id));
    }
    url
}

/// Percent-encodes raw bytes for a query string: RFC 3986 unreserved
/// characters stay, every other byte becomes `%XX`.
pub fn percent_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// Parses a bencoded announce response. A `failure reason` becomes
/// [`TrackerError::Failure`], whatever else the dictionary holds.
pub fn parse_response(body: &[u8]) -> Result<HttpAnnounce, TrackerError> {
    // Well formed and of bounded depth before serde_bencode (which
    // recurses) sees it.
    crate::bencode::scan(body, 0).map_err(|e| match e {
        crate::bencode::BencodeError::UnexpectedByte { offset: 0, .. } => TrackerError::Malformed(
            format!("not bencode (response starts with {:?})", excerpt(body)),
        ),
        e => TrackerError::Malformed(e.to_string()),
    })?;
    let raw: RawResponse = serde_bencode::from_bytes(body).map_err(|e| {
        TrackerError::Malformed(format!("{e} (response starts with {:?})", excerpt(body)))
    })?;
    if let Some(reason) = raw.failure_reason {
        return Err(TrackerError::Failure(lossy(&reason)));
    }
    let mut peers = match raw.peers {
        None => Vec::new(),
        Some(Value::Bytes(b)) => compact_peers_v4(&b)?,
        Some(Value::List(list)) => dict_peers(&list),
        Some(_) => {
            return Err(TrackerError::Malformed(
                "`peers` is neither a string nor a list".into(),
            ))
        }
    };
    if let Some(b) = raw.peers6 {
        peers.extend(compact_peers_v6(&b)?);
    }
    Ok(HttpAnnounce {
        response: AnnounceResponse {
            interval: clamp_interval(raw.interval),
            min_interval: raw.min_interval.map(clamp_min_interval),
            peers,
            seeders: raw.complete.and_then(|n| u32::try_from(n).ok()),
            leechers: raw.incomplete.and_then(|n| u32::try_from(n).ok()),
            warning: raw.warning_message.map(|w| lossy(&w)),
        },
        tracker_id: raw.tracker_id.map(|b| b.into_vec()),
    })
}

/// Peers from a compact IPv4 string: 4 address bytes and 2 port bytes each.
pub fn compact_peers_v4(bytes: &[u8]) -> Result<Vec<SocketAddr>, TrackerError> {
    if bytes.len() % 6 != 0 {
        return Err(TrackerError::Malformed(format!(
            "compact `peers` is {} bytes, not a multiple of 6",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(6)
        .map(|c| {
            let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
            SocketAddr::new(IpAddr::V4(ip), u16::from_be_bytes([c[4], c[5]]))
        })
        .collect())
}

/// Peers from a compact IPv6 string: 16 address bytes and 2 port bytes each.
pub fn compact_peers_v6(bytes: &[u8]) -> Result<Vec<SocketAddr>, TrackerError> {
    if bytes.len() % 18 != 0 {
        return Err(TrackerError::Malformed(format!(
            "compact `peers6` is {} bytes, not a multiple of 18",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(18)
        .map(|c| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&c[..16]);
            let ip = Ipv6Addr::from(octets);
            SocketAddr::new(IpAddr::V6(ip), u16::from_be_bytes([c[16], c[17]]))
        })
        .collect())
}

/// The raw dictionary of a response; unknown keys are ignored.
#[derive(Deserialize)]
struct RawResponse {
    /// Present when the tracker refused the announce.
    #[serde(rename = "failure reason")]
    failure_reason: Option<ByteBuf>,
    /// A remark on an otherwise successful announce.
    #[serde(rename = "warning message")]
    warning_message: Option<ByteBuf>,
    /// Seconds until the next regular announce.
    interval: Option<i64>,
    /// Seconds below which we must not announce again.
    #[serde(rename = "min interval")]
    min_interval: Option<i64>,
    /// The tracker's session id for us, echoed in later announces.
    #[serde(rename = "tracker id")]
    tracker_id: Option<ByteBuf>,
    /// Seeders in the swarm.
    complete: Option<i64>,
    /// Leechers in the swarm.
    incomplete: Option<i64>,
    /// Compact string (BEP 23) or a list of `{ip, port, peer id}` dictionaries.
    peers: Option<Value>,
    /// Compact IPv6 peers.
    peers6: Option<ByteBuf>,
}

/// Peers from the dictionary form: entries without a numeric IP address or a
/// valid port are skipped (we do not resolve host names a tracker hands out).
fn dict_peers(list: &[Value]) -> Vec<SocketAddr> {
    list.iter()
        .filter_map(|entry| {
            let Value::Dict(d) = entry else { return None };
            let ip = match d.get(&b"ip"[..])? {
                Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse::<IpAddr>().ok()?,
                _ => return None,
            };
            let port = match d.get(&b"port"[..])? {
                Value::Int(p) => u16::try_from(*p).ok()?,
                _ => return None,
            };
            Some(SocketAddr::new(ip, port))
        })
        .collect()
}

/// The shared HTTP client: one connection pool and TLS configuration for all
/// trackers.
fn client() -> Result<&'static reqwest::Client, TrackerError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(HTTP_CONNECT_TIMEOUT)
                .timeout(HTTP_TIMEOUT)
                // A redirect must pass the rules the tracker URL passed,
                // and names do not lead to loopback (see `ssrf`).
                .redirect(super::ssrf::redirect_policy(MAX_REDIRECTS))
                .dns_resolver(super::ssrf::NoLoopbackNames::shared())
                // Trackers are reached directly, as peers are; proxy variables
                // in the environment are meant for other programs.
                .no_proxy()
                // No idle connections: announces are minutes apart, and a pooled
                // connection would belong to the runtime that opened it.
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| error_chain(&e))
        })
        .as_ref()
        .map_err(|e| TrackerError::Http(e.clone()))
}

/// Sends the request and reads and parses the response.
async fn fetch(client: &reqwest::Client, url: reqwest::Url) -> Result<HttpAnnounce, TrackerError> {
    let resp = client.get(url).send().await.map_err(http_error)?;
    let status = resp.status();
    let body = read_limited(resp).await?;
    if !status.is_success() {
        // Some trackers refuse with a non-2xx status and a bencoded reason.
        return match parse_response(&body) {
            Err(e @ TrackerError::Failure(_)) => Err(e),
            _ => Err(TrackerError::HttpStatus(status.as_u16())),
        };
    }
    parse_response(&body)
}

/// Sends a GET to a tracker (a scrape) with the shared client, and returns
/// the status and the body, read within [`MAX_RESPONSE_LEN`]. The caller
/// bounds the time.
pub(super) async fn get_limited(url: reqwest::Url) -> Result<(u16, Vec<u8>), TrackerError> {
    let resp = client()?.get(url).send().await.map_err(http_error)?;
    let status = resp.status().as_u16();
    Ok((status, read_limited(resp).await?))
}

/// Reads the body chunk by chunk, failing as soon as it passes the limit.
async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, TrackerError> {
    let too_big = TrackerError::TooBig {
        limit: MAX_RESPONSE_LEN,
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_LEN as u64)
    {
        return Err(too_big);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(http_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_LEN {
            return Err(too_big);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error as ours, with its causes spelled out (reqwest's own message
/// hides the interesting part, such as "Connection refused", in its source).
fn http_error(e: reqwest::Error) -> TrackerError {
    if e.is_timeout() {
        return TrackerError::Timeout(HTTP_TIMEOUT);
    }
    TrackerError::Http(error_chain(&e))
}

/// An error and its sources, joined with ": ".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The start of a body, for error messages.
fn excerpt(body: &[u8]) -> String {
    lossy(&body[..body.len().min(60)])
}

/// Bytes as text, replacing what is not UTF-8.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::{Event, DEFAULT_INTERVAL, MAX_INTERVAL, MIN_INTERVAL_FLOOR};
    use crate::types::{InfoHash, PeerId};
    use std::time::Duration;

    fn request() -> AnnounceRequest {
        let mut hash = [0u8; 20];
        hash[..6].copy_from_slice(&[0x12, 0x34, b'A', b' ', 0xff, b'~']);
        AnnounceRequest {
            info_hash: InfoHash(hash),
            peer_id: PeerId(*b"-SH0100-abcdefghij.k"),
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Event::Started,
            numwant: Some(50),
            key: 0xdeadbeef,
            ipv6: None,
        }
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_bytes() {
        assert_eq!(percent_encode(b"aZ09-._~"), "aZ09-._~");
        assert_eq!(
            percent_encode(&[0, b' ', b'%', b'+', 0xff]),
            "%00%20%25%2B%FF"
        );
    }

    #[test]
    fn announce_url_names_our_ipv6_address() {
        let mut req = request();
        req.ipv6 = Some("2001:db8::1".parse().unwrap());
        let url = announce_url("http://t.example/announce", &req, None);
        assert!(url.ends_with("&ipv6=2001%3Adb8%3A%3A1"), "{url}");
        assert!(!announce_url("http://t/a", &request(), None).contains("ipv6"));
    }

    #[test]
    fn announce_url_has_every_parameter() {
        let url = announce_url("http://t.example/announce", &request(), None);
        assert_eq!(
            url,
            "http://t.example/announce?info_hash=%124A%20%FF~%00%00%00%00%00%00%00%00%00%00%00%00%00%00\
             &peer_id=-SH0100-abcdefghij.k&port=6881&uploaded=1&downloaded=2&left=3&compact=1\
             &key=deadbeef&event=started&numwant=50"
        );
        let mut req = request();
        req.event = Event::None;
        req.numwant = None;
        let url = announce_url("https://t.example/a?passkey=x#frag", &req, Some(b"id 1"));
        assert!(
            url.starts_with("https://t.example/a?passkey=x&info_hash="),
            "{url}"
        );
        assert!(!url.contains("event=") && !url.contains("numwant") && !url.contains('#'));
        assert!(url.ends_with("&trackerid=id%201"), "{url}");
    }

    #[test]
    fn compact_response() {
        let body = b"d8:completei3e10:incompletei2e8:intervali1800e12:min intervali900e\
                     5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x50\
                     6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2\
                     10:tracker id3:abce";
        let a = parse_response(body).unwrap();
        let r = a.response;
        assert_eq!(r.interval, Duration::from_secs(1800));
        assert_eq!(r.min_interval, Some(Duration::from_secs(900)));
        assert_eq!(r.seeders, Some(3));
        assert_eq!(r.leechers, Some(2));
        assert_eq!(
            r.peers,
            vec![
                "127.0.0.1:6881".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap(),
                "[::1]:6882".parse().unwrap()
            ]
        );
        assert_eq!(r.warning, None);
        assert_eq!(a.tracker_id.as_deref(), Some(&b"abc"[..]));
    }

    #[test]
    fn dictionary_peers() {
        let body = b"d8:intervali60e5:peersl\
                     d2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881ee\
                     d2:ip3:::14:porti1ee\
                     d2:ip11:example.com4:porti1ee\
                     d2:ip8:10.0.0.14:porti70000ee\
                     i5e\
                     e15:warning message6:bewaree";
        let r = parse_response(body).unwrap().response;
        assert_eq!(
            r.peers,
            vec![
                "127.0.0.1:6881".parse().unwrap(),
                "[::1]:1".parse().unwrap()
            ]
        );
        assert_eq!(r.warning.as_deref(), Some("beware"));
        assert_eq!(r.seeders, None);
    }

    #[test]
    fn failure_reason_wins() {
        let body = b"d14:failure reason63:Requested download is not authorized for use with this tracker.e";
        match parse_response(body) {
            Err(TrackerError::Failure(m)) => assert!(m.contains("not authorized")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_and_silly_intervals() {
        let r = parse_response(b"de").unwrap().response;
        assert_eq!(r.interval, DEFAULT_INTERVAL);
        assert!(r.peers.is_empty());
        let r = parse_response(b"d8:intervali0ee").unwrap().response;
        assert_eq!(r.interval, MIN_INTERVAL_FLOOR);
        // A `min interval` is capped like `interval`: a tracker cannot
        // silence us for years, nor hand us a time that overflows a clock.
        let r = parse_response(b"d12:min intervali9223372036854775807ee")
            .unwrap()
            .response;
        assert_eq!(r.min_interval, Some(MAX_INTERVAL));
        let r = parse_response(b"d12:min intervali-7ee").unwrap().response;
        assert_eq!(r.min_interval, Some(Duration::ZERO));
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        for body in [
            &b""[..],
            b"<title>Invalid Request</title>",
            b"d5:peers5:abcdee",
            b"d6:peers67:abcdefge",
            b"d5:peersi3ee",
            b"d8:intervalle",
            b"d8:interval3:abce",
            b"d5:peers999999999999999999999:e",
            b"d5:peers",
            b"i12",
        ] {
            assert!(
                matches!(parse_response(body), Err(TrackerError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let mut body = b"d1:x".to_vec();
        body.extend(std::iter::repeat_n(b'l', 100_000));
        body.extend(std::iter::repeat_n(b'e', 100_000));
        body.push(b'e');
        match parse_response(&body) {
            Err(TrackerError::Malformed(m)) => assert!(m.contains("nests"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(parse_response(b"d1:xlld1:ai1eeeee8:intervali60ee").is_ok());
    }
}
