//! The torrent's open connections: one entry per peer task with what the
//! torrent knows of it, the dials and answers to incoming peers under way,
//! and the incoming peers accepted during a check, which wait for its
//! verdict before their tasks start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::pex::PeerPex;
use crate::bitfield::Bitfield;
use crate::peer::{
    self, Connected, PeerCmd, PeerContext, PeerEvent, PeerKey, PeerSetup, PeerShared,
};
use crate::rate::Rate;
use crate::torrent::peers::PeerSource;
use crate::wire::Handshake;

/// What a dial or an answer to an incoming peer produced.
pub(super) type DialResult = (SocketAddr, PeerSource, Result<Connected, peer::PeerError>);

/// One open connection, as the torrent sees it.
pub(super) struct PeerEntry {
    /// Commands to its task.
    pub tx: mpsc::UnboundedSender<PeerCmd>,
    /// Counters and identity written by its task.
    pub shared: Arc<PeerShared>,
    /// Its pieces.
    pub has: Bitfield,
    /// Client name, once known.
    pub client: String,
    /// Where we learnt of it.
    pub source: PeerSource,
    /// Where it accepts connections: the address we dialled, or for an
    /// incoming peer its IP with the port from its extension handshake.
    /// What PEX tells others.
    pub listen_addr: Option<SocketAddr>,
    /// We choke it.
    pub am_choking: bool,
    /// We want its pieces.
    pub am_interested: bool,
    /// It chokes us.
    pub peer_choking: bool,
    /// It wants our pieces.
    pub peer_interested: bool,
    /// Download rate from it.
    pub down: Rate,
    /// Upload rate to it.
    pub up: Rate,
    /// What PEX told it, and when it may hear more.
    pub pex: PeerPex,
}

/// Every connection of one torrent. Owned by the torrent task.
pub(super) struct Connections {
    /// Open connections by key.
    peers: HashMap<PeerKey, PeerEntry>,
    /// The key the next connection gets.
    next_key: u32,
    /// Where peer tasks send events (cloned into each task's context).
    pub events_tx: mpsc::Sender<(PeerKey, PeerEvent)>,
    /// Dials and answers to incoming peers under way. Public to the task
    /// so its loop can await it beside `tasks`.
    pub dials: JoinSet<DialResult>,
    /// Running peer tasks.
    pub tasks: JoinSet<()>,
    /// Ends every peer task.
    cancel: CancellationToken,
    /// Incoming peers answered during a check: their tasks start once the
    /// check says which pieces we have (the first message they get is our
    /// bitfield), so a peer that dials a starting seeder is not turned
    /// away.
    parked: Vec<(SocketAddr, Connected)>,
}

