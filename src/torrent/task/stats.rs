//! The torrent task's choking round and the snapshots it publishes.

use std::time::Instant;

use super::Torrent;
use crate::peer::{PeerCmd, PeerKey};
use crate::torrent::choker::Candidate;
use crate::torrent::{FileSnapshot, PeerSnapshot, PieceSnapshot, TorrentState, TorrentStats};
use crate::tracker::announcer::TransferStats;
use crate::types::PieceIndex;

impl Torrent {
    pub(super) fn rechoke(&mut self, now: Instant) {
        let seeding = self.state == TorrentState::Seeding;
        let candidates: Vec<Candidate<PeerKey>> = self
            .conns
            .iter()
            .map(|(k, p)| Candidate {
                key: *k,
                interested: p.peer_interested,
                rate: if seeding {
                    p.up.per_second()
                } else {
                    p.down.per_second()
                },
            })
            .collect();
        let unchoke = self.choker.rechoke(now, &candidates);
        for (k, p) in self.conns.iter_mut() {
            let choke = !unchoke.contains(k);
            if choke != p.am_choking {
                p.am_choking = choke;
                let _ = p.tx.send(PeerCmd::Choke(choke));
            }
        }
    }

    /// Payload bytes received and sent in this run.
    pub(super) fn totals(&self) -> (u64, u64) {
        self.counters
            .run_totals(&self.conns, self.webseeds.downloaded())
    }

    pub(super) fn publish(&mut self) {
        self.last_publish = Instant::now();
        let (downloaded, uploaded) = self.totals();
        let (all_down, all_up) = self.counters.all_time((downloaded, uploaded));
        let have_bytes = self.have_bytes;
        let wanted_bytes = self.picker.wanted_remaining_bytes() + have_bytes;
        let seeds = self.conns.seeds();
        let complete = self.picker.is_complete();
        let (swarm_seeders, swarm_leechers) = self.discovery.swarm_counts();
        if self.state != TorrentState::Downloading || self.paused {
            // Not downloading: the words follow the state at once, not on
            // the next tick (which may be an hour away for an idle seed).
            self.diagnosis = self.diagnose_now();
        }
        let (web_seeds, web_seeds_failed) = self.webseeds.counts();
        let stats = TorrentStats {
            name: self.meta.info.name.clone(),
            state: self.state.clone(),
            have_bytes,
            wanted_bytes,
            total_bytes: self.layout.total_length,
            pieces_have: self.have.count_ones(),
            num_pieces: self.meta.info.num_pieces(),
            downloaded,
            uploaded,
            total_downloaded: all_down,
            total_uploaded: all_up,
            download_rate: self.counters.down_rate.per_second(),
            upload_rate: self.counters.up_rate.per_second(),
            peers: self.conns.len(),
            seeds,
            encrypted_peers: self.conns.encrypted(),
            known_peers: self.peer_list.len(),
            swarm_seeders,
            swarm_leechers,
            hash_failures: self.counters.hash_failures,
            banned: self.counters.banned,
            web_seeds,
            web_seeds_failed,
            sequential: self.sequential,
            diagnosis: self.diagnosis.clone(),
            complete: complete
                && !matches!(self.state, TorrentState::Error(_) | TorrentState::Checking),
        };
        self.stats_tx.send_replace(stats);
        self.discovery.transfer_tx.send_replace(TransferStats {
            uploaded,
            downloaded,
            left: self.picker.wanted_remaining_bytes(),
        });
    }

    pub(super) fn peer_snapshots(&self) -> Vec<PeerSnapshot> {
        let n = self.meta.info.num_pieces().max(1) as f32;
        self.conns
            .values()
            .map(|p| PeerSnapshot {
                addr: p.shared.addr,
                client: p.client.clone(),
                source: p.source,
                incoming: p.shared.incoming,
                crypto: p.shared.crypto,
                am_choking: p.am_choking,
                am_interested: p.am_interested,
                peer_choking: p.peer_choking,
                peer_interested: p.peer_interested,
                download_rate: p.down.per_second(),
                upload_rate: p.up.per_second(),
                downloaded: p.shared.downloaded.get(),
                uploaded: p.shared.uploaded.get(),
                progress: p.has.count_ones() as f32 / n,
            })
            .collect()
    }
}

impl Torrent {
    /// Per-file progress: the bytes of each file inside verified pieces.
    pub(super) fn file_snapshots(&self) -> Vec<FileSnapshot> {
        let mut have = vec![0u64; self.layout.files.len()];
        for piece in self.have.iter_ones() {
            for span in self.layout.piece_spans(piece) {
                have[span.file] += span.len;
            }
        }
        self.layout
            .files
            .iter()
            .zip(have)
            .enumerate()
            .map(|(i, (f, have_bytes))| FileSnapshot {
                path: f.path.clone(),
                length: f.length,
                have_bytes,
                priority: self.priorities.get(i).copied().unwrap_or_default(),
                pad: f.pad,
            })
            .collect()
    }

    /// The piece map.
    pub(super) fn piece_snapshot(&self) -> PieceSnapshot {
        let n = self.meta.info.num_pieces();
        PieceSnapshot {
            have: self.have.as_bytes().to_vec(),
            num_pieces: n,
            downloading: self.picker.in_progress().map(|p| p.0).collect(),
            availability: (0..n)
                .map(|i| self.picker.availability(PieceIndex(i)).min(u16::MAX as u32) as u16)
                .collect(),
        }
    }
}
