//! The torrent task's handlers for what its peers and its disk report.

use std::net::SocketAddr;
use std::time::Instant;

use super::{PeerSource, Torrent, PUBLISH_INTERVAL};
use crate::peer::{PeerCmd, PeerEvent, PeerKey};
use crate::picker::Received;
use crate::storage::disk::DiskEvent;
use crate::torrent::TorrentState;
use crate::types::BlockRef;

impl Torrent {
    pub(super) fn on_peer_event(&mut self, key: PeerKey, ev: PeerEvent) {
        if let PeerEvent::Closed { error, returned } = ev {
            self.on_closed(key, error, returned);
            return;
        }
        if !self.conns.contains(&key) {
            return;
        }
        match ev {
            PeerEvent::Extended {
                client,
                listen_port,
                upload_only,
            } => {
                let we_only_upload = self.picker.is_complete();
                if let Some(p) = self.conns.get_mut(&key) {
                    p.client = client;
                    if let (None, Some(port)) = (p.listen_addr, listen_port) {
                        if port != 0 {
                            p.listen_addr = Some(SocketAddr::new(p.shared.addr.ip(), port));
                        }
                    }
                    p.upload_only = upload_only;
                    if upload_only {
                        // BEP 21: for dialling, an upload-only peer is a
                        // seed (it may lack pieces it does not want, but
                        // it will not take any from us).
                        self.peer_list
                            .mark_seed(p.listen_addr.unwrap_or(p.shared.addr));
                        if we_only_upload {
                            tracing::debug!(peer = %p.shared.addr, "both sides only upload; closing");
                            let _ = p.tx.send(PeerCmd::Close);
                        }
                    }
                }
            }
            PeerEvent::Pex(addrs) => {
                if let (true, Some(p)) = (self.pex, self.conns.get(&key)) {
                    let (teller, now) = (p.shared.addr.ip(), Instant::now());
                    for a in addrs {
                        self.peer_list.add_from_pex(a, teller, now);
                    }
                    self.connect_more();
                }
            }
            PeerEvent::Bitfield(bf) => {
                let Some(p) = self.conns.get_mut(&key) else {
                    return;
                };
                if p.has.none() {
                    self.picker.peer_bitfield(key, &bf);
                    p.has = bf;
                    self.suggest_rare(key);
                } else {
                    for piece in bf.iter_ones() {
                        if p.has.set(piece, true) {
                            self.picker.peer_have(key, piece);
                        }
                    }
                }
                self.refresh_interest(key);
            }
            PeerEvent::Have(piece) => {
                let Some(p) = self.conns.get_mut(&key) else {
                    return;
                };
                if !p.has.get(piece) {
                    p.has.set(piece, true);
                    self.picker.peer_have(key, piece);
                }
                let wants =
                    !p.am_interested && !self.have.get(piece) && self.picker.is_needed(piece);
                if wants {
                    self.set_interested(key, true);
                }
            }
            PeerEvent::Choked(c) => {
                if let Some(p) = self.conns.get_mut(&key) {
                    p.peer_choking = c;
                }
            }
            PeerEvent::Interested(i) => {
                let unchoked = self.conns.unchoked();
                let free = self.choker.has_free_slot(unchoked);
                if let Some(p) = self.conns.get_mut(&key) {
                    p.peer_interested = i;
                    if i && p.am_choking && free {
                        p.am_choking = false;
                        let _ = p.tx.send(PeerCmd::Choke(false));
                    }
                }
            }
            PeerEvent::AllowedFast(piece) => {
                if let Some(p) = self.conns.get_mut(&key) {
                    if !p.allowed_fast.contains(&piece) {
                        p.allowed_fast.push(piece);
                    }
                }
            }
            PeerEvent::Suggest(piece) => {
                let needed = self.picker.is_needed(piece) && !self.have.get(piece);
                if let (true, Some(p)) = (needed, self.conns.get_mut(&key)) {
                    if !p.suggested.contains(&piece) {
                        if p.suggested.len() >= crate::peer::SUGGEST_KEEP {
                            p.suggested.remove(0);
                        }
                        p.suggested.push(piece);
                    }
                }
            }
            PeerEvent::NeedBlocks(n) => {
                let mut blocks = Vec::with_capacity(n);
                if self.state == TorrentState::Downloading {
                    self.pick_for(key, n, &mut blocks);
                }
                self.conns.send(key, PeerCmd::Request { asked: n, blocks });
            }
            PeerEvent::Received(block) => {
                if let Received::New { cancel, .. } = self.picker.block_received(key, block) {
                    for other in cancel {
                        self.conns.send(other, PeerCmd::Cancel(block));
                    }
                }
            }
            PeerEvent::Returned(blocks) => {
                for b in blocks {
                    self.picker.request_cancelled(key, b);
                }
            }
            PeerEvent::Closed { .. } => {}
        }
    }

