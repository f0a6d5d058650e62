//! SHA-1 of pieces read from files, on every core: the engine behind torrent
//! creation and verification.
//!
//! The torrent's byte stream is cut into chunks of whole pieces (about
//! [`CHUNK_TARGET`] bytes each). Each worker thread takes the next chunk from
//! a shared counter, brings the chunk's file spans into memory and hashes its
//! pieces. Large spans are memory-mapped (`MAP_POPULATE`), so the hash reads
//! straight from the page cache with no copy; spans smaller than
//! [`MMAP_MIN`] (many small files) are read with `pread` into a per-worker
//! buffer that is reused for every chunk. Memory stays bounded by
//! `threads x CHUNK_TARGET` (plus one piece when a piece is larger).
//! Pad files are never opened; they hash as zeros.
//!
//! **Caveat:** a file truncated by another process while its mapping is being
//! hashed raises `SIGBUS`. Sizes are checked before mapping, so a file that is
//! merely short or missing is reported as an error for the pieces it touches.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use sha1::{Digest, Sha1};

use crate::storage::Layout;
use crate::types::PieceIndex;

/// Target size of the unit of work a thread takes at once.
pub const CHUNK_TARGET: u64 = 16 * 1024 * 1024;
/// Spans at least this long are memory-mapped; shorter ones are read.
pub const MMAP_MIN: u64 = 1024 * 1024;

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

/// Hashes every piece of `layout`, reading file `i` from `paths[i]` (pad
/// files are not read). Runs on `threads` threads (at least one) and calls
/// `progress(bytes_done, bytes_total)` as pieces complete.
///
/// With [`OnError::Stop`], the first failure ends the work and is returned;
/// with [`OnError::Continue`] the result has one entry per piece and errors
/// are returned only per piece.
pub fn hash_pieces(
    layout: &Layout,
    paths: &[PathBuf],
    threads: usize,
    on_error: OnError,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<PieceHash>, ReadError> {
    let num_pieces = layout.num_pieces() as u64;
    let pieces_per_chunk = (CHUNK_TARGET / layout.piece_length).max(1);
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
                let mut worker = Worker::new(layout, paths);
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

/// The number of hashing threads to use by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Locks a mutex, ignoring poisoning: the data under these locks is only
/// ever written whole, so a panic elsewhere leaves it consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where one span of a chunk's bytes is.
enum Part {
    /// Bytes of `len` at `buf[start..]` in the worker's read buffer.
    Read { start: usize, len: usize },
    /// `len` bytes in mapping `map` of `Worker::maps`.
    Mapped { map: usize, len: usize },
    /// Zeros (pad files).
    Zero { len: usize },
    /// Bytes that could not be read.
    Failed { len: usize, kind: io::ErrorKind },
}

/// One thread's reusable state.
struct Worker<'a> {
    /// The piece-to-file mapping.
    layout: &'a Layout,
    /// Where each file is on disk.
    paths: &'a [PathBuf],
    /// Read buffer for small spans, kept across chunks.
    buf: Vec<u8>,
    /// Mappings of the current chunk.
    maps: Vec<Mapping>,
    /// The file opened last, reused while consecutive spans stay in it.
    open: Option<(usize, File, u64)>,
}

impl<'a> Worker<'a> {
    fn new(layout: &'a Layout, paths: &'a [PathBuf]) -> Self {
        Worker {
            layout,
            paths,
            buf: Vec::new(),
            maps: Vec::new(),
            open: None,
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
        let start = first * self.layout.piece_length;
        let end = (last * self.layout.piece_length).min(self.layout.total_length);
        self.maps.clear();
        self.buf.clear();
        let mut parts: Vec<(u64, Part)> = Vec::new();
        let mut error: Option<ReadError> = None;
        let layout = self.layout;
        for span in layout.spans(start, end - start) {
            let entry = &layout.files[span.file];
            let at = entry.offset + span.file_offset;
            let len = span.len as usize;
            let part = if entry.pad {
                Part::Zero { len }
            } else {
                match self.load(span.file, span.file_offset, span.len) {
                    Ok(p) => p,
                    Err(e) => {
                        let kind = e.kind();
                        if error.is_none() {
                            error = Some(ReadError {
                                path: self.paths[span.file].clone(),
                                source: e,
                            });
                        }
                        Part::Failed { len, kind }
                    }
                }
            };
            parts.push((at, part));
        }
        self.open = None;

        // Hash each piece from the parts, in order.
        let zeros = [0u8; 16 * 1024];
        let mut pi = 0;
        for piece in first..last {
            let (p_start, p_len) = layout.piece_range(PieceIndex(piece as u32));
            let p_end = p_start + p_len;
            let mut hasher = Sha1::new();
            let mut failed = None;
            while pi < parts.len() {
                let (at, ref part) = parts[pi];
                let part_len = part_len(part) as u64;
                let s = p_start.max(at);
                let e = p_end.min(at + part_len);
                if s < e {
                    let (lo, hi) = ((s - at) as usize, (e - at) as usize);
                    match part {
                        Part::Read { start, .. } => {
                            hasher.update(&self.buf[start + lo..start + hi])
                        }
                        Part::Mapped { map, .. } => hasher.update(&self.maps[*map].bytes()[lo..hi]),
                        Part::Zero { .. } => {
                            let mut n = hi - lo;
                            while n > 0 {
                                let k = n.min(zeros.len());
                                hasher.update(&zeros[..k]);
                                n -= k;
                            }
                        }
                        Part::Failed { kind, .. } => failed = Some(*kind),
                    }
                }
                if at + part_len <= p_end {
                    pi += 1;
                } else {
                    break;
                }
            }
            out.push((
                piece,
                failed.map_or_else(|| Ok(hasher.finalize().into()), Err),
            ));
            progress(p_len);
        }
        self.maps.clear();
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Brings `len` bytes at `offset` of file `file` into memory.
    fn load(&mut self, file: usize, offset: u64, len: u64) -> io::Result<Part> {
        let reuse = matches!(&self.open, Some((i, _, _)) if *i == file);
        if !reuse {
            let f = File::open(&self.paths[file])?;
            let size = f.metadata()?.len();
            self.open = Some((file, f, size));
        }
        let Some((_, f, size)) = &self.open else {
            // Unreachable: `open` was filled just above when it did not match.
            return Err(io::Error::other("no open file"));
        };
        if offset + len > *size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("file is {size} bytes, shorter than the torrent says"),
            ));
        }
        if len >= MMAP_MIN {
            let map = Mapping::new(f, offset, len as usize)?;
            self.maps.push(map);
            return Ok(Part::Mapped {
                map: self.maps.len() - 1,
                len: len as usize,
            });
        }
        let start = self.buf.len();
        self.buf.resize(start + len as usize, 0);
        f.read_exact_at(&mut self.buf[start..], offset)?;
        Ok(Part::Read {
            start,
            len: len as usize,
        })
    }
}

