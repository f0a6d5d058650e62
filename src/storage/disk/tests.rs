//! Disk worker tests in a temporary folder, with piece hashes made by the
//! sha1 crate directly.

use super::*;
use crate::metainfo::FileEntry;
use sha1::{Digest, Sha1};
use std::time::Duration;

const K: u32 = BLOCK_LEN;

/// A torrent's files and content, for tests.
struct Fixture {
    layout: Layout,
    /// The whole byte stream (pad files zero).
    content: Vec<u8>,
    hashes: Vec<[u8; 20]>,
}

/// Files as (name, length, pad).
fn fixture(files: &[(&str, u64, bool)], piece_length: u64) -> Fixture {
    let mut offset = 0;
    let mut entries = Vec::new();
    let mut content = Vec::new();
    let mut seed = 0x9e37_79b9u32;
    for &(name, length, pad) in files {
        entries.push(FileEntry {
            path: PathBuf::from("t").join(name),
            length,
            offset,
            pad,
            attr: if pad { "p".into() } else { String::new() },
        });
        offset += length;
        for _ in 0..length {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            content.push(if pad { 0 } else { seed as u8 });
        }
    }
    let layout = Layout {
        files: entries,
        piece_length,
        total_length: offset,
    };
    let hashes = content
        .chunks(piece_length as usize)
        .map(|c| Sha1::digest(c).into())
        .collect();
    Fixture {
        layout,
        content,
        hashes,
    }
}

impl Fixture {
    fn blocks(&self) -> Vec<BlockRef> {
        let mut v = Vec::new();
        for p in 0..self.layout.num_pieces() {
            let len = self.layout.piece_len(PieceIndex(p));
            let mut off = 0;
            while off < len {
                v.push(BlockRef {
                    piece: PieceIndex(p),
                    offset: off,
                    len: (len - off).min(K),
                });
                off += K;
            }
        }
        v
    }

    fn data(&self, b: BlockRef) -> Bytes {
        let s = (b.piece.0 as u64 * self.layout.piece_length + b.offset as u64) as usize;
        Bytes::copy_from_slice(&self.content[s..s + b.len as usize])
    }

    fn file_content(&self, f: usize) -> &[u8] {
        let e = &self.layout.files[f];
        &self.content[e.offset as usize..(e.offset + e.length) as usize]
    }

    fn spawn(
        &self,
        dir: &Path,
        wanted: Vec<bool>,
        options: DiskOptions,
    ) -> (Disk, mpsc::Receiver<DiskEvent>) {
        let (tx, rx) = mpsc::channel(64);
        let disk = Disk::spawn_with(
            self.layout.clone(),
            dir.to_path_buf(),
            self.hashes.clone(),
            wanted,
            tx,
            options,
        )
        .unwrap();
        (disk, rx)
    }
}

use std::path::Path;

/// Receives `n` piece verdicts (and any errors), with a timeout.
async fn verdicts(
    rx: &mut mpsc::Receiver<DiskEvent>,
    n: usize,
) -> (Vec<DiskEvent>, Vec<DiskError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    while out.len() < n {
        let ev = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a disk event in time")
            .expect("the disk is running");
        match ev {
            DiskEvent::Error(e) => errors.push(e),
            ev => out.push(ev),
        }
    }
    (out, errors)
}

fn shuffled<T>(mut v: Vec<T>, mut seed: u64) -> Vec<T> {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    v
}

/// Files with an empty file in the middle, a pad file, and pieces across
/// file boundaries (pieces of two blocks).
fn mixed() -> Fixture {
    fixture(
        &[
            ("a", 20_000, false),
            ("empty", 0, false),
            ("sub/b", 50_000, false),
            (".pad/1000", 1_000, true),
            ("c", 70_000, false),
            ("d", 3, false),
        ],
        2 * K as u64,
    )
}

