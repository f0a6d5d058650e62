//! Scrapes (BEP 48): asking a tracker how many seeders, leechers and
//! completed downloads a swarm has, without joining it.
//!
//! - HTTP(S): the scrape URL is the announce URL with `announce` at the
//!   start of its last path part replaced by `scrape` ([`scrape_url`]); a
//!   tracker whose URL has no such part does not scrape. The answer is a
//!   bencoded `files` dictionary keyed by the 20-byte info hash, read within
//!   [`MAX_RESPONSE_LEN`] and [`HTTP_TIMEOUT`] like an announce.
//! - UDP: action 2 of BEP 15, over the same connection id as announces.
//!
//! Only the entry for our info hash counts; entries for other hashes are
//! ignored, and an answer without ours means the tracker knows no peer of
//! the torrent.

use serde_bencode::value::Value;

use super::http::percent_encode;
use super::udp::{self, UdpTimeouts};
use super::{scheme_of, TrackerError, HTTP_TIMEOUT, MAX_RESPONSE_LEN};
use crate::types::InfoHash;

/// Length of a UDP scrape request for one info hash.
pub const UDP_SCRAPE_REQUEST_LEN: usize = 36;

/// The UDP action number of a scrape.
pub(super) const ACTION_SCRAPE: u32 = 2;

/// A swarm's counts by one tracker's scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScrapeCounts {
    /// Peers with the whole torrent (`complete`).
    pub seeders: u32,
    /// Peers still downloading (`incomplete`).
    pub leechers: u32,
    /// Downloads the tracker has seen finish (`downloaded`), when it says.
    pub completed: Option<u32>,
}

/// The scrape URL of an HTTP(S) announce URL (BEP 48), or `None` when the
/// tracker cannot be scraped: the last part of the path must start with
/// `announce`, which becomes `scrape` (`/x/announce.php?k=1` gives
/// `/x/scrape.php?k=1`). UDP URLs are scraped over UDP and need no rule;
/// for them this gives the URL unchanged.
pub fn scrape_url(announce: &str) -> Option<String> {
    let mut url = url::Url::parse(announce).ok()?;
    match url.scheme() {
        "udp" => return Some(announce.to_owned()),
        "http" | "https" => {}
        _ => return None,
    }
    let path = url.path().to_owned();
    let (dir, last) = path.rsplit_once('/')?;
    let rest = last.strip_prefix("announce")?;
    url.set_path(&format!("{dir}/scrape{rest}"));
    url.set_fragment(None);
    Some(url.into())
}

/// Scrapes the tracker at `announce` (its announce URL) for `info_hash`,
/// over HTTP(S) or UDP according to the scheme.
pub async fn scrape(announce: &str, info_hash: &InfoHash) -> Result<ScrapeCounts, TrackerError> {
    match scheme_of(announce)?.as_str() {
        "http" | "https" => http_scrape(announce, info_hash).await,
        "udp" => udp::scrape_with(announce, info_hash, &UdpTimeouts::DEFAULT).await,
        other => Err(TrackerError::UnsupportedScheme(other.to_owned())),
    }
}

/// The full HTTP scrape request URL for `info_hash`, or why there is none.
pub fn http_scrape_request(announce: &str, info_hash: &InfoHash) -> Result<String, TrackerError> {
    let base = scrape_url(announce).ok_or_else(|| TrackerError::NoScrape(announce.to_owned()))?;
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    Ok(format!(
        "{base}{sep}info_hash={}",
        percent_encode(&info_hash.0)
    ))
}

/// One HTTP scrape, bounded in time and size like an announce.
async fn http_scrape(announce: &str, info_hash: &InfoHash) -> Result<ScrapeCounts, TrackerError> {
    let invalid = |e: url::ParseError| TrackerError::InvalidUrl {
        url: announce.to_owned(),
        reason: e.to_string(),
    };
    let full = http_scrape_request(announce, info_hash)?;
    // The URL the user gave passes the same rules as for an announce; the
    // path and parameters we change are ours.
    super::ssrf::check_url(&reqwest::Url::parse(announce).map_err(invalid)?)?;
    let parsed = reqwest::Url::parse(&full).map_err(invalid)?;
    let body = tokio::time::timeout(HTTP_TIMEOUT, super::http::get_limited(parsed))
        .await
        .map_err(|_| TrackerError::Timeout(HTTP_TIMEOUT))??;
    let (status, body) = body;
    if !(200..300).contains(&status) {
        return match parse_http(&body, info_hash) {
            Err(e @ TrackerError::Failure(_)) => Err(e),
            _ => Err(TrackerError::HttpStatus(status)),
        };
    }
    parse_http(&body, info_hash)
}

