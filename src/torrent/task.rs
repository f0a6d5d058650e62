//! The torrent task's loop and its event handlers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::choker::{Choker, RECHOKE_INTERVAL, UPLOAD_SLOTS};
use super::peers::{PeerList, PeerSource};
use super::{AddTorrent, TorrentCmd, TorrentEnv, TorrentHandle, TorrentState, TorrentStats};
use crate::bitfield::Bitfield;
use crate::metainfo::Info;
use crate::peer::{
    self, Connected, PeerCmd, PeerContext, PeerEvent, PeerKey, PeerSetup, PeerShared,
};
use crate::picker::{Picker, Priority};
use crate::rate::Rate;
use crate::storage::disk::{Disk, DiskEvent};
use crate::storage::Layout;
use crate::tracker::announcer::{Announcer, AnnouncerHandle, TransferStats};
use crate::types::{InfoHash, PieceIndex};
use crate::wire::Geometry;

mod events;
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

/// Starts a torrent task; returns its handle and the task's join handle.
pub(crate) fn spawn(
    add: AddTorrent,
    env: TorrentEnv,
    cancel: CancellationToken,
) -> (TorrentHandle, tokio::task::JoinHandle<()>) {
    let info = Arc::new(add.metainfo.info.clone());
    let (cmd_tx, cmd_rx) = mpsc::channel(256);
    let num_pieces = info.num_pieces();
    let initial = TorrentStats {
        state: TorrentState::Checking,
        have_bytes: 0,
        wanted_bytes: info.total_length(),
        total_bytes: info.total_length(),
        pieces_have: 0,
        num_pieces,
        downloaded: 0,
        uploaded: 0,
        download_rate: 0,
        upload_rate: 0,
        peers: 0,
        seeds: 0,
        known_peers: 0,
        hash_failures: 0,
        banned: 0,
        complete: false,
    };
    let (stats_tx, stats_rx) = watch::channel(initial);
    let handle = TorrentHandle {
        info_hash: add.metainfo.info_hash,
        name: info.name.as_str().into(),
        cmds: cmd_tx.clone(),
        stats: stats_rx,
    };
    let join = tokio::spawn(async move {
        run(add, info, env, cmd_tx, cmd_rx, stats_tx, cancel).await;
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
}

/// What a dial or an answer to an incoming peer produced.
type DialResult = (SocketAddr, PeerSource, Result<Connected, peer::PeerError>);

struct Torrent {
    info_hash: InfoHash,
    geometry: Geometry,
    info: Arc<Info>,
    layout: Layout,
    save_dir: PathBuf,
    env: TorrentEnv,
    state: TorrentState,
    picker: Picker,
    have: Bitfield,
    disk: Option<Disk>,
    disk_events_tx: mpsc::Sender<DiskEvent>,
    peers: HashMap<PeerKey, PeerEntry>,
    next_key: u32,
    peer_list: PeerList,
    choker: Choker<PeerKey>,
    last_rechoke: Instant,
    events_tx: mpsc::Sender<(PeerKey, PeerEvent)>,
    dials: JoinSet<DialResult>,
    peer_tasks: JoinSet<()>,
    peer_cancel: CancellationToken,
    stats_tx: watch::Sender<TorrentStats>,
    transfer_tx: watch::Sender<TransferStats>,
    announcer: Option<AnnouncerHandle>,
    downloaded_closed: u64,
    uploaded_closed: u64,
    down_rate: Rate,
    up_rate: Rate,
    hash_failures: u32,
    banned: u32,
    priorities: Vec<Priority>,
    /// Bytes of verified pieces, kept as pieces are verified.
    have_bytes: u64,
    /// When stats were last published, to publish at most every
    /// `PUBLISH_INTERVAL` between ticks.
    last_publish: Instant,
}

async fn run(
    add: AddTorrent,
    info: Arc<Info>,
    env: TorrentEnv,
    cmd_tx: mpsc::Sender<TorrentCmd>,
    mut cmds: mpsc::Receiver<TorrentCmd>,
    stats_tx: watch::Sender<TorrentStats>,
    cancel: CancellationToken,
) {
    let layout = Layout::new(&info);
    let num_pieces = info.num_pieces();
    let geometry = match Geometry::from_info(&info) {
        Ok(g) => g,
        Err(e) => {
            // Metainfo validation makes this unreachable; report, don't panic.
            stats_tx.send_modify(|s| s.state = TorrentState::Error(e.to_string()));
            return;
        }
    };
    let (events_tx, mut events_rx) = mpsc::channel(PEER_EVENT_QUEUE);
    let (disk_events_tx, mut disk_events_rx) = mpsc::channel(1024);
    let (peers_tx, mut tracker_peers) = mpsc::channel::<Vec<SocketAddr>>(64);
    let (transfer_tx, transfer_rx) = watch::channel(TransferStats {
        uploaded: 0,
        downloaded: 0,
        left: info.total_length(),
    });
    let mut t = Torrent {
        info_hash: add.metainfo.info_hash,
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
        peer_list: PeerList::new(),
        choker: Choker::new(UPLOAD_SLOTS),
        last_rechoke: Instant::now(),
        events_tx,
        dials: JoinSet::new(),
        peer_tasks: JoinSet::new(),
        peer_cancel: cancel.child_token(),
        stats_tx,
        transfer_tx,
        announcer: None,
        downloaded_closed: 0,
        uploaded_closed: 0,
        down_rate: Rate::default(),
        up_rate: Rate::default(),
        hash_failures: 0,
        banned: 0,
        priorities: add.file_priorities.clone(),
        have_bytes: 0,
        last_publish: Instant::now(),
        info,
    };
    t.picker.set_sequential(add.sequential);
    t.apply_priorities();
    let now = Instant::now();
    for p in &add.peers {
        t.peer_list.add(*p, PeerSource::Manual, now);
    }

    // Check what is on disk already, off the runtime.
    let checked = {
        let info = t.info.clone();
        let dir = t.save_dir.clone();
        tokio::select! {
            r = tokio::task::spawn_blocking(move || crate::storage::verify::verify(&info, &dir, |_, _| {})) => Some(r),
            _ = cancel.cancelled() => None,
        }
    };
    match checked {
        None => return,
        Some(Ok(Ok(good))) => {
            for (i, ok) in good.iter().enumerate() {
                if *ok {
                    let p = PieceIndex(i as u32);
                    t.have.set(p, true);
                    t.have_bytes += t.layout.piece_len(p) as u64;
                    t.picker.we_have(p);
                }
            }
        }
        Some(Ok(Err(e))) => t.fail(format!("checking {}: {e}", t.save_dir.display())),
        Some(Err(e)) => t.fail(format!("checking the data failed: {e}")),
    }

    if !matches!(t.state, TorrentState::Error(_)) {
        t.start_disk();
        t.state = if add.paused {
            TorrentState::Paused
        } else if t.picker.is_complete() {
            TorrentState::Seeding
        } else {
            TorrentState::Downloading
        };
        let tiers = add.metainfo.trackers();
        if !tiers.is_empty() {
            t.announcer = Some(Announcer::spawn(
                tiers,
                t.info_hash,
                t.env.peer_id,
                t.env.listen_port,
                transfer_rx,
                peers_tx,
                cancel.child_token(),
            ));
        }
    }
    t.publish();

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(256);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(cmd) = cmds.recv() => t.on_cmd(cmd, &cmd_tx),
            n = events_rx.recv_many(&mut batch, 256) => {
                if n == 0 { break; }
                for (key, ev) in batch.drain(..) {
                    t.on_peer_event(key, ev);
                }
            }
            Some(ev) = disk_events_rx.recv() => t.on_disk_event(ev),
            Some(addrs) = tracker_peers.recv() => {
                let now = Instant::now();
                for a in addrs {
                    t.peer_list.add(a, PeerSource::Tracker, now);
                }
                t.connect_more();
            }
            Some(done) = t.dials.join_next(), if !t.dials.is_empty() => {
                if let Ok(r) = done {
                    t.on_dialled(r);
                }
            }
            Some(_) = t.peer_tasks.join_next(), if !t.peer_tasks.is_empty() => {}
            _ = tick.tick() => t.on_tick(),
        }
    }
    t.shutdown(&mut events_rx, &mut disk_events_rx).await;
}

