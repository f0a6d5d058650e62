//! The open files of one disk worker and positional I/O over the torrent's
//! byte stream: a write or read at a torrent offset becomes `pwrite`/`pread`
//! calls on the file spans it covers. Owns file creation (folders as needed,
//! sparse via `set_len` on first write), the bounded handle cache, the set of
//! files to sync, and the check that every path stays in the save folder.
//!
//! Files are opened through a [`Root`] handle of the save folder, one path
//! component at a time without following links (see [`super::beneath`]);
//! the walk happens when a file is opened, and the handle is then cached, so
//! block writes cost no path lookups.
//!
//! Pad files (BEP 47) are never created or written; they read as zeros.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::beneath::{Access, Root};
use super::disk::DiskError;
use super::Layout;

/// Open files and positional I/O for one worker.
pub(super) struct Files {
    /// The folder every path must stay in.
    save_dir: PathBuf,
    /// Its handle, which every file is opened from; opened at the first
    /// open (created then if a file is to be written).
    root: Option<Root>,
    /// Files and their offsets.
    layout: Arc<Layout>,
    /// Open handles, least recently used first.
    open: Vec<Handle>,
    /// Most handles kept open.
    cap: usize,
    /// Files written since the last sync.
    dirty: BTreeSet<usize>,
}

/// One open file.
struct Handle {
    /// Index into the layout's files.
    file: usize,
    /// The handle.
    f: File,
    /// Opened for writing (and created, and sized).
    writable: bool,
}

impl Files {
    pub(super) fn new(save_dir: PathBuf, layout: Arc<Layout>, cap: usize) -> Self {
        Files {
            save_dir,
            root: None,
            layout,
            open: Vec::new(),
            cap: cap.max(1),
            dirty: BTreeSet::new(),
        }
    }

    /// The path of a file, checked to lie inside the save folder.
    pub(super) fn path(&self, file: usize) -> Result<PathBuf, DiskError> {
        let path = self.layout.path(&self.save_dir, file);
        if is_inside(&self.save_dir, &path) {
            Ok(path)
        } else {
            Err(DiskError::UnsafePath(path))
        }
    }

