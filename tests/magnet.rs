//! Magnet links end to end: metadata from a peer named by `x.pe` (ours,
//! libtorrent, Transmission), our metadata served to libtorrent and
//! Transmission, peers found only through the DHT or only through PEX, and
//! hostile metadata peers that lose to an honest one.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::data;
use common::procs::{self, free_port, wait_for, Libtorrent, LtOptions};
use shoal::create::{create_torrent, CreateOptions};
use shoal::dht::DhtConfig;
use shoal::picker::Priority;
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, PeerSource, TorrentHandle};
use shoal::{Magnet, Metainfo};

const LIMIT: Duration = Duration::from_secs(90);

use common::swarm::{config, seeding, wait_listening};

use common::swarm::local;

/// Content, its torrent (written to `root/t.torrent`) and the seed folder.
fn fixture(root: &Path) -> (PathBuf, PathBuf, Metainfo) {
    let src = root.join("src");
    let content = data::multi_file_folder(&src, "content");
    let opts = CreateOptions {
        piece_length: Some(32 * 1024),
        ..Default::default()
    };
    let meta = create_torrent(&content, &opts, |_, _| {}).unwrap();
    let torrent = root.join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    (src, torrent, meta)
}

/// A magnet with only the hash and the given `x.pe` peers.
fn magnet(meta: &Metainfo, peers: &[SocketAddr]) -> Magnet {
    let mut uri = format!("magnet:?xt=urn:btih:{}", meta.info_hash.to_hex());
    for p in peers {
        uri.push_str(&format!("&x.pe={p}"));
    }
    Magnet::parse(&uri).unwrap()
}

async fn complete(h: &TorrentHandle) {
    common::swarm::complete(h, LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_from_our_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, _, meta) = fixture(tmp.path());
    let seed = Session::new(config()).await.unwrap();
    seeding(&seed, &meta, &src).await;
    let leech = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = leech
        .add_torrent(AddTorrent::magnet(
            magnet(&meta, &[local(seed.listen_port())]),
            &dst,
        ))
        .unwrap();
    complete(&h).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    let got = h.metainfo().await.expect("metainfo known");
    assert_eq!(got.info_bytes, meta.info_bytes);
    leech.shutdown().await;
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_from_libtorrent() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let lt = Libtorrent::seeding(&torrent, &src, None).await;
    let addr = lt.addr();
    let s = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = s
        .add_torrent(AddTorrent::magnet(magnet(&meta, &[addr]), &dst))
        .unwrap();
    complete(&h).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    s.shutdown().await;
    drop(lt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_from_transmission() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    let port = free_port();
    let _tr = procs::transmission(&torrent, &src, &tmp.path().join("trcfg"), port);
    let s = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = s
        .add_torrent(AddTorrent::magnet(magnet(&meta, &[local(port)]), &dst))
        .unwrap();
    complete(&h).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_fetches_a_magnet_from_us() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, _, meta) = fixture(tmp.path());
    let s = Session::new(config()).await.unwrap();
    seeding(&s, &meta, &src).await;
    let dst = tmp.path().join("lt");
    let uri = magnet(&meta, &[]).to_uri();
    let mut lt = Libtorrent::start(
        &uri,
        &dst,
        LtOptions {
            peers: vec![local(s.listen_port())],
            ..Default::default()
        },
    );
    tokio::task::spawn_blocking(move || lt.wait_done(LIMIT))
        .await
        .unwrap();
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmission_fetches_a_magnet_from_us() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, _, meta) = fixture(tmp.path());
    let s = Session::new(config()).await.unwrap();
    let h = seeding(&s, &meta, &src).await;
    let dst = tmp.path().join("tr");
    std::fs::create_dir_all(&dst).unwrap();
    let port = free_port();
    let uri = magnet(&meta, &[]).to_uri();
    let _tr = procs::transmission(Path::new(&uri), &dst, &tmp.path().join("trcfg"), port);
    wait_listening(port).await;
    // Transmission ignores loopback peers it is told of, so we dial it.
    h.add_peers(vec![local(port)]).await;
    let (a, b) = (src.join("content"), dst.join("content"));
    tokio::task::spawn_blocking(move || {
        wait_for("transmission's copy to match", LIMIT, || {
            data::same_content(&a, &b).then_some(())
        })
    })
    .await
    .unwrap();
    s.shutdown().await;
}

