//! IPv6 end to end on `::1`: transfers both ways with libtorrent listening
//! on `[::1]` only, between two of our sessions, magnet links naming
//! `[::1]:port` peers (read and written), and PEX of IPv6 peers
//! (`added6`) both ways with libtorrent. Every result is compared byte for
//! byte with the original.

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::data;
use common::procs::{Libtorrent, LtOptions};
use shoal::create::{create_torrent, CreateOptions};
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, PeerSnapshot, PeerSource, TorrentHandle};
use shoal::{Magnet, Metainfo};

const LIMIT: Duration = Duration::from_secs(120);
/// Bytes per second a seeder sends where a test looks at the connection
/// while the transfer runs (two seeds part at the end): the fixture's
/// 1.2 MB take some seconds.
const SLOW: u64 = 128 * 1024;

/// A session sending at most [`SLOW`] bytes per second.
fn slow_config() -> SessionConfig {
    SessionConfig {
        upload_limit: Some(SLOW),
        ..config()
    }
}

/// A session on 127.0.0.1 and, with IPv6 on, `[::1]` (same port).
fn config() -> SessionConfig {
    SessionConfig {
        ipv6: true,
        ..common::swarm::config()
    }
}

/// `[::1]:port`.
fn v6(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv6Addr::LOCALHOST, port))
}