impl Connections {
    /// No connections; peer tasks will report on `events_tx` and end with
    /// `cancel`.
    pub fn new(events_tx: mpsc::Sender<(PeerKey, PeerEvent)>, cancel: CancellationToken) -> Self {
        Connections {
            peers: HashMap::new(),
            next_key: 0,
            events_tx,
            dials: JoinSet::new(),
            tasks: JoinSet::new(),
            cancel,
            parked: Vec::new(),
        }
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Open connections plus those being made or waiting for a check:
    /// what the connection limit counts.
    pub fn committed(&self) -> usize {
        self.peers.len() + self.dials.len() + self.parked.len()
    }

    /// Dials and answers under way.
    pub fn dialling(&self) -> usize {
        self.dials.len()
    }

    pub fn get(&self, key: &PeerKey) -> Option<&PeerEntry> {
        self.peers.get(key)
    }

    pub fn get_mut(&mut self, key: &PeerKey) -> Option<&mut PeerEntry> {
        self.peers.get_mut(key)
    }

    pub fn contains(&self, key: &PeerKey) -> bool {
        self.peers.contains_key(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PeerKey, &PeerEntry)> {
        self.peers.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&PeerKey, &mut PeerEntry)> {
        self.peers.iter_mut()
    }

    pub fn values(&self) -> impl Iterator<Item = &PeerEntry> {
        self.peers.values()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut PeerEntry> {
        self.peers.values_mut()
    }

    /// The keys of every open connection, copied (for loops that change
    /// the torrent's state as they go).
    pub fn keys(&self) -> Vec<PeerKey> {
        self.peers.keys().copied().collect()
    }

    /// Sends a command to one connection. A closed channel means its task
    /// is ending; its `Closed` event will clean up.
    pub fn send(&self, key: PeerKey, cmd: PeerCmd) {
        if let Some(p) = self.peers.get(&key) {
            let _ = p.tx.send(cmd);
        }
    }

    /// Sends a command made by `cmd` to every open connection.
    pub fn broadcast(&self, cmd: impl Fn() -> PeerCmd) {
        for p in self.peers.values() {
            let _ = p.tx.send(cmd());
        }
    }

    /// Connections we do not choke.
    pub fn unchoked(&self) -> usize {
        self.peers.values().filter(|p| !p.am_choking).count()
    }

    /// Connections to peers with every piece.
    pub fn seeds(&self) -> usize {
        self.peers.values().filter(|p| p.has.is_full()).count()
    }

    /// Payload bytes received and sent on the open connections.
    pub fn open_totals(&self) -> (u64, u64) {
        self.peers.values().fold((0, 0), |(d, u), p| {
            (d + p.shared.downloaded.get(), u + p.shared.uploaded.get())
        })
    }

    /// Dials `addr`.
    pub fn dial(&mut self, addr: SocketAddr, source: PeerSource, setup: PeerSetup) {
        self.dials
            .spawn(async move { (addr, source, peer::connect(addr, setup).await) });
    }

    /// Answers a peer that dialled us.
    pub fn answer(&mut self, stream: TcpStream, addr: SocketAddr, hs: Handshake, setup: PeerSetup) {
        self.dials.spawn(async move {
            let r = peer::accept(stream, addr, hs, setup).await;
            (addr, PeerSource::Incoming, r)
        });
    }

    /// Keeps an answered incoming peer until the check under way ends.
    pub fn park(&mut self, addr: SocketAddr, conn: Connected) {
        self.parked.push((addr, conn));
    }

    /// The peers parked during a check.
    pub fn take_parked(&mut self) -> Vec<(SocketAddr, Connected)> {
        std::mem::take(&mut self.parked)
    }

    /// A key for a new connection.
    pub fn next_key(&mut self) -> PeerKey {
        let key = PeerKey(self.next_key);
        self.next_key = self.next_key.wrapping_add(1);
        key
    }

    /// Starts the task of a connection (its context made for `ctx.key`)
    /// and records it.
    pub fn start(
        &mut self,
        conn: Connected,
        ctx: PeerContext,
        rx: mpsc::UnboundedReceiver<PeerCmd>,
        entry: PeerEntry,
    ) {
        let key = ctx.key;
        self.tasks
            .spawn(peer::run(conn, ctx, rx, self.cancel.child_token()));
        self.peers.insert(key, entry);
    }

    /// Forgets a connection whose task has ended.
    pub fn remove(&mut self, key: PeerKey) -> Option<PeerEntry> {
        self.peers.remove(&key)
    }

    /// Closes every connection and stops every dial; parked peers are
    /// dropped.
    pub fn close_all(&mut self) {
        self.broadcast(|| PeerCmd::Close);
        self.dials.abort_all();
        self.parked.clear();
    }

    /// Ends every peer task and waits for them, draining their last events
    /// so none blocks on a full queue.
    pub async fn shutdown(&mut self, events_rx: &mut mpsc::Receiver<(PeerKey, PeerEvent)>) {
        self.cancel.cancel();
        self.dials.abort_all();
        self.parked.clear();
        loop {
            tokio::select! {
                r = self.tasks.join_next() => if r.is_none() { break },
                Some(_) = events_rx.recv() => {}
            }
        }
    }
}
