//! UDP tracker announces (BEP 15) and scrapes: the connect, announce and
//! scrape exchanges (the scrape packets themselves are in [`super::scrape`]), the
//! connection id cache (an id is good for one minute), transaction ids that
//! must match, retransmission after 15 * 2^n seconds for a few rounds under an
//! overall deadline, and error packets surfaced as [`TrackerError::Failure`].
//! Peers come as 6-byte (IPv4) or 18-byte (IPv6) entries according to the
//! address family we reached the tracker over.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::http::{compact_peers_v4, compact_peers_v6};
use super::scrape::{self, ScrapeCounts, ACTION_SCRAPE};
use super::{clamp_interval, AnnounceRequest, AnnounceResponse, TrackerError};
use crate::types::InfoHash;

/// The magic constant that opens a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// How long a connection id from the tracker may be used (BEP 15: one minute).
pub const CONNECTION_ID_TTL: Duration = Duration::from_secs(60);

/// Length of a connect request.
pub const CONNECT_REQUEST_LEN: usize = 16;

/// Length of an announce request (without BEP 41 options).
pub const ANNOUNCE_REQUEST_LEN: usize = 98;

/// The largest datagram we accept; anything longer is truncated by the socket
/// and then fails to parse.
const MAX_DATAGRAM: usize = 64 * 1024;

const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_ERROR: u32 = 3;

/// When to retransmit and when to give up on a UDP tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpTimeouts {
    /// The wait after the first send; BEP 15 says 15 s.
    pub retry_base: Duration,
    /// How many times the wait doubles and the request is sent again (BEP 15
    /// goes to 8, which is an hour; we stop early and try the next tracker).
    pub max_retries: u32,
    /// The bound on the whole announce, name lookup and all.
    pub overall: Duration,
}

impl UdpTimeouts {
    /// Sends at 0 s, 15 s and 45 s, and gives up at 60 s.
    pub const DEFAULT: UdpTimeouts = UdpTimeouts {
        retry_base: Duration::from_secs(15),
        max_retries: 2,
        overall: Duration::from_secs(60),
    };

    /// The wait after the `n`-th send (counting from 0): `retry_base * 2^n`.
    pub fn wait(&self, n: u32) -> Duration {
        self.retry_base.saturating_mul(1u32 << n.min(16))
    }
}

impl Default for UdpTimeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Announces to the UDP tracker at `url` with the default timeouts.
pub async fn announce(url: &str, req: &AnnounceRequest) -> Result<AnnounceResponse, TrackerError> {
    announce_with(url, req, &UdpTimeouts::DEFAULT).await
}

/// Announces to the UDP tracker at `url` with the given timeouts.
pub async fn announce_with(
    url: &str,
    req: &AnnounceRequest,
    timeouts: &UdpTimeouts,
) -> Result<AnnounceResponse, TrackerError> {
    let deadline = Instant::now() + timeouts.overall;
    tokio::time::timeout_at(deadline, run(url, req, timeouts))
        .await
        .map_err(|_| TrackerError::Timeout(timeouts.overall))?
}

/// A datagram from a UDP tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpResponse {
    /// The answer to a connect request.
    Connect {
        /// The transaction id we sent.
        transaction_id: u32,
        /// The id to put in announces for the next minute.
        connection_id: u64,
    },
    /// The answer to an announce.
    Announce {
        /// The transaction id we sent.
        transaction_id: u32,
        /// The tracker's announce interval, in its raw form.
        interval: u32,
        /// Peers still downloading.
        leechers: u32,
        /// Peers with the whole torrent.
        seeders: u32,
        /// The peers.
        peers: Vec<SocketAddr>,
    },
    /// The answer to a scrape for one info hash.
    Scrape {
        /// The transaction id we sent.
        transaction_id: u32,
        /// The counts of the (first and only) hash asked for.
        counts: ScrapeCounts,
    },
    /// The tracker refused a request.
    Error {
        /// The transaction id we sent.
        transaction_id: u32,
        /// Its reason, as text.
        message: String,
    },
}

impl UdpResponse {
    /// The transaction id the response answers.
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpResponse::Connect { transaction_id, .. }
            | UdpResponse::Announce { transaction_id, .. }
            | UdpResponse::Scrape { transaction_id, .. }
            | UdpResponse::Error { transaction_id, .. } => *transaction_id,
        }
    }
}

