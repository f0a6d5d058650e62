//! The torrent task's loop. A torrent added from a magnet link first runs
//! [`fetch::fetch_metadata`] until a peer gives it the info dictionary;
//! from then on every torrent runs the same loop over peer events, disk
//! verdicts, peers from trackers and the DHT, commands and a tick.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::choker::{Choker, RECHOKE_INTERVAL, UPLOAD_SLOTS};
use super::peers::{PeerList, PeerSource};
use super::smart_ban::SmartBan;
use super::{
    AddTorrent, TorrentCmd, TorrentEnv, TorrentHandle, TorrentSource, TorrentState, TorrentStats,
};
use crate::bitfield::Bitfield;
use crate::limit::{LimitChain, RateLimits};
use crate::metainfo::Metainfo;
use crate::peer::{self, Connected, PeerContext, PeerKey, PeerSetup, PeerShared};
use crate::picker::{Picker, Priority};
use crate::rate::Rate;
use crate::storage::disk::{BlockDigest, Disk, DiskEvent};
use crate::storage::Layout;
use crate::types::{InfoHash, PieceIndex};
use crate::wire::Geometry;

mod blame;
mod check;
mod commands;
mod connections;
mod counters;
mod diagnose;
mod discovery;
mod events;
mod fetch;
mod persist;
mod pex;
mod stats;
mod webseeds;

use connections::{Connections, DialResult, PeerEntry};
use counters::Counters;
use discovery::Discovery;

/// Peer events queued before peer tasks wait for the torrent.
const PEER_EVENT_QUEUE: usize = 4096;
/// Failed pieces an address may send alone (strikes) before it is banned.
/// Not one: a bit flipped on the way (TCP's checksum misses some) should
/// not ban an honest peer. A failed piece with several senders strikes
/// nobody; smart ban finds its bad sender once the piece passes.
const STRIKES_TO_BAN: u32 = 2;
/// Progress is published at most this often between ticks.
const PUBLISH_INTERVAL: Duration = Duration::from_millis(200);
/// How often a busy torrent's tick runs: rates, choking, PEX, dials,
/// stats.
const TICK: Duration = Duration::from_secs(1);
/// How long an idle torrent sleeps when nothing is due: anything that makes
/// it busy (a command, a peer, a connection) wakes it at once.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);
/// How long an address whose host holds its share of the session's
/// connections waits before we try it again.
const SLOT_RETRY: Duration = Duration::from_secs(5);
/// What we tell trackers is left while the size is unknown (a magnet
/// before its metadata): libtorrent's choice, neither zero (a seed) nor
/// absurd.
const UNKNOWN_LEFT: u64 = 16 * 1024;

/// Starts a torrent task; returns its handle and the task's join handle.
pub(crate) fn spawn(
    add: AddTorrent,
    env: TorrentEnv,
    cancel: CancellationToken,
) -> (TorrentHandle, tokio::task::JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = mpsc::channel(256);
    let (total, num_pieces, state) = match &add.source {
        TorrentSource::Metainfo(m) => (
            m.info.total_length(),
            m.info.num_pieces(),
            TorrentState::Checking,
        ),
        TorrentSource::Magnet(_) => (0, 0, TorrentState::FetchingMetadata),
    };
    let first_phase = match (&state, add.paused) {
        (_, true) => super::diagnosis::Phase::Paused,
        (TorrentState::Checking, _) => super::diagnosis::Phase::Checking,
        _ => super::diagnosis::Phase::FetchingMetadata,
    };
    let initial = TorrentStats {
        name: add.source.display_name(),
        state,
        have_bytes: 0,
        wanted_bytes: total,
        total_bytes: total,
        pieces_have: 0,
        num_pieces,
        downloaded: 0,
        uploaded: 0,
        total_downloaded: add.resume.as_ref().map_or(0, |r| r.downloaded),
        total_uploaded: add.resume.as_ref().map_or(0, |r| r.uploaded),
        download_rate: 0,
        upload_rate: 0,
        peers: 0,
        seeds: 0,
        encrypted_peers: 0,
        known_peers: 0,
        swarm_seeders: None,
        swarm_leechers: None,
        hash_failures: 0,
        banned: 0,
        web_seeds: 0,
        web_seeds_failed: 0,
        complete: false,
        sequential: add.sequential,
        diagnosis: super::diagnosis::diagnose(&super::diagnosis::Facts::starting(first_phase)),
    };
    let (stats_tx, stats_rx) = watch::channel(initial);
    let added_at = add
        .resume
        .as_ref()
        .map_or_else(crate::resume::now_secs, |r| r.added_at);
    let limits = RateLimits::new(add.download_limit, add.upload_limit);
    let handle = TorrentHandle {
        info_hash: add.source.info_hash(),
        cmds: cmd_tx,
        save_dir: Arc::new(add.save_dir.clone()),
        added_at,
        stats: stats_rx,
        limits: limits.clone(),
    };
    let join = tokio::spawn(async move {
        run(add, env, added_at, limits, cmd_rx, stats_tx, cancel).await;
    });
    (handle, join)
}

