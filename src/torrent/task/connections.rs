//! The torrent's open connections: one entry per peer task with what the
//! torrent knows of it, the dials and answers to incoming peers under way,
//! and the incoming peers accepted during a check, which wait for its
//! verdict before their tasks start.
//!
//! Each connection holds its session slot ([`Slot`]) for as long as the
//! torrent knows of it. Once a second the torrent looks at which
//! connections are of use (either side interested, or payload moving);
//! one that has not been for a while is marked useless in its slot, and a
//! newcomer may take its place when this torrent or the session is full.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::pex::PeerPex;
use crate::bitfield::Bitfield;
use crate::peer::{
    self, Connected, PeerCmd, PeerContext, PeerEvent, PeerKey, PeerSetup, PeerShared, Slot,
};
use crate::rate::Rate;
use crate::torrent::peers::PeerSource;

/// What a dial or an answer to an incoming peer produced, with the
/// connection's slot (freed with the result if it failed).
pub(super) type DialResult = (
    SocketAddr,
    PeerSource,
    Slot,
    Result<Connected, peer::PeerError>,
);

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
    /// Its place among the session's connections, freed with the entry.
    pub slot: Slot,
    /// Ends its task: a newcomer took its place.
    pub close: CancellationToken,
    /// When it was last of use: either side interested, or payload moving.
    pub useful_at: Instant,
    /// Payload bytes both ways when last looked at, to see them move.
    pub moved: u64,
    /// Marked useless in its slot.
    pub useless: bool,
    /// Closed for a newcomer; no longer counted against the limit.
    pub evicted: bool,
    /// The pieces it lets us fetch while it chokes us (BEP 6; its task
    /// keeps at most `ALLOWED_FAST_KEEP`).
    pub allowed_fast: Vec<crate::types::PieceIndex>,
    /// The pieces it suggested and we still need, oldest first (BEP 6).
    pub suggested: Vec<crate::types::PieceIndex>,
    /// It said it only uploads (BEP 21): when we only upload too, the
    /// connection is of no use to either side.
    pub upload_only: bool,
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
    parked: Vec<(SocketAddr, Connected, Slot)>,
    /// Open connections closed for a newcomer whose task has not ended
    /// yet: the limit no longer counts them.
    evicted: usize,
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
            evicted: 0,
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

    /// Open connections the limit counts: all but those closed for a
    /// newcomer.
    pub fn counted(&self) -> usize {
        self.peers.len() - self.evicted
    }

    /// Counted connections plus those being made or waiting for a check:
    /// what the connection limit counts.
    pub fn committed(&self) -> usize {
        self.counted() + self.dials.len() + self.parked.len()
    }

    /// A token that ends a connection's task, for its entry.
    pub fn child_token(&self) -> CancellationToken {
        self.cancel.child_token()
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

    /// Open connections opened by an MSE handshake.
    pub fn encrypted(&self) -> usize {
        self.peers
            .values()
            .filter(|p| p.shared.crypto.is_encrypted())
            .count()
    }

    /// Payload bytes received and sent on the open connections.
    pub fn open_totals(&self) -> (u64, u64) {
        self.peers.values().fold((0, 0), |(d, u), p| {
            (d + p.shared.downloaded.get(), u + p.shared.uploaded.get())
        })
    }

    /// Dials `addr` in the session slot `slot`.
    pub fn dial(&mut self, addr: SocketAddr, source: PeerSource, setup: PeerSetup, slot: Slot) {
        self.dials
            .spawn(async move { (addr, source, slot, peer::connect(addr, setup).await) });
    }

    /// Answers a peer that dialled us.
    pub fn answer(
        &mut self,
        incoming: crate::peer::Incoming,
        addr: SocketAddr,
        setup: PeerSetup,
        slot: Slot,
    ) {
        self.dials.spawn(async move {
            let r = peer::accept(incoming, addr, setup).await;
            (addr, PeerSource::Incoming, slot, r)
        });
    }

    /// Keeps an answered incoming peer until the check under way ends.
    pub fn park(&mut self, addr: SocketAddr, conn: Connected, slot: Slot) {
        self.parked.push((addr, conn, slot));
    }

    /// The peers parked during a check.
    pub fn take_parked(&mut self) -> Vec<(SocketAddr, Connected, Slot)> {
        std::mem::take(&mut self.parked)
    }

    /// Looks at which connections are of use (either side interested, or
    /// payload moving since the last look) and marks in their slots those
    /// that are not, so a newcomer may take their place once they have
    /// been useless long enough.
    pub fn watch_usefulness(&mut self, now: Instant) {
        for p in self.peers.values_mut() {
            let moved = p.shared.downloaded.get() + p.shared.uploaded.get();
            let useful = p.am_interested || p.peer_interested || moved != p.moved;
            p.moved = moved;
            if useful {
                p.useful_at = now;
                if p.useless {
                    p.useless = false;
                    p.slot.set_useless(None);
                }
            } else if !p.useless && !p.evicted {
                p.useless = true;
                p.slot.set_useless(Some((p.useful_at, p.close.clone())));
            }
        }
    }

    /// Closes the connection useless for longest, if for at least `after`,
    /// to make room for a newcomer. Returns whether one was closed.
    pub fn evict_useless(&mut self, now: Instant, after: Duration) -> bool {
        let victim = self
            .peers
            .iter_mut()
            .filter(|(_, p)| {
                p.useless && !p.evicted && now.saturating_duration_since(p.useful_at) >= after
            })
            .min_by_key(|(_, p)| p.useful_at);
        let Some((_, p)) = victim else {
            return false;
        };
        p.evicted = true;
        p.slot.set_useless(None);
        p.close.cancel();
        self.evicted += 1;
        true
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
            .spawn(peer::run(conn, ctx, rx, entry.close.clone()));
        self.peers.insert(key, entry);
    }

    /// Forgets a connection whose task has ended.
    pub fn remove(&mut self, key: PeerKey) -> Option<PeerEntry> {
        let p = self.peers.remove(&key)?;
        if p.evicted {
            self.evicted -= 1;
        }
        Some(p)
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