/// A connect request.
pub fn encode_connect(transaction_id: u32) -> [u8; CONNECT_REQUEST_LEN] {
    let mut p = [0u8; CONNECT_REQUEST_LEN];
    p[0..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    p[8..12].copy_from_slice(&ACTION_CONNECT.to_be_bytes());
    p[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    p
}

/// An announce request. The IP field is 0 (the tracker uses the sender's
/// address); `numwant` absent is -1 (the tracker's default).
pub fn encode_announce(
    connection_id: u64,
    transaction_id: u32,
    req: &AnnounceRequest,
) -> [u8; ANNOUNCE_REQUEST_LEN] {
    let numwant: i32 = match req.numwant {
        Some(n) => i32::try_from(n).unwrap_or(i32::MAX),
        None => -1,
    };
    let mut p = [0u8; ANNOUNCE_REQUEST_LEN];
    p[0..8].copy_from_slice(&connection_id.to_be_bytes());
    p[8..12].copy_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    p[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    p[16..36].copy_from_slice(&req.info_hash.0);
    p[36..56].copy_from_slice(&req.peer_id.0);
    p[56..64].copy_from_slice(&req.downloaded.to_be_bytes());
    p[64..72].copy_from_slice(&req.left.to_be_bytes());
    p[72..80].copy_from_slice(&req.uploaded.to_be_bytes());
    p[80..84].copy_from_slice(&req.event.as_udp_code().to_be_bytes());
    // 84..88: IP address, 0 = the sender's.
    p[88..92].copy_from_slice(&req.key.to_be_bytes());
    p[92..96].copy_from_slice(&numwant.to_be_bytes());
    p[96..98].copy_from_slice(&req.port.to_be_bytes());
    p
}

/// Parses a datagram from the tracker. `ipv6` says whether we reached the
/// tracker over IPv6, which makes the peers 18-byte entries.
pub fn decode_response(buf: &[u8], ipv6: bool) -> Result<UdpResponse, TrackerError> {
    let short =
        || TrackerError::Malformed(format!("UDP response of {} bytes is too short", buf.len()));
    let action = read_u32(buf, 0).ok_or_else(short)?;
    let transaction_id = read_u32(buf, 4).ok_or_else(short)?;
    match action {
        ACTION_CONNECT => {
            let connection_id = read_u64(buf, 8).ok_or_else(short)?;
            Ok(UdpResponse::Connect {
                transaction_id,
                connection_id,
            })
        }
        // opentracker answers an announce for a torrent it does not serve
        // (its whitelist) with the bare 8-byte header and nothing else.
        ACTION_ANNOUNCE if buf.len() == 8 => Ok(UdpResponse::Error {
            transaction_id,
            message: "empty announce answer: the tracker does not serve this torrent".into(),
        }),
        ACTION_ANNOUNCE => {
            let interval = read_u32(buf, 8).ok_or_else(short)?;
            let leechers = read_u32(buf, 12).ok_or_else(short)?;
            let seeders = read_u32(buf, 16).ok_or_else(short)?;
            let rest = &buf[20..];
            let peers = if ipv6 {
                compact_peers_v6(rest)?
            } else {
                compact_peers_v4(rest)?
            };
            Ok(UdpResponse::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            })
        }
        ACTION_SCRAPE => Ok(UdpResponse::Scrape {
            transaction_id,
            counts: scrape::decode_udp_body(&buf[8..])?,
        }),
        ACTION_ERROR => Ok(UdpResponse::Error {
            transaction_id,
            message: String::from_utf8_lossy(&buf[8..]).into_owned(),
        }),
        other => Err(TrackerError::Malformed(format!(
            "unknown UDP tracker action {other}"
        ))),
    }
}

/// The announce proper, run under the overall deadline.
async fn run(
    url: &str,
    req: &AnnounceRequest,
    timeouts: &UdpTimeouts,
) -> Result<AnnounceResponse, TrackerError> {
    let packet = |connection_id, tid| encode_announce(connection_id, tid, req).to_vec();
    match transact(url, timeouts, &packet).await? {
        UdpResponse::Announce {
            interval,
            leechers,
            seeders,
            peers,
            ..
        } => Ok(AnnounceResponse {
            interval: clamp_interval(Some(i64::from(interval))),
            min_interval: None,
            peers,
            seeders: Some(seeders),
            leechers: Some(leechers),
            warning: None,
        }),
        _ => Err(TrackerError::Malformed(
            "scrape response to an announce".into(),
        )),
    }
}

/// Scrapes the UDP tracker at `url` for `info_hash` (BEP 48 over BEP 15's
/// action 2), with the given timeouts.
pub async fn scrape_with(
    url: &str,
    info_hash: &InfoHash,
    timeouts: &UdpTimeouts,
) -> Result<ScrapeCounts, TrackerError> {
    let packet = |connection_id, tid| scrape::encode_udp(connection_id, tid, info_hash).to_vec();
    let deadline = Instant::now() + timeouts.overall;
    match tokio::time::timeout_at(deadline, transact(url, timeouts, &packet))
        .await
        .map_err(|_| TrackerError::Timeout(timeouts.overall))??
    {
        UdpResponse::Scrape { counts, .. } => Ok(counts),
        _ => Err(TrackerError::Malformed(
            "announce response to a scrape".into(),
        )),
    }
}

/// One request after a connect (or with a cached connection id): `packet`
/// builds it from the connection id and a transaction id. Returns the
/// tracker's answer, which is an announce or scrape answer; an error packet
/// becomes [`TrackerError::Failure`].
async fn transact(
    url: &str,
    timeouts: &UdpTimeouts,
    packet: &(dyn Fn(u64, u32) -> Vec<u8> + Sync),
) -> Result<UdpResponse, TrackerError> {
    let started = Instant::now();
    let addr = resolve(url).await?;
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).await?;
    // Connected, so that the kernel drops datagrams from anyone else and a
    // closed port shows up as a refused `recv` rather than a long timeout.
    sock.connect(addr).await?;
    let ipv6 = addr.is_ipv6();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sends = 0u32;
    let mut next_wait = || {
        let n = sends;
        sends += 1;
        (n <= timeouts.max_retries).then(|| timeouts.wait(n))
    };
    loop {
        let connection_id = match cached_connection_id(addr) {
            Some(id) => id,
            None => {
                let Some(wait) = next_wait() else {
                    return Err(TrackerError::Timeout(started.elapsed()));
                };
                let tid = rand::random();
                match exchange(&sock, &encode_connect(tid), tid, wait, &mut buf, ipv6).await? {
                    None => continue,
                    Some(UdpResponse::Connect { connection_id, .. }) => {
                        remember_connection_id(addr, connection_id);
                        connection_id
                    }
                    Some(UdpResponse::Error { message, .. }) => {
                        return Err(TrackerError::Failure(message))
                    }
                    Some(_) => {
                        return Err(TrackerError::Malformed(
                            "announce or scrape response to a connect request".into(),
                        ))
                    }
                }
            }
        };
        let Some(wait) = next_wait() else {
            return Err(TrackerError::Timeout(started.elapsed()));
        };
        let tid = rand::random();
        match exchange(
            &sock,
            &packet(connection_id, tid),
            tid,
            wait,
            &mut buf,
            ipv6,
        )
        .await
        {
            // Silence may mean the tracker no longer knows our connection
            // id; get a fresh one on the next round.
            Ok(None) => forget_connection_id(addr),
            Ok(Some(UdpResponse::Error { message, .. })) => {
                forget_connection_id(addr);
                return Err(TrackerError::Failure(message));
            }
            Ok(Some(UdpResponse::Connect { .. })) => {
                forget_connection_id(addr);
                return Err(TrackerError::Malformed(
                    "connect response to an announce or scrape".into(),
                ));
            }
            Ok(Some(answer)) => return Ok(answer),
            Err(e) => {
                forget_connection_id(addr);
                return Err(e);
            }
        }
    }
}

/// Sends `packet` and waits up to `wait` for the datagram answering
/// `transaction_id`; others (late answers to earlier sends) are skipped.
/// `Ok(None)` means no answer in time.
async fn exchange(
    sock: &UdpSocket,
    packet: &[u8],
    transaction_id: u32,
    wait: Duration,
    buf: &mut [u8],
    ipv6: bool,
) -> Result<Option<UdpResponse>, TrackerError> {
    sock.send(packet).await?;
    let deadline = Instant::now() + wait;
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.recv(buf)).await {
            Err(_) => return Ok(None),
            Ok(received) => received?,
        };
        let datagram = &buf[..n];
        if read_u32(datagram, 4) != Some(transaction_id) {
            tracing::debug!(
                len = n,
                "ignoring UDP tracker datagram for another transaction"
            );
            continue;
        }
        return decode_response(datagram, ipv6).map(Some);
    }
}