/// The state of one torrent after its metadata is known. Each sub-state
/// is a type of its own file: the connections (`connections.rs`), the peer
/// list (`../peers.rs`), PEX (`pex.rs`), the counters (`counters.rs`),
/// trackers and the DHT (`discovery.rs`), the resume record
/// (`persist.rs`); commands are handled in `commands.rs`, peer and disk
/// events in `events.rs`.
struct Torrent {
    /// The torrent's identity.
    info_hash: InfoHash,
    /// Piece count and sizes, for the codec of each connection.
    geometry: Geometry,
    /// The metainfo (the info dictionary's bytes are served to peers).
    meta: Arc<Metainfo>,
    /// Pieces to file spans.
    layout: Layout,
    /// Where the content goes.
    save_dir: PathBuf,
    /// Session-wide facts.
    env: TorrentEnv,
    /// What the torrent is doing.
    state: TorrentState,
    /// Whether the user paused the torrent (it stays paused after a check).
    paused: bool,
    /// Fetch pieces in order.
    sequential: bool,
    /// File priorities, in torrent order (missing ones are Normal).
    priorities: Vec<Priority>,
    /// Which block to fetch next.
    picker: Picker,
    /// Our verified pieces.
    have: Bitfield,
    /// Bytes of verified pieces, kept as pieces are verified.
    have_bytes: u64,
    /// The disk workers, once started.
    disk: Option<Disk>,
    /// Where the disk workers send verdicts.
    disk_events_tx: mpsc::Sender<DiskEvent>,
    /// Open connections, dials under way, peers waiting for a check.
    conns: Connections,
    /// Every address we know of, with strikes and bans by IP.
    peer_list: PeerList,
    /// Who sent each block of the pieces that failed, to find the sender
    /// of a bad block once its piece passes.
    smart_ban: SmartBan,
    /// Digests of the blocks of verified pieces that failed before, being
    /// read back for `smart_ban`.
    block_checks: tokio::task::JoinSet<(PieceIndex, Vec<Option<BlockDigest>>)>,
    /// Who gets upload slots.
    choker: Choker<PeerKey>,
    /// When the choker last ran.
    last_rechoke: Instant,
    /// Whether PEX is on (off for private torrents, BEP 27).
    pex: bool,
    /// Bytes, rates, failures, bans.
    counters: Counters,
    /// Publishes stats.
    stats_tx: watch::Sender<TorrentStats>,
    /// When stats were last published, to publish at most every
    /// `PUBLISH_INTERVAL` between ticks.
    last_publish: Instant,
    /// Trackers and the DHT.
    discovery: Discovery,
    /// This torrent's own rate limits, shared with its handle (which sets
    /// them) and its connections (which pass through them).
    limits: RateLimits,
    /// A check of the data on disk under way.
    checking: Option<tokio::task::JoinHandle<check::CheckResult>>,
    /// The resume record in the session's state folder, if it keeps one.
    persist: Option<persist::Persist>,
    /// A retry after an error waiting for its disk barrier: (tag, workers
    /// yet to reach it). Meanwhile disk errors are ignored, since they come
    /// from writes and reads queued before the retry.
    retrying: Option<(u64, usize)>,
    /// The tag of the last barrier sent to the disk workers.
    barrier_tag: u64,
    /// Dial outcomes, incoming connections and disk samples for the
    /// diagnosis.
    diag: diagnose::DiagLog,
    /// The last diagnosis, renewed every tick and published with the stats.
    diagnosis: super::diagnosis::Diagnosis,
    /// HTTP servers that hold the files (BEP 19).
    webseeds: webseeds::WebSeeds,
}

