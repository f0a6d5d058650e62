//! SHA-1 of pieces read from files, on every core: the engine behind torrent
//! creation and verification.
//!
//! The torrent's byte stream is cut into chunks of whole pieces (about
//! [`CHUNK_TARGET`] bytes each). Each worker thread takes the next chunk from
//! a shared counter and hashes its pieces, reading the files with `pread` in
//! blocks of [`READ_BLOCK`] into one buffer it reuses for everything: the
//! block is still in the core's cache when SHA-1 reads it, so the copy out of
//! the page cache costs little, and memory stays at `threads x READ_BLOCK`.
//! Consecutive spans of one file reuse its open handle, files are opened
//! relative to their folder's handle (many small files cost one short
//! lookup each), and large spans get a
//! `POSIX_FADV_WILLNEED` hint per chunk so a cold cache reads ahead. Pad files
//! are never opened; they hash as zeros. (Memory-mapping was measured too:
//! mapping and unmapping page-cache pages cost more system time here than
//! copying them.)

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use sha1::{Digest, Sha1};

use crate::storage::beneath::{Access, Root};
use crate::storage::Layout;
use crate::types::PieceIndex;

/// Target size of the unit of work a thread takes at once.
pub const CHUNK_TARGET: u64 = 16 * 1024 * 1024;
/// Bytes read per call: small enough to stay in the core's cache between the
/// copy out of the page cache and the hash, large enough to amortise the call.
pub const READ_BLOCK: usize = 128 * 1024;
/// File spans at least this long get a read-ahead hint.
pub const ADVISE_MIN: u64 = 4 * 1024 * 1024;

/// The outcome of hashing one piece: its SHA-1, or why its bytes could not
/// all be read (a missing or short file, a read error).
pub type PieceHash = Result<[u8; 20], io::ErrorKind>;

/// The first I/O error hit while hashing, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct ReadError {
    /// The file that failed.
    pub path: PathBuf,
    /// What failed.
    #[source]
    pub source: io::Error,
}

/// How hashing treats a file that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Stop everything at the first error (creation: the result would be wrong).
    Stop,
    /// Mark the pieces it touches as unreadable and carry on (verification).
    Continue,
}

/// Where the files to hash are, and how they may be opened.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// File `i` at `paths[i]`, links followed: creation reads a folder the
    /// user chose to share, and a link in it is the user's own choice.
    Paths(&'a [PathBuf]),
    /// File `i` at its torrent path beneath a save folder, never through a
    /// link (verification: the torrent names those paths).
    Beneath(&'a Root),
}

/// Hashes every piece of `layout`, reading its files from `source` (pad
/// files are not read). Runs on `threads` threads (at least one) and calls
/// `progress(bytes_done, bytes_total)` as pieces complete.
///
/// With [`OnError::Stop`], the first failure ends the work and is returned;
/// with [`OnError::Continue`] the result has one entry per piece and errors
/// are returned only per piece.
pub fn hash_pieces(
    layout: &Layout,
    source: Source<'_>,
    threads: usize,
    on_error: OnError,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<PieceHash>, ReadError> {
    hash_in_chunks(layout, source, threads, on_error, progress, CHUNK_TARGET)
}

/// [`hash_pieces`] with a chosen chunk size (tests use small ones).
fn hash_in_chunks(
    layout: &Layout,
    source: Source<'_>,
    threads: usize,
    on_error: OnError,
    progress: &(dyn Fn(u64, u64) + Sync),
    chunk_target: u64,
) -> Result<Vec<PieceHash>, ReadError> {
    let num_pieces = layout.num_pieces() as u64;
    let pieces_per_chunk = (chunk_target / layout.piece_length).max(1);
    let num_chunks = num_pieces.div_ceil(pieces_per_chunk);
    let next_chunk = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<ReadError>> = Mutex::new(None);
    let results: Mutex<Vec<PieceHash>> =
        Mutex::new(vec![Err(io::ErrorKind::Interrupted); num_pieces as usize]);
    let threads = threads.clamp(1, num_chunks.max(1) as usize);

    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut worker = Worker::new(layout, source);
                let mut local: Vec<(u64, PieceHash)> = Vec::new();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let chunk = next_chunk.fetch_add(1, Ordering::Relaxed) as u64;
                    if chunk >= num_chunks {
                        break;
                    }
                    let first = chunk * pieces_per_chunk;
                    let last = (first + pieces_per_chunk).min(num_pieces);
                    let outcome = worker.hash_chunk(first, last, &mut local, &|bytes| {
                        let d = done.fetch_add(bytes, Ordering::Relaxed) + bytes;
                        progress(d, layout.total_length);
                    });
                    if let Err(e) = outcome {
                        if on_error == OnError::Stop {
                            stop.store(true, Ordering::Relaxed);
                            let mut slot = lock(&first_error);
                            if slot.is_none() {
                                *slot = Some(e);
                            }
                            break;
                        }
                    }
                }
                let mut all = lock(&results);
                for (i, h) in local {
                    all[i as usize] = h;
                }
            });
        }
    });

    if let Some(e) = lock(&first_error).take() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// The number of hashing threads to use by default: one per core, plus one.
