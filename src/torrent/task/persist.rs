//! Keeping a torrent's resume record current in the session's state folder
//! (see [`crate::resume`]).
//!
//! A record is written when a setting changes (pause, priorities, ...) and,
//! while pieces arrive, at most every `resume_interval`. The files are
//! stamped as soon as the verified pieces are taken, then the disk workers
//! sync them before the record is written: a record never claims a piece
//! whose data is still only in memory, and one whose stamps still hold
//! claims every piece written before them. Writes run off the torrent's
//! loop, one at a time; shutdown awaits the last one and writes a final
//! record.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::Torrent;
use crate::magnet::Magnet;
use crate::metainfo::Metainfo;
use crate::picker::Priority;
use crate::resume::{stamp_files, FileStamp, Resume, StateDir, Verified};
use crate::torrent::TorrentState;

/// A torrent's link to the state folder.
pub(crate) struct Persist {
    /// The folder.
    pub state: StateDir,
    /// Least time between records written because pieces arrived.
    pub interval: Duration,
    /// Pieces were verified since the last record.
    pub dirty: bool,
    /// A setting changed: write at the next tick.
    pub soon: bool,
    /// When the last record was started.
    pub last: Instant,
    /// The write under way.
    pub saving: Option<JoinHandle<()>>,
    /// Set when the torrent is removed: write nothing more.
    pub removed: Arc<AtomicBool>,
    /// The verified pieces the torrent was added with, recorded again while
    /// the start-up check runs (dropped by a recheck the user asks for).
    pub prior: Option<Verified>,
    /// When the torrent was first added.
    pub added_at: u64,
    /// The transfer counters of the last record, so that a torrent that
    /// only uploads still gets its all-time counters recorded.
    pub recorded_totals: (u64, u64),
}

impl Persist {
    /// A link for a torrent; `prior` comes from its stored record.
    pub fn new(
        state: StateDir,
        interval: Duration,
        removed: Arc<AtomicBool>,
        prior: Option<&Resume>,
        added_at: u64,
    ) -> Persist {
        Persist {
            state,
            interval,
            dirty: false,
            soon: true,
            last: Instant::now(),
            saving: None,
            removed,
            prior: prior.and_then(|r| r.verified.clone()),
            added_at,
            recorded_totals: (0, 0),
        }
    }

    /// Writes the record of a torrent known only by its magnet link.
    pub async fn save_magnet(
        &mut self,
        magnet: &Magnet,
        save_dir: &std::path::Path,
        paused: bool,
        priorities: &[Priority],
        sequential: bool,
    ) {
        let mut r = Resume::new(
            magnet.info_hash,
            magnet
                .display_name
                .clone()
                .unwrap_or_else(|| magnet.info_hash.to_hex()),
            save_dir.to_owned(),
        );
        r.added_at = self.added_at;
        r.paused = paused;
        r.sequential = sequential;
        r.priorities = priorities.to_vec();
        r.magnet = Some(magnet.to_uri());
        let state = self.state.clone();
        let written = tokio::task::spawn_blocking(move || state.save_resume(&r)).await;
        if let Ok(Err(e)) = written {
            tracing::warn!("cannot write the resume record: {e}");
        }
    }

    /// Whether a record is due at a coming tick.
    pub fn pending(&self) -> bool {
        self.dirty || self.soon
    }

    fn removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }
}

impl Torrent {
    /// The record as of now, without the verified pieces.
    fn resume_record(&self, added_at: u64) -> Resume {
        let (down, up) = self.counters.all_time(self.totals());
        let (download_limit, upload_limit) = self.limits.get();
        Resume {
            info_hash: self.info_hash,
            name: self.meta.info.name.clone(),
            save_dir: self.save_dir.clone(),
            paused: self.paused,
            sequential: self.sequential,
            priorities: self.priorities.clone(),
            magnet: None,
            verified: None,
            downloaded: down,
            uploaded: up,
            added_at,
            download_limit,
            upload_limit,
        }
    }

    /// Marks that pieces were verified.
    pub(super) fn resume_dirty(&mut self) {
        if let Some(p) = &mut self.persist {
            p.dirty = true;
        }
    }

    /// Asks for a record at the next tick (a setting changed).
    pub(super) fn resume_soon(&mut self) {
        if let Some(p) = &mut self.persist {
            p.soon = true;
        }
    }