#[tokio::test]
async fn out_of_order_blocks_across_files_verify() {
    let fx = mixed();
    let dir = tempfile::tempdir().unwrap();
    let (disk, mut rx) = fx.spawn(dir.path(), vec![true; 6], DiskOptions::default());
    for b in shuffled(fx.blocks(), 7) {
        disk.write_block(b, fx.data(b)).await.unwrap();
    }
    let n = fx.layout.num_pieces() as usize;
    let (evs, errors) = verdicts(&mut rx, n).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        evs.iter().all(|e| matches!(e, DiskEvent::PieceVerified(_))),
        "{evs:?}"
    );
    let leftover = disk.shutdown().await;
    assert!(leftover.is_empty());
    let t = dir.path().join("t");
    assert_eq!(std::fs::read(t.join("a")).unwrap(), fx.file_content(0));
    assert_eq!(std::fs::read(t.join("empty")).unwrap(), b"");
    assert_eq!(std::fs::read(t.join("sub/b")).unwrap(), fx.file_content(2));
    assert!(!t.join(".pad").exists(), "pad files are never written");
    assert_eq!(std::fs::read(t.join("c")).unwrap(), fx.file_content(4));
    assert_eq!(std::fs::read(t.join("d")).unwrap(), fx.file_content(5));
}

#[tokio::test]
async fn a_corrupt_block_fails_its_piece_only() {
    let fx = mixed();
    let dir = tempfile::tempdir().unwrap();
    let (disk, mut rx) = fx.spawn(dir.path(), vec![true; 6], DiskOptions::default());
    let bad = fx.blocks()[3];
    for b in fx.blocks() {
        let mut data = fx.data(b).to_vec();
        if b == bad {
            data[100] ^= 1;
        }
        disk.write_block(b, data.into()).await.unwrap();
    }
    let (evs, errors) = verdicts(&mut rx, fx.layout.num_pieces() as usize).await;
    assert!(errors.is_empty());
    for ev in evs {
        match ev {
            DiskEvent::PieceFailed(p, _) => assert_eq!(p, bad.piece),
            DiskEvent::PieceVerified(p) => assert_ne!(p, bad.piece),
            other => panic!("{other:?}"),
        }
    }
    // The piece downloads again (the same blocks, good this time) and verifies.
    for b in fx.blocks().into_iter().filter(|b| b.piece == bad.piece) {
        disk.write_block(b, fx.data(b)).await.unwrap();
    }
    let (evs, _) = verdicts(&mut rx, 1).await;
    assert!(matches!(evs[0], DiskEvent::PieceVerified(p) if p == bad.piece));
    assert!(disk.shutdown().await.is_empty());
}

/// A failed piece names, for each block, the peer whose copy was written
/// (the first to arrive) and the digest of what is on disk, so that the
/// sender of a bad block can be found, even one that sent it after an
/// honest peer's copy of another block.
#[tokio::test]
async fn a_failed_piece_names_who_sent_each_block() {
    use std::net::{IpAddr, Ipv4Addr};
    let fx = fixture(&[("a", 4 * K as u64, false)], 4 * K as u64);
    let dir = tempfile::tempdir().unwrap();
    let (disk, mut rx) = fx.spawn(dir.path(), vec![true], DiskOptions::default());
    let honest = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let liar = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let late = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
    let blocks = fx.blocks();
    let bad = |b: BlockRef| Bytes::from(vec![0x5a; b.len as usize]);
    disk.write_block_from(blocks[0], fx.data(blocks[0]), honest)
        .await
        .unwrap();
    disk.write_block_from(blocks[1], bad(blocks[1]), liar)
        .await
        .unwrap();
    // A second copy of a block already written is dropped: its sender is
    // not the one named.
    disk.write_block_from(blocks[1], fx.data(blocks[1]), late)
        .await
        .unwrap();
    disk.write_block_from(blocks[2], fx.data(blocks[2]), honest)
        .await
        .unwrap();
    // A block whose writer does not say who sent it is left out.
    disk.write_block(blocks[3], fx.data(blocks[3]))
        .await
        .unwrap();
    let (evs, _) = verdicts(&mut rx, 1).await;
    let DiskEvent::PieceFailed(p, evidence) = &evs[0] else {
        panic!("{evs:?}");
    };
    assert_eq!(*p, PieceIndex(0));
    let digest = |d: &[u8]| -> BlockDigest { Sha1::digest(d).into() };
    let expect = vec![
        BlockEvidence {
            block: 0,
            from: honest,
            digest: digest(&fx.data(blocks[0])),
        },
        BlockEvidence {
            block: 1,
            from: liar,
            digest: digest(&bad(blocks[1])),
        },
        BlockEvidence {
            block: 2,
            from: honest,
            digest: digest(&fx.data(blocks[2])),
        },
    ];
    assert_eq!(evidence, &expect);
    // The piece downloads again and verifies; nothing is kept of the
    // failed round.
    for &b in &blocks {
        disk.write_block_from(b, fx.data(b), honest).await.unwrap();
    }
    let (evs, _) = verdicts(&mut rx, 1).await;
    assert!(matches!(evs[0], DiskEvent::PieceVerified(PieceIndex(0))));
    assert!(disk.shutdown().await.is_empty());
}