async fn run(
    add: AddTorrent,
    env: TorrentEnv,
    added_at: u64,
    limits: RateLimits,
    mut cmds: mpsc::Receiver<TorrentCmd>,
    stats_tx: watch::Sender<TorrentStats>,
    cancel: CancellationToken,
) {
    let now = Instant::now();
    let mut peer_list = PeerList::with_own_port(env.listen_port);
    for p in &add.peers {
        peer_list.add(*p, PeerSource::Manual, now);
    }
    let mut persist = env.state.clone().map(|state| {
        persist::Persist::new(
            state,
            env.resume_interval,
            env.removed.clone(),
            add.resume.as_ref(),
            added_at,
        )
    });

    let mut diag = diagnose::DiagLog::new();
    let (meta, discovery, peer_list, paused, priorities) = match add.source {
        TorrentSource::Metainfo(m) => {
            let d = Discovery::start(
                m.trackers(),
                m.info.private,
                m.info_hash,
                &env,
                m.info.total_length(),
                &cancel,
            );
            (
                Arc::new(*m),
                d,
                peer_list,
                add.paused,
                add.file_priorities.clone(),
            )
        }
        TorrentSource::Magnet(magnet) => {
            if let Some(p) = &mut persist {
                // Remembered as a magnet link until the metadata arrives.
                p.save_magnet(
                    &magnet,
                    &add.save_dir,
                    add.paused,
                    &add.file_priorities,
                    add.sequential,
                )
                .await;
            }
            let mut phase = fetch::MagnetPhase::new(
                magnet,
                &env,
                peer_list,
                add.paused,
                add.file_priorities.clone(),
                UNKNOWN_LEFT,
                &cancel,
            )
            .await;
            let Some(m) = phase.run(&mut cmds, &stats_tx, &cancel).await else {
                return;
            };
            let (peers, d, paused, priorities, log) = phase.into_parts();
            diag = log;
            (Arc::new(m), d, peers, paused, priorities)
        }
    };
    let info = &meta.info;
    let num_pieces = info.num_pieces();
    let geometry = match Geometry::from_info(info) {
        Ok(g) => g,
        Err(e) => {
            // Metainfo validation makes this unreachable; report, don't panic.
            stats_tx.send_modify(|s| s.state = TorrentState::Error(e.to_string()));
            return;
        }
    };
    discovery
        .transfer_tx
        .send_modify(|t| t.left = info.total_length());
    let first_diagnosis = stats_tx.borrow().diagnosis.clone();
    let (events_tx, mut events_rx) = mpsc::channel(PEER_EVENT_QUEUE);
    let (disk_events_tx, mut disk_events_rx) = mpsc::channel(1024);
    let mut t = Torrent {
        info_hash: meta.info_hash,
        geometry,
        meta: meta.clone(),
        layout: Layout::new(info),
        save_dir: add.save_dir.clone(),
        env,
        state: TorrentState::Checking,
        paused,
        sequential: add.sequential,
        priorities,
        picker: Picker::new(num_pieces, info.piece_length as u32, info.total_length()),
        have: Bitfield::new(num_pieces),
        have_bytes: 0,
        disk: None,
        disk_events_tx,
        conns: Connections::new(events_tx, cancel.child_token()),
        peer_list,
        smart_ban: SmartBan::new(),
        block_checks: tokio::task::JoinSet::new(),
        choker: Choker::new(UPLOAD_SLOTS),
        last_rechoke: Instant::now(),
        pex: !info.private,
        counters: Counters::new(add.resume.as_ref()),
        stats_tx,
        last_publish: Instant::now(),
        discovery,
        limits,
        checking: None,
        persist,
        retrying: None,
        barrier_tag: 0,
        diag,
        diagnosis: first_diagnosis,
        webseeds: webseeds::WebSeeds::new(&meta.url_list, info, cancel.child_token()),
    };
    t.picker.set_sequential(add.sequential);
    t.apply_priorities();
    t.publish();

    // Check what is on disk already, off the runtime; the loop below
    // takes the verdict.
    t.start_check();

    // The tick runs every second while anything moves and sleeps while the
    // torrent is idle (no connection, no dial due, nothing to record): a
    // session of a thousand idle torrents does not wake a thousand times a
    // second.
    let tick = tokio::time::sleep(TICK);
    tokio::pin!(tick);
    let mut asleep = false;
    let mut batch = Vec::with_capacity(256);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(cmd) = cmds.recv() => t.on_cmd(cmd),
            n = events_rx.recv_many(&mut batch, 256) => {
                if n == 0 { break; }
                for (key, ev) in batch.drain(..) {
                    t.on_peer_event(key, ev);
                }
            }
            Some(ev) = disk_events_rx.recv() => t.on_disk_event(ev),
            Some((key, ev)) = t.webseeds.events_rx.recv() => t.on_web_seed_event(key, ev),
            Some(_) = t.webseeds.tasks.join_next(), if !t.webseeds.tasks.is_empty() => {}
            Some(addrs) = t.discovery.tracker_peers.recv() => t.learn(addrs, PeerSource::Tracker),
            Some(addrs) = t.discovery.dht_peers.recv() => {
                t.diag.dht_peers = t.diag.dht_peers.saturating_add(addrs.len() as u32);
                t.learn(addrs, PeerSource::Dht)
            }
            Some(addrs) = t.discovery.lsd_peers.recv() => t.learn(addrs, PeerSource::Lsd),
            Some(done) = t.conns.dials.join_next(), if !t.conns.dials.is_empty() => {
                if let Ok(r) = done {
                    t.on_dialled(r);
                }
            }
            Some(_) = t.conns.tasks.join_next(), if !t.conns.tasks.is_empty() => {}
            Some(done) = t.block_checks.join_next(), if !t.block_checks.is_empty() => {
                if let Ok((piece, good)) = done {
                    t.on_verified_blocks(piece, good);
                }
            }
            Some(done) = async { Some(t.checking.as_mut()?.await) }, if t.checking.is_some() => {
                t.checking = None;
                t.finish_check(done);
            }
            () = &mut tick => {
                t.on_tick();
                let now = Instant::now();
                let next = t.next_tick(now);
                asleep = next > now + TICK;
                tick.as_mut().reset(next.into());
            }
        }
        if asleep {
            // Something happened: busy again, or a new address to dial.
            let now = Instant::now();
            let next = t.next_tick(now);
            if next < tick.deadline().into_std() {
                asleep = next > now + TICK;
                tick.as_mut().reset(next.into());
            }
        }
    }
    t.shutdown(&mut events_rx, &mut disk_events_rx).await;
}

