//! BEP 21 upload-only: a Shoal that finishes its selection says so in a new
//! extension handshake, and a Shoal that only uploads drops peers that only
//! upload too. The other side is a scripted peer on loopback that reads and
//! writes the wire messages itself.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use common::data;
use common::hostile::{ext_handshake, Attacker};
use common::swarm::config;
use shoal::picker::Priority;
use shoal::session::Session;
use shoal::torrent::AddTorrent;
use shoal::wire::ExtendedHandshake;
use shoal::Metainfo;

/// Every wait in these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(60);

/// BEP 10's message id.
const EXTENDED: u8 = 20;

/// Three files, the last one to be skipped; `a.bin` is two whole pieces so
/// the skipped file shares no piece with a wanted one.
fn content(root: &Path) -> (std::path::PathBuf, Metainfo, usize) {
    let content = root.join("sel");
    data::write_file(&content.join("a.bin"), 32 * 1024, 1);
    data::write_file(&content.join("b.bin"), 16 * 1024, 2);
    data::write_file(&content.join("skip.bin"), 50_000, 3);
    let meta = data::torrent_of(&content, 16 * 1024);
    let skip = meta
        .info
        .files
        .iter()
        .position(|f| f.path.ends_with("skip.bin"))
        .expect("skip.bin in the torrent");
    (content, meta, skip)
}

/// Reads messages until an extension handshake with `upload_only` set
/// arrives (or `LIMIT` passes); returns the `upload_only` of every
/// extension handshake seen, in order.
fn read_upload_only(peer: &mut Attacker) -> Vec<Option<bool>> {
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match peer.read_msg() {
            Ok((Some(EXTENDED), payload)) if payload.first() == Some(&0) => {
                let hs = ExtendedHandshake::decode(&payload[1..]).expect("a valid handshake");
                seen.push(hs.upload_only);
                if hs.upload_only == Some(true) {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) if common::hostile::timed_out(&e) => {}
            Err(e) => panic!("connection lost: {e}; handshakes so far {seen:?}"),
        }
    }
    seen
}