#[tokio::test]
async fn skipped_files_are_not_created_unless_they_share_a_piece() {
    use crate::picker::{piece_priorities, Priority};
    let p = 2 * K as u64;
    // a: pieces 0-1 (wanted). b: ends piece 1, shared with a (skipped).
    // d: pieces 2-3 exactly (skipped). c: piece 4 (wanted).
    let fx = fixture(
        &[
            ("a", 40_000, false),
            ("b", 2 * p - 40_000, false),
            ("d", 2 * p, false),
            ("c", 30_000, false),
        ],
        p,
    );
    let wanted = vec![true, false, false, true];
    let prio: Vec<Priority> = wanted
        .iter()
        .map(|&w| if w { Priority::Normal } else { Priority::Skip })
        .collect();
    let pieces = piece_priorities(&fx.layout, &prio);
    let dir = tempfile::tempdir().unwrap();
    let (disk, mut rx) = fx.spawn(dir.path(), wanted, DiskOptions::default());
    let mut expected = 0;
    for b in fx.blocks() {
        if pieces[b.piece.as_usize()] != Priority::Skip {
            disk.write_block(b, fx.data(b)).await.unwrap();
        }
    }
    for (i, pr) in pieces.iter().enumerate() {
        if *pr != Priority::Skip {
            expected += 1;
        } else {
            assert!(i == 2 || i == 3, "only d's pieces are skipped");
        }
    }
    // A stray write to a skipped piece is dropped.
    let stray = fx.blocks().into_iter().find(|b| b.piece.0 == 2).unwrap();
    disk.write_block(stray, fx.data(stray)).await.unwrap();
    let (evs, errors) = verdicts(&mut rx, expected).await;
    assert!(errors.is_empty());
    assert!(evs.iter().all(|e| matches!(e, DiskEvent::PieceVerified(_))));
    assert!(disk.shutdown().await.is_empty());
    let t = dir.path().join("t");
    assert_eq!(std::fs::read(t.join("a")).unwrap(), fx.file_content(0));
    assert_eq!(
        std::fs::read(t.join("b")).unwrap(),
        fx.file_content(1),
        "shared piece"
    );
    assert!(!t.join("d").exists(), "a skipped file with no shared piece");
    assert_eq!(std::fs::read(t.join("c")).unwrap(), fx.file_content(3));
    assert!(rx.try_recv().is_err(), "no event for the stray write");
}

#[tokio::test]
async fn reads_return_what_was_written() {
    let fx = mixed();
    let dir = tempfile::tempdir().unwrap();
    for options in [
        DiskOptions::default(),
        DiskOptions {
            read_cache: 0,
            ..DiskOptions::default()
        },
        DiskOptions {
            read_window: 3 * K,
            workers: 1,
            ..DiskOptions::default()
        },
    ] {
        let (disk, mut rx) = fx.spawn(dir.path(), vec![true; 6], options);
        for b in fx.blocks() {
            disk.write_block(b, fx.data(b)).await.unwrap();
        }
        verdicts(&mut rx, fx.layout.num_pieces() as usize).await;
        // Whole blocks, then odd ranges (across the empty file, the pad
        // file, and a window edge).
        let mut reads = fx.blocks();
        for (piece, offset, len) in [(1, 100, 9000), (1, 30_000, 2_768), (2, 1, K), (4, 5, 7)] {
            reads.push(BlockRef {
                piece: PieceIndex(piece),
                offset,
                len,
            });
        }
        for b in reads {
            assert_eq!(disk.read_block(b).await.unwrap(), fx.data(b), "{b:?}");
        }
        let too_long = BlockRef {
            piece: PieceIndex(0),
            offset: 0,
            len: K + 1,
        };
        assert!(matches!(
            disk.read_block(too_long).await,
            Err(DiskError::BadBlock(_))
        ));
        assert!(disk.shutdown().await.is_empty());
    }
}