impl Torrent {
    /// Stops the torrent on an error: every connection closes, the disk
    /// workers and the verified pieces stay, and `Resume` starts it again
    /// (`commands.rs`). The same error repeated (the writes and reads still
    /// queued) is logged once.
    fn fail(&mut self, msg: String) {
        if self.state != TorrentState::Error(msg.clone()) {
            tracing::warn!(torrent = %self.meta.info.name, "{msg}");
        }
        self.state = TorrentState::Error(msg);
        self.close_all();
        self.publish();
    }

    fn start_disk(&mut self) {
        let wanted = self.wanted_files();
        match Disk::spawn(
            self.layout.clone(),
            self.save_dir.clone(),
            self.meta.info.pieces.clone(),
            wanted,
            self.disk_events_tx.clone(),
        ) {
            Ok(d) => self.disk = Some(d),
            Err(e) => self.fail(format!("cannot start the disk: {e}")),
        }
    }

    fn wanted_files(&self) -> Vec<bool> {
        (0..self.layout.files.len())
            .map(|i| self.priorities.get(i).copied().unwrap_or(Priority::Normal) != Priority::Skip)
            .collect()
    }

    fn apply_priorities(&mut self) {
        let mut files = self.priorities.clone();
        files.resize(self.layout.files.len(), Priority::Normal);
        self.picker
            .set_piece_priorities(crate::picker::piece_priorities(&self.layout, &files));
    }

    /// Downloading or seeding, whichever the pieces say.
    fn active_state(&self) -> TorrentState {
        if self.picker.is_complete() {
            TorrentState::Seeding
        } else {
            TorrentState::Downloading
        }
    }

    fn downloading(&self) -> bool {
        matches!(
            self.state,
            TorrentState::Downloading | TorrentState::Seeding
        )
    }

