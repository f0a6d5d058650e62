//! The life of one connection: the handshake (dialling out or answering),
//! then one loop that reads frames, writes whatever is queued, serves block
//! requests from the disk and keeps the request pipeline full.
//!
//! The socket is split in two halves driven from the same loop with a byte
//! buffer for each direction, so a peer that stops reading does not block
//! our reading while what we queue for it is our own doing (two peers that
//! both upload to each other cannot deadlock: uploads stop queueing at
//! `OUT_HIGH_WATER`).
//!
//! What a peer makes us queue by its own messages (rejects, ut_metadata
//! answers) is bounded by back-pressure: past `OUT_PAUSE_READ` bytes
//! queued we stop reading the peer until it reads, so a peer that floods us
//! and never reads waits in its own socket instead of our memory. Past
//! `OUT_MAX` (only our own messages, such as `Have`, can get there) or
//! after [`IDLE_TIMEOUT`] without any byte written the connection closes.
//! Messages that queue nothing (requests we refuse or already hold,
//! cancels, PEX) are counted instead, and a flood of them ends the
//! connection (`flood.rs`).
//!
//! Rate limits are waited on inside the same loop, never by blocking it: a
//! block read from the disk waits in the upload queue for the upload
//! limit's tokens, and a received block takes the download limit's tokens
//! at once, into debt, while the loop stops reading the socket until the
//! debt is paid (TCP then slows the sender). Commands, writes, the tick and
//! cancellation are served all the while.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::stream::{FuturesOrdered, StreamExt};
use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

mod serve;

use super::dial::Connected;
use super::fast::{ALLOWED_FAST_KEEP, SUGGEST_KEEP};
use super::flood::FloodGuard;
use super::pipeline::{Arrival, Pipeline};
use super::upload::{UploadQueue, OUR_REQQ};
use super::{PeerCmd, PeerContext, PeerEvent};
use crate::bitfield::Bitfield;
use crate::limit::ChainTicket;
use crate::rate::Rate;
use crate::storage::disk::DiskError;
use crate::types::{BlockRef, PieceIndex};
use crate::wire::{
    ExtendedHandshake, Message, PeerCodec, PexMessage, WireError, LOCAL_UT_METADATA_ID,
    LOCAL_UT_PEX_ID, UT_METADATA, UT_PEX,
};

