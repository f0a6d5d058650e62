//! The disk side of one torrent: block writes with incremental hashing, block
//! reads for uploads, and syncing, on dedicated threads off the async
//! runtime.
//!
//! [`Disk`] is a cloneable handle to a few worker threads. Pieces are sharded
//! across workers by index, so every block of a piece, and its hasher, lives
//! on one thread and is handled in arrival order. Each worker is fed by a
//! bounded queue: a full queue makes `write_block` wait, which is the
//! backpressure that keeps the network from outrunning the disk.
//!
//! A written block is fed to its piece's SHA-1 as soon as it is next in order
//! (see [`super::piece_hash`]); when the last block lands the verdict is known
//! without reading the piece back, and arrives as a [`DiskEvent`].
//!
//! **Architecture invariant:** `PieceVerified` is sent only for a piece whose
//! every block was written without error and whose hash matched; a piece that
//! failed to reach the disk is reported as `PieceNotStored`, never verified.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use sha1::{Digest, Sha1};
use tokio::sync::{mpsc, oneshot};

use super::files::Files;
use super::piece_hash::{HeldBudget, PieceHasher, Verdict};
use super::read_cache::ReadCache;
use super::Layout;
use crate::bitfield::Bitfield;
use crate::types::{BlockRef, PieceIndex, BLOCK_LEN};

/// Most messages a worker takes from its queue at once.
const RECV_BATCH: usize = 16;

/// What went wrong on the disk side.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing ("writing", "creating folder", ...).
        op: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// A file's path would leave the save folder.
    #[error("refusing path {0}: it is outside the save folder")]
    UnsafePath(PathBuf),
    /// A block outside the torrent, off the block grid, or with data of the
    /// wrong length.
    #[error("bad block: piece {}, offset {}, length {}", .0.piece, .0.offset, .0.len)]
    BadBlock(BlockRef),
    /// The number of piece hashes or of wanted flags does not match the layout.
    #[error("expected {expected} {what}, got {got}")]
    Mismatch {
        /// "piece hashes" or "wanted flags".
        what: &'static str,
        /// What the layout calls for.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// A worker thread could not be started.
    #[error("cannot start a disk thread: {0}")]
    Spawn(#[source] io::Error),
    /// The disk has shut down.
    #[error("the disk has shut down")]
    Closed,
}

/// News from the disk workers.
#[derive(Debug)]
pub enum DiskEvent {
    /// The piece's hash matched and all of it is written.
    PieceVerified(PieceIndex),
    /// The piece's hash did not match: fetch it again. The evidence says
    /// who sent each block that was written and what it held, so that the
    /// sender of a bad block can be found once the piece passes.
    PieceFailed(PieceIndex, Vec<BlockEvidence>),
    /// Some block of the piece could not be written (an `Error` said why):
    /// fetch it again; nobody is to blame.
    PieceNotStored(PieceIndex),
    /// An I/O error, with the path concerned.
    Error(DiskError),
    /// A worker reached the barrier with this tag (`Disk::barrier`): every
    /// event it sent before this one was caused by work queued earlier.
    Barrier(u64),
}

/// The SHA-1 of one block's bytes.
pub type BlockDigest = [u8; 20];

/// One block of a piece that failed its hash: where the bytes written for
/// it came from, and their digest, read back from the disk before any
/// later write could replace them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEvidence {
    /// The block's index within its piece.
    pub block: u32,
    /// The address of the peer whose copy of the block was written (the
    /// first to arrive; later copies are dropped).
    pub from: IpAddr,
    /// SHA-1 of the bytes written.
    pub digest: BlockDigest,
}

/// Tuning of the disk workers; `Default` suits a fast local disk.
#[derive(Debug, Clone)]
pub struct DiskOptions {
    /// Worker threads.
    pub workers: usize,
    /// Messages queued per worker before `write_block` waits.
    pub queue_len: usize,
    /// Most bytes of early blocks held in memory for hashing, over all
    /// workers; past it, early blocks are read back when their turn comes.
    pub held_cap: usize,
    /// Open files kept per worker.
    pub open_files: usize,
    /// Bytes read at once to serve uploads (peers ask for consecutive
    /// blocks), and kept for the next requests.
    pub read_window: u32,
    /// Bytes of read windows kept per worker.
    pub read_cache: usize,
}

