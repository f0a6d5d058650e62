//! The torrent task's handlers for commands from its handle and the
//! session, in both phases: while a magnet's metadata is fetched
//! ([`MagnetPhase`]) and once the torrent is known ([`Torrent`]).

use super::fetch::MagnetPhase;
use super::Torrent;
use crate::torrent::{TorrentCmd, TorrentState};

impl Torrent {
    pub(super) fn on_cmd(&mut self, cmd: TorrentCmd) {
        match cmd {
            TorrentCmd::Incoming(incoming, addr, slot) => self.on_incoming(incoming, addr, slot),
            TorrentCmd::AddPeers(addrs, source) => self.learn(addrs, source),
            TorrentCmd::Metainfo(reply) => {
                let _ = reply.send(Some(self.meta.clone()));
            }
            TorrentCmd::Files(reply) => {
                let _ = reply.send(self.file_snapshots());
            }
            TorrentCmd::Trackers(reply) => {
                let _ = reply.send(self.discovery.tracker_status());
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
            TorrentCmd::Banned(reply) => {
                let _ = reply.send(self.peer_list.banned());
            }
            TorrentCmd::WebSeeds(reply) => {
                let _ = reply.send(self.webseeds.snapshots());
            }
            TorrentCmd::AddWebSeed(url, reply) => {
                let _ = reply.send(self.add_web_seed(url));
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
                match self.state {
                    TorrentState::Paused => {
                        self.state = self.active_state();
                        self.connect_more();
                    }
                    TorrentState::Error(_) => self.retry(),
                    _ => {}
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
                    for p in self.conns.values() {
                        let _ = p.tx.send(crate::peer::PeerCmd::UploadOnly(false));
                    }
                }
                self.update_interest();
                self.check_complete();
                self.resume_soon();
                self.publish();
            }
        }
    }
}

impl Torrent {
    /// Starts again after an error (a full disk, a folder that could not
    /// be written or read), keeping every verified piece: the disk workers
    /// still know them, and the pieces whose writes failed were handed back
    /// to the picker (`PieceNotStored`), so they are simply fetched again.
    /// Without running disk workers (the check or their start failed) the
    /// data is checked again, trusting the resume record where it holds.
    fn retry(&mut self) {
        if self.checking.is_some() {
            return;
        }
        tracing::info!(torrent = %self.meta.info.name, "retrying after an error");
        if self.disk.is_none() {
            self.start_check();
            return;
        }
        if let Some(d) = self.disk.clone() {
            // Errors still on their way from work queued before now must
            // not stop the torrent again: they are ignored until every
            // worker has passed this barrier.
            self.barrier_tag += 1;
            let tag = self.barrier_tag;
            self.retrying = Some((tag, d.workers()));
            tokio::spawn(async move { d.barrier(tag).await });
        }
        self.state = self.active_state();
        // The user asked: dial the known peers now, not after the back-off
        // their closed connections started.
        self.peer_list.retry_now(std::time::Instant::now());
        self.update_interest();
        self.connect_more();
    }
}

impl MagnetPhase {
    /// Handles a command before the metadata is known: most questions have
    /// empty answers, settings are kept for later.
    pub(super) fn on_cmd(&mut self, cmd: TorrentCmd) {
        match cmd {
            TorrentCmd::AddPeers(addrs, source) => self.learn(addrs, source),
            TorrentCmd::Peers(reply) => {
                let _ = reply.send(Vec::new());
            }
            // Bans come from pieces, which need the metadata.
            TorrentCmd::Banned(reply) => {
                let _ = reply.send(Vec::new());
            }
            TorrentCmd::WebSeeds(reply) => {
                let _ = reply.send(Vec::new());
            }
            // The URL's meaning (file or folder) needs the metadata.
            TorrentCmd::AddWebSeed(_, reply) => {
                let _ = reply.send(Err("the torrent's metadata is not known yet".into()));
            }
            TorrentCmd::Metainfo(reply) => {
                let _ = reply.send(None);
            }
            TorrentCmd::Files(reply) => {
                let _ = reply.send(Vec::new());
            }
            TorrentCmd::Trackers(reply) => {
                let _ = reply.send(self.discovery.tracker_status());
            }
            TorrentCmd::Pieces(reply) => {
                let _ = reply.send(Default::default());
            }
            TorrentCmd::Sequential(_) | TorrentCmd::Recheck | TorrentCmd::SettingsChanged => {}
            TorrentCmd::Pause => {
                self.paused = true;
                self.abandon_fetches();
            }
            TorrentCmd::Resume => self.paused = false,
            TorrentCmd::FilePriorities(p) => self.priorities = p,
            // Nothing to serve yet: the peer will come back.
            TorrentCmd::Incoming(..) => {}
        }
    }
}
