//! A peer that floods a seeder with requests and never reads what comes
//! back must not grow the seeder's memory at its own rate: the seeder stops
//! reading from a peer whose output it cannot drain, so the flood waits in
//! the peer's own socket. Meanwhile an honest peer still downloads.
//!
//! The flood is made of ut_metadata requests: each one is answered with
//! the info dictionary (or a reject once the peer's output is full), so
//! every byte we send costs the seeder more. (Block requests it cannot
//! serve end the connection instead: tests/hostile_peers.rs.)

mod common;

use std::process::Stdio;
use std::time::Duration;

use bytes::BytesMut;
use common::data;
use common::procs::{self, free_port, wait_for, Proc};
use shoal::wire::{ExtendedHandshake, Handshake, Message, MetadataMessage, LOCAL_UT_METADATA_ID};
use shoal::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Bytes of requests the flooder tries to send: far more than the kernel's
/// socket buffers on loopback can hold (up to 32 MiB for a receiving
/// socket here, 4 MiB for a sending one).
const FLOOD: usize = 160 * 1024 * 1024;

/// How much the seeder's resident memory may grow under the flood.
const MAX_GROWTH: u64 = 32 * 1024 * 1024;

/// A write that makes no progress for this long means the seeder stopped
/// reading (a bound on the wait, not an assertion).
const STALL: Duration = Duration::from_secs(3);

/// The resident set of a process, in bytes, from /proc.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

/// `count` ut_metadata requests for piece 0, under the seeder's id.
fn requests(count: usize) -> Vec<u8> {
    let msg = Message::Extended {
        id: LOCAL_UT_METADATA_ID,
        payload: MetadataMessage::Request { piece: 0 }.encode(),
    };
    let mut out = BytesMut::new();
    for _ in 0..count {
        msg.encode(&mut out).unwrap();
    }
    out.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_cannot_grow_the_seeders_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = src.join("payload.bin");
    data::write_file(&content, 4 * 1024 * 1024 + 12_345, 7);
    let meta = data::torrent_of(&content, 64 * 1024);
    let torrent = tmp.path().join("payload.torrent");
    std::fs::write(&torrent, meta.to_bytes()).unwrap();

    let port = free_port();
    let seed = procs::shoal_seed(&torrent, &src, port, &[]);

    // The flooder: small socket buffers of its own, a real handshake with
    // the fast extension, then requests and never a read.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    let mut flooder = tokio::time::timeout(
        Duration::from_secs(10),
        socket.connect(([127, 0, 0, 1], port).into()),
    )
    .await
    .expect("connect within 10 s")
    .expect("connect");
    let ours = Handshake::new(meta.info_hash, PeerId::generate());
    flooder.write_all(&ours.encode()).await.unwrap();
    let mut theirs = [0u8; Handshake::LEN];
    tokio::time::timeout(Duration::from_secs(10), flooder.read_exact(&mut theirs))
        .await
        .expect("the seeder's handshake within 10 s")
        .unwrap();
    assert!(Handshake::decode(&theirs).unwrap().supports_extensions());
    // Our extension handshake: ut_metadata under the seeder's own id, so
    // its answers need no id of ours to be sent.
    let mut ext = ExtendedHandshake::default();
    ext.m.insert("ut_metadata".into(), LOCAL_UT_METADATA_ID);
    let mut hs = BytesMut::new();
    Message::Extended {
        id: 0,
        payload: ext.encode(),
    }
    .encode(&mut hs)
    .unwrap();
    flooder.write_all(&hs).await.unwrap();
    let before = rss(seed.pid());

    let chunk = requests(4096);
    let mut sent = 0usize;
    while sent < FLOOD {
        match tokio::time::timeout(STALL, flooder.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(e)) => panic!("the seeder closed the flooder after {sent} bytes: {e}"),
            Err(_) => break, // the seeder stopped reading us
        }
    }
    let grown = rss(seed.pid()).saturating_sub(before);
    eprintln!(
        "flooder sent {} MiB of requests; the seeder grew by {} MiB",
        sent >> 20,
        grown >> 20
    );
    assert!(
        grown < MAX_GROWTH,
        "the seeder's memory grew by {} MiB under a flood of {} MiB from a peer that never reads",
        grown >> 20,
        sent >> 20
    );

    // An honest peer downloads everything while the flooder hangs on.
    let dst = tmp.path().join("dst");
    let mut dl = procs::shoal_download(&torrent, &dst, ([127, 0, 0, 1], port).into());
    dl.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = Proc::spawn("shoal download", &mut dl);
    let status = wait_for(
        "the honest download to exit",
        Duration::from_secs(120),
        || child.try_status(),
    );
    assert!(status.success(), "the honest download failed: {status:?}");
    assert!(
        std::fs::read(&content).unwrap() == std::fs::read(dst.join("payload.bin")).unwrap(),
        "the honest download's data differs"
    );
    drop(flooder);
}