/// Parses a bencoded scrape answer and takes the entry for `info_hash`. A
/// `failure reason` becomes [`TrackerError::Failure`].
pub fn parse_http(body: &[u8], info_hash: &InfoHash) -> Result<ScrapeCounts, TrackerError> {
    if body.len() > MAX_RESPONSE_LEN {
        return Err(TrackerError::TooBig {
            limit: MAX_RESPONSE_LEN,
        });
    }
    let malformed = |why: &str| TrackerError::Malformed(format!("scrape answer: {why}"));
    // Well formed and of bounded depth before serde_bencode (which
    // recurses) sees it.
    crate::bencode::scan(body, 0).map_err(|e| malformed(&e.to_string()))?;
    let value: Value = serde_bencode::from_bytes(body).map_err(|e| malformed(&e.to_string()))?;
    let Value::Dict(top) = value else {
        return Err(malformed("not a dictionary"));
    };
    if let Some(reason) = top.get(&b"failure reason"[..]) {
        let text = match reason {
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => "(no text)".to_owned(),
        };
        return Err(TrackerError::Failure(text));
    }
    let files = match top.get(&b"files"[..]) {
        Some(Value::Dict(files)) => files,
        Some(_) => return Err(malformed("`files` is not a dictionary")),
        None => return Err(malformed("no `files` dictionary")),
    };
    let Some(entry) = files.get(&info_hash.0[..]) else {
        return Ok(ScrapeCounts::default());
    };
    let Value::Dict(entry) = entry else {
        return Err(malformed("the torrent's entry is not a dictionary"));
    };
    let count = |key: &str| -> Result<Option<u32>, TrackerError> {
        match entry.get(key.as_bytes()) {
            None => Ok(None),
            Some(Value::Int(n)) if *n >= 0 => Ok(Some(u32::try_from(*n).unwrap_or(u32::MAX))),
            Some(_) => Err(malformed(&format!("`{key}` is not a count"))),
        }
    };
    Ok(ScrapeCounts {
        seeders: count("complete")?.ok_or_else(|| malformed("no `complete` count"))?,
        leechers: count("incomplete")?.ok_or_else(|| malformed("no `incomplete` count"))?,
        completed: count("downloaded")?,
    })
}