    /// Writes the buffers, one after the other, from `offset` of the
    /// torrent's byte stream: one vectored write per file span, since a few
    /// large writes cost the kernel less per byte than many small ones.
    pub(super) fn write_all_at(&mut self, offset: u64, bufs: &[&[u8]]) -> Result<(), DiskError> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let layout = self.layout.clone();
        // Position in `bufs`: (buffer, offset inside it).
        let (mut bi, mut bo) = (0usize, 0usize);
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(bufs.len() + 1);
        for span in layout.spans(offset, total as u64) {
            slices.clear();
            let mut need = span.len as usize;
            // The spans cover exactly `total` bytes, so the buffers last.
            while need > 0 && bi < bufs.len() {
                let b = bufs[bi];
                let take = (b.len() - bo).min(need);
                slices.push(IoSlice::new(&b[bo..bo + take]));
                need -= take;
                bo += take;
                if bo == b.len() {
                    (bi, bo) = (bi + 1, 0);
                }
            }
            if layout.files[span.file].pad {
                continue;
            }
            let f = self.handle(span.file, true)?;
            if let Err(e) = write_all_vectored_at(f, &mut slices, span.file_offset) {
                return Err(self.io_error("writing", span.file, e));
            }
            self.dirty.insert(span.file);
        }
        Ok(())
    }

    /// Fills `buf` from `offset` of the torrent's byte stream.
    pub(super) fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let layout = self.layout.clone();
        let mut pos = 0usize;
        for span in layout.spans(offset, buf.len() as u64) {
            let chunk = &mut buf[pos..pos + span.len as usize];
            pos += span.len as usize;
            if layout.files[span.file].pad {
                chunk.fill(0);
                continue;
            }
            let f = self.handle(span.file, false)?;
            if let Err(e) = f.read_exact_at(chunk, span.file_offset) {
                return Err(self.io_error("reading", span.file, e));
            }
        }
        Ok(())
    }

    /// Creates an empty file (a zero-length file of the torrent).
    pub(super) fn create_empty(&mut self, file: usize) -> Result<(), DiskError> {
        self.handle(file, true).map(|_| ())
    }

    /// Flushes every file written since the last sync to stable storage.
    pub(super) fn sync(&mut self) -> Result<(), DiskError> {
        while let Some(&file) = self.dirty.first() {
            let f = self.handle(file, true)?;
            if let Err(e) = f.sync_data() {
                return Err(self.io_error("syncing", file, e));
            }
            self.dirty.remove(&file);
        }
        Ok(())
    }

    /// The handle of `file`, opened (for writing: created, with its folders,
    /// and extended to its length) if not cached.
    fn handle(&mut self, file: usize, write: bool) -> Result<&File, DiskError> {
        let hit = self
            .open
            .iter()
            .rposition(|h| h.file == file && (h.writable || !write));
        if let Some(i) = hit {
            if i + 1 != self.open.len() {
                let h = self.open.remove(i);
                self.open.push(h);
            }
        } else {
            self.open.retain(|h| h.file != file);
            let f = self.open_file(file, write)?;
            if self.open.len() >= self.cap {
                self.open.remove(0);
            }
            self.open.push(Handle {
                file,
                f,
                writable: write,
            });
        }
        // Both branches leave the wanted handle last.
        let last = self.open.len() - 1;
        Ok(&self.open[last].f)
    }

    fn open_file(&mut self, file: usize, write: bool) -> Result<File, DiskError> {
        let path = self.path(file)?;
        let io_err = |op: &'static str, path: &Path, source: io::Error| DiskError::Io {
            op,
            path: path.to_path_buf(),
            source,
        };
        if self.root.is_none() {
            let root = Root::open(&self.save_dir, write)
                .map_err(|e| io_err("opening", &self.save_dir, e))?;
            self.root = Some(root);
        }
        let Some(root) = &self.root else {
            // Unreachable: filled just above.
            return Err(DiskError::UnsafePath(path));
        };
        let rel = &self.layout.files[file].path;
        if !write {
            return root
                .open_file(rel, Access::Read)
                .map_err(|e| io_err("opening", &path, e));
        }
        let f = root
            .open_file(rel, Access::Write)
            .map_err(|e| io_err("creating", &path, e))?;
        let want = self.layout.files[file].length;
        let have = f
            .metadata()
            .map_err(|e| io_err("inspecting", &path, e))?
            .len();
        if have < want {
            // Sparse: no blocks are allocated until written.
            f.set_len(want).map_err(|e| io_err("sizing", &path, e))?;
        }
        Ok(f)
    }

    fn io_error(&self, op: &'static str, file: usize, source: io::Error) -> DiskError {
        DiskError::Io {
            op,
            path: self.layout.path(&self.save_dir, file),
            source,
        }
    }
}

