//! The torrent task's loop. A torrent added from a magnet link first runs
//! [`fetch::fetch_metadata`] until a peer gives it the info dictionary;
//! from then on every torrent runs the same loop over peer events, disk
//! verdicts, peers from trackers and the DHT, commands and a tick.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::choker::{Choker, RECHOKE_INTERVAL, UPLOAD_SLOTS};
use super::peers::{PeerList, PeerSource};
use super::{
    AddTorrent, TorrentCmd, TorrentEnv, TorrentHandle, TorrentSource, TorrentState, TorrentStats,
};
use crate::bitfield::Bitfield;
use crate::limit::{LimitChain, RateLimits};
use crate::metainfo::Metainfo;
use crate::peer::{
    self, Connected, PeerCmd, PeerContext, PeerEvent, PeerKey, PeerSetup, PeerShared,
};
use crate::picker::{Picker, Priority};
use crate::rate::Rate;
use crate::storage::disk::{Disk, DiskEvent};
use crate::storage::Layout;
use crate::types::InfoHash;
use crate::wire::Geometry;

mod check;
mod discovery;
mod events;

use discovery::Discovery;
mod fetch;
mod persist;
mod pex;
mod stats;

/// Peer events queued before peer tasks wait for the torrent.
const PEER_EVENT_QUEUE: usize = 4096;
/// Trust lost for a failed piece a peer sent alone; banned at `BAN_TRUST`.
const SOLE_BLAME: i32 = 2;
/// Trust lost for a failed piece a peer shared in.
const SHARED_BLAME: i32 = 1;
/// Progress is published at most this often between ticks.
const PUBLISH_INTERVAL: Duration = Duration::from_millis(200);
/// Trust at or below which a peer is banned.
const BAN_TRUST: i32 = -4;
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
        known_peers: 0,
        hash_failures: 0,
        banned: 0,
        complete: false,
        sequential: add.sequential,
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

/// One open connection, as the torrent sees it.
struct PeerEntry {
    /// Commands to its task.
    tx: mpsc::UnboundedSender<PeerCmd>,
    /// Counters and identity written by its task.
    shared: Arc<PeerShared>,
    /// Its pieces.
    has: Bitfield,
    /// Client name, once known.
    client: String,
    /// Where we learnt of it.
    source: PeerSource,
    /// Where it accepts connections: the address we dialled, or for an
    /// incoming peer its IP with the port from its extension handshake.
    /// What PEX tells others.
    listen_addr: Option<SocketAddr>,
    /// We choke it.
    am_choking: bool,
    /// We want its pieces.
    am_interested: bool,
    /// It chokes us.
    peer_choking: bool,
    /// It wants our pieces.
    peer_interested: bool,
    /// Download rate from it.
    down: Rate,
    /// Upload rate to it.
    up: Rate,
    /// Falls with failed pieces it contributed to.
    trust: i32,
    /// The addresses our last PEX message told it of.
    pex_sent: HashSet<SocketAddr>,
    /// When it may get its next PEX message.
    pex_next: Instant,
}