/// Three of our peers: A seeds, B downloads from A, and C knows only B. C
/// learns of A through B's PEX and connects to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pex_introduces_a_third_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, _, meta) = fixture(tmp.path());
    // A sends slowly, so B is still downloading from it (and so names it in
    // PEX: only connected peers are named) when C joins. Two seeds part, so
    // a complete B would not name A.
    let a = Session::new(SessionConfig {
        upload_limit: Some(128 * 1024),
        ..config()
    })
    .await
    .unwrap();
    seeding(&a, &meta, &src).await;
    let a_addr = local(a.listen_port());

    let b = Session::new(config()).await.unwrap();
    let mut add_b = AddTorrent::new(meta.clone(), tmp.path().join("b"));
    add_b.peers = vec![a_addr];
    let hb = b.add_torrent(add_b).unwrap();
    tokio::time::timeout(LIMIT, async {
        while hb.stats().peers == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("B connects to A");

    let c = Session::new(config()).await.unwrap();
    let mut add_c = AddTorrent::new(meta.clone(), tmp.path().join("c"));
    add_c.peers = vec![local(b.listen_port())];
    let hc = c.add_torrent(add_c).unwrap();
    let via_pex = tokio::time::timeout(LIMIT, async {
        loop {
            let peers = hc.peers().await;
            if let Some(p) = peers.iter().find(|p| p.addr == a_addr) {
                return p.source;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("C connects to A, which only B could have named");
    assert_eq!(via_pex, PeerSource::Pex);
    complete(&hb).await;
    complete(&hc).await;
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

/// No tracker, no `x.pe`: our seeder announces on a loopback DHT and our
/// leecher finds it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dht_only_between_our_peers() {
    let net = common::dht::testnet(10);
    let dht_config = || SessionConfig {
        dht: Some(DhtConfig::testnet(&net.bootstrap)),
        ..config()
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, _, meta) = fixture(tmp.path());
    let seed = Session::new(dht_config()).await.unwrap();
    assert!(seed.dht().is_some(), "{:?}", seed.dht_error());
    seeding(&seed, &meta, &src).await;

    let leech = Session::new(dht_config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = leech
        .add_torrent(AddTorrent::magnet(magnet(&meta, &[]), &dst))
        .unwrap();
    complete(&h).await;
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    leech.shutdown().await;
    seed.shutdown().await;
}

/// Our leecher finds a libtorrent seeder whose DHT joined the same loopback
/// network (through libtorrent DHT nodes: see tests/dht.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dht_finds_a_libtorrent_seeder() {
    common::init_tracing();
    let net = common::dht::testnet(10);
    let lt_nodes = common::dht::LtDhtNodes::start(4, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let (src, torrent, meta) = fixture(tmp.path());
    // libtorrent announces when the torrent is added; --wait-dht adds it
    // only once its DHT has nodes, so that first announce lands.
    let mut args: Vec<String> = ["--seed", "--stay", "--wait-dht", "--timeout", "150"]
        .map(String::from)
        .to_vec();
    for node in &lt_nodes.nodes {
        args.push("--dht-bootstrap".into());
        args.push(node.clone());
    }
    let lt = common::dht::LtPeer::start(&torrent, &src, free_port(), &args);
    lt.wait_for_line("dht_ready_ms", Duration::from_secs(60));
    let mut bootstrap = net.bootstrap.clone();
    bootstrap.extend(lt_nodes.nodes.iter().cloned());
    let s = Session::new(SessionConfig {
        dht: Some(DhtConfig::testnet(&bootstrap)),
        ..config()
    })
    .await
    .unwrap();
    let dst = tmp.path().join("dst");
    let h = s
        .add_torrent(AddTorrent::magnet(magnet(&meta, &[]), &dst))
        .unwrap();
    tokio::time::timeout(Duration::from_secs(150), h.wait_complete())
        .await
        .expect("found through the DHT and completed in time")
        .expect("completes");
    data::assert_same_tree(&src.join("content"), &dst.join("content"));
    s.shutdown().await;
}

/// A magnet naming several seeders: once the metadata has arrived from one
/// of them, every other one is dialled too and sends its share. (The
/// metadata phase asks several peers at once; the ones it had not heard
/// back from must not be lost to the data phase.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seeder_of_a_magnet_is_used() {
    const SEEDERS: usize = 4;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // 2 MiB in 64 KiB pieces: at 128 KiB/s per seeder no one seeder can
    // finish it before the others have been asked (about 4 s in all, so a
    // seeder whose connection is slow to open on a loaded machine still
    // gets its share).
    data::write_file(&src.join("big.bin"), 2 << 20, 7);
    let meta = create_torrent(
        &src.join("big.bin"),
        &CreateOptions {
            piece_length: Some(64 * 1024),
            ..Default::default()
        },
        |_, _| {},
    )
    .unwrap();
    let mut seeders = Vec::new();
    for _ in 0..SEEDERS {
        let s = Session::new(SessionConfig {
            upload_limit: Some(128 * 1024),
            ..config()
        })
        .await
        .unwrap();
        let h = seeding(&s, &meta, &src).await;
        seeders.push((s, h));
    }
    let addrs: Vec<SocketAddr> = seeders
        .iter()
        .map(|(s, _)| local(s.listen_port()))
        .collect();
    let leech = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = leech
        .add_torrent(AddTorrent::magnet(magnet(&meta, &addrs), &dst))
        .unwrap();
    complete(&h).await;
    data::assert_same_tree(&src, &dst);
    // A torrent publishes its counters once a second: give the seeders
    // that long to report what they sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seeders.iter().any(|(_, sh)| sh.stats().uploaded == 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (i, (_, sh)) in seeders.iter().enumerate() {
        assert!(
            sh.stats().uploaded > 0,
            "seeder {i} of {SEEDERS} ({}) sent nothing: {:?}",
            addrs[i],
            seeders
                .iter()
                .map(|(_, h)| h.stats().uploaded)
                .collect::<Vec<_>>()
        );
    }
    leech.shutdown().await;
    for (s, _) in seeders {
        s.shutdown().await;
    }
}

/// BEP 53: a magnet's `so` selects the files to download; the others are
/// skipped (not created), here from a libtorrent seeder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_magnets_file_selection_is_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("sel");
    // Whole pieces each, so no piece is shared by a selected and a skipped
    // file.
    data::write_file(&content.join("a.bin"), 64 * 1024, 1);
    data::write_file(&content.join("b.bin"), 32 * 1024, 2);
    data::write_file(&content.join("c.bin"), 32 * 1024, 3);
    data::write_file(&content.join("d.bin"), 20_000, 4);
    let meta = create_torrent(
        &content,
        &CreateOptions {
            piece_length: Some(16 * 1024),
            ..Default::default()
        },
        |_, _| {},
    )
    .unwrap();
    let names: Vec<String> = meta
        .info
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.bin", "b.bin", "c.bin", "d.bin"]);
    let torrent = tmp.path().join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    let lt = Libtorrent::seeding(&torrent, &src, None).await;

    let uri = format!(
        "magnet:?xt=urn:btih:{}&x.pe={}&so=0,2-3",
        meta.info_hash.to_hex(),
        lt.addr()
    );
    let s = Session::new(config()).await.unwrap();
    let dst = tmp.path().join("dst");
    let h = s
        .add_torrent(AddTorrent::magnet(Magnet::parse(&uri).unwrap(), &dst))
        .unwrap();
    complete(&h).await;
    for f in ["a.bin", "c.bin", "d.bin"] {
        assert_eq!(
            std::fs::read(dst.join("sel").join(f)).unwrap(),
            std::fs::read(content.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(!dst.join("sel/b.bin").exists(), "b.bin was not selected");
    let priorities: Vec<_> = h.files().await.iter().map(|f| f.priority).collect();
    assert_eq!(
        priorities,
        [
            Priority::Normal,
            Priority::Skip,
            Priority::Normal,
            Priority::Normal
        ]
    );
    s.shutdown().await;
    drop(lt);
}
