//! A scripted lying seeder: it dials a downloader, claims every piece,
//! and answers requests with wrong bytes for some blocks. It runs on a
//! thread of its own with its own runtime, optionally inside a lab host's
//! network namespace, until it is stopped (or dropped); every wait in it
//! is bounded.
//!
//! Two manners of lying:
//! - [`Manner::HitAndRun`]: on each connection it answers the first
//!   request with a corrupted block and hangs up at once, then dials
//!   again: a peer that is never connected when its piece fails.
//! - [`Manner::Stay`]: it stays connected and corrupts one block in
//!   every piece it serves (the second one), answering the others truly.

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_util::codec::Framed;

use shoal::storage::Layout;
use shoal::wire::{Geometry, Handshake, Message, PeerCodec};
use shoal::{Metainfo, PeerId};

/// How long any one step (a dial, a handshake, a message) may take.
const STEP: Duration = Duration::from_secs(5);
/// Pause between dials.
const REDIAL: Duration = Duration::from_millis(50);

/// How the liar lies (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manner {
    /// One bad block per connection, then hang up and dial again.
    HitAndRun,
    /// Stay connected; the second block of every piece is bad.
    Stay,
}

/// What a liar did, readable while it runs.
#[derive(Debug, Default)]
pub struct LiarCounts {
    /// Connections on which the downloader answered the handshake.
    pub connections: AtomicU64,
    /// Corrupted blocks sent.
    pub bad_blocks: AtomicU64,
    /// True blocks sent.
    pub good_blocks: AtomicU64,
}