/// What a dial or an answer to an incoming peer produced.
type DialResult = (SocketAddr, PeerSource, Result<Connected, peer::PeerError>);

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
    /// Which block to fetch next.
    picker: Picker,
    /// Our verified pieces.
    have: Bitfield,
    /// The disk workers, once started.
    disk: Option<Disk>,
    /// Where the disk workers send verdicts.
    disk_events_tx: mpsc::Sender<DiskEvent>,
    /// Open connections.
    peers: HashMap<PeerKey, PeerEntry>,
    /// The key the next connection gets.
    next_key: u32,
    /// Every address we know of.
    peer_list: PeerList,
    /// Who gets upload slots.
    choker: Choker<PeerKey>,
    /// When the choker last ran.
    last_rechoke: Instant,
    /// Where peer tasks send events.
    events_tx: mpsc::Sender<(PeerKey, PeerEvent)>,
    /// Dials and answers to incoming peers under way.
    dials: JoinSet<DialResult>,
    /// Running peer tasks.
    peer_tasks: JoinSet<()>,
    /// Ends every peer task.
    peer_cancel: CancellationToken,
    /// Publishes stats.
    stats_tx: watch::Sender<TorrentStats>,
    /// Trackers and the DHT.
    discovery: Discovery,
    /// Bytes received on connections that have closed.
    downloaded_closed: u64,
    /// Bytes sent on connections that have closed.
    uploaded_closed: u64,
    /// The torrent's download rate.
    down_rate: Rate,
    /// The torrent's upload rate.
    up_rate: Rate,
    /// Pieces that failed their hash check.
    hash_failures: u32,
    /// Peers banned.
    banned: u32,
    /// File priorities, in torrent order (missing ones are Normal).
    priorities: Vec<Priority>,
    /// Bytes of verified pieces, kept as pieces are verified.
    have_bytes: u64,
    /// When stats were last published, to publish at most every
    /// `PUBLISH_INTERVAL` between ticks.
    last_publish: Instant,
    /// Whether PEX is on (off for private torrents, BEP 27).
    pex: bool,
    /// Whether the user paused the torrent (it stays paused after a check).
    paused: bool,
    /// Fetch pieces in order.
    sequential: bool,
    /// This torrent's own rate limits, shared with its handle (which sets
    /// them) and its connections (which pass through them).
    limits: RateLimits,
    /// A check of the data on disk under way.
    checking: Option<tokio::task::JoinHandle<check::CheckResult>>,
    /// The resume record in the session's state folder, if it keeps one.
    persist: Option<persist::Persist>,
    /// Payload bytes received in earlier sessions.
    base_downloaded: u64,
    /// Payload bytes sent in earlier sessions.
    base_uploaded: u64,
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
    let mut priorities = add.file_priorities.clone();
    let mut paused = add.paused;
    let mut persist = env.state.clone().map(|state| {
        persist::Persist::new(
            state,
            env.resume_interval,
            env.removed.clone(),
            add.resume.as_ref(),
            added_at,
        )
    });

    let (meta, discovery) = match add.source {
        TorrentSource::Metainfo(m) => {
            let d = Discovery::start(
                m.trackers(),
                m.info.private,
                m.info_hash,
                &env,
                m.info.total_length(),
                &cancel,
            );
            (Arc::new(*m), d)
        }
        TorrentSource::Magnet(magnet) => {
            for p in &magnet.peers {
                if let Ok(addrs) = tokio::net::lookup_host(p.as_str()).await {
                    for a in addrs {
                        peer_list.add(a, PeerSource::Magnet, now);
                    }
                }
            }
            if let Some(p) = &mut persist {
                // Remembered as a magnet link until the metadata arrives.
                p.save_magnet(&magnet, &add.save_dir, paused, &priorities, add.sequential)
                    .await;
            }
            // Each `tr` of a magnet is a tier of its own, as libtorrent does.
            let tiers: Vec<Vec<String>> = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
            let mut d = Discovery::start(
                tiers.clone(),
                false,
                magnet.info_hash,
                &env,
                UNKNOWN_LEFT,
                &cancel,
            );
            let fetched = fetch::fetch_metadata(
                &magnet,
                &env,
                &mut peer_list,
                &mut d,
                &mut cmds,
                &stats_tx,
                &mut paused,
                &mut priorities,
                &cancel,
            )
            .await;
            let Some(mut m) = fetched else {
                return;
            };
            m.announce = tiers.first().and_then(|t| t.first()).cloned();
            m.announce_list = if tiers.len() > 1 { tiers } else { Vec::new() };
            if m.info.private {
                // BEP 27: a private torrent is never on the DHT.
                d.dht = None;
            }
            (Arc::new(m), d)
        }
    };
    let info = &meta.info;
    let layout = Layout::new(info);
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
    let (events_tx, mut events_rx) = mpsc::channel(PEER_EVENT_QUEUE);
    let (disk_events_tx, mut disk_events_rx) = mpsc::channel(1024);
    let mut t = Torrent {
        info_hash: meta.info_hash,
        geometry,
        picker: Picker::new(num_pieces, info.piece_length as u32, info.total_length()),
        have: Bitfield::new(num_pieces),
        layout,
        save_dir: add.save_dir.clone(),
        env,
        state: TorrentState::Checking,
        disk: None,
        disk_events_tx,
        peers: HashMap::new(),
        next_key: 0,
        peer_list,
        choker: Choker::new(UPLOAD_SLOTS),
        last_rechoke: Instant::now(),
        events_tx,
        dials: JoinSet::new(),
        peer_tasks: JoinSet::new(),
        peer_cancel: cancel.child_token(),
        stats_tx,
        discovery,
        downloaded_closed: 0,
        uploaded_closed: 0,
        down_rate: Rate::default(),
        up_rate: Rate::default(),
        hash_failures: 0,
        banned: 0,
        priorities,
        have_bytes: 0,
        last_publish: Instant::now(),
        pex: !info.private,
        paused: false,
        sequential: add.sequential,
        limits,
        checking: None,
        meta: meta.clone(),
        persist,
        base_downloaded: add.resume.as_ref().map_or(0, |r| r.downloaded),
        base_uploaded: add.resume.as_ref().map_or(0, |r| r.uploaded),
    };
    t.picker.set_sequential(add.sequential);
    t.apply_priorities();
    t.publish();

    // Check what is on disk already, off the runtime; the loop below
    // takes the verdict.
    t.paused = paused;
    t.start_check();

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
            Some(addrs) = t.discovery.tracker_peers.recv() => t.learn(addrs, PeerSource::Tracker),
            Some(addrs) = t.discovery.dht_peers.recv() => t.learn(addrs, PeerSource::Dht),
            Some(done) = t.dials.join_next(), if !t.dials.is_empty() => {
                if let Ok(r) = done {
                    t.on_dialled(r);
                }
            }
            Some(_) = t.peer_tasks.join_next(), if !t.peer_tasks.is_empty() => {}
            Some(done) = async { Some((&mut t.checking).as_mut()?.await) }, if t.checking.is_some() => {
                t.checking = None;
                t.finish_check(done);
            }
            _ = tick.tick() => t.on_tick(),
        }
    }
    t.shutdown(&mut events_rx, &mut disk_events_rx).await;
}