impl Torrent {
    fn fail(&mut self, msg: String) {
        tracing::warn!(torrent = %self.info.name, "{msg}");
        self.state = TorrentState::Error(msg);
        self.close_all();
    }

    fn start_disk(&mut self) {
        let wanted = self.wanted_files();
        match Disk::spawn(
            self.layout.clone(),
            self.save_dir.clone(),
            self.info.pieces.clone(),
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

    fn downloading(&self) -> bool {
        matches!(
            self.state,
            TorrentState::Downloading | TorrentState::Seeding
        )
    }

    fn on_cmd(&mut self, cmd: TorrentCmd, _cmd_tx: &mpsc::Sender<TorrentCmd>) {
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
            TorrentCmd::AddPeers(addrs, source) => {
                let now = Instant::now();
                for a in addrs {
                    self.peer_list.add(a, source, now);
                }
                self.connect_more();
            }
            TorrentCmd::Peers(reply) => {
                let _ = reply.send(self.peer_snapshots());
            }
            TorrentCmd::Pause => {
                if self.downloading() {
                    self.state = TorrentState::Paused;
                    self.close_all();
                    self.publish();
                }
            }
            TorrentCmd::Resume => {
                if self.state == TorrentState::Paused {
                    self.state = if self.picker.is_complete() {
                        TorrentState::Seeding
                    } else {
                        TorrentState::Downloading
                    };
                    self.connect_more();
                    self.publish();
                }
            }
            TorrentCmd::FilePriorities(p) => {
                self.priorities = p;
                self.apply_priorities();
                self.update_interest();
                self.check_complete();
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
        };
        let client = peer::client::client_name(&conn.handshake.peer_id, None);
        self.peer_tasks
            .spawn(peer::run(conn, ctx, rx, self.peer_cancel.child_token()));
        self.peers.insert(
            key,
            PeerEntry {
                tx,
                shared,
                has: Bitfield::new(self.info.num_pieces()),
                client,
                source,
                am_choking: true,
                am_interested: false,
                peer_choking: true,
                peer_interested: false,
                down: Rate::default(),
                up: Rate::default(),
                trust: 0,
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
        if let Some(a) = self.announcer.take() {
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
    }
}