impl Default for DiskOptions {
    fn default() -> Self {
        DiskOptions {
            workers: 2,
            queue_len: 64,
            held_cap: 4 << 20,
            open_files: 32,
            read_window: 128 << 10,
            read_cache: 4 << 20,
        }
    }
}

/// Handle to the disk workers of one torrent (see the module docs). Clones
/// share the workers.
#[derive(Clone)]
pub struct Disk {
    /// State shared by the clones.
    shared: Arc<Shared>,
}

/// What the clones of a `Disk` share.
struct Shared {
    /// One queue per worker; piece `i` goes to `queues[i % len]`.
    queues: Vec<mpsc::Sender<Msg>>,
    /// Piece and file arithmetic.
    layout: Arc<Layout>,
    /// The threads, joined by `shutdown`.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A request to a worker.
enum Msg {
    /// Write and hash a block (checked against the grid already) that
    /// came from `from`.
    Write {
        block: BlockRef,
        data: Bytes,
        from: Option<IpAddr>,
    },
    /// Read a range inside a piece and send it back.
    Read {
        block: BlockRef,
        reply: oneshot::Sender<Result<Bytes, DiskError>>,
    },
    /// New wanted flags, one per file.
    SetWanted(Arc<Vec<bool>>),
    /// Sync written files, then answer.
    Flush(oneshot::Sender<Result<(), DiskError>>),
    /// Send `DiskEvent::Barrier` with this tag, after the events before.
    Barrier(u64),
    /// Sync, answer with the undelivered events, and end the thread.
    Shutdown(oneshot::Sender<(Result<(), DiskError>, Vec<DiskEvent>)>),
}

impl Disk {
    /// Starts the workers with default options. `wanted_files` has one flag
    /// per file of `layout`; empty wanted files are created at once, other
    /// files on their first write. `events` receives verdicts and errors.
    pub fn spawn(
        layout: Layout,
        save_dir: PathBuf,
        piece_hashes: Vec<[u8; 20]>,
        wanted_files: Vec<bool>,
        events: mpsc::Sender<DiskEvent>,
    ) -> Result<Disk, DiskError> {
        Self::spawn_with(
            layout,
            save_dir,
            piece_hashes,
            wanted_files,
            events,
            DiskOptions::default(),
        )
    }