    /// Writes a record if one is due and none is being written.
    pub(super) fn maybe_save_resume(&mut self, now: Instant) {
        let totals = self.totals();
        if let Some(p) = &mut self.persist {
            if totals != p.recorded_totals {
                p.dirty = true;
            }
        }
        let Some(p) = &self.persist else {
            return;
        };
        let due = p.soon || (p.dirty && now.duration_since(p.last) >= p.interval);
        if !due || p.saving.as_ref().is_some_and(|h| !h.is_finished()) || p.removed() {
            return;
        }
        let Some(mut job) = self.record_job() else {
            return;
        };
        let disk = self.disk.clone();
        let task = tokio::spawn(async move {
            if job.pieces.is_some() {
                // The files are stamped as soon as the pieces are taken:
                // a piece written after this changes a stamp, so a record
                // that still matches the files on restart holds every
                // piece on disk (stamped after the sync, pieces verified
                // meanwhile would be on disk but missing from a record
                // trusted, and fetched again).
                let (dir, meta) = (job.dir.clone(), Arc::clone(&job.meta));
                job.stamps = tokio::task::spawn_blocking(move || {
                    let stamps = stamp_files(&dir, &meta.info.files);
                    crate::stall::stall("flush");
                    stamps
                })
                .await
                .ok();
                // The data of every recorded piece must be on disk first.
                let synced = match disk {
                    Some(d) => d.flush().await.map_err(|e| e.to_string()),
                    None => Err("the disk is not running".to_string()),
                };
                if let Err(e) = synced {
                    tracing::debug!("not recording verified pieces: {e}");
                    job.pieces = None;
                }
            }
            let _ = tokio::task::spawn_blocking(move || job.write()).await;
        });
        if let Some(p) = &mut self.persist {
            p.saving = Some(task);
            p.dirty = false;
            p.soon = false;
            p.last = now;
            p.recorded_totals = totals;
        }
    }

    /// Forgets the verified pieces the torrent was added with (the user
    /// asked for a recheck).
    pub(super) fn drop_prior(&mut self) {
        if let Some(p) = &mut self.persist {
            p.prior = None;
        }
    }

    /// The last record, written after the disk workers have synced and
    /// stopped. Awaits any write under way first.
    pub(super) async fn final_resume(&mut self) {
        let Some(p) = &mut self.persist else {
            return;
        };
        if let Some(h) = p.saving.take() {
            let _ = h.await;
        }
        if p.removed() {
            return;
        }
        // The disk workers synced every file on shutdown.
        if let Some(job) = self.record_job() {
            let _ = tokio::task::spawn_blocking(move || job.write()).await;
        }
    }

    /// What a record written now holds: the verified pieces unless a check
    /// is under way (then the pieces the torrent was added with).
    fn record_job(&self) -> Option<RecordJob> {
        let p = self.persist.as_ref()?;
        let checking = self.checking.is_some() || self.state == TorrentState::Checking;
        Some(RecordJob {
            state: p.state.clone(),
            meta: Arc::clone(&self.meta),
            record: self.resume_record(p.added_at),
            pieces: (!checking).then(|| self.have.as_bytes().to_vec()),
            stamps: None,
            prior: p.prior.clone(),
            dir: self.save_dir.clone(),
        })
    }
}

/// A record to write, off the torrent's loop.
struct RecordJob {
    /// Where.
    state: StateDir,
    /// The metainfo, stored once.
    meta: Arc<Metainfo>,
    /// The record without its verified pieces.
    record: Resume,
    /// Verified pieces to record with the files' stamps; `None` keeps
    /// `prior`.
    pieces: Option<Vec<u8>>,
    /// The stamps taken right after `pieces` (before the files were
    /// synced); `None`: stamp the files when writing (the disk is stopped).
    stamps: Option<Vec<FileStamp>>,
    /// The pieces the torrent was added with.
    prior: Option<Verified>,
    /// The save folder, to stamp the files.
    dir: PathBuf,
}

impl RecordJob {
    /// Writes the metainfo (once) and the record. Blocking; errors are
    /// logged (the torrent runs on; the next record may succeed).
    fn write(self) {
        if let Err(e) = write_record(
            &self.state,
            &self.meta,
            self.record,
            self.pieces.map(|p| (p, self.stamps)),
            self.prior,
            &self.dir,
        ) {
            tracing::warn!("cannot write the resume record: {e}");
        }
    }
}

/// Writes the metainfo (once) and the record; `pieces` are recorded with
/// their stamps (or the files' stamps as they are now), or else `prior` is
/// kept.
fn write_record(
    state: &StateDir,
    meta: &Metainfo,
    mut record: Resume,
    pieces: Option<(Vec<u8>, Option<Vec<FileStamp>>)>,
    prior: Option<Verified>,
    dir: &Path,
) -> Result<(), crate::resume::ResumeError> {
    state.save_metainfo(meta)?;
    record.verified = match pieces {
        Some((pieces, stamps)) => Some(Verified {
            pieces,
            files: stamps.unwrap_or_else(|| stamp_files(dir, &meta.info.files)),
        }),
        None => prior,
    };
    state.save_resume(&record)
}