/// A leecher that wants two of three files announces upload-only once it
/// has them: its first extension handshake does not say so, a new one
/// after it finished does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finishing_a_selection_announces_upload_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (content, meta, skip) = content(&tmp.path().join("src"));
    let seeder = Session::new(config()).await.unwrap();
    common::swarm::seeding(&seeder, &meta, content.parent().unwrap()).await;
    let seed_addr = SocketAddr::from(([127, 0, 0, 1], seeder.listen_port()));

    let leecher = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), tmp.path().join("leech"));
    add.file_priorities = vec![Priority::Normal; meta.info.files.len()];
    add.file_priorities[skip] = Priority::Skip;
    let h = leecher.add_torrent(add).unwrap();
    let to = SocketAddr::from(([127, 0, 0, 1], leecher.listen_port()));
    let hash = meta.info_hash.0;

    // The scripted peer connects while the leecher has nothing.
    let (connected_tx, connected_rx) = tokio::sync::oneshot::channel();
    let peer = tokio::task::spawn_blocking(move || {
        let mut p = Attacker::dial(Ipv4Addr::new(127, 0, 0, 21), to, &hash, false)
            .expect("scripted peer connects");
        let mut ours = vec![0u8];
        ours.extend(ext_handshake(None));
        p.send(EXTENDED, &ours).expect("send handshake");
        let _ = connected_tx.send(());
        read_upload_only(&mut p)
    });
    tokio::time::timeout(LIMIT, connected_rx)
        .await
        .expect("scripted peer connects in time")
        .expect("scripted peer alive");
    // Give the leecher the seeder only once the scripted peer is on.
    tokio::time::timeout(LIMIT, async {
        while h.stats().peers == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the leecher takes the scripted peer");
    h.add_peers(vec![seed_addr]).await;
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("selection completes in time")
        .expect("selection completes");
    let seen = tokio::time::timeout(LIMIT + Duration::from_secs(5), peer)
        .await
        .expect("scripted peer ends")
        .unwrap();
    assert_eq!(
        seen.first(),
        Some(&None),
        "the first handshake, before the leecher had anything: {seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&Some(true)),
        "a new handshake once the selection is complete: {seen:?}"
    );
    assert!(
        h.stats().pieces_have < meta.info.num_pieces(),
        "the skipped file's pieces were not fetched"
    );
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// A seeder drops a peer that says it only uploads and lacks pieces (it is
/// no seed, so only BEP 21 tells the two have nothing for each other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_upload_only_peers_do_not_stay_connected() {
    let tmp = tempfile::tempdir().unwrap();
    let (content, meta, _) = content(&tmp.path().join("src"));
    let seeder = Session::new(config()).await.unwrap();
    common::swarm::seeding(&seeder, &meta, content.parent().unwrap()).await;
    let to = SocketAddr::from(([127, 0, 0, 1], seeder.listen_port()));
    let hash = meta.info_hash.0;
    let pieces = meta.info.num_pieces() as usize;
    let closed = tokio::task::spawn_blocking(move || {
        let mut p = Attacker::dial(Ipv4Addr::new(127, 0, 0, 22), to, &hash, false)
            .expect("scripted peer connects");
        // Half the pieces: not a seed.
        let mut bits = vec![0u8; pieces.div_ceil(8)];
        for i in 0..pieces / 2 {
            bits[i / 8] |= 0x80 >> (i % 8);
        }
        p.send(5, &bits).expect("send bitfield");
        let hs = b"\0d1:md11:ut_metadatai3ee11:upload_onlyi1ee";
        p.send(EXTENDED, hs).expect("send handshake");
        p.closed_within(LIMIT)
    });
    let closed = tokio::time::timeout(LIMIT + Duration::from_secs(5), closed)
        .await
        .expect("scripted peer ends")
        .unwrap();
    assert!(
        closed,
        "the seeder kept a connection to an upload-only peer"
    );
    seeder.shutdown().await;
}

/// libtorrent sees a Shoal that finished a partial selection as upload-only,
/// though that Shoal lacks the skipped file's pieces: once it has taken
/// what that Shoal has, libtorrent leaves it as an "uninteresting
/// upload-only peer" (without BEP 21 it would stay, not interested).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_sees_a_finished_selection_as_upload_only() {
    use common::procs::{Libtorrent, LtOptions};

    let tmp = tempfile::tempdir().unwrap();
    let (content, meta, skip) = content(&tmp.path().join("src"));
    let seeder = Session::new(config()).await.unwrap();
    common::swarm::seeding(&seeder, &meta, content.parent().unwrap()).await;
    let seed_addr = SocketAddr::from(([127, 0, 0, 1], seeder.listen_port()));

    let partial = Session::new(config()).await.unwrap();
    let mut add = AddTorrent::new(meta.clone(), tmp.path().join("partial"));
    add.file_priorities = vec![Priority::Normal; meta.info.files.len()];
    add.file_priorities[skip] = Priority::Skip;
    add.peers = vec![seed_addr];
    let h = partial.add_torrent(add).unwrap();
    tokio::time::timeout(LIMIT, h.wait_complete())
        .await
        .expect("selection completes in time")
        .expect("selection completes");
    // The seeder has left: libtorrent meets only the partial Shoal.
    seeder.shutdown().await;
    assert!(h.stats().pieces_have < meta.info.num_pieces());

    let torrent = tmp.path().join("t.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();
    let partial_addr = SocketAddr::from(([127, 0, 0, 1], partial.listen_port()));
    let lt_dir = tmp.path().join("lt");
    let line = tokio::task::spawn_blocking(move || {
        let mut lt = Libtorrent::start(
            torrent.to_str().unwrap(),
            &lt_dir,
            LtOptions {
                peers: vec![partial_addr],
                stay: true,
                report_peers: true,
                ..Default::default()
            },
        );
        let seen = std::cell::RefCell::new(Vec::new());
        let last = lt.wait_line(LIMIT, |l| {
            seen.borrow_mut().push(l.to_owned());
            l.contains("peer_disconnected") && l.contains("upload")
        });
        format!("{last}\n{}", seen.borrow().join("\n"))
    })
    .await
    .unwrap();
    assert!(line.contains("uninteresting upload-only peer"), "{line}");
    partial.shutdown().await;
}