    /// Starts the workers with `options`.
    pub fn spawn_with(
        layout: Layout,
        save_dir: PathBuf,
        piece_hashes: Vec<[u8; 20]>,
        wanted_files: Vec<bool>,
        events: mpsc::Sender<DiskEvent>,
        options: DiskOptions,
    ) -> Result<Disk, DiskError> {
        let n = layout.num_pieces() as usize;
        if piece_hashes.len() != n {
            return Err(DiskError::Mismatch {
                what: "piece hashes",
                expected: n,
                got: piece_hashes.len(),
            });
        }
        if wanted_files.len() != layout.files.len() {
            return Err(DiskError::Mismatch {
                what: "wanted flags",
                expected: layout.files.len(),
                got: wanted_files.len(),
            });
        }
        let layout = Arc::new(layout);
        let hashes = Arc::new(piece_hashes);
        let wanted = Arc::new(wanted_files);
        let budget = HeldBudget::new(options.held_cap);
        let workers = options.workers.max(1);
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for id in 0..workers {
            let (tx, rx) = mpsc::channel(options.queue_len.max(1));
            let worker = Worker {
                id,
                layout: layout.clone(),
                hashes: hashes.clone(),
                wanted: wanted.clone(),
                files: Files::new(save_dir.clone(), layout.clone(), options.open_files),
                pieces: HashMap::new(),
                origins: HashMap::new(),
                verified: Bitfield::new(n as u32),
                budget: budget.clone(),
                cache: ReadCache::new(options.read_cache),
                window: options.read_window.max(BLOCK_LEN),
                events: events.clone(),
                backlog: VecDeque::new(),
                rx,
                batch: Vec::with_capacity(RECV_BATCH),
                run_buf: Vec::with_capacity(RECV_BATCH),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("shoal-disk-{id}"))
                .spawn(move || worker.run());
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // Dropping the queues ends the workers already started.
                    drop(queues);
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(DiskError::Spawn(e));
                }
            }
            queues.push(tx);
        }
        Ok(Disk {
            shared: Arc::new(Shared {
                queues,
                layout,
                threads: Mutex::new(threads),
            }),
        })
    }

    /// Share of the workers' queues in use, 0.0 to 1.0: near 1.0 for a
    /// while, blocks arrive faster than the disk takes them.
    pub fn queue_fill(&self) -> f64 {
        let (used, cap) = self.shared.queues.iter().fold((0, 0), |(u, c), q| {
            (u + q.max_capacity() - q.capacity(), c + q.max_capacity())
        });
        if cap == 0 {
            0.0
        } else {
            used as f64 / cap as f64
        }
    }

    /// Queues a received block for writing and hashing. The future waits
    /// while the worker's queue is full (backpressure) and resolves once the
    /// block is queued; the piece's verdict comes later as a `DiskEvent`.
    /// A block must be on the 16 KiB grid with data of its exact length;
    /// repeated blocks and blocks of pieces already verified are ignored.
    pub fn write_block(
        &self,
        block: BlockRef,
        data: Bytes,
    ) -> impl Future<Output = Result<(), DiskError>> + Send + 'static {
        self.write(block, data, None)
    }

    /// Like [`Disk::write_block`] for a block received from the peer at
    /// `from`: if its piece fails the hash, the `PieceFailed` event names
    /// `from` as the sender of this block (when its copy is the one
    /// written).
    pub fn write_block_from(
        &self,
        block: BlockRef,
        data: Bytes,
        from: IpAddr,
    ) -> impl Future<Output = Result<(), DiskError>> + Send + 'static {
        self.write(block, data, Some(from))
    }

    fn write(
        &self,
        block: BlockRef,
        data: Bytes,
        from: Option<IpAddr>,
    ) -> impl Future<Output = Result<(), DiskError>> + Send + 'static {
        let queue = self.check_grid(block, data.len()).cloned();
        async move {
            queue?
                .send(Msg::Write { block, data, from })
                .await
                .map_err(|_| DiskError::Closed)
        }
    }

    /// Reads a block (any offset and length up to 16 KiB inside a piece) to
    /// serve an upload. The caller checks that we have the piece.
    pub fn read_block(
        &self,
        block: BlockRef,
    ) -> impl Future<Output = Result<Bytes, DiskError>> + Send + 'static {
        let queue = self.check_range(block).cloned();
        async move {
            let (reply, rx) = oneshot::channel();
            queue?
                .send(Msg::Read { block, reply })
                .await
                .map_err(|_| DiskError::Closed)?;
            rx.await.map_err(|_| DiskError::Closed)?
        }
    }

    /// Changes which files are wanted: writes to pieces that touch no wanted
    /// file are dropped from then on.
    pub async fn set_wanted_files(&self, wanted_files: Vec<bool>) -> Result<(), DiskError> {
        let expected = self.shared.layout.files.len();
        if wanted_files.len() != expected {
            return Err(DiskError::Mismatch {
                what: "wanted flags",
                expected,
                got: wanted_files.len(),
            });
        }
        let wanted = Arc::new(wanted_files);
        for q in &self.shared.queues {
            q.send(Msg::SetWanted(wanted.clone()))
                .await
                .map_err(|_| DiskError::Closed)?;
        }
        Ok(())
    }

    /// Waits until every block queued so far is written and synced to stable
    /// storage (e.g. before saving resume data).
    pub async fn flush(&self) -> Result<(), DiskError> {
        let mut first_err = None;
        for q in &self.shared.queues {
            let (reply, rx) = oneshot::channel();
            q.send(Msg::Flush(reply))
                .await
                .map_err(|_| DiskError::Closed)?;
            if let Err(e) = rx.await.map_err(|_| DiskError::Closed)? {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Queues a barrier with `tag` on every worker: each sends
    /// `DiskEvent::Barrier(tag)` once it has handled everything queued
    /// before, after the events that work caused. Returns how many will
    /// come (one per worker).
    pub async fn barrier(&self, tag: u64) -> Result<usize, DiskError> {
        for q in &self.shared.queues {
            q.send(Msg::Barrier(tag))
                .await
                .map_err(|_| DiskError::Closed)?;
        }
        Ok(self.shared.queues.len())
    }

    /// How many worker threads there are (one barrier event each).
    pub fn workers(&self) -> usize {
        self.shared.queues.len()
    }

    /// Writes everything queued, syncs the files, and ends the workers (other
    /// clones of this handle get `Closed` from then on). Returns the events
    /// the event channel had no room for, a failed sync among them as an
    /// `Error`: handle them after draining the channel, so no verdict is
    /// lost. Pieces not yet complete keep no hashing state; their blocks are
    /// on disk, unverified.
    pub async fn shutdown(self) -> Vec<DiskEvent> {
        let mut leftover = Vec::new();
        for q in &self.shared.queues {
            let (reply, rx) = oneshot::channel();
            if q.send(Msg::Shutdown(reply)).await.is_err() {
                continue; // Already shut down.
            }
            if let Ok((result, events)) = rx.await {
                leftover.extend(events);
                if let Err(e) = result {
                    leftover.push(DiskEvent::Error(e));
                }
            }
        }
        let threads = match self.shared.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        // The workers have answered and are returning; joining is brief.
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        leftover
    }

    /// The worker queue for a block on the 16 KiB grid with `data_len` bytes.
    fn check_grid(
        &self,
        block: BlockRef,
        data_len: usize,
    ) -> Result<&mpsc::Sender<Msg>, DiskError> {
        let l = &self.shared.layout;
        let ok = block.piece.0 < l.num_pieces()
            && block.offset % BLOCK_LEN == 0
            && block.offset < l.piece_len(block.piece)
            && block.len == (l.piece_len(block.piece) - block.offset).min(BLOCK_LEN)
            && data_len == block.len as usize;
        if !ok {
            return Err(DiskError::BadBlock(block));
        }
        Ok(self.queue(block.piece))
    }

    /// The worker queue for a readable range inside one piece.
    fn check_range(&self, block: BlockRef) -> Result<&mpsc::Sender<Msg>, DiskError> {
        let l = &self.shared.layout;
        let ok = block.piece.0 < l.num_pieces()
            && block.len > 0
            && block.len <= BLOCK_LEN
            && block.offset as u64 + block.len as u64 <= l.piece_len(block.piece) as u64;
        if !ok {
            return Err(DiskError::BadBlock(block));
        }
        Ok(self.queue(block.piece))
    }

    fn queue(&self, piece: PieceIndex) -> &mpsc::Sender<Msg> {
        let q = &self.shared.queues;
        &q[piece.as_usize() % q.len()]
    }
}

/// One worker thread: its share of the pieces, its files and caches.
struct Worker {
    /// Worker number; worker 0 creates the empty files.
    id: usize,
    /// Piece and file arithmetic.
    layout: Arc<Layout>,
    /// Expected SHA-1 of every piece.
    hashes: Arc<Vec<[u8; 20]>>,
    /// Wanted flag of every file.
    wanted: Arc<Vec<bool>>,
    /// Open files and positional I/O.
    files: Files,
    /// Hashing state of this worker's pieces in progress.
    pieces: HashMap<u32, PieceHasher>,
    /// For each piece in `pieces`, who sent each written block (`None`:
    /// not written yet, or the writer did not say): the evidence of a
    /// failed piece. One entry per block of a piece in progress.
    origins: HashMap<u32, Vec<Option<IpAddr>>>,
    /// Pieces verified since start: later writes to them are dropped so
    /// verified data is never overwritten.
    verified: Bitfield,
    /// Shared cap on early blocks held in memory.
    budget: Arc<HeldBudget>,
    /// Recently read windows, for uploads.
    cache: ReadCache,
    /// Size of a read window.
    window: u32,
    /// Where verdicts and errors go.
    events: mpsc::Sender<DiskEvent>,
    /// Events the channel had no room for yet, in order. The worker never
    /// blocks on a full event channel, so a caller that awaits
    /// `write_block` while not reading events cannot deadlock with it.
    backlog: VecDeque<DiskEvent>,
    /// This worker's queue.
    rx: mpsc::Receiver<Msg>,
    /// Messages taken from the queue and not yet handled, last first.
    batch: Vec<Msg>,
    /// Buffer for a run of consecutive blocks written at once.
    run_buf: Vec<(BlockRef, Bytes, Option<IpAddr>)>,
}

impl Worker {
    fn run(mut self) {
        if self.id == 0 {
            self.create_empty_files();
        }
        loop {
            let Some(msg) = self.next_msg() else {
                // Every handle is gone: sync and end.
                if let Err(e) = self.files.sync() {
                    self.emit(DiskEvent::Error(e));
                }
                self.flush_backlog();
                return;
            };
            match msg {
                Msg::Write { block, data, from } => self.write(block, data, from),
                Msg::Read { block, reply } => {
                    let r = self.read(block);
                    if let Err(DiskError::Io { op, path, source }) = &r {
                        // The peer only sees its request fail; the torrent
                        // must learn that its data cannot be read.
                        self.emit(DiskEvent::Error(DiskError::Io {
                            op,
                            path: path.clone(),
                            source: io::Error::new(source.kind(), source.to_string()),
                        }));
                    }
                    let _ = reply.send(r);
                }
                Msg::SetWanted(w) => self.wanted = w,
                Msg::Barrier(tag) => self.emit(DiskEvent::Barrier(tag)),
                Msg::Flush(reply) => {
                    let _ = reply.send(self.files.sync());
                }
                Msg::Shutdown(reply) => {
                    let result = self.files.sync();
                    self.flush_backlog();
                    let _ = reply.send((result, self.backlog.drain(..).collect()));
                    return;
                }
            }
        }
    }

    /// The next message. Messages are taken from the queue in batches, so a
    /// sender waiting for room is woken once per batch rather than once per
    /// block. While events wait for room in the event channel, they are
    /// delivered as room appears.
    fn next_msg(&mut self) -> Option<Msg> {
        if let Some(m) = self.batch.pop() {
            return Some(m);
        }
        self.flush_backlog();
        let (rx, events, backlog, batch) = (
            &mut self.rx,
            &self.events,
            &mut self.backlog,
            &mut self.batch,
        );
        let n = futures::executor::block_on(async {
            while !backlog.is_empty() {
                tokio::select! {
                    biased;
                    permit = events.reserve() => match (permit, backlog.pop_front()) {
                        (Ok(p), Some(ev)) => p.send(ev),
                        // The receiver is gone: nobody listens.
                        _ => backlog.clear(),
                    },
                    n = rx.recv_many(batch, RECV_BATCH) => return n,
                }
            }
            rx.recv_many(batch, RECV_BATCH).await
        });
        if n == 0 {
            return None;
        }
        // Popped from the end, so reverse to keep the queue's order.
        self.batch.reverse();
        self.batch.pop()
    }

    fn emit(&mut self, ev: DiskEvent) {
        self.backlog.push_back(ev);
        self.flush_backlog();
    }

    fn flush_backlog(&mut self) {
        while let Some(ev) = self.backlog.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(ev)) => {
                    self.backlog.push_front(ev);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.backlog.clear();
                    return;
                }
            }
        }
    }

    fn create_empty_files(&mut self) {
        for f in 0..self.layout.files.len() {
            let entry = &self.layout.files[f];
            if entry.length == 0 && !entry.pad && self.wanted[f] {
                if let Err(e) = self.files.create_empty(f) {
                    self.emit(DiskEvent::Error(e));
                }
            }
        }
    }

    /// Whether a piece touches a wanted file.
    fn piece_wanted(&self, piece: PieceIndex) -> bool {
        self.layout
            .piece_spans(piece)
            .any(|s| self.wanted[s.file] && !self.layout.files[s.file].pad)
    }

    /// Handles a write and the writes right behind it in the batch that
    /// continue it (same piece, next offset), as one run.
    fn write(&mut self, block: BlockRef, data: Bytes, from: Option<IpAddr>) {
        let mut run = std::mem::take(&mut self.run_buf);
        run.push((block, data, from));
        while let Some(Msg::Write { block: next, .. }) = self.batch.last() {
            let (last, _, _) = run[run.len() - 1];
            if next.piece != last.piece || next.offset != last.offset + last.len {
                break;
            }
            if let Some(Msg::Write { block, data, from }) = self.batch.pop() {
                run.push((block, data, from));
            }
        }
        self.write_run(&mut run);
        run.clear();
        self.run_buf = run;
    }

    /// Writes and hashes consecutive blocks of one piece.
    fn write_run(&mut self, run: &mut Vec<(BlockRef, Bytes, Option<IpAddr>)>) {
        crate::stall::stall("write");
        let piece = run[0].0.piece;
        if self.verified.get(piece) || !self.piece_wanted(piece) {
            tracing::debug!(?piece, "dropping writes to a verified or unwanted piece");
            return;
        }
        let (piece_start, piece_len) = self.layout.piece_range(piece);
        let budget = &self.budget;
        let state = self
            .pieces
            .entry(piece.0)
            .or_insert_with(|| PieceHasher::new(piece_len as u32, budget.clone()));
        // Blocks that arrived before are dropped, never written twice.
        run.retain(|(b, _, _)| state.mark_seen(b.offset / BLOCK_LEN));
        if run.is_empty() {
            return;
        }
        let origins = self
            .origins
            .entry(piece.0)
            .or_insert_with(|| vec![None; state.num_blocks() as usize]);
        for (b, _, from) in run.iter() {
            if let Some(o) = origins.get_mut((b.offset / BLOCK_LEN) as usize) {
                *o = *from;
            }
        }
        self.cache.invalidate(piece.0);
        let mut error = None;
        let mut i = 0;
        while i < run.len() {
            let mut j = i + 1;
            while j < run.len() && run[j].0.offset == run[j - 1].0.offset + run[j - 1].0.len {
                j += 1;
            }
            let bufs: Vec<&[u8]> = run[i..j].iter().map(|(_, d, _)| &d[..]).collect();
            let at = piece_start + run[i].0.offset as u64;
            if let Err(e) = self.files.write_all_at(at, &bufs) {
                state.set_broken();
                error = Some(e);
                break;
            }
            i = j;
        }
        let files = &mut self.files;
        for (block, data, _) in run.drain(..) {
            let read_back = |i: u32| {
                let off = i * BLOCK_LEN;
                let len = (piece_len as u32 - off).min(BLOCK_LEN);
                let mut buf = vec![0u8; len as usize];
                files.read_at(piece_start + off as u64, &mut buf)?;
                Ok::<_, DiskError>(Bytes::from(buf))
            };
            if let Err(e) = state.add(block.offset / BLOCK_LEN, data, read_back) {
                error.get_or_insert(e);
            }
        }
        let complete = state.is_complete();
        if let Some(e) = error {
            self.emit(DiskEvent::Error(e));
        }
        if complete {
            let origins = self.origins.remove(&piece.0).unwrap_or_default();
            if let Some(state) = self.pieces.remove(&piece.0) {
                let ev = match state.verdict(&self.hashes[piece.as_usize()]) {
                    Verdict::Verified => {
                        self.verified.set(piece, true);
                        DiskEvent::PieceVerified(piece)
                    }
                    Verdict::HashMismatch => {
                        DiskEvent::PieceFailed(piece, self.evidence(piece, &origins))
                    }
                    Verdict::NotStored => DiskEvent::PieceNotStored(piece),
                };
                self.emit(ev);
            }
        }
    }

    /// The evidence of a piece that just failed its hash: each block whose
    /// sender is known, with the digest of what is on disk for it. Read
    /// back here, on the piece's own worker before it takes the next
    /// message, so no later write to the piece can have replaced it. A
    /// block that cannot be read back is left out.
    fn evidence(&mut self, piece: PieceIndex, origins: &[Option<IpAddr>]) -> Vec<BlockEvidence> {
        let (piece_start, piece_len) = self.layout.piece_range(piece);
        let mut out = Vec::new();
        let mut buf = vec![0u8; BLOCK_LEN as usize];
        for (b, from) in origins.iter().enumerate() {
            let Some(from) = *from else { continue };
            let off = b as u64 * BLOCK_LEN as u64;
            let len = (piece_len - off).min(BLOCK_LEN as u64) as usize;
            if self
                .files
                .read_at(piece_start + off, &mut buf[..len])
                .is_err()
            {
                continue;
            }
            out.push(BlockEvidence {
                block: b as u32,
                from,
                digest: Sha1::digest(&buf[..len]).into(),
            });
        }
        out
    }

    fn read(&mut self, block: BlockRef) -> Result<Bytes, DiskError> {
        let (piece_start, piece_len) = self.layout.piece_range(block.piece);
        let w = block.offset / self.window;
        let ws = w * self.window;
        let we = (ws as u64 + self.window as u64).min(piece_len) as u32;
        let (s, e) = (block.offset - ws, block.offset - ws + block.len);
        if block.offset + block.len <= we && self.cache.enabled() {
            if let Some(win) = self.cache.get(block.piece.0, w) {
                return Ok(win.slice(s as usize..e as usize));
            }
            let mut buf = vec![0u8; (we - ws) as usize];
            self.files.read_at(piece_start + ws as u64, &mut buf)?;
            let win = Bytes::from(buf);
            self.cache.insert(block.piece.0, w, win.clone());
            return Ok(win.slice(s as usize..e as usize));
        }
        let mut buf = vec![0u8; block.len as usize];
        self.files
            .read_at(piece_start + block.offset as u64, &mut buf)?;
        Ok(Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests;