fn part_len(p: &Part) -> usize {
    match p {
        Part::Read { len, .. }
        | Part::Mapped { len, .. }
        | Part::Zero { len }
        | Part::Failed { len, .. } => *len,
    }
}

/// A read-only shared mapping of part of a file.
struct Mapping {
    /// Start of the mapping (page aligned).
    ptr: *mut libc::c_void,
    /// Length of the mapping.
    map_len: usize,
    /// Offset of the wanted bytes inside the mapping.
    delta: usize,
    /// Number of wanted bytes.
    len: usize,
}

impl Mapping {
    fn new(file: &File, offset: u64, len: usize) -> io::Result<Mapping> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        let aligned = offset - offset % page;
        let delta = (offset - aligned) as usize;
        let map_len = len + delta;
        // SAFETY: a fresh read-only mapping of a file we hold open; the kernel
        // checks every argument and reports failure as MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                file.as_raw_fd(),
                aligned as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr,
            map_len,
            delta,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `map_len` readable bytes, alive until drop,
        // and lies within the file (its size was checked before mapping).
        unsafe { std::slice::from_raw_parts((self.ptr as *const u8).add(self.delta), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped, once.
        unsafe {
            libc::munmap(self.ptr, self.map_len);
        }
    }
}

// SAFETY: the mapping is read-only and owned by one worker at a time.
unsafe impl Send for Mapping {}

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
            (3 * MMAP_MIN + 7, false),
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
        for threads in [1, 3] {
            let got = hash_pieces(&l, &paths, threads, OnError::Stop, &|_, _| {}).unwrap();
            let want: Vec<PieceHash> = stream
                .chunks(16384)
                .map(|c| Ok(Sha1::digest(c).into()))
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn missing_and_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let l = layout(&[(20000, false), (20000, false)], 16384);
        let paths = vec![dir.path().join("a"), dir.path().join("b")];
        std::fs::write(&paths[0], vec![1u8; 20000]).unwrap();
        std::fs::write(&paths[1], vec![1u8; 100]).unwrap();
        let got = hash_pieces(&l, &paths, 2, OnError::Continue, &|_, _| {}).unwrap();
        assert_eq!(got[0], Ok(Sha1::digest(vec![1u8; 16384]).into()));
        assert_eq!(got[1], Err(io::ErrorKind::UnexpectedEof));
        assert_eq!(got[2], Err(io::ErrorKind::UnexpectedEof));
        std::fs::remove_file(&paths[1]).unwrap();
        let err = hash_pieces(&l, &paths, 2, OnError::Stop, &|_, _| {}).unwrap_err();
        assert_eq!(err.path, paths[1]);
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
    }
}