/// Each thread reads its own data, so while one waits for the disk (or for
/// a CPU the rest of the machine is using) the others keep every core
/// hashing; on an idle machine with a warm cache the extra thread costs
/// nothing measurable. On a busy 2-core machine it measurably shortens the
/// run, for the same CPU time.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) + 1
}

/// Locks a mutex, ignoring poisoning: the data under these locks is only
/// ever written whole, so a panic elsewhere leaves it consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One thread's reusable state.
struct Worker<'a> {
    /// The piece-to-file mapping.
    layout: &'a Layout,
    /// Where each file is on disk.
    source: Source<'a>,
    /// Read buffer, small enough to stay in the core's cache between the
    /// read and the hash, reused for every read.
    buf: Vec<u8>,
    /// The file opened last, reused while consecutive spans stay in it.
    open: Option<(usize, File)>,
    /// The folder of the file opened last, so that many small files in one
    /// folder are opened relative to it instead of walking the whole path
    /// (with [`Source::Beneath`], the folder's path under the save folder).
    dir: Option<(PathBuf, OwnedFd)>,
}

impl<'a> Worker<'a> {
    fn new(layout: &'a Layout, source: Source<'a>) -> Self {
        Worker {
            layout,
            source,
            buf: vec![0; READ_BLOCK],
            open: None,
            dir: None,
        }
    }