/// A multi-file folder and its torrent written to `root/t.torrent`.
fn fixture(root: &Path) -> (PathBuf, PathBuf, Metainfo) {
    let src = root.join("src");
    let content = data::multi_file_folder(&src, "content");
    let opts = CreateOptions {
        piece_length: Some(32 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).expect("create torrent");
    let torrent = root.join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    (src, torrent, meta)
}

/// A libtorrent peer listening on `[::1]` only, started on a blocking
/// thread and awaited until it listens.
async fn lt_on_v6(source: String, save: PathBuf, opts: LtOptions) -> Libtorrent {
    tokio::task::spawn_blocking(move || {
        let mut lt = Libtorrent::start(
            &source,
            &save,
            LtOptions {
                listen: vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
                ..opts
            },
        );
        lt.wait_started(Duration::from_secs(20));
        lt
    })
    .await
    .expect("libtorrent starts")
}

/// Waits until `h` has a connection that `pred` accepts and returns it.
async fn wait_peer(
    h: &TorrentHandle,
    what: &str,
    pred: impl Fn(&PeerSnapshot) -> bool,
) -> PeerSnapshot {
    tokio::time::timeout(LIMIT, async {
        loop {
            if let Some(p) = h.peers().await.into_iter().find(&pred) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no connection: {what}"))
}

/// Waits until libtorrent reports a complete download.
async fn lt_done(mut lt: Libtorrent) -> Libtorrent {
    tokio::task::spawn_blocking(move || {
        lt.wait_done(LIMIT);
        lt
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_listens_on_both_loopbacks() {
    let s = Session::new(config()).await.unwrap();
    let addrs = s.listen_addrs();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    assert_eq!(addrs[1], v6(s.listen_port()));
    let off = Session::new(common::swarm::config()).await.unwrap();
    assert_eq!(off.listen_addrs().len(), 1);
    s.shutdown().await;
    off.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_downloads_from_us_over_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let s = Session::new(slow_config()).await.unwrap();
    let h = common::swarm::seeding(&s, &meta, &src).await;
    let dst = tmp.path().join("lt");
    let lt = lt_on_v6(
        torrent.to_str().unwrap().to_owned(),
        dst.clone(),
        LtOptions {
            peers: vec![v6(s.listen_port())],
            stay: true,
            ..Default::default()
        },
    )
    .await;
    let p = wait_peer(&h, "libtorrent dials our [::1]", |p| p.incoming).await;
    assert_eq!(p.addr.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST), "{p:?}");
    let lt = lt_done(lt).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    drop(lt);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_libtorrent_over_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let lt = lt_on_v6(
        torrent.to_str().unwrap().to_owned(),
        src.clone(),
        LtOptions {
            seed: true,
            stay: true,
            upload_limit: Some(SLOW),
            ..Default::default()
        },
    )
    .await;
    let s = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("ours");
    let mut add = AddTorrent::new(meta.clone(), &dst);
    add.peers = vec![v6(lt.port())];
    let h = s.add_torrent(add).unwrap();
    let p = wait_peer(&h, "we dial libtorrent on [::1]", |p| !p.incoming).await;
    assert_eq!(p.addr, v6(lt.port()));
    assert!(p.client.to_lowercase().contains("libtorrent"), "{p:?}");
    common::swarm::complete(&h, LIMIT).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    s.shutdown().await;
    drop(lt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_sessions_trade_over_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, _, meta) = fixture(tmp.path());
    let seed = Session::new(slow_config()).await.unwrap();
    let hs = common::swarm::seeding(&seed, &meta, &src).await;
    let leech = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let mut add = AddTorrent::new(meta.clone(), &dst);
    add.peers = vec![v6(seed.listen_port())];
    let h = leech.add_torrent(add).unwrap();
    let p = wait_peer(&hs, "the leecher, seen by the seeder", |p| p.incoming).await;
    assert_eq!(p.addr.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST), "{p:?}");
    common::swarm::complete(&h, LIMIT).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    leech.shutdown().await;
    seed.shutdown().await;
}

/// A magnet link typed as users paste it, `x.pe=[::1]:port` unescaped,
/// brings the metadata and the data from libtorrent over IPv6; and a
/// magnet we write with an IPv6 `x.pe` is one libtorrent follows to us.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_links_with_ipv6_peers_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let lt = lt_on_v6(
        torrent.to_str().unwrap().to_owned(),
        src.clone(),
        LtOptions {
            seed: true,
            stay: true,
            ..Default::default()
        },
    )
    .await;
    let s = Session::new(config()).await.unwrap();
    let link = format!(
        "magnet:?xt=urn:btih:{}&x.pe=[::1]:{}",
        meta.info_hash.to_hex(),
        lt.port()
    );
    let m = Magnet::parse(&link).expect("an unescaped IPv6 x.pe parses");
    let ours = tmp.path().join("ours");
    let h = s.add_torrent(AddTorrent::magnet(m, &ours)).unwrap();
    common::swarm::complete(&h, LIMIT).await;
    data::assert_same_tree(&src.join("content"), &ours.join("content"));
    drop(lt);

    // Now we seed what we fetched; libtorrent gets only our magnet.
    let mut m = Magnet::from_metainfo(&meta);
    m.peers = vec![v6(s.listen_port()).to_string()];
    let link = m.to_uri();
    let theirs = tmp.path().join("theirs");
    let lt = lt_on_v6(link, theirs.clone(), LtOptions::default()).await;
    let lt = lt_done(lt).await;
    data::assert_same_tree(&src.join("content"), &theirs.join("content"));
    drop(lt);
    s.shutdown().await;
}

/// libtorrent names an IPv6 peer to us in `added6`: A (ours, seeding
/// slowly) and libtorrent connect over `[::1]`; C (ours) knows only
/// libtorrent, and connects to A's `[::1]` address, which only
/// libtorrent's PEX could have given it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_tells_us_of_ipv6_peers_by_pex() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let a = Session::new(SessionConfig {
        upload_limit: Some(64 * 1024),
        ..config()
    })
    .await
    .unwrap();
    let ha = common::swarm::seeding(&a, &meta, &src).await;
    let lt = lt_on_v6(
        torrent.to_str().unwrap().to_owned(),
        tmp.path().join("lt"),
        LtOptions {
            peers: vec![v6(a.listen_port())],
            stay: true,
            ..Default::default()
        },
    )
    .await;
    wait_peer(&ha, "libtorrent dials A", |p| p.incoming).await;
    let c = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), tmp.path().join("c"));
    add.peers = vec![v6(lt.port())];
    let hc = c.add_torrent(add).unwrap();
    let p = wait_peer(&hc, "C dials A's [::1] address", |p| {
        p.addr == v6(a.listen_port())
    })
    .await;
    assert_eq!(p.source, PeerSource::Pex, "{p:?}");
    common::swarm::complete(&hc, LIMIT).await;
    drop(lt);
    c.shutdown().await;
    a.shutdown().await;
}