/// The tracker's address from a `udp://host:port/...` URL.
async fn resolve(url: &str) -> Result<SocketAddr, TrackerError> {
    let invalid = |reason: &str| TrackerError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.scheme() != "udp" {
        return Err(TrackerError::UnsupportedScheme(parsed.scheme().to_owned()));
    }
    let port = parsed
        .port()
        .ok_or_else(|| invalid("a UDP tracker URL needs a port"))?;
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Ok(SocketAddr::new(IpAddr::V4(ip), port)),
        Some(url::Host::Ipv6(ip)) => Ok(SocketAddr::new(IpAddr::V6(ip), port)),
        Some(url::Host::Domain(host)) => tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| TrackerError::NoAddress(host.to_owned())),
        None => Err(invalid("no host")),
    }
}

/// Connection ids by tracker address, with when they were obtained. Shared by
/// every torrent: a connection id belongs to our address, not to a torrent.
fn connection_ids() -> &'static Mutex<HashMap<SocketAddr, (u64, Instant)>> {
    static IDS: OnceLock<Mutex<HashMap<SocketAddr, (u64, Instant)>>> = OnceLock::new();
    IDS.get_or_init(Default::default)
}

fn cached_connection_id(addr: SocketAddr) -> Option<u64> {
    let ids = connection_ids().lock().unwrap_or_else(|p| p.into_inner());
    ids.get(&addr)
        .filter(|(_, at)| at.elapsed() < CONNECTION_ID_TTL)
        .map(|(id, _)| *id)
}