    /// Adds addresses from a tracker, the DHT or PEX, and dials.
    fn learn(&mut self, addrs: Vec<SocketAddr>, source: PeerSource) {
        let now = Instant::now();
        for a in addrs {
            self.peer_list.add(a, source, now);
        }
        self.connect_more();
    }

    fn setup(&self) -> PeerSetup {
        PeerSetup {
            info_hash: self.info_hash,
            our_id: self.env.peer_id,
            encryption: self.env.encryption.clone(),
        }
    }

    /// Dials more peers while under the connection limits: this torrent's,
    /// its half-open dials, and the session's slots. A downloading torrent
    /// may take the place of a useless connection when the session is
    /// full; a seed waits for peers to come.
    fn connect_more(&mut self) {
        if !self.downloading() {
            return;
        }
        let room = self
            .env
            .max_connections
            .saturating_sub(self.conns.committed());
        let half_open = self.env.max_half_open.saturating_sub(self.conns.dialling());
        let n = room.min(half_open);
        if n == 0 {
            return;
        }
        let now = Instant::now();
        let evict = self.state == TorrentState::Downloading;
        self.peer_list.set_skip_seeds(self.picker.is_complete());
        let mut full = false;
        for addr in self.peer_list.take_candidates(now, n) {
            if full {
                self.peer_list.release(addr, now);
                continue;
            }
            let slot = match self.env.slots.outgoing(addr.ip(), evict) {
                Ok(s) => s,
                Err(peer::Refusal::PerIp) => {
                    // That host has its share of our connections: later.
                    self.peer_list.release(addr, now + SLOT_RETRY);
                    continue;
                }
                Err(_) => {
                    self.peer_list.release(addr, now);
                    full = true;
                    continue;
                }
            };
            let source = self.peer_list.source(&addr).unwrap_or(PeerSource::Manual);
            let setup = self.setup();
            self.conns.dial(addr, source, setup, slot);
        }
    }

    /// A peer dialled us for this torrent, holding its session slot. Over
    /// this torrent's limit it takes the place of a useless connection, if
    /// one has been useless long enough, or is closed.
    fn on_incoming(&mut self, incoming: crate::peer::Incoming, addr: SocketAddr, slot: peer::Slot) {
        // During a check the peer is answered and waits for the verdict
        // (`Connections::park`) rather than being turned away: a peer that
        // dials a starting seeder keeps its connection.
        let open = self.downloading() || self.state == TorrentState::Checking;
        if !open || self.peer_list.is_banned(addr.ip()) {
            return;
        }
        if self.conns.committed() >= self.env.max_connections
            && !self
                .conns
                .evict_useless(Instant::now(), self.env.slots.limits().useless_after)
        {
            return;
        }
        let setup = self.setup();
        self.conns.answer(incoming, addr, setup, slot);
    }

    fn on_dialled(&mut self, (addr, source, slot, result): DialResult) {
        let now = Instant::now();
        let conn = match result {
            Ok(c) => c,
            Err(peer::PeerError::SelfConnection) => {
                self.peer_list.mark_own(addr);
                return;
            }
            Err(e) if source != PeerSource::Incoming && e.is_refusal() => {
                tracing::debug!(%addr, "connection refused: {e}");
                self.diag.dial_failed(&e);
                self.peer_list.refused(addr, now);
                return;
            }
            Err(e) => {
                tracing::debug!(%addr, "connection failed: {e}");
                if source != PeerSource::Incoming {
                    self.diag.dial_failed(&e);
                    self.peer_list.failed(addr, now);
                }
                return;
            }
        };
        if self.state == TorrentState::Checking && source == PeerSource::Incoming {
            // Started with the check's verdict.
            self.conns.park(addr, conn, slot);
            return;
        }
        if !self.downloading() || self.conns.counted() >= self.env.max_connections {
            self.peer_list.disconnected(addr, now);
            return;
        }
        self.start_peer(addr, source, conn, slot);
    }

