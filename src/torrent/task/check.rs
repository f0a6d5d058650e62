//! Checking the data on disk: when a torrent starts and when the user asks
//! for a recheck. The disk workers stop first (so none holds a stale idea of
//! which pieces are verified), every piece is hashed on all cores off the
//! runtime, and the torrent starts afresh from the verdicts.

use std::sync::Arc;

use super::Torrent;
use crate::bitfield::Bitfield;
use crate::picker::Picker;
use crate::torrent::TorrentState;
use crate::types::PieceIndex;

/// One flag per piece, or why the check could not run.
pub(super) type CheckResult = Result<Vec<bool>, String>;

impl Torrent {
    /// Closes every connection, stops the disk workers and starts hashing
    /// what is on disk; `finish_check` takes the verdicts.
    pub(super) fn start_check(&mut self) {
        self.state = TorrentState::Checking;
        // A retry's barrier will not come from the workers stopped here.
        self.retrying = None;
        self.close_all();
        let disk = self.disk.take();
        let meta = Arc::clone(&self.meta);
        let dir = self.save_dir.clone();
        // Pieces recorded as verified, trusted if the files are unchanged.
        let trusted = self.persist.as_ref().and_then(|p| p.prior.clone());
        self.checking = Some(tokio::spawn(async move {
            if let Some(d) = disk {
                // Verdicts still queued are moot: everything is checked.
                let _ = d.shutdown().await;
            }
            let verdicts = tokio::task::spawn_blocking(move || {
                crate::stall::stall("check");
                let n = meta.info.num_pieces();
                if let Some(v) = trusted.filter(|v| v.still_valid(&dir, &meta.info.files)) {
                    if let Ok(bits) = Bitfield::from_bytes(&v.pieces, n) {
                        return Ok((0..n).map(|i| bits.get(PieceIndex(i))).collect());
                    }
                }
                crate::storage::verify::verify(&meta.info, &dir, |_, _| {})
            })
            .await;
            match verdicts {
                Ok(Ok(good)) => Ok(good),
                Ok(Err(e)) => Err(format!("checking {}: {e}", "the save folder")),
                Err(e) => Err(format!("checking the data failed: {e}")),
            }
        }));
        self.publish();
    }

    /// Takes the verdicts of a check and starts transfers again.
    pub(super) fn finish_check(&mut self, done: Result<CheckResult, tokio::task::JoinError>) {
        let good = match done {
            Ok(Ok(good)) => good,
            Ok(Err(e)) => return self.fail(e),
            Err(e) => return self.fail(format!("checking the data failed: {e}")),
        };
        // From now on the pieces found here are what a record says.
        self.drop_prior();
        self.resume_soon();
        let info = &self.meta.info;
        let n = info.num_pieces();
        self.picker = Picker::new(n, info.piece_length as u32, info.total_length());
        self.picker.set_sequential(self.sequential);
        self.apply_priorities();
        self.have = Bitfield::new(n);
        self.have_bytes = 0;
        for (i, ok) in good.iter().enumerate() {
            if *ok {
                let p = PieceIndex(i as u32);
                self.have.set(p, true);
                self.have_bytes += self.layout.piece_len(p) as u64;
                self.picker.we_have(p);
                // Found good on disk, not downloaded: nothing to compare.
                self.smart_ban.forget(p.0);
            }
        }
        self.start_disk();
        if matches!(self.state, TorrentState::Error(_)) {
            return;
        }
        self.state = if self.paused {
            TorrentState::Paused
        } else {
            self.active_state()
        };
        // Trackers hear the true `left` now (publish set it).
        self.publish();
        self.discovery.checked();
        for (addr, conn, slot) in self.conns.take_parked() {
            if self.state == TorrentState::Paused {
                break;
            }
            self.start_peer(addr, crate::torrent::PeerSource::Incoming, conn, slot);
        }
        self.connect_more();
        self.drive_web_seeds();
    }
}