/// A connection on which nothing arrives for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// We send a keep-alive after this long without sending anything.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
/// Disk reads in flight per connection while uploading: 512 KiB, so the
/// socket never waits on a round trip to a disk thread.
const MAX_READS: usize = 32;
/// Bytes queued for the socket above which we stop reading more blocks
/// from the disk for this peer.
const OUT_HIGH_WATER: usize = 512 * 1024;
/// Bytes queued for the socket at which we stop reading from the peer:
/// above what uploads alone queue (`OUT_HIGH_WATER` and one block), so
/// only a peer that makes us answer faster than it reads gets here, and it
/// then waits until it has read.
const OUT_PAUSE_READ: usize = 1024 * 1024;
/// Bytes queued for the socket at which the connection is closed: with
/// reading paused at `OUT_PAUSE_READ` only our own messages (`Have` for
/// every piece of a huge torrent, say) can grow the queue, and a peer that
/// reads none of them is of no use.
const OUT_MAX: usize = 8 * 1024 * 1024;
/// Spare room kept in the read buffer so each read can take a large chunk.
const READ_CHUNK: usize = 64 * 1024;
/// The pipeline asks the picker only for batches at least this big (or
/// when it is empty), so picker round trips stay few.
const ASK_BATCH: usize = 16;

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The peer broke the wire protocol.
    #[error("protocol error: {0}")]
    Wire(#[from] WireError),
    /// The socket failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A step took too long.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The peer answered for another torrent.
    #[error("peer is not in this torrent")]
    WrongTorrent,
    /// We dialled ourselves.
    #[error("connected to ourselves")]
    SelfConnection,
    /// The peer misbehaved in a way the codec cannot see.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// The disk failed under a write or read for this peer.
    #[error("disk: {0}")]
    Disk(#[from] DiskError),
    /// The peer closed the connection.
    #[error("peer closed the connection")]
    Closed,
    /// The MSE handshake failed.
    #[error("{0}")]
    Encryption(#[from] super::mse::MseError),
    /// The peer let `OUT_MAX` bytes pile up, or read nothing for
    /// [`IDLE_TIMEOUT`] while we had bytes for it.
    #[error("peer does not read what we send")]
    NotReading,
}

impl PeerError {
    /// The peer took the TCP connection and hung up before its handshake:
    /// it is there but would not talk now (checking its data, or a
    /// duplicate of a connection it has not seen close yet). Worth another
    /// try soon, unlike a dead address.
    pub fn is_refusal(&self) -> bool {
        matches!(self, PeerError::Io(e) if matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ))
    }
}

/// Runs a connection until it ends, then reports `Closed` to the torrent.
pub async fn run(
    conn: Connected,
    ctx: PeerContext,
    cmds: mpsc::UnboundedReceiver<PeerCmd>,
    cancel: CancellationToken,
) {
    let key = ctx.key;
    let events = ctx.events.clone();
    let mut task = Conn::new(conn, ctx, cmds);
    let error = match task.run(cancel).await {
        Ok(()) => None,
        Err(e) => {
            tracing::debug!(peer = %task.ctx.shared.addr, "connection ended: {e}");
            Some(e.to_string())
        }
    };
    let returned = task.pipeline.clear();
    // The torrent may be gone already during shutdown; nothing to do then.
    let _ = events
        .send((key, PeerEvent::Closed { error, returned }))
        .await;
}

/// What woke the loop.
enum Wake {
    Cancelled,
    Cmd(Option<PeerCmd>),
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    ReadBlock(BlockRef, Result<Bytes, DiskError>),
    /// The upload limit lets the first staged block pass.
    UploadTokens,
    /// The download limit is paid for what we received: read on.
    DownloadPaid,
    Tick,
}

type ReadFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = (BlockRef, Result<Bytes, DiskError>)> + Send>,
>;

/// The state of one connection.
struct Conn {
    /// Torrent-wide context.
    ctx: PeerContext,
    /// Commands from the torrent.
    cmds: mpsc::UnboundedReceiver<PeerCmd>,
    /// Read half of the socket.
    reader: super::PeerReader,
    /// Write half of the socket.
    writer: super::PeerWriter,
    /// Frames and checks messages.
    codec: PeerCodec,
    /// Bytes read and not yet decoded.
    inbuf: BytesMut,
    /// Bytes encoded and not yet written.
    out: BytesMut,
    /// Both sides support the fast extension (BEP 6).
    fast: bool,
    /// The peer supports the extension protocol (BEP 10).
    extensions: bool,
    /// Whether we choke the peer.
    am_choking: bool,
    /// Whether we want the peer's pieces.
    am_interested: bool,
    /// Whether the peer chokes us.
    peer_choking: bool,
    /// Our requests to the peer.
    pipeline: Pipeline,
    /// The peer's requests to us.
    uploads: UploadQueue,
    /// Disk reads under way for the peer's requests, in order.
    reads: FuturesOrdered<ReadFuture>,
    /// The picker said it had no more work for us; wait for a block or a
    /// tick before asking again.
    starved: bool,
    /// Our pieces, kept current by `PeerCmd::Have`.
    have: Bitfield,
    /// The id the peer wants ut_metadata messages under, if it speaks it.
    their_metadata_id: Option<u8>,
    /// The id the peer wants ut_pex messages under, if it speaks it (and
    /// PEX is on for this torrent).
    their_pex_id: Option<u8>,
    /// When a message last arrived.
    last_recv: Instant,
    /// When we last sent anything.
    last_send: Instant,
    /// Download rate from this peer, sizing the pipeline.
    rate: Rate,
    /// The download limit's tokens owed for blocks received; while set we
    /// do not read the socket.
    download_debt: Option<ChainTicket>,
    /// Counts the messages that cost the peer nothing and us work
    /// (`flood.rs`), to drop a peer that floods them.
    flood: FloodGuard,
    /// The pieces the peer may fetch while we choke it (BEP 6), granted
    /// once its first bitfield shows it has little to trade.
    allowed_out: Vec<PieceIndex>,
    /// Whether we have looked at the peer's first bitfield for that.
    allowed_decided: bool,
    /// The pieces the peer lets us fetch while it chokes us, as far as
    /// `ALLOWED_FAST_KEEP`.
    allowed_in: Vec<PieceIndex>,
    /// The pieces the peer suggested lately, newest last, as far as
    /// `SUGGEST_KEEP`, so repeats are not passed on.
    suggested: Vec<PieceIndex>,
}

impl Conn {
    fn new(conn: Connected, ctx: PeerContext, cmds: mpsc::UnboundedReceiver<PeerCmd>) -> Self {
        // We always offer the fast extension, so the peer's bit decides.
        let fast = conn.handshake.supports_fast();
        let extensions = conn.handshake.supports_extensions();
        let (reader, writer) = conn.stream.into_split();
        let now = Instant::now();
        let codec = PeerCodec::new(Some(ctx.geometry));
        Conn {
            have: ctx.have.clone(),
            ctx,
            cmds,
            reader,
            writer,
            codec,
            inbuf: BytesMut::with_capacity(READ_CHUNK * 2),
            out: BytesMut::with_capacity(READ_CHUNK),
            fast,
            extensions,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            pipeline: Pipeline::new(now),
            uploads: UploadQueue::default(),
            reads: FuturesOrdered::new(),
            starved: false,
            their_metadata_id: None,
            their_pex_id: None,
            last_recv: now,
            last_send: now,
            rate: Rate::default(),
            download_debt: None,
            flood: FloodGuard::default(),
            allowed_out: Vec::new(),
            allowed_decided: false,
            allowed_in: Vec::new(),
            suggested: Vec::new(),
        }
    }

    async fn run(&mut self, cancel: CancellationToken) -> Result<(), PeerError> {
        self.greet()?;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.send_staged()?;
            self.start_reads();
            self.ask_for_blocks().await?;
            if self.inbuf.capacity() - self.inbuf.len() < READ_CHUNK {
                self.inbuf.reserve(READ_CHUNK);
            }
            if self.out.len() >= OUT_MAX {
                return Err(PeerError::NotReading);
            }
            let want_write = !self.out.is_empty();
            // Tokens are only worth waiting for while there is room to send.
            let want_tokens = self.out.len() < OUT_HIGH_WATER;
            // Back-pressure: a peer that does not read what it made us
            // queue is not read either.
            let output_full = self.out.len() >= OUT_PAUSE_READ;
            let want_read = self.download_debt.is_none() && !output_full;
            let wake = tokio::select! {
                biased;
                _ = cancel.cancelled() => Wake::Cancelled,
                c = self.cmds.recv() => Wake::Cmd(c),
                Some((b, r)) = self.reads.next(), if !self.reads.is_empty() => Wake::ReadBlock(b, r),
                r = self.writer.write_buf(&mut self.out), if want_write => Wake::Wrote(r),
                _ = self.uploads.tokens(), if want_tokens => Wake::UploadTokens,
                _ = pay(&mut self.download_debt), if self.download_debt.is_some() => Wake::DownloadPaid,
                r = self.reader.read_buf(&mut self.inbuf), if want_read => Wake::Read(r),
                _ = tick.tick() => Wake::Tick,
            };
            match wake {
                Wake::Cancelled | Wake::Cmd(None) | Wake::Cmd(Some(PeerCmd::Close)) => {
                    // Best effort: flush what is queued, briefly.
                    let _ = timeout(Duration::from_secs(1), self.writer.write_all(&self.out)).await;
                    return Ok(());
                }
                Wake::Cmd(Some(cmd)) => self.on_cmd(cmd).await?,
                Wake::Wrote(r) => {
                    r?;
                    let now = Instant::now();
                    self.last_send = now;
                    if output_full && self.out.len() < OUT_PAUSE_READ {
                        // We read again; the peer's silence while we did
                        // not was ours.
                        self.last_recv = now;
                        self.pipeline.resume_timeout(now);
                    }
                }
                Wake::ReadBlock(block, data) => {
                    self.read_done(block, data)?;
                    // Take every other read that is done too, so one
                    // socket write carries several blocks.
                    while let Some(Some((block, data))) = self.reads.next().now_or_never() {
                        self.read_done(block, data)?;
                    }
                    self.send_staged()?;
                }
                Wake::UploadTokens => self.send_staged()?,
                Wake::DownloadPaid => {
                    self.download_debt = None;
                    // We were not reading: the peer could not deliver, so
                    // its silence so far does not count against it.
                    let now = Instant::now();
                    self.last_recv = now;
                    self.pipeline.resume_timeout(now);
                }
                Wake::Read(r) => {
                    if r? == 0 {
                        return Err(PeerError::Closed);
                    }
                    self.last_recv = Instant::now();
                    while let Some(msg) = self.codec.decode(&mut self.inbuf)? {
                        self.on_message(msg).await?;
                    }
                }
                Wake::Tick => self.on_tick().await?,
            }
        }
    }

    /// Sends what opens a conversation: the extension handshake and our
    /// pieces.
    fn greet(&mut self) -> Result<(), PeerError> {
        let count = self.have.count_ones();
        if self.fast && count == 0 {
            self.send(Message::HaveNone)?;
        } else if self.fast && self.have.is_full() {
            self.send(Message::HaveAll)?;
        } else if count > 0 {
            let bits = Bytes::copy_from_slice(self.have.as_bytes());
            self.send(Message::Bitfield(bits))?;
        }
        self.send_extended_handshake()
    }

    /// Sends our extension handshake, if the peer speaks the extension
    /// protocol; again when we become upload-only (BEP 21).
    fn send_extended_handshake(&mut self) -> Result<(), PeerError> {
        if self.extensions {
            let mut hs = ExtendedHandshake::ours(self.ctx.pex);
            hs.p = Some(self.ctx.listen_port);
            hs.reqq = Some(OUR_REQQ as u32);
            hs.metadata_size = self.ctx.metadata.as_ref().map(|m| m.len() as u64);
            hs.upload_only = self.ctx.upload_only.then_some(true);
            self.send(Message::Extended {
                id: 0,
                payload: hs.encode(),
            })?;
        }
        Ok(())
    }

    fn send(&mut self, msg: Message) -> Result<(), PeerError> {
        if !matches!(msg, Message::Piece { .. }) {
            tracing::trace!(peer = %self.ctx.shared.addr, "-> {msg:?}");
        }
        self.codec.encode(msg, &mut self.out)?;
        Ok(())
    }

    async fn emit(&mut self, ev: PeerEvent) -> Result<(), PeerError> {
        // The torrent closing its receiver means it is shutting down.
        self.ctx
            .events
            .send((self.ctx.key, ev))
            .await
            .map_err(|_| PeerError::Closed)
    }

    async fn on_cmd(&mut self, cmd: PeerCmd) -> Result<(), PeerError> {
        match cmd {
            PeerCmd::Request { asked, blocks } => {
                self.pipeline.answered(asked);
                if blocks.len() < asked {
                    self.starved = true;
                }
                if self.peer_choking && !self.fast {
                    // The peer would ignore them; hand them straight back.
                    if !blocks.is_empty() {
                        self.emit(PeerEvent::Returned(blocks)).await?;
                    }
                    return Ok(());
                }
                let now = Instant::now();
                for b in blocks {
                    self.pipeline.sent(b, now);
                    self.send(Message::Request(b))?;
                }
            }
            PeerCmd::Cancel(b) => {
                if self.pipeline.cancel(b) {
                    self.send(Message::Cancel(b))?;
                }
            }
            PeerCmd::Have(p) => {
                self.have.set(p, true);
                self.send(Message::Have(p))?;
                if self.allowed_out.contains(&p) {
                    self.send(Message::AllowedFast(p))?;
                }
            }
            PeerCmd::Choke(choke) => {
                if choke != self.am_choking {
                    self.am_choking = choke;
                    self.flood.served();
                    if choke {
                        self.send(Message::Choke)?;
                        let allowed = &self.allowed_out;
                        let dropped = self.uploads.clear_except(|b| allowed.contains(&b.piece));
                        if self.fast {
                            for b in dropped {
                                self.send(Message::RejectRequest(b))?;
                            }
                        }
                    } else {
                        self.send(Message::Unchoke)?;
                    }
                }
            }
            PeerCmd::Interested(i) => {
                if i != self.am_interested {
                    self.am_interested = i;
                    self.send(if i {
                        Message::Interested
                    } else {
                        Message::NotInterested
                    })?;
                }
            }
            PeerCmd::Pex(msg) => {
                if let Some(id) = self.their_pex_id {
                    self.send(Message::Extended {
                        id,
                        payload: msg.encode(),
                    })?;
                }
            }
            PeerCmd::UploadOnly(on) => {
                if on != self.ctx.upload_only {
                    self.ctx.upload_only = on;
                    self.send_extended_handshake()?;
                }
            }
            PeerCmd::Suggest(p) => {
                if self.fast {
                    self.send(Message::SuggestPiece(p))?;
                }
            }
            PeerCmd::Close => {}
        }
        Ok(())
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), PeerError> {
        if !matches!(msg, Message::Piece { .. }) {
            tracing::trace!(peer = %self.ctx.shared.addr, "<- {msg:?}");
        }
        match msg {
            Message::KeepAlive => {}
            Message::Choke => {
                self.peer_choking = true;
                if !self.fast {
                    let back = self.pipeline.clear();
                    if !back.is_empty() {
                        self.emit(PeerEvent::Returned(back)).await?;
                    }
                }
                self.emit(PeerEvent::Choked(true)).await?;
            }
            Message::Unchoke => {
                self.peer_choking = false;
                self.starved = false;
                self.emit(PeerEvent::Choked(false)).await?;
            }
            Message::Interested => self.emit(PeerEvent::Interested(true)).await?,
            Message::NotInterested => self.emit(PeerEvent::Interested(false)).await?,
            Message::Have(p) => self.emit(PeerEvent::Have(p)).await?,
            Message::Bitfield(bits) => {
                let bf = Bitfield::from_bytes(&bits, self.ctx.geometry.num_pieces())
                    .map_err(|_| PeerError::Protocol("malformed bitfield"))?;
                self.grant_allowed_fast(bf.count_ones())?;
                self.emit(PeerEvent::Bitfield(bf)).await?;
            }
            Message::HaveAll | Message::HaveNone if !self.fast => {
                return Err(PeerError::Protocol(
                    "fast extension message without the extension",
                ));
            }
            Message::HaveAll => {
                self.allowed_decided = true;
                self.emit(PeerEvent::Bitfield(Bitfield::full(
                    self.ctx.geometry.num_pieces(),
                )))
                .await?
            }
            Message::HaveNone => {
                self.grant_allowed_fast(0)?;
                self.emit(PeerEvent::Bitfield(Bitfield::new(
                    self.ctx.geometry.num_pieces(),
                )))
                .await?
            }
            Message::Request(b) => self.on_request(b)?,
            Message::Cancel(b) => {
                self.flood.cancel()?;
                if self.uploads.cancel(b) && self.fast {
                    self.send(Message::RejectRequest(b))?;
                }
            }
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                let block = BlockRef {
                    piece,
                    offset,
                    len: data.len() as u32,
                };
                self.owe_download(block.len);
                match self.pipeline.received(block, Instant::now()) {
                    Arrival::Requested => {
                        self.ctx.shared.downloaded.add(data.len() as u64);
                        self.starved = false;
                        let from = self.ctx.shared.addr.ip();
                        self.ctx.disk.write_block_from(block, data, from).await?;
                        self.emit(PeerEvent::Received(block)).await?;
                    }
                    Arrival::Cancelled => {}
                    Arrival::Unrequested => {
                        return Err(PeerError::Protocol("a block we did not request"))
                    }
                }
            }
            Message::RejectRequest(b) => {
                if !self.fast {
                    return Err(PeerError::Protocol(
                        "fast extension message without the extension",
                    ));
                }
                if self.pipeline.rejected(b) {
                    self.emit(PeerEvent::Returned(vec![b])).await?;
                }
            }
            Message::AllowedFast(p) => {
                let fresh = !self.allowed_in.contains(&p);
                if self.fast && fresh && self.allowed_in.len() < ALLOWED_FAST_KEEP {
                    self.allowed_in.push(p);
                    self.starved = false;
                    self.emit(PeerEvent::AllowedFast(p)).await?;
                }
            }
            Message::SuggestPiece(p) => {
                // Advice: repeats and floods cost one lookup each.
                if self.fast && !self.suggested.contains(&p) {
                    if self.suggested.len() >= SUGGEST_KEEP {
                        self.suggested.remove(0);
                    }
                    self.suggested.push(p);
                    self.starved = false;
                    self.emit(PeerEvent::Suggest(p)).await?;
                }
            }
            Message::Extended { id: 0, payload } => {
                if let Ok(hs) = ExtendedHandshake::decode(&payload) {
                    if let Some(reqq) = hs.reqq {
                        self.pipeline.set_remote_reqq(reqq as usize);
                    }
                    self.their_metadata_id = hs.extension_id(UT_METADATA);
                    self.their_pex_id = hs.extension_id(UT_PEX).filter(|_| self.ctx.pex);
                    let client =
                        super::client::client_name(&self.ctx.shared.peer_id, hs.v.as_deref());
                    self.emit(PeerEvent::Extended {
                        client,
                        listen_port: hs.p,
                        upload_only: hs.upload_only == Some(true),
                    })
                    .await?;
                }
            }
            Message::Extended {
                id: LOCAL_UT_METADATA_ID,
                payload,
            } => self.on_metadata_message(&payload)?,
            Message::Extended {
                id: LOCAL_UT_PEX_ID,
                payload,
            } => {
                // Past a burst, one message a minute is taken (BEP 11) and
                // the rest ignored; a flood ends the connection.
                if self.ctx.pex && self.flood.pex(Instant::now())? {
                    // A malformed PEX message is ignored, not fatal: it is
                    // advice, and the codec already bounded its size.
                    if let Ok(pex) = PexMessage::decode(&payload) {
                        if !pex.added.is_empty() {
                            self.emit(PeerEvent::Pex(pex.added)).await?;
                        }
                    }
                }
            }
            Message::Extended { .. } | Message::Port(_) => {}
        }
        Ok(())
    }

    /// Takes the download limit's tokens for `len` bytes received; while
    /// they are owed, the loop stops reading the socket. A later debt
    /// covers an earlier one (tokens are paid in order), so one ticket is
    /// kept.
    fn owe_download(&mut self, len: u32) {
        let mut ticket = self.ctx.download_limit.reserve(len);
        if !ticket.is_ready() {
            self.download_debt = Some(ticket);
        }
    }

    /// Asks the picker for work when the pipeline has room.
    async fn ask_for_blocks(&mut self) -> Result<(), PeerError> {
        // Choked, we may still fetch the pieces the peer allows (BEP 6).
        let choked = self.peer_choking && self.allowed_in.is_empty();
        if !self.am_interested || choked || self.starved {
            return Ok(());
        }
        let n = self.pipeline.wanted();
        if n >= ASK_BATCH || (n > 0 && self.pipeline.in_flight() < ASK_BATCH) {
            self.pipeline.asked(n);
            self.emit(PeerEvent::NeedBlocks(n)).await?;
        }
        Ok(())
    }

    async fn on_tick(&mut self) -> Result<(), PeerError> {
        let now = Instant::now();
        // While the download limit or back-pressure holds our reads,
        // silence is ours.
        let reading = self.download_debt.is_none() && self.out.len() < OUT_PAUSE_READ;
        if reading && now.duration_since(self.last_recv) > IDLE_TIMEOUT {
            return Err(PeerError::Timeout("any message (idle connection)"));
        }
        if !self.out.is_empty() && now.duration_since(self.last_send) > IDLE_TIMEOUT {
            return Err(PeerError::NotReading);
        }
        if now.duration_since(self.last_send) > KEEPALIVE_INTERVAL && self.out.is_empty() {
            self.send(Message::KeepAlive)?;
        }
        self.rate.sample(now, self.ctx.shared.downloaded.get());
        self.pipeline.set_rate(self.rate.per_second());
        self.starved = false;
        let late = if reading {
            self.pipeline.check_timeout(now)
        } else {
            Vec::new()
        };
        if !late.is_empty() {
            for b in &late {
                self.send(Message::Cancel(*b))?;
            }
            self.emit(PeerEvent::Returned(late)).await?;
        }
        Ok(())
    }
}

/// Waits until `debt` is paid; never returns when there is none.
/// Cancel-safe.
async fn pay(debt: &mut Option<ChainTicket>) {
    match debt {
        Some(t) => t.wait().await,
        None => std::future::pending().await,
    }
}