    /// Starts the task of a connection that has exchanged handshakes.
    fn start_peer(
        &mut self,
        addr: SocketAddr,
        source: PeerSource,
        conn: Connected,
        slot: peer::Slot,
    ) {
        let now = Instant::now();
        if source == PeerSource::Incoming {
            self.peer_list.add_connected(addr, source, now);
            self.diag.incoming();
        } else {
            self.diag.dial_succeeded();
        }
        let Some(disk) = self.disk.clone() else {
            return;
        };
        let key = self.conns.next_key();
        let shared = Arc::new(PeerShared {
            addr,
            peer_id: conn.handshake.peer_id,
            incoming: conn.incoming,
            crypto: conn.crypto,
            downloaded: Default::default(),
            uploaded: Default::default(),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = PeerContext {
            key,
            info_hash: self.info_hash,
            geometry: self.geometry,
            have: self.have.clone(),
            disk,
            events: self.conns.events_tx.clone(),
            shared: shared.clone(),
            listen_port: self.env.listen_port,
            metadata: Some(self.meta.info_bytes.clone()),
            pex: self.pex,
            upload_only: self.picker.is_complete(),
            download_limit: LimitChain::new(vec![
                self.limits.download.clone(),
                self.env.limits.download.clone(),
            ]),
            upload_limit: LimitChain::new(vec![
                self.limits.upload.clone(),
                self.env.limits.upload.clone(),
            ]),
        };
        let entry = PeerEntry {
            tx,
            shared,
            has: Bitfield::new(self.meta.info.num_pieces()),
            client: peer::client::client_name(&conn.handshake.peer_id, None),
            source,
            listen_addr: (!conn.incoming).then_some(addr),
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            down: Rate::default(),
            up: Rate::default(),
            pex: pex::PeerPex::new(now),
            slot,
            close: self.conns.child_token(),
            useful_at: now,
            moved: 0,
            useless: false,
            evicted: false,
            upload_only: false,
            allowed_fast: Vec::new(),
            suggested: Vec::new(),
        };
        if self.smart_ban.is_suspect(addr.ip()) {
            self.picker.set_parole(key, true);
        }
        self.conns.start(conn, ctx, rx, entry);
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.counters
            .sample(now, &mut self.conns, self.webseeds.downloaded());
        self.webseeds.sample(now);
        self.drive_web_seeds();
        self.conns.watch_usefulness(now);
        if now.duration_since(self.last_rechoke) >= RECHOKE_INTERVAL {
            self.last_rechoke = now;
            self.rechoke(now);
            self.update_interest();
        }
        self.connect_more();
        self.send_pex(now);
        self.maybe_save_resume(now);
        self.diagnosis = self.diagnose();
        if self.conns.is_empty() && self.state == TorrentState::Downloading {
            if let Some(d) = &self.discovery.dht {
                // Rate-limited by the DHT task itself.
                d.lookup_now();
            }
        }
        self.publish();
    }

    /// Nothing for the tick to do: no connection or dial, no check, rates
    /// at zero, no record due, not downloading (a download without peers
    /// asks the DHT every tick).
    fn idle(&self) -> bool {
        self.conns.committed() == 0
            && !self.webseeds.any_running()
            && self.checking.is_none()
            && self.state != TorrentState::Downloading
            && self.counters.down_rate.per_second() == 0
            && self.counters.up_rate.per_second() == 0
            && self.persist.as_ref().is_none_or(|p| !p.pending())
    }

    /// When the tick should run next: in a second while busy; while idle,
    /// when the peer list's next address becomes dialable, if any.
    fn next_tick(&self, now: Instant) -> Instant {
        if !self.idle() {
            return now + TICK;
        }
        let due = if self.downloading() {
            self.peer_list.next_due()
        } else {
            None
        };
        due.map_or(now + IDLE_SLEEP, |d| d.max(now + TICK))
    }

    fn close_all(&mut self) {
        self.conns.close_all();
        self.stop_web_seeds();
    }

    /// Closes every connection, sends `stopped` to the trackers and flushes
    /// the disk, each step awaited.
    async fn shutdown(
        mut self,
        events_rx: &mut mpsc::Receiver<(PeerKey, crate::peer::PeerEvent)>,
        disk_events_rx: &mut mpsc::Receiver<DiskEvent>,
    ) {
        self.conns.shutdown(events_rx).await;
        self.webseeds.shutdown().await;
        self.publish();
        if let Some(a) = self.discovery.announcer.take() {
            a.shutdown().await;
        }
        if let Some(d) = self.disk.take() {
            let left = d.shutdown().await;
            while let Ok(ev) = disk_events_rx.try_recv() {
                self.on_disk_event(ev);
            }
            for ev in left {
                self.on_disk_event(ev);
            }
        }
        self.final_resume().await;
    }
}