/// A UDP scrape request for one info hash.
pub fn encode_udp(
    connection_id: u64,
    transaction_id: u32,
    info_hash: &InfoHash,
) -> [u8; UDP_SCRAPE_REQUEST_LEN] {
    let mut p = [0u8; UDP_SCRAPE_REQUEST_LEN];
    p[0..8].copy_from_slice(&connection_id.to_be_bytes());
    p[8..12].copy_from_slice(&ACTION_SCRAPE.to_be_bytes());
    p[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    p[16..36].copy_from_slice(&info_hash.0);
    p
}

/// The counts of a UDP scrape answer's body (after the 8-byte header): one
/// 12-byte entry per hash asked for, seeders, completed and leechers. We ask
/// for one hash, so the first entry is ours; the length must still be whole
/// entries.
pub fn decode_udp_body(body: &[u8]) -> Result<ScrapeCounts, TrackerError> {
    if body.len() < 12 || body.len() % 12 != 0 {
        return Err(TrackerError::Malformed(format!(
            "UDP scrape answer body of {} bytes is not whole 12-byte entries",
            body.len()
        )));
    }
    let word = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    Ok(ScrapeCounts {
        seeders: word(0),
        completed: Some(word(4)),
        leechers: word(8),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_urls_follow_the_announce_rule() {
        for (announce, scrape) in [
            ("http://t.example/announce", Some("http://t.example/scrape")),
            (
                "http://t.example/x/announce.php?passkey=a#f",
                Some("http://t.example/x/scrape.php?passkey=a"),
            ),
            (
                "https://t.example:8443/announce?k=1",
                Some("https://t.example:8443/scrape?k=1"),
            ),
            (
                "udp://t.example:6969/announce",
                Some("udp://t.example:6969/announce"),
            ),
            ("udp://t.example:6969", Some("udp://t.example:6969")),
            ("http://t.example/a", None),
            ("http://t.example/announce/x", None),
            ("http://t.example/x%064announce", None),
            ("http://t.example/", None),
            ("http://t.example", None),
            ("wss://t.example/announce", None),
            ("not a url", None),
        ] {
            assert_eq!(scrape_url(announce).as_deref(), scrape, "{announce}");
        }
    }

    #[test]
    fn http_request_carries_the_hash() {
        let hash = InfoHash([0xab; 20]);
        assert_eq!(
            http_scrape_request("http://t.example/announce?k=1", &hash).unwrap(),
            format!("http://t.example/scrape?k=1&info_hash={}", "%AB".repeat(20))
        );
        assert!(matches!(
            http_scrape_request("http://t.example/tracker", &hash),
            Err(TrackerError::NoScrape(_))
        ));
    }

    fn body_with(entry_hash: &[u8; 20], entry: &[u8]) -> Vec<u8> {
        let mut b = b"d5:filesd20:".to_vec();
        b.extend_from_slice(entry_hash);
        b.extend_from_slice(entry);
        b.extend_from_slice(b"ee");
        b
    }

    #[test]
    fn http_answer_for_our_hash() {
        let ours = InfoHash([b'a'; 20]);
        let body = body_with(
            &ours.0,
            b"d8:completei5e10:downloadedi50e10:incompletei10ee",
        );
        assert_eq!(
            parse_http(&body, &ours).unwrap(),
            ScrapeCounts {
                seeders: 5,
                leechers: 10,
                completed: Some(50)
            }
        );
        // Another torrent's entry is ignored: the tracker knows none of ours.
        let body = body_with(
            &[b'b'; 20],
            b"d8:completei5e10:downloadedi50e10:incompletei10ee",
        );
        assert_eq!(parse_http(&body, &ours).unwrap(), ScrapeCounts::default());
        // Two entries: ours is taken whatever the order.
        let body = b"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:incompletei2ee\
                     20:bbbbbbbbbbbbbbbbbbbbd8:completei7e10:incompletei8eeee";
        assert_eq!(
            parse_http(body, &ours).unwrap(),
            ScrapeCounts {
                seeders: 1,
                leechers: 2,
                completed: None
            }
        );
        // Counts beyond 32 bits saturate.
        let body = body_with(&ours.0, b"d8:completei99999999999e10:incompletei0ee");
        assert_eq!(parse_http(&body, &ours).unwrap().seeders, u32::MAX);
    }

    #[test]
    fn http_failures_and_malformed_answers() {
        let ours = InfoHash([b'a'; 20]);
        assert!(matches!(
            parse_http(b"d14:failure reason9:forbiddene", &ours),
            Err(TrackerError::Failure(m)) if m == "forbidden"
        ));
        for (body, why) in [
            (b"<html>nope</html>".to_vec(), "scrape answer"),
            (b"le".to_vec(), "not a dictionary"),
            (b"de".to_vec(), "no `files`"),
            (b"d5:filesi3ee".to_vec(), "`files` is not"),
            (body_with(&ours.0, b"i1e"), "not a dictionary"),
            (body_with(&ours.0, b"d10:incompletei1ee"), "no `complete`"),
            (body_with(&ours.0, b"d8:completei1ee"), "no `incomplete`"),
            (
                body_with(&ours.0, b"d8:completei-1e10:incompletei1ee"),
                "`complete` is not a count",
            ),
            (
                body_with(&ours.0, b"d8:complete1:x10:incompletei1ee"),
                "`complete` is not a count",
            ),
            (
                b"d5:filesd20:aaaaaaaaaaaaaaaaaaaa".to_vec(),
                "scrape answer",
            ),
        ] {
            match parse_http(&body, &ours) {
                Err(TrackerError::Malformed(m)) => assert!(m.contains(why), "{m} / {why}"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&body)),
            }
        }
        let huge = vec![b'd'; MAX_RESPONSE_LEN + 1];
        assert!(matches!(
            parse_http(&huge, &ours),
            Err(TrackerError::TooBig { .. })
        ));
    }

    #[test]
    fn udp_request_and_answer_bytes() {
        let p = encode_udp(0x0102030405060708, 9, &InfoHash([0xcc; 20]));
        let mut expected = vec![1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 2, 0, 0, 0, 9];
        expected.extend([0xcc; 20]);
        assert_eq!(p.to_vec(), expected);
        assert_eq!(
            decode_udp_body(&[0, 0, 0, 3, 0, 0, 1, 0, 0, 0, 0, 7]).unwrap(),
            ScrapeCounts {
                seeders: 3,
                completed: Some(256),
                leechers: 7
            }
        );
        for bad in [&[][..], &[0; 11][..], &[0; 13][..]] {
            assert!(matches!(
                decode_udp_body(bad),
                Err(TrackerError::Malformed(_))
            ));
        }
    }
}