/// Writes all of `slices` at `offset` of `f`. One slice is a `pwrite`; more
/// are a seek and `writev` on this worker's own handle (its file position is
/// used by nothing else: reads are positional).
fn write_all_vectored_at(mut f: &File, slices: &mut [IoSlice<'_>], offset: u64) -> io::Result<()> {
    if let [one] = slices {
        return f.write_all_at(one, offset);
    }
    f.seek(SeekFrom::Start(offset))?;
    let mut rest = slices;
    while !rest.is_empty() {
        match f.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether `path` is `dir` followed by plain names only.
fn is_inside(dir: &Path, path: &Path) -> bool {
    match path.strip_prefix(dir) {
        Ok(rel) => {
            rel.components().next().is_some()
                && rel.components().all(|c| matches!(c, Component::Normal(_)))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::FileEntry;

    #[test]
    fn vectored_writes_split_across_files_and_skip_pads() {
        // a (5), empty, pad (3), b (10): 18 bytes.
        let mut offset = 0;
        let files = [
            ("a", 5, false),
            ("e", 0, false),
            ("p", 3, true),
            ("b", 10, false),
        ]
        .iter()
        .map(|&(name, length, pad)| {
            let f = FileEntry {
                path: PathBuf::from("t").join(name),
                length,
                offset,
                pad,
                attr: String::new(),
            };
            offset += length;
            f
        })
        .collect();
        let layout = Arc::new(Layout {
            files,
            piece_length: 8,
            total_length: offset,
        });
        let dir = tempfile::tempdir().unwrap();
        let mut f = Files::new(dir.path().into(), layout, 1);
        // Bytes 1..17 in three buffers that do not line up with the files.
        let data: Vec<u8> = (1..17)
            .map(|i| if (5..8).contains(&i) { 0 } else { i })
            .collect();
        f.write_all_at(1, &[&data[..3], &data[3..12], &data[12..]])
            .unwrap();
        f.sync().unwrap();
        let mut back = vec![9u8; 16];
        f.read_at(1, &mut back).unwrap();
        assert_eq!(back, data);
        let t = dir.path().join("t");
        assert_eq!(std::fs::read(t.join("a")).unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(
            std::fs::read(t.join("b")).unwrap(),
            [8, 9, 10, 11, 12, 13, 14, 15, 16, 0]
        );
        assert!(!t.join("p").exists() && !t.join("e").exists());
    }

    #[test]
    fn links_planted_under_the_save_folder_are_not_followed() {
        // t/a (4), t/sub/b (4), t/c (4): one piece each.
        let mut offset = 0;
        let files = ["a", "sub/b", "c"]
            .iter()
            .map(|name| {
                let f = FileEntry {
                    path: PathBuf::from("t").join(name),
                    length: 4,
                    offset,
                    pad: false,
                    attr: String::new(),
                };
                offset += 4;
                f
            })
            .collect();
        let layout = Arc::new(Layout {
            files,
            piece_length: 4,
            total_length: offset,
        });
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), b"mine").unwrap();
        std::fs::write(outside.path().join("b"), b"mine").unwrap();
        let mut f = Files::new(dir.path().into(), layout, 4);
        f.write_all_at(0, &[b"aaaa"]).unwrap();
        let t = dir.path().join("t");
        // A file not yet created becomes a link to a file outside.
        std::os::unix::fs::symlink(outside.path().join("victim"), t.join("c")).unwrap();
        let e = f.write_all_at(8, &[b"cccc"]).unwrap_err().to_string();
        assert!(
            e.contains(&format!("{} is a symbolic link", t.join("c").display())),
            "{e}"
        );
        // A folder not yet created becomes a link to a folder outside.
        std::os::unix::fs::symlink(outside.path(), t.join("sub")).unwrap();
        let e = f.write_all_at(4, &[b"bbbb"]).unwrap_err().to_string();
        assert!(
            e.contains(&format!("{} is a symbolic link", t.join("sub").display())),
            "{e}"
        );
        let mut buf = [0u8; 4];
        assert!(f.read_at(4, &mut buf).is_err());
        assert!(f.read_at(8, &mut buf).is_err());
        assert_eq!(
            std::fs::read(outside.path().join("victim")).unwrap(),
            b"mine"
        );
        assert_eq!(std::fs::read(outside.path().join("b")).unwrap(), b"mine");
        // The file opened before the links appeared is still ours.
        f.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"aaaa");
    }

    #[test]
    #[allow(clippy::join_absolute_paths)] // the point of the test
    fn paths_must_stay_inside() {
        let d = Path::new("/save");
        assert!(is_inside(d, Path::new("/save/a/b")));
        assert!(!is_inside(d, Path::new("/save")));
        assert!(!is_inside(d, Path::new("/save/../etc")));
        assert!(!is_inside(d, Path::new("/etc/passwd")));
        assert!(!is_inside(d, &d.join("/abs")));
    }
}