    pub(super) fn on_closed(
        &mut self,
        key: PeerKey,
        error: Option<String>,
        returned: Vec<BlockRef>,
    ) {
        let Some(p) = self.conns.remove(key) else {
            return;
        };
        for b in returned {
            self.picker.request_cancelled(key, b);
        }
        self.picker.peer_left(key, &p.has);
        self.choker.remove(key);
        self.counters.closed(&p);
        let now = Instant::now();
        if p.has.is_full() {
            self.peer_list
                .mark_seed(p.listen_addr.unwrap_or(p.shared.addr));
        }
        if p.source != PeerSource::Incoming {
            if error.is_some() && p.shared.downloaded.get() == 0 && p.shared.uploaded.get() == 0 {
                self.peer_list.failed(p.shared.addr, now);
            } else {
                self.peer_list.disconnected(p.shared.addr, now);
            }
        } else {
            self.peer_list.remove(p.shared.addr);
        }
        self.connect_more();
    }

    pub(super) fn set_interested(&mut self, key: PeerKey, interested: bool) {
        if let Some(p) = self.conns.get_mut(&key) {
            if p.am_interested != interested {
                p.am_interested = interested;
                let _ = p.tx.send(PeerCmd::Interested(interested));
            }
        }
    }

    pub(super) fn refresh_interest(&mut self, key: PeerKey) {
        let want = match self.conns.get(&key) {
            Some(p) => {
                self.state == TorrentState::Downloading && self.picker.is_interesting(&p.has)
            }
            None => return,
        };
        self.set_interested(key, want);
    }

    pub(super) fn update_interest(&mut self) {
        for k in self.conns.keys() {
            self.refresh_interest(k);
        }
    }

    pub(super) fn on_disk_event(&mut self, ev: DiskEvent) {
        match ev {
            DiskEvent::PieceVerified(piece) => {
                if self.have.get(piece) {
                    return;
                }
                self.have.set(piece, true);
                self.have_bytes += self.layout.piece_len(piece) as u64;
                self.picker.piece_verified(piece);
                if self.smart_ban.has_records(piece.0) {
                    self.check_blocks(piece);
                }
                self.resume_dirty();
                self.conns.broadcast(|| PeerCmd::Have(piece));
                self.check_complete();
                if self.last_publish.elapsed() >= PUBLISH_INTERVAL {
                    self.publish();
                }
            }
            DiskEvent::PieceFailed(piece, evidence) => {
                self.counters.hash_failures += 1;
                self.picker.piece_failed(piece);
                self.on_piece_failed(piece, &evidence);
            }
            DiskEvent::PieceNotStored(piece) => {
                // Fetch it again; the error that caused it came separately.
                self.picker.piece_failed(piece);
            }
            // Errors of work queued before a retry are old news.
            DiskEvent::Error(_) if self.retrying.is_some() => {}
            DiskEvent::Error(e) => self.fail(format!("disk error: {e}")),
            DiskEvent::Barrier(tag) => {
                if let Some((t, left)) = &mut self.retrying {
                    if *t == tag {
                        *left = left.saturating_sub(1);
                        if *left == 0 {
                            self.retrying = None;
                        }
                    }
                }
            }
        }
    }

    pub(super) fn check_complete(&mut self) {
        if self.state == TorrentState::Downloading && self.picker.is_complete() {
            tracing::info!(torrent = %self.meta.info.name, "download complete");
            self.state = TorrentState::Seeding;
            if let Some(a) = &self.discovery.announcer {
                a.completed();
            }
            self.update_interest();
            self.drive_web_seeds();
            self.resume_soon();
            // Two seeds have nothing to say to each other, nor two peers
            // that only upload (BEP 21); the others hear that we only
            // upload now.
            for p in self.conns.values() {
                if p.has.is_full() || p.upload_only {
                    let _ = p.tx.send(PeerCmd::Close);
                } else {
                    let _ = p.tx.send(PeerCmd::UploadOnly(true));
                }
            }
            self.publish();
        }
    }

    /// Suggests to a peer whose pieces we just learnt the pieces of ours
    /// it lacks that the fewest of our other connections have (BEP 6), so
    /// that what is rare here spreads first. Ties are broken at random, so
    /// that peers joining together are not all sent to the same pieces.
    fn suggest_rare(&mut self, key: PeerKey) {
        let Some(p) = self.conns.get(&key) else {
            return;
        };
        let mut rare: Vec<(usize, u32, crate::types::PieceIndex)> = self
            .have
            .iter_ones()
            .filter(|&i| !p.has.get(i))
            .map(|i| {
                let copies = self
                    .conns
                    .iter()
                    .filter(|(k, other)| **k != key && other.has.get(i))
                    .count();
                (copies, rand::random::<u32>(), i)
            })
            .collect();
        let n = crate::peer::SUGGEST_SEND;
        if rare.len() > n {
            rare.select_nth_unstable(n);
            rare.truncate(n);
        }
        rare.sort_unstable();
        for (_, _, piece) in rare {
            self.conns.send(key, PeerCmd::Suggest(piece));
        }
    }
}