impl Torrent {
    fn fail(&mut self, msg: String) {
        tracing::warn!(torrent = %self.meta.info.name, "{msg}");
        self.state = TorrentState::Error(msg);
        self.close_all();
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

    fn on_cmd(&mut self, cmd: TorrentCmd) {
        match cmd {
            TorrentCmd::Incoming(stream, addr, hs) => {
                if !self.downloading()
                    || self.peer_list.is_banned(addr.ip())
                    || self.peers.len() >= self.env.max_connections
                {
                    return;
                }
                let setup = self.setup();
                self.dials.spawn(async move {
                    let r = peer::accept(stream, addr, hs, setup).await;
                    (addr, PeerSource::Incoming, r)
                });
            }
            TorrentCmd::AddPeers(addrs, source) => self.learn(addrs, source),
            TorrentCmd::Metainfo(reply) => {
                let _ = reply.send(Some(self.meta.clone()));
            }
            TorrentCmd::Files(reply) => {
                let _ = reply.send(self.file_snapshots());
            }
            TorrentCmd::Trackers(reply) => {
                let status = self
                    .discovery
                    .announcer
                    .as_ref()
                    .map(|a| a.status())
                    .unwrap_or_default();
                let _ = reply.send(status);
            }
            TorrentCmd::Pieces(reply) => {
                let _ = reply.send(self.piece_snapshot());
            }
            TorrentCmd::Sequential(on) => {
                self.sequential = on;
                self.picker.set_sequential(on);
                self.resume_soon();
            }
            TorrentCmd::SettingsChanged => self.resume_soon(),
            TorrentCmd::Recheck => {
                if self.checking.is_none() {
                    self.drop_prior();
                    self.start_check();
                    self.resume_soon();
                }
            }
            TorrentCmd::Peers(reply) => {
                let _ = reply.send(self.peer_snapshots());
            }
            TorrentCmd::Pause => {
                self.paused = true;
                if self.downloading() {
                    self.state = TorrentState::Paused;
                    self.close_all();
                }
                self.resume_soon();
                self.publish();
            }
            TorrentCmd::Resume => {
                self.paused = false;
                if self.state == TorrentState::Paused {
                    self.state = self.active_state();
                    self.connect_more();
                }
                self.resume_soon();
                self.publish();
            }
            TorrentCmd::FilePriorities(p) => {
                self.priorities = p;
                self.apply_priorities();
                if let Some(d) = self.disk.clone() {
                    let wanted = self.wanted_files();
                    tokio::spawn(async move { d.set_wanted_files(wanted).await });
                }
                if self.state == TorrentState::Seeding && !self.picker.is_complete() {
                    self.state = TorrentState::Downloading;
                }
                self.update_interest();
                self.check_complete();
                self.resume_soon();
                self.publish();
            }
        }
    }

    fn setup(&self) -> PeerSetup {
        PeerSetup {
            info_hash: self.info_hash,
            our_id: self.env.peer_id,
        }
    }

    /// Dials more peers while under the connection limits.
    fn connect_more(&mut self) {
        if !self.downloading() {
            return;
        }
        let room = self
            .env
            .max_connections
            .saturating_sub(self.peers.len() + self.dials.len());
        let half_open = self.env.max_half_open.saturating_sub(self.dials.len());
        let n = room.min(half_open);
        if n == 0 {
            return;
        }
        let now = Instant::now();
        self.peer_list.set_skip_seeds(self.picker.is_complete());
        for addr in self.peer_list.take_candidates(now, n) {
            let setup = self.setup();
            let source = self.peer_list.source(&addr).unwrap_or(PeerSource::Manual);
            self.dials.spawn(async move {
                let r = peer::connect(addr, setup).await;
                (addr, source, r)
            });
        }
    }

    fn on_dialled(&mut self, (addr, source, result): DialResult) {
        let now = Instant::now();
        let conn = match result {
            Ok(c) => c,
            Err(peer::PeerError::SelfConnection) => {
                self.peer_list.mark_own(addr);
                return;
            }
            Err(e) => {
                tracing::debug!(%addr, "connection failed: {e}");
                if source != PeerSource::Incoming {
                    self.peer_list.failed(addr, now);
                }
                return;
            }
        };
        if !self.downloading() || self.peers.len() >= self.env.max_connections {
            self.peer_list.disconnected(addr, now);
            return;
        }
        if source == PeerSource::Incoming {
            self.peer_list.add_connected(addr, source, now);
        }
        let Some(disk) = self.disk.clone() else {
            return;
        };
        let key = PeerKey(self.next_key);
        self.next_key = self.next_key.wrapping_add(1);
        let shared = Arc::new(PeerShared {
            addr,
            peer_id: conn.handshake.peer_id,
            incoming: conn.incoming,
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
            events: self.events_tx.clone(),
            shared: shared.clone(),
            listen_port: self.env.listen_port,
            metadata: Some(self.meta.info_bytes.clone()),
            pex: self.pex,
            download_limit: LimitChain::new(vec![
                self.limits.download.clone(),
                self.env.limits.download.clone(),
            ]),
            upload_limit: LimitChain::new(vec![
                self.limits.upload.clone(),
                self.env.limits.upload.clone(),
            ]),
        };
        let client = peer::client::client_name(&conn.handshake.peer_id, None);
        let conn_incoming = conn.incoming;
        self.peer_tasks
            .spawn(peer::run(conn, ctx, rx, self.peer_cancel.child_token()));
        self.peers.insert(
            key,
            PeerEntry {
                tx,
                shared,
                has: Bitfield::new(self.meta.info.num_pieces()),
                client,
                source,
                listen_addr: (!conn_incoming).then_some(addr),
                am_choking: true,
                am_interested: false,
                peer_choking: true,
                peer_interested: false,
                down: Rate::default(),
                up: Rate::default(),
                trust: 0,
                pex_sent: HashSet::new(),
                pex_next: Instant::now() + pex::FIRST_PEX_DELAY,
            },
        );
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for p in self.peers.values_mut() {
            p.down.sample(now, p.shared.downloaded.get());
            p.up.sample(now, p.shared.uploaded.get());
        }
        let (down, up) = self.totals();
        self.down_rate.sample(now, down);
        self.up_rate.sample(now, up);
        if now.duration_since(self.last_rechoke) >= RECHOKE_INTERVAL {
            self.last_rechoke = now;
            self.rechoke(now);
            self.update_interest();
        }
        self.connect_more();
        self.send_pex(now);
        self.maybe_save_resume(now);
        if self.peers.is_empty() && self.state == TorrentState::Downloading {
            if let Some(d) = &self.discovery.dht {
                // Rate-limited by the DHT task itself.
                d.lookup_now();
            }
        }
        self.publish();
    }

    fn close_all(&mut self) {
        for p in self.peers.values() {
            let _ = p.tx.send(PeerCmd::Close);
        }
        self.dials.abort_all();
    }

    /// Closes every connection, sends `stopped` to the trackers and flushes
    /// the disk, each step awaited.
    async fn shutdown(
        mut self,
        events_rx: &mut mpsc::Receiver<(PeerKey, PeerEvent)>,
        disk_events_rx: &mut mpsc::Receiver<DiskEvent>,
    ) {
        self.peer_cancel.cancel();
        self.dials.abort_all();
        // Peer tasks end on the token; drain their last events so none
        // blocks on a full queue.
        loop {
            tokio::select! {
                r = self.peer_tasks.join_next() => if r.is_none() { break },
                Some(_) = events_rx.recv() => {}
            }
        }
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