#[tokio::test]
async fn over_the_held_cap_blocks_are_read_back() {
    // Pieces of eight blocks written back to front: with no room to hold
    // early blocks, each is read back from disk when its turn comes.
    let fx = fixture(
        &[("a", 100_000, false), ("b", 200_000, false)],
        8 * K as u64,
    );
    for cap in [0, K as usize] {
        let dir = tempfile::tempdir().unwrap();
        let options = DiskOptions {
            held_cap: cap,
            ..DiskOptions::default()
        };
        let (disk, mut rx) = fx.spawn(dir.path(), vec![true; 2], options);
        let mut blocks = fx.blocks();
        blocks.reverse();
        for b in blocks {
            disk.write_block(b, fx.data(b)).await.unwrap();
        }
        let (evs, errors) = verdicts(&mut rx, fx.layout.num_pieces() as usize).await;
        assert!(errors.is_empty());
        assert!(
            evs.iter().all(|e| matches!(e, DiskEvent::PieceVerified(_))),
            "{evs:?}"
        );
        assert!(disk.shutdown().await.is_empty());
    }
}

#[tokio::test]
async fn a_write_error_is_reported_and_the_piece_not_verified() {
    let fx = fixture(&[("a", 40_000, false), ("b", 40_000, false)], 2 * K as u64);
    let dir = tempfile::tempdir().unwrap();
    // A folder stands where file b should be.
    std::fs::create_dir_all(dir.path().join("t/b")).unwrap();
    let (disk, mut rx) = fx.spawn(dir.path(), vec![true; 2], DiskOptions::default());
    for b in fx.blocks() {
        disk.write_block(b, fx.data(b)).await.unwrap();
    }
    let (evs, errors) = verdicts(&mut rx, fx.layout.num_pieces() as usize).await;
    assert!(!errors.is_empty());
    let msg = errors[0].to_string();
    assert!(msg.contains("t/b"), "the message names the path: {msg}");
    // Piece 0 lies in a; piece 1 straddles a and b; piece 2 is b only.
    let mut verified = Vec::new();
    for ev in evs {
        match ev {
            DiskEvent::PieceVerified(p) => verified.push(p.0),
            DiskEvent::PieceNotStored(p) => assert!(p.0 >= 1),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(verified, vec![0]);
    assert!(disk.shutdown().await.is_empty());
}

#[tokio::test]
async fn a_read_error_is_reported_and_a_barrier_follows_earlier_events() {
    let fx = fixture(&[("a", 40_000, false)], 2 * K as u64);
    let dir = tempfile::tempdir().unwrap();
    let (disk, mut rx) = fx.spawn(dir.path(), vec![true], DiskOptions::default());
    // Nothing written: file a does not exist.
    let block = fx.blocks()[0];
    assert!(disk.read_block(block).await.is_err());
    assert_eq!(disk.barrier(7).await.unwrap(), disk.workers());
    let mut barriers = 0;
    let mut first = None;
    while barriers < disk.workers() {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("events in time")
            .expect("channel open");
        match ev {
            DiskEvent::Error(e) => {
                assert_eq!(barriers, 0, "the error comes before every barrier");
                first.get_or_insert(e.to_string());
            }
            DiskEvent::Barrier(7) => barriers += 1,
            other => panic!("{other:?}"),
        }
    }
    let msg = first.expect("the read error is reported to the torrent");
    assert!(msg.contains("t/a"), "the message names the path: {msg}");
    assert!(disk.shutdown().await.is_empty());
}

#[tokio::test]
async fn a_full_event_channel_does_not_stall_writes() {
    let fx = fixture(&[("a", 40 * K as u64, false)], K as u64);
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::channel(1);
    let options = DiskOptions {
        queue_len: 2,
        ..DiskOptions::default()
    };
    let disk = Disk::spawn_with(
        fx.layout.clone(),
        dir.path().to_path_buf(),
        fx.hashes.clone(),
        vec![true],
        tx,
        options,
    )
    .unwrap();
    // Forty verdicts, nobody reading: the writes must still all go through.
    let writes = async {
        for b in fx.blocks() {
            disk.write_block(b, fx.data(b)).await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(20), writes)
        .await
        .expect("writes are not blocked by unread events");
    let (evs, _) = verdicts(&mut rx, 40).await;
    assert!(evs.iter().all(|e| matches!(e, DiskEvent::PieceVerified(_))));
    assert!(disk.shutdown().await.is_empty());
}

#[tokio::test]
async fn shutdown_hands_back_undelivered_events_and_closes() {
    let fx = fixture(&[("a", 10 * K as u64, false)], K as u64);
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::channel(1);
    let disk = Disk::spawn_with(
        fx.layout.clone(),
        dir.path().to_path_buf(),
        fx.hashes.clone(),
        vec![true],
        tx,
        DiskOptions {
            workers: 1,
            ..DiskOptions::default()
        },
    )
    .unwrap();
    let other = disk.clone();
    for b in fx.blocks() {
        disk.write_block(b, fx.data(b)).await.unwrap();
    }
    let leftover = disk.shutdown().await;
    let mut n = leftover.len();
    while let Ok(ev) = rx.try_recv() {
        assert!(matches!(ev, DiskEvent::PieceVerified(_)));
        n += 1;
    }
    assert_eq!(n, 10, "no verdict is lost");
    let b = fx.blocks()[0];
    assert!(matches!(
        other.write_block(b, fx.data(b)).await,
        Err(DiskError::Closed)
    ));
}

#[tokio::test]
async fn verified_data_is_never_overwritten() {
    let fx = fixture(&[("a", 3 * K as u64, false)], 2 * K as u64);
    let dir = tempfile::tempdir().unwrap();
    let (disk, mut rx) = fx.spawn(dir.path(), vec![true], DiskOptions::default());
    let blocks = fx.blocks();
    // A repeated block inside a piece in progress is dropped, not written.
    disk.write_block(blocks[0], fx.data(blocks[0]))
        .await
        .unwrap();
    disk.write_block(blocks[0], Bytes::from(vec![0xee; K as usize]))
        .await
        .unwrap();
    for &b in &blocks[1..] {
        disk.write_block(b, fx.data(b)).await.unwrap();
    }
    let (evs, _) = verdicts(&mut rx, 2).await;
    assert!(
        evs.iter().all(|e| matches!(e, DiskEvent::PieceVerified(_))),
        "{evs:?}"
    );
    // Writes to verified pieces are dropped.
    for &b in &blocks {
        disk.write_block(b, Bytes::from(vec![0xee; b.len as usize]))
            .await
            .unwrap();
    }
    disk.flush().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("t/a")).unwrap(),
        fx.file_content(0)
    );
    assert!(rx.try_recv().is_err(), "no further events");
    assert!(disk.shutdown().await.is_empty());
}

#[tokio::test]
async fn bad_blocks_and_mismatched_inputs_are_refused() {
    let fx = mixed();
    let dir = tempfile::tempdir().unwrap();
    let (disk, _rx) = fx.spawn(dir.path(), vec![true; 6], DiskOptions::default());
    let good = fx.blocks()[0];
    for b in [
        BlockRef { offset: 1, ..good },
        BlockRef { len: 10, ..good },
        BlockRef {
            piece: PieceIndex(999),
            ..good
        },
    ] {
        let r = disk
            .write_block(b, Bytes::from(vec![0; b.len as usize]))
            .await;
        assert!(matches!(r, Err(DiskError::BadBlock(_))), "{b:?}");
    }
    let r = disk.write_block(good, Bytes::from_static(b"short")).await;
    assert!(matches!(r, Err(DiskError::BadBlock(_))));
    assert!(disk.shutdown().await.is_empty());
    let (tx, _rx) = mpsc::channel(1);
    let r = Disk::spawn(
        fx.layout.clone(),
        dir.path().into(),
        vec![],
        vec![true; 6],
        tx.clone(),
    );
    assert!(matches!(r, Err(DiskError::Mismatch { .. })));
    let r = Disk::spawn(
        fx.layout.clone(),
        dir.path().into(),
        fx.hashes.clone(),
        vec![true],
        tx,
    );
    assert!(matches!(r, Err(DiskError::Mismatch { .. })));
}

/// Nanoseconds of CPU the calling thread (or, with `task`, another thread
/// of this process) has used, from the kernel's schedstat.
fn cpu_ns(task: Option<&str>) -> u64 {
    let path = match task {
        Some(tid) => format!("/proc/self/task/{tid}/schedstat"),
        None => "/proc/thread-self/schedstat".to_string(),
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU nanoseconds used so far by the disk worker threads.
fn disk_threads_cpu_ns() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.starts_with("shoal-disk") {
            total += cpu_ns(Some(&tid));
        }
    }
    total
}

/// Write + hash throughput into the page cache in 16 KiB blocks: the parts
/// alone on this thread, then through `Disk` with one and two workers. Wall
/// time is noisy on a shared machine, so the CPU time of the thread doing the
/// work is reported too (GB per CPU-second). A benchmark, not a test: run
/// `cargo test --release --lib disk_throughput -- --ignored --nocapture`
/// (`SHOAL_BENCH_DIR` picks the folder; default: the system temp folder).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn disk_throughput() {
    const PIECE: u64 = 1 << 20;
    const TOTAL: u64 = 1 << 30;
    let base = std::env::var_os("SHOAL_BENCH_DIR").map(PathBuf::from);
    let tempdir = || match &base {
        Some(b) => tempfile::tempdir_in(b).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let piece: Bytes = (0..PIECE)
        .map(|i| (i * 31 % 253) as u8)
        .collect::<Vec<u8>>()
        .into();
    let hash: [u8; 20] = Sha1::digest(&piece).into();
    let rate = |bytes: u64, ns: u64| bytes as f64 / ns.max(1) as f64;
    // Earlier rounds' dirty pages would slow the next one down.
    let settle = || {
        let _ = std::process::Command::new("sync").status();
    };

    // The parts alone, on this thread.
    let (t, c) = (std::time::Instant::now(), cpu_ns(None));
    let mut h = Sha1::new();
    for _ in 0..TOTAL / PIECE {
        h.update(&piece);
    }
    let _ = h.finalize();
    let (wall, cpu) = (t.elapsed().as_nanos() as u64, cpu_ns(None) - c);
    println!(
        "sha1 alone:            {:.2} GB/s wall, {:.2} GB/CPU-s",
        rate(TOTAL, wall),
        rate(TOTAL, cpu)
    );
    for pass in ["fresh sparse file", "rewrite (pages cached)"] {
        let dir = tempdir();
        let path = dir.path().join("f");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        f.set_len(TOTAL).unwrap();
        use std::os::unix::fs::FileExt;
        let write_all = || {
            for off in (0..TOTAL).step_by(K as usize) {
                let o = (off % PIECE) as usize;
                f.write_all_at(&piece[o..o + K as usize], off).unwrap();
            }
        };
        if pass.starts_with("rewrite") {
            write_all();
        }
        settle();
        let (t, c) = (std::time::Instant::now(), cpu_ns(None));
        write_all();
        let (wall, cpu) = (t.elapsed().as_nanos() as u64, cpu_ns(None) - c);
        println!(
            "pwrite, {pass}: {:.2} GB/s wall, {:.2} GB/CPU-s",
            rate(TOTAL, wall),
            rate(TOTAL, cpu)
        );
    }

    let worker_counts: Vec<usize> = match std::env::var("SHOAL_BENCH_WORKERS") {
        Ok(w) => w.split(',').filter_map(|x| x.parse().ok()).collect(),
        Err(_) => vec![1, 2],
    };
    for workers in worker_counts {
        for round in 0..3 {
            settle();
            let dir = tempdir();
            let layout = Layout {
                files: vec![FileEntry {
                    path: "big".into(),
                    length: TOTAL,
                    offset: 0,
                    pad: false,
                    attr: String::new(),
                }],
                piece_length: PIECE,
                total_length: TOTAL,
            };
            let n = layout.num_pieces() as usize;
            let (tx, mut rx) = mpsc::channel(1024);
            let options = DiskOptions {
                workers,
                ..DiskOptions::default()
            };
            let disk = Disk::spawn_with(
                layout,
                dir.path().into(),
                vec![hash; n],
                vec![true],
                tx,
                options,
            )
            .unwrap();
            let (t, c) = (std::time::Instant::now(), disk_threads_cpu_ns());
            let reader = tokio::spawn(async move {
                let mut ok = 0;
                while ok < n {
                    match rx.recv().await {
                        Some(DiskEvent::PieceVerified(_)) => ok += 1,
                        other => panic!("{other:?}"),
                    }
                }
            });
            for p in 0..n as u32 {
                for off in (0..PIECE as u32).step_by(K as usize) {
                    let block = BlockRef {
                        piece: PieceIndex(p),
                        offset: off,
                        len: K,
                    };
                    let data = piece.slice(off as usize..(off + K) as usize);
                    disk.write_block(block, data).await.unwrap();
                }
            }
            reader.await.unwrap();
            let (wall, cpu) = (t.elapsed().as_nanos() as u64, disk_threads_cpu_ns() - c);
            println!(
                "Disk, {workers} worker(s), round {round}: {:.2} GB/s wall, {:.2} GB per worker-CPU-s",
                rate(TOTAL, wall),
                rate(TOTAL, cpu)
            );
            assert!(disk.shutdown().await.is_empty());
        }
    }
}