    /// Hashes pieces `[first, last)`, pushing `(index, hash)` to `out`.
    /// Returns the first read error (the affected pieces are still pushed,
    /// marked as failed).
    fn hash_chunk(
        &mut self,
        first: u64,
        last: u64,
        out: &mut Vec<(u64, PieceHash)>,
        progress: &dyn Fn(u64),
    ) -> Result<(), ReadError> {
        let layout = self.layout;
        let mut error: Option<ReadError> = None;
        let start = first * layout.piece_length;
        let end = (last * layout.piece_length).min(layout.total_length);
        self.advise(start, end - start);
        for piece in first..last {
            let (p_start, p_len) = layout.piece_range(PieceIndex(piece as u32));
            let mut hasher = Sha1::new();
            let mut failed = None;
            for span in layout.spans(p_start, p_len) {
                if layout.files[span.file].pad {
                    let mut n = span.len as usize;
                    while n > 0 {
                        let k = n.min(ZEROS.len());
                        hasher.update(&ZEROS[..k]);
                        n -= k;
                    }
                    continue;
                }
                if failed.is_some() {
                    continue;
                }
                if let Err(e) = self.hash_span(&mut hasher, span.file, span.file_offset, span.len) {
                    failed = Some(e.kind());
                    self.open = None;
                    if error.is_none() {
                        error = Some(ReadError {
                            path: self.path(span.file),
                            source: e,
                        });
                    }
                }
            }
            out.push((
                piece,
                failed.map_or_else(|| Ok(hasher.finalize().into()), Err),
            ));
            progress(p_len);
        }
        self.open = None;
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Feeds `len` bytes at `offset` of file `file` to the hasher, reading
    /// them in cache-sized blocks. A file shorter than the span fails with
    /// `UnexpectedEof`.
    fn hash_span(
        &mut self,
        hasher: &mut Sha1,
        file: usize,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        if !matches!(&self.open, Some((i, _)) if *i == file) {
            let f = self.open_file(file)?;
            self.open = Some((file, f));
        }
        let Some((_, f)) = &self.open else {
            // Unreachable: `open` was filled just above.
            return Err(io::Error::other("no open file"));
        };
        let mut pos = offset;
        let end = offset + len;
        while pos < end {
            let n = ((end - pos) as usize).min(self.buf.len());
            let buf = &mut self.buf[..n];
            f.read_exact_at(buf, pos)?;
            hasher.update(&*buf);
            pos += n as u64;
        }
        Ok(())
    }

    /// Opens file `file` for reading, relative to its folder's handle when
    /// that folder was the last one used.
    fn open_file(&mut self, file: usize) -> io::Result<File> {
        let paths = match self.source {
            Source::Paths(paths) => paths,
            Source::Beneath(root) => return self.open_beneath(root, file),
        };
        let path = &paths[file];
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return File::open(path);
        };
        if !matches!(&self.dir, Some((p, _)) if p == parent) {
            let d = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(parent)?;
            self.dir = Some((parent.to_path_buf(), d.into()));
        }
        let (Some((_, dir)), Ok(cname)) = (&self.dir, CString::new(name.as_bytes())) else {
            return File::open(path);
        };
        // SAFETY: a valid directory descriptor we own and a NUL-terminated
        // name; the returned descriptor, if any, is owned by the File.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                cname.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Opens file `file` beneath the save folder without following links,
    /// relative to its folder's handle when that folder was the last one used.
    fn open_beneath(&mut self, root: &Root, file: usize) -> io::Result<File> {
        let rel = &self.layout.files[file].path;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let Some(name) = rel.file_name() else {
            return root.open_file(rel, Access::Read);
        };
        if !matches!(&self.dir, Some((p, _)) if p == parent) {
            self.dir = None;
            self.dir = Some((parent.to_path_buf(), root.open_dir(parent)?));
        }
        let Some((_, dir)) = &self.dir else {
            // Unreachable: filled just above.
            return root.open_file(rel, Access::Read);
        };
        root.open_in(dir.as_fd(), parent, name, Access::Read)
    }

    /// Where file `file` is, for messages.
    fn path(&self, file: usize) -> PathBuf {
        match self.source {
            Source::Paths(paths) => paths[file].clone(),
            Source::Beneath(root) => root.path().join(&self.layout.files[file].path),
        }
    }

    /// Asks the kernel to read ahead the large file spans of a chunk, so a
    /// cold cache streams from disk while we hash. A span whose last byte is
    /// already cached (probed with a non-blocking read) is left alone: the
    /// hint would walk the whole cached range for nothing. Small files are
    /// skipped: the extra calls would cost more than they save.
    fn advise(&mut self, start: u64, len: u64) {
        for span in self.layout.spans(start, len) {
            if span.len < ADVISE_MIN || self.layout.files[span.file].pad {
                continue;
            }
            let Ok(f) = self.open_file(span.file) else {
                continue;
            };
            let fd = f.as_raw_fd();
            let last = span.file_offset + span.len - 1;
            let mut byte = 0u8;
            let iov = libc::iovec {
                iov_base: (&mut byte as *mut u8).cast(),
                iov_len: 1,
            };
            // SAFETY: one iovec pointing at a live one-byte buffer; the
            // kernel writes at most one byte there.
            let cached =
                unsafe { libc::preadv2(fd, &iov, 1, last as libc::off_t, libc::RWF_NOWAIT) } == 1;
            if cached {
                continue;
            }
            // SAFETY: posix_fadvise only reads its integer arguments; a
            // failure is harmless (it is a hint).
            unsafe {
                libc::posix_fadvise(
                    fd,
                    span.file_offset as libc::off_t,
                    span.len as libc::off_t,
                    libc::POSIX_FADV_WILLNEED,
                );
            }
        }
    }
}

/// Zeros to hash for pad files.
static ZEROS: [u8; 16 * 1024] = [0; 16 * 1024];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::FileEntry;