/// A running liar; stopped and joined on drop.
pub struct Liar {
    /// What it did.
    pub counts: Arc<LiarCounts>,
    /// Tells the thread to end.
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

/// Where and how a liar runs.
pub struct LiarPlan {
    /// The address it dials from (its port from the OS).
    pub bind: IpAddr,
    /// The downloader to dial.
    pub target: SocketAddr,
    /// The torrent.
    pub meta: Metainfo,
    /// The save folder holding the true content (at `dir/<name>` ...).
    pub dir: PathBuf,
    /// How it lies.
    pub manner: Manner,
    /// A network namespace to enter first (`/run/netns/NAME`), if any.
    pub netns: Option<PathBuf>,
}

impl Liar {
    /// Starts a liar.
    pub fn start(plan: LiarPlan) -> Liar {
        let counts = Arc::new(LiarCounts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (counts.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            if let Some(ns) = &plan.netns {
                use std::os::fd::AsRawFd;
                let f = File::open(ns).expect("open the namespace");
                // SAFETY: a valid namespace fd; setns changes this thread
                // only, which is the liar's own.
                let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the liar's runtime");
            rt.block_on(run(plan, c, s));
        });
        Liar {
            counts,
            stop,
            thread: Some(thread),
        }
    }

    /// Corrupted blocks sent so far.
    pub fn bad_blocks(&self) -> u64 {
        self.counts.bad_blocks.load(Ordering::Relaxed)
    }

    /// Connections the downloader answered so far.
    pub fn connections(&self) -> u64 {
        self.counts.connections.load(Ordering::Relaxed)
    }

    /// Stops the liar and waits for its thread (at most one step).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Liar {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The true bytes of the torrent, read from its files.
struct Content {
    layout: Layout,
    files: Vec<(u64, u64, File)>,
}

impl Content {
    fn open(meta: &Metainfo, dir: &std::path::Path) -> Content {
        let layout = Layout::new(&meta.info);
        let files = meta
            .info
            .files
            .iter()
            .filter(|f| !f.pad && f.length > 0)
            .map(|f| {
                let file = File::open(dir.join(&f.path)).expect("the liar's content");
                (f.offset, f.length, file)
            })
            .collect();
        Content { layout, files }
    }

    /// `len` bytes at `offset` of `piece`.
    fn read(&self, piece: shoal::PieceIndex, offset: u32, len: u32) -> Vec<u8> {
        let (start, _) = self.layout.piece_range(piece);
        let at = start + offset as u64;
        let mut out = vec![0u8; len as usize];
        for (f_off, f_len, file) in &self.files {
            let lo = at.max(*f_off);
            let hi = (at + len as u64).min(f_off + f_len);
            if lo < hi {
                let dst = &mut out[(lo - at) as usize..(hi - at) as usize];
                file.read_exact_at(dst, lo - f_off).expect("read content");
            }
        }
        out
    }
}

async fn run(plan: LiarPlan, counts: Arc<LiarCounts>, stop: Arc<AtomicBool>) {
    let content = Content::open(&plan.meta, &plan.dir);
    while !stop.load(Ordering::Relaxed) {
        let _ = tokio::time::timeout(
            Duration::from_secs(600),
            conversation(&plan, &content, &counts, &stop),
        )
        .await;
        tokio::time::sleep(REDIAL).await;
    }
}

/// One connection, until the liar hangs up, the downloader does, or a
/// step times out.
async fn conversation(
    plan: &LiarPlan,
    content: &Content,
    counts: &LiarCounts,
    stop: &AtomicBool,
) -> Option<()> {
    let socket = match plan.bind {
        IpAddr::V4(_) => TcpSocket::new_v4().ok()?,
        IpAddr::V6(_) => TcpSocket::new_v6().ok()?,
    };
    socket.bind(SocketAddr::new(plan.bind, 0)).ok()?;
    let mut sock = tokio::time::timeout(STEP, socket.connect(plan.target))
        .await
        .ok()?
        .ok()?;
    let mut id = [b'x'; 20];
    id[..8].copy_from_slice(b"-XX0001-");
    let ours = Handshake::new(plan.meta.info_hash, PeerId(id));
    tokio::time::timeout(STEP, sock.write_all(&ours.encode()))
        .await
        .ok()?
        .ok()?;
    let mut theirs = [0u8; Handshake::LEN];
    tokio::time::timeout(STEP, sock.read_exact(&mut theirs))
        .await
        .ok()?
        .ok()?;
    counts.connections.fetch_add(1, Ordering::Relaxed);
    let geometry = Geometry::from_info(&plan.meta.info).ok()?;
    let mut framed = Framed::new(sock, PeerCodec::new(Some(geometry)));
    tokio::time::timeout(STEP, framed.send(Message::HaveAll))
        .await
        .ok()?
        .ok()?;
    while !stop.load(Ordering::Relaxed) {
        // Short waits, so a stop is seen soon; an idle peer is kept.
        let msg = match tokio::time::timeout(Duration::from_millis(200), framed.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(m))) => m,
            Ok(_) => return None,
        };
        match msg {
            Message::Interested => tokio::time::timeout(STEP, framed.send(Message::Unchoke))
                .await
                .ok()?
                .ok()?,
            Message::Request(b) => {
                let mut data = content.read(b.piece, b.offset, b.len);
                let lie = match plan.manner {
                    Manner::HitAndRun => true,
                    Manner::Stay => b.offset / (16 * 1024) == 1,
                };
                if lie {
                    for x in data.iter_mut() {
                        *x ^= 0x5a;
                    }
                }
                let piece = Message::Piece {
                    piece: b.piece,
                    offset: b.offset,
                    data: Bytes::from(data),
                };
                tokio::time::timeout(STEP, framed.send(piece))
                    .await
                    .ok()?
                    .ok()?;
                let n = if lie {
                    &counts.bad_blocks
                } else {
                    &counts.good_blocks
                };
                n.fetch_add(1, Ordering::Relaxed);
                if plan.manner == Manner::HitAndRun {
                    // Hang up right after the bad block.
                    let mut sock = framed.into_inner();
                    let _ = tokio::time::timeout(STEP, sock.shutdown()).await;
                    return Some(());
                }
            }
            _ => {}
        }
    }
    Some(())
}
