//! Opening, creating, inspecting and removing a torrent's files *beneath* its
//! save folder, so that no path a torrent names can reach outside it, even
//! when links appear on disk while we run.
//!
//! The save folder is opened once as a directory handle ([`Root`]); following
//! a link to reach the save folder itself is the user's choice and allowed.
//! Below it, every path is walked one component at a time relative to the
//! handle of the folder before it (`openat`, `mkdirat`, `unlinkat`, `statat`
//! through `rustix`), with `O_NOFOLLOW`: a symbolic link met at any step, to
//! a file or to a folder, is refused with an error naming it
//! ([`LinkRefused`]). Because each step starts from the handle the previous
//! step opened, there is no window between a check and the use of its
//! result: a link planted after the check is simply met by the walk.
//!
//! The final open also refuses anything but a regular file (a FIFO or a
//! device planted at a file's name), opened non-blocking so that such a
//! thing cannot stall a disk thread before it is refused.
//!
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` would do the walk of an
//! existing path in one call, but folders still have to be created one by
//! one, and callers cache the files they open, so the walk is done the same
//! way everywhere: one `openat` per folder of the path, at open time only.
//!
//! **Architecture invariant:** every open, create and remove of a torrent's
//! data goes through a [`Root`]; nothing joins a save folder and a torrent
//! path and hands the result to a path-based system call.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read only; the file and its folders must exist.
    Read,
    /// Read and write; missing folders and the file are created.
    Write,
}

/// A symbolic link found on a torrent's path under the save folder: refused,
/// since it could lead outside the folder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is a symbolic link; links under the save folder are not followed", .0.display())]
pub struct LinkRefused(pub PathBuf);

impl LinkRefused {
    /// The link, when `e` is a refused link.
    pub fn of(e: &io::Error) -> Option<&Path> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<LinkRefused>())
            .map(|l| l.0.as_path())
    }
}

/// The save folder, open as a directory handle that every torrent path is
/// resolved from.
#[derive(Debug)]
pub struct Root {
    /// The folder's handle (`O_PATH`: it needs no read permission).
    fd: OwnedFd,
    /// The folder's path, for messages.
    path: PathBuf,
}

/// What a walk to a path's last component yields: the handle of the folder
/// holding it (the root itself, or one opened on the way) and its name.
struct Parent<'a> {
    /// A folder opened on the way; `None` means the root.
    fd: Option<OwnedFd>,
    /// The last component.
    name: &'a OsStr,
}

/// Flags of every folder opened on a walk.
fn dir_flags() -> OFlags {
    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

impl Root {
    /// Opens the save folder (with `create`, creating it and its parents
    /// first). Links on the way to it are followed: it is the user's folder.
    pub fn open(path: &Path, create: bool) -> io::Result<Root> {
        if create {
            std::fs::create_dir_all(path)?;
        }
        let fd = rfs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The save folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file at `rel` (see [`Access`]). A link anywhere on the way,
    /// or in the file's place, is a [`LinkRefused`]; anything but a regular
    /// file is refused too.
    pub fn open_file(&self, rel: &Path, access: Access) -> io::Result<File> {
        let parent = self.walk(rel, access == Access::Write)?;
        self.open_in(parent.fd(self), &parent_of(rel), parent.name, access)
    }

    /// Opens the folder `rel` (which must exist) for [`Root::open_in`]; an
    /// empty `rel` is the root itself.
    pub fn open_dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        if rel.as_os_str().is_empty() {
            return self.fd.try_clone();
        }
        let parent = self.walk(rel, false)?;
        self.step(parent.fd(self), rel, parent.name, false)
    }

    /// Opens the file `name` of the folder `dir` (opened with
    /// [`Root::open_dir`] from `dir_rel`), refusing a link in its place.
    pub fn open_in(
        &self,
        dir: BorrowedFd<'_>,
        dir_rel: &Path,
        name: &OsStr,
        access: Access,
    ) -> io::Result<File> {
        let flags = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let flags = match access {
            Access::Read => flags | OFlags::RDONLY,
            Access::Write => flags | OFlags::RDWR | OFlags::CREATE,
        };
        let fd = rfs::openat(dir, name, flags, Mode::from_raw_mode(0o666))
            .map_err(|e| self.classify(dir, &dir_rel.join(name), name, e))?;
        let kind = FileType::from_raw_mode(rfs::fstat(&fd)?.st_mode);
        if kind != FileType::RegularFile {
            return Err(io::Error::other(format!(
                "{} is not a regular file",
                self.path.join(dir_rel).join(name).display()
            )));
        }
        Ok(File::from(fd))
    }

    /// The status of the file at `rel` without following a link: `None`
    /// when it (or a folder on its way) does not exist, a [`LinkRefused`]
    /// when a folder on its way is a link. A link in the file's own place
    /// is returned as such (its type says so).
    pub fn stat(&self, rel: &Path) -> io::Result<Option<rfs::Stat>> {
        let parent = match self.walk(rel, false) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match rfs::statat(parent.fd(self), parent.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Fails with a [`LinkRefused`] when `rel`, or a folder on its way, is a
    /// link. Missing parts are fine (they would be created as folders).
    pub fn check(&self, rel: &Path) -> io::Result<()> {
        match self.stat(rel)? {
            Some(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                Err(self.refused(rel))
            }
            _ => Ok(()),
        }
    }

    /// Removes the file at `rel`. A link in its place is removed itself
    /// (never what it points to); a link on the way is refused.
    pub fn remove_file(&self, rel: &Path) -> io::Result<()> {
        let parent = self.walk(rel, false)?;
        rfs::unlinkat(parent.fd(self), parent.name, AtFlags::empty()).map_err(io::Error::from)
    }

    /// Removes the empty folder at `rel`; a link in its place or on the way
    /// is left alone (an error).
    pub fn remove_dir(&self, rel: &Path) -> io::Result<()> {
        let parent = self.walk(rel, false)?;
        rfs::unlinkat(parent.fd(self), parent.name, AtFlags::REMOVEDIR).map_err(io::Error::from)
    }

    /// Walks the folders of `rel` (all but its last component) without
    /// following links, creating missing ones when `create`.
    fn walk<'r>(&self, rel: &'r Path, create: bool) -> io::Result<Parent<'r>> {
        let mut names = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(n) => names.push(n),
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} is not a plain relative path", rel.display()),
                    ))
                }
            }
        }
        let Some((&name, folders)) = names.split_last() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty path under the save folder",
            ));
        };
        let mut cur: Option<OwnedFd> = None;
        let mut so_far = PathBuf::new();
        for &folder in folders {
            so_far.push(folder);
            let dir = cur.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
            let next = self.step(dir, &so_far, folder, create)?;
            cur = Some(next);
        }
        Ok(Parent { fd: cur, name })
    }

    /// Opens the folder `name` inside `dir` (`rel` is its path under the
    /// root, for messages), creating it first when missing and `create`.
    fn step(
        &self,
        dir: BorrowedFd<'_>,
        rel: &Path,
        name: &OsStr,
        create: bool,
    ) -> io::Result<OwnedFd> {
        match rfs::openat(dir, name, dir_flags(), Mode::empty()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) if create => {}
            Err(e) => return Err(self.classify(dir, rel, name, e)),
        }
        match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o777)) {
            // Someone else made it meanwhile: the open below checks it.
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        rfs::openat(dir, name, dir_flags(), Mode::empty())
            .map_err(|e| self.classify(dir, rel, name, e))
    }

    /// Turns a failed open of `name` in `dir` into a [`LinkRefused`] when
    /// the entry is a link, else into the system's error.
    fn classify(&self, dir: BorrowedFd<'_>, rel: &Path, name: &OsStr, e: Errno) -> io::Error {
        if matches!(e, Errno::LOOP | Errno::NOTDIR | Errno::MLINK) {
            if let Ok(st) = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                    return self.refused(rel);
                }
            }
        }
        e.into()
    }

    fn refused(&self, rel: &Path) -> io::Error {
        io::Error::other(LinkRefused(self.path.join(rel)))
    }
}

impl Parent<'_> {
    /// The folder holding the last component.
    fn fd<'a>(&'a self, root: &'a Root) -> BorrowedFd<'a> {
        self.fd.as_ref().map_or(root.fd.as_fd(), |f| f.as_fd())
    }
}

/// `rel` without its last component.
fn parent_of(rel: &Path) -> PathBuf {
    rel.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir, Root) {
        let save = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), b"precious").unwrap();
        let root = Root::open(save.path(), false).unwrap();
        (save, outside, root)
    }

    #[test]
    fn creates_folders_and_files_beneath() {
        let (save, _out, root) = setup();
        let mut f = root.open_file(Path::new("t/a/b/f"), Access::Write).unwrap();
        f.write_all(b"data").unwrap();
        assert_eq!(std::fs::read(save.path().join("t/a/b/f")).unwrap(), b"data");
        let mut s = String::new();
        root.open_file(Path::new("t/a/b/f"), Access::Read)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "data");
        let st = root.stat(Path::new("t/a/b/f")).unwrap().unwrap();
        assert_eq!(st.st_size, 4);
        assert!(root.stat(Path::new("t/missing/f")).unwrap().is_none());
        root.remove_file(Path::new("t/a/b/f")).unwrap();
        root.remove_dir(Path::new("t/a/b")).unwrap();
        assert!(!save.path().join("t/a/b").exists());
    }

    #[test]
    fn link_in_a_files_place_is_refused() {
        let (save, out, root) = setup();
        std::fs::create_dir(save.path().join("t")).unwrap();
        symlink(out.path().join("victim"), save.path().join("t/f")).unwrap();
        for access in [Access::Read, Access::Write] {
            let e = root.open_file(Path::new("t/f"), access).unwrap_err();
            assert_eq!(LinkRefused::of(&e), Some(save.path().join("t/f").as_path()));
        }
        assert!(root.check(Path::new("t/f")).is_err());
        // Removing the link removes the link only.
        root.remove_file(Path::new("t/f")).unwrap();
        assert_eq!(
            std::fs::read(out.path().join("victim")).unwrap(),
            b"precious"
        );
    }

    #[test]
    fn link_in_a_folders_place_is_refused() {
        let (save, out, root) = setup();
        std::fs::create_dir(save.path().join("t")).unwrap();
        symlink(out.path(), save.path().join("t/sub")).unwrap();
        for access in [Access::Read, Access::Write] {
            let e = root.open_file(Path::new("t/sub/new"), access).unwrap_err();
            assert_eq!(
                LinkRefused::of(&e),
                Some(save.path().join("t/sub").as_path())
            );
            let e = root
                .open_file(Path::new("t/sub/victim"), access)
                .unwrap_err();
            assert!(LinkRefused::of(&e).is_some(), "{e}");
        }
        assert!(root.check(Path::new("t/sub/victim")).is_err());
        assert!(root.stat(Path::new("t/sub/victim")).is_err());
        assert!(root.remove_file(Path::new("t/sub/victim")).is_err());
        assert!(root.remove_dir(Path::new("t/sub")).is_err());
        assert!(!out.path().join("new").exists());
        assert_eq!(
            std::fs::read(out.path().join("victim")).unwrap(),
            b"precious"
        );
    }

    #[test]
    fn only_regular_files_are_opened() {
        let (save, _out, root) = setup();
        let fifo = save.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // Would block forever if opened as a plain read.
        assert!(root.open_file(Path::new("fifo"), Access::Read).is_err());
        assert!(root.open_file(Path::new("fifo"), Access::Write).is_err());
        assert!(root.open_file(Path::new("../x"), Access::Read).is_err());
        assert!(root.open_file(Path::new(""), Access::Read).is_err());
    }
}