    fn layout(lengths: &[(u64, bool)], piece_length: u64) -> Layout {
        let mut offset = 0;
        let files = lengths
            .iter()
            .enumerate()
            .map(|(i, &(length, pad))| {
                let f = FileEntry {
                    path: PathBuf::from(i.to_string()),
                    length,
                    offset,
                    pad,
                    attr: String::new(),
                };
                offset += length;
                f
            })
            .collect();
        Layout {
            files,
            piece_length,
            total_length: offset,
        }
    }

    #[test]
    fn hashes_across_files_pads_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        // Mixed: a small file, a pad, an empty file, a big (mapped) file.
        let sizes = [
            (1000u64, false),
            (3000, true),
            (0, false),
            (3_000_007, false),
        ];
        let l = layout(&sizes, 16384);
        let mut stream = Vec::new();
        let mut paths = Vec::new();
        for (i, &(len, pad)) in sizes.iter().enumerate() {
            let data: Vec<u8> = if pad {
                vec![0; len as usize]
            } else {
                (0..len).map(|b| (b * 7 + i as u64) as u8).collect()
            };
            let p = dir.path().join(i.to_string());
            if !pad {
                std::fs::write(&p, &data).unwrap();
            }
            stream.extend_from_slice(&data);
            paths.push(p);
        }
        let want: Vec<PieceHash> = stream
            .chunks(16384)
            .map(|c| Ok(Sha1::digest(c).into()))
            .collect();
        for threads in [1, 3] {
            let got = hash_pieces(
                &l,
                Source::Paths(&paths),
                threads,
                OnError::Stop,
                &|_, _| {},
            )
            .unwrap();
            assert_eq!(got, want);
            // Many chunks of one or several pieces, taken by racing threads.
            for chunk in [1, 16384, 3 * 16384, 100 * 16384] {
                let done = AtomicU64::new(0);
                let got = hash_in_chunks(
                    &l,
                    Source::Paths(&paths),
                    threads,
                    OnError::Stop,
                    &|d, t| {
                        assert!(d <= t);
                        done.fetch_max(d, Ordering::Relaxed);
                    },
                    chunk,
                )
                .unwrap();
                assert_eq!(got, want, "chunk {chunk}, {threads} threads");
                assert_eq!(done.load(Ordering::Relaxed), l.total_length);
            }
        }
    }

    #[test]
    fn missing_and_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let l = layout(&[(20000, false), (20000, false)], 16384);
        let paths = vec![dir.path().join("a"), dir.path().join("b")];
        std::fs::write(&paths[0], vec![1u8; 20000]).unwrap();
        std::fs::write(&paths[1], vec![1u8; 100]).unwrap();
        let got = hash_pieces(&l, Source::Paths(&paths), 2, OnError::Continue, &|_, _| {}).unwrap();
        assert_eq!(got[0], Ok(Sha1::digest(vec![1u8; 16384]).into()));
        assert_eq!(got[1], Err(io::ErrorKind::UnexpectedEof));
        assert_eq!(got[2], Err(io::ErrorKind::UnexpectedEof));
        std::fs::remove_file(&paths[1]).unwrap();
        let err = hash_pieces(&l, Source::Paths(&paths), 2, OnError::Stop, &|_, _| {}).unwrap_err();
        assert_eq!(err.path, paths[1]);
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
    }
}