/// We name an IPv6 peer to libtorrent in `added6`: B (ours) downloads
/// from a libtorrent seeder on `[::1]`; a libtorrent leecher that knows
/// only B gets the seeder's address from B's PEX and connects to it (its
/// peer count reaches 2), and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_tell_libtorrent_of_ipv6_peers_by_pex() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let seeder = lt_on_v6(
        torrent.to_str().unwrap().to_owned(),
        src.clone(),
        LtOptions {
            seed: true,
            stay: true,
            // Slow, so B is still downloading (and connected) when the
            // leecher joins.
            upload_limit: Some(64 * 1024),
            ..Default::default()
        },
    )
    .await;
    let b = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), tmp.path().join("b"));
    add.peers = vec![v6(seeder.port())];
    let hb = b.add_torrent(add).unwrap();
    wait_peer(&hb, "B dials the seeder", |p| !p.incoming).await;
    let dst = tmp.path().join("leech");
    let mut leech = lt_on_v6(
        torrent.to_str().unwrap().to_owned(),
        dst.clone(),
        LtOptions {
            peers: vec![v6(b.listen_port())],
            stay: true,
            ..Default::default()
        },
    )
    .await;
    let mut leech = tokio::task::spawn_blocking(move || {
        leech.wait_line(LIMIT, |l| l.contains("\"peers\": 2"));
        leech
    })
    .await
    .unwrap();
    leech = lt_done(leech).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    drop(leech);
    drop(seeder);
    b.shutdown().await;
}

/// A tracker on `[::1]` (see tests/common/tracker6.rs) hands out our
/// seeder in `peers6` over HTTP; the leecher dials it there and
/// completes. Over UDP to the same tracker on `[::1]`, an announce goes
/// out and is answered (its swarm counts us).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracker_on_ipv6_hands_out_ipv6_peers() {
    use shoal::tracker::{self, AnnounceRequest, Event};
    let tracker = tokio::task::spawn_blocking(common::tracker6::Tracker6::start)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = data::multi_file_folder(&src, "content");
    let opts = CreateOptions {
        piece_length: Some(32 * 1024),
        trackers: vec![vec![tracker.http_url()]],
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).unwrap();
    let seed = Session::new(slow_config()).await.unwrap();
    common::swarm::seeding(&seed, &meta, &src).await;
    let leech = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = leech
        .add_torrent(AddTorrent::new(meta.clone(), &dst))
        .unwrap();
    let p = wait_peer(&h, "the seeder, named by the tracker", |p| {
        p.addr == v6(seed.listen_port())
    })
    .await;
    assert_eq!(p.source, PeerSource::Tracker, "{p:?}");
    common::swarm::complete(&h, LIMIT).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));

    let req = AnnounceRequest {
        info_hash: meta.info_hash,
        peer_id: shoal::PeerId::generate(),
        port: 1,
        uploaded: 0,
        downloaded: 0,
        left: 1,
        event: Event::Started,
        numwant: Some(50),
        key: 1,
        ipv6: None,
    };
    let udp = tokio::time::timeout(LIMIT, tracker::announce(&tracker.udp_url(), &req))
        .await
        .expect("the UDP announce ends")
        .expect("the UDP tracker on [::1] answers");
    assert!(udp.seeders.unwrap_or(0) >= 1, "{udp:?}");
    leech.shutdown().await;
    seed.shutdown().await;
}

/// `shoal seed --bind 127.0.0.1` listens on `[::1]` too, on the same
/// port; with `--no-ipv6` it does not.
#[test]
fn the_command_line_listens_on_ipv6_unless_told_not_to() {
    use common::procs::{free_port, shoal_seed};
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, _) = fixture(tmp.path());
    let port = free_port();
    let seed = shoal_seed(&torrent, &src, port, &[]);
    std::net::TcpStream::connect(v6(port)).expect("shoal seed listens on [::1]");
    drop(seed);
    let port = free_port();
    let seed = shoal_seed(&torrent, &src, port, &["--no-ipv6"]);
    let refused = std::net::TcpStream::connect(v6(port)).expect_err("nothing on [::1]");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    drop(seed);
}