fn remember_connection_id(addr: SocketAddr, id: u64) {
    let mut ids = connection_ids().lock().unwrap_or_else(|p| p.into_inner());
    ids.retain(|_, (_, at)| at.elapsed() < CONNECTION_ID_TTL);
    ids.insert(addr, (id, Instant::now()));
}

fn forget_connection_id(addr: SocketAddr) {
    let mut ids = connection_ids().lock().unwrap_or_else(|p| p.into_inner());
    ids.remove(&addr);
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn read_u64(buf: &[u8], at: usize) -> Option<u64> {
    let b = buf.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Event;
    use crate::types::{InfoHash, PeerId};

    #[test]
    fn connect_request_bytes() {
        assert_eq!(
            encode_connect(0x01020304),
            [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn announce_request_bytes() {
        let req = AnnounceRequest {
            info_hash: InfoHash([0xaa; 20]),
            peer_id: PeerId([0xbb; 20]),
            port: 0x1ae1,
            uploaded: 3,
            downloaded: 1,
            left: 2,
            event: Event::Started,
            numwant: None,
            key: 0xcafebabe,
            ipv6: None,
        };
        let p = encode_announce(0x1122334455667788, 7, &req);
        let mut expected = vec![
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 1, 0, 0, 0, 7,
        ];
        expected.extend([0xaa; 20]);
        expected.extend([0xbb; 20]);
        expected.extend([0, 0, 0, 0, 0, 0, 0, 1]); // downloaded
        expected.extend([0, 0, 0, 0, 0, 0, 0, 2]); // left
        expected.extend([0, 0, 0, 0, 0, 0, 0, 3]); // uploaded
        expected.extend([0, 0, 0, 2]); // started
        expected.extend([0, 0, 0, 0]); // ip
        expected.extend([0xca, 0xfe, 0xba, 0xbe]); // key
        expected.extend([0xff, 0xff, 0xff, 0xff]); // numwant -1
        expected.extend([0x1a, 0xe1]); // port
        assert_eq!(p.to_vec(), expected);

        let req = AnnounceRequest {
            numwant: Some(50),
            event: Event::Stopped,
            ..req
        };
        let p = encode_announce(1, 7, &req);
        assert_eq!(&p[80..84], &[0, 0, 0, 3]);
        assert_eq!(&p[92..96], &[0, 0, 0, 50]);
    }

    #[test]
    fn connect_response() {
        let r = decode_response(&[0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8], false).unwrap();
        assert_eq!(
            r,
            UdpResponse::Connect {
                transaction_id: 9,
                connection_id: 0x0102030405060708
            }
        );
    }

    #[test]
    fn announce_response_v4_and_v6() {
        let mut b = vec![
            0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0x07, 0x08, 0, 0, 0, 2, 0, 0, 0, 1,
        ];
        b.extend([127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]);
        assert_eq!(
            decode_response(&b, false).unwrap(),
            UdpResponse::Announce {
                transaction_id: 9,
                interval: 1800,
                leechers: 2,
                seeders: 1,
                peers: vec![
                    "127.0.0.1:6881".parse().unwrap(),
                    "10.0.0.2:80".parse().unwrap()
                ],
            }
        );
        let mut b = vec![
            0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        b.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1]);
        match decode_response(&b, true).unwrap() {
            UdpResponse::Announce { peers, .. } => {
                assert_eq!(peers, vec!["[::1]:6881".parse().unwrap()])
            }
            other => panic!("{other:?}"),
        }
        // Two IPv4 entries (12 bytes) read as IPv6 ones are a malformed response.
        let mut b = vec![
            0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        b.extend([127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]);
        assert!(decode_response(&b, true).is_err());
    }

    #[test]
    fn error_response() {
        let mut b = vec![0, 0, 0, 3, 0, 0, 0, 9];
        b.extend(b"not authorized");
        assert_eq!(
            decode_response(&b, false).unwrap(),
            UdpResponse::Error {
                transaction_id: 9,
                message: "not authorized".into()
            }
        );
    }

    #[test]
    fn bare_announce_header_is_a_refusal() {
        match decode_response(&[0, 0, 0, 1, 0, 0, 0, 9], false).unwrap() {
            UdpResponse::Error {
                transaction_id: 9,
                message,
            } => {
                assert!(message.contains("does not serve"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_and_unknown_responses_are_malformed() {
        for b in [
            &[][..],
            &[0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3][..],
            &[0, 0, 0, 1, 0, 0, 0, 9, 0, 0][..],
            &[0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
            &[0, 0, 0, 2, 0, 0, 0, 9][..],
            &[
                0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            ][..],
        ] {
            assert!(
                matches!(decode_response(b, false), Err(TrackerError::Malformed(_))),
                "{b:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles() {
        let t = UdpTimeouts::DEFAULT;
        assert_eq!(t.wait(0), Duration::from_secs(15));
        assert_eq!(t.wait(1), Duration::from_secs(30));
        assert_eq!(t.wait(2), Duration::from_secs(60));
    }

    /// A silent tracker: we retransmit the connect request `max_retries`
    /// times and then give up with a timeout.
    #[tokio::test]
    async fn retransmits_then_times_out() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let url = format!("udp://{}/announce", silent.local_addr().unwrap());
        let req = AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            port: 1,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Event::None,
            numwant: None,
            key: 0,
            ipv6: None,
        };
        let timeouts = UdpTimeouts {
            retry_base: Duration::from_millis(50),
            max_retries: 2,
            overall: Duration::from_secs(10),
        };
        let result = announce_with(&url, &req, &timeouts).await;
        assert!(
            matches!(result, Err(TrackerError::Timeout(_))),
            "{result:?}"
        );
        let mut buf = [0u8; 64];
        let mut tids = Vec::new();
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(100), silent.recv(&mut buf)).await
        {
            assert_eq!(n, CONNECT_REQUEST_LEN);
            assert_eq!(&buf[..12], &encode_connect(0)[..12]);
            tids.push(read_u32(&buf, 12));
        }
        assert_eq!(tids.len(), 3, "one send and two retransmissions");
    }

    /// An answer with the wrong transaction id is ignored, the right one taken.
    #[tokio::test]
    async fn foreign_transactions_are_skipped() {
        let tracker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let url = format!("udp://{}", tracker.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 128];
            let (n, from) = tracker.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, CONNECT_REQUEST_LEN);
            let tid = read_u32(&buf, 12).unwrap();
            let mut wrong = vec![0, 0, 0, 0];
            wrong.extend(tid.wrapping_add(1).to_be_bytes());
            wrong.extend(99u64.to_be_bytes());
            tracker.send_to(&wrong, from).await.unwrap();
            let mut right = vec![0, 0, 0, 0];
            right.extend(tid.to_be_bytes());
            right.extend(42u64.to_be_bytes());
            tracker.send_to(&right, from).await.unwrap();
            let (n, from) = tracker.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, ANNOUNCE_REQUEST_LEN);
            assert_eq!(
                read_u64(&buf, 0),
                Some(42),
                "the connection id of the right answer"
            );
            let tid = read_u32(&buf, 12).unwrap();
            let mut error = vec![0, 0, 0, 3];
            error.extend(tid.to_be_bytes());
            error.extend(b"go away");
            tracker.send_to(&error, from).await.unwrap();
        });
        let req = AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            port: 1,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Event::None,
            numwant: None,
            key: 0,
            ipv6: None,
        };
        let result = announce(&url, &req).await;
        assert!(
            matches!(&result, Err(TrackerError::Failure(m)) if m == "go away"),
            "{result:?}"
        );
        server.await.unwrap();
    }
}
