//! Torrent creation from a file or a folder.
//!
//! What goes into a torrent made from a folder, deliberately:
//! - **Order:** files sorted by their path relative to the folder, compared
//!   component by component as bytes (so `a/b` comes before `a.txt`, and
//!   upper case before lower case). The same folder always gives the same
//!   info hash.
//! - **Hidden files** (names starting with `.`) are included: they are part
//!   of the content the user chose.
//! - **Symbolic links** are skipped, to files and to folders alike: following
//!   them could leave the folder or loop. The path given on the command line
//!   itself may be a link; it is followed, and the torrent takes the link's name.
//! - **Empty folders** are left out: a torrent lists files only.
//! - **Zero-length files** are included (they take no bytes of any piece).
//! - **Other special files** (FIFOs, sockets, devices) are skipped.
//! - **Names** must be UTF-8 and acceptable to the metainfo layer unchanged
//!   (no control characters, at most 255 bytes a name and 4096 bytes a
//!   path inside the folder); otherwise creation fails
//!   with [`CreateError::UnsupportedName`] rather than produce a torrent
//!   whose paths differ from the disk.
//!
//! A single file gives a single-file torrent (`length`, `name` = file name);
//! a folder gives a multi-file torrent even when it holds one file.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::bencode::Writer;
use crate::hash::{self, OnError, ReadError};
use crate::metainfo::{
    path::MAX_PATH_LEN, sanitize_component, FileEntry, Info, Metainfo, MAX_METAINFO_LEN,
    MAX_PIECE_LEN,
};
use crate::storage::Layout;
use crate::types::InfoHash;
use sha1::{Digest, Sha1};

/// Smallest piece length we create (16 KiB, one block).
pub const MIN_CREATE_PIECE_LEN: u64 = 16 * 1024;
/// Largest piece length automatic sizing picks (16 MiB).
pub const MAX_AUTO_PIECE_LEN: u64 = 16 * 1024 * 1024;
/// Automatic sizing picks the smallest power of two that keeps the piece
/// count at or below this, which lands between 1,000 and 2,000 pieces
/// unless the size bounds are reached.
pub const TARGET_MAX_PIECES: u64 = 2000;

/// What to put in a new torrent besides the files.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Piece length in bytes; `None` picks one (see [`auto_piece_length`]).
    /// A given one must be a power of two from 16 KiB to 64 MiB.
    pub piece_length: Option<u64>,
    /// Trackers in BEP 12 tiers; the first URL also becomes `announce`.
    pub trackers: Vec<Vec<String>>,
    /// Web seeds (`url-list`).
    pub web_seeds: Vec<String>,
    /// BEP 27 private flag: no DHT or PEX for this torrent.
    pub private: bool,
    /// `comment`.
    pub comment: Option<String>,
    /// `source`: private trackers use it to make the info hash unique.
    pub source: Option<String>,
    /// Hashing threads; `None` uses every core ([`hash::default_threads`]).
    pub threads: Option<usize>,
    /// `creation date` in seconds since the epoch; `None` means now.
    pub creation_date: Option<i64>,
}

/// Why a torrent could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Listing or reading the content failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The path is neither a regular file nor a folder.
    #[error("{} is not a regular file or a folder", .0.display())]
    NotFileOrDir(PathBuf),
    /// No bytes to share: no files, or only empty ones.
    #[error("{} holds no data to share (no files, or only empty ones)", .0.display())]
    NothingToShare(PathBuf),
    /// A given piece length outside the rules.
    #[error("piece size {0} is not a power of two between 16 KiB and 64 MiB")]
    BadPieceLength(u64),
    /// A name that cannot go into a torrent unchanged.
    #[error("file name {} cannot be put in a torrent (not UTF-8, a control character, or too long)", .0.display())]
    UnsupportedName(PathBuf),
    /// The torrent would exceed the metainfo size limit.
    #[error(
        "the torrent would be larger than {MAX_METAINFO_LEN} bytes; choose a larger piece size"
    )]
    TooLarge,
}

impl From<ReadError> for CreateError {
    fn from(e: ReadError) -> Self {
        CreateError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// The piece length automatic sizing picks for `total` bytes: the smallest
/// power of two from 16 KiB to 16 MiB giving at most [`TARGET_MAX_PIECES`].
pub fn auto_piece_length(total: u64) -> u64 {
    let mut p = MIN_CREATE_PIECE_LEN;
    while p < MAX_AUTO_PIECE_LEN && total.div_ceil(p) > TARGET_MAX_PIECES {
        p *= 2;
    }
    p
}

/// Creates a torrent from a file or folder, hashing on every core (or
/// `options.threads`). `progress(bytes_hashed, bytes_total)` is called from
/// the hashing threads as pieces complete.
pub fn create_torrent(
    path: &Path,
    options: &CreateOptions,
    progress: impl Fn(u64, u64) + Sync,
) -> Result<Metainfo, CreateError> {
    let io_err = |source| CreateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let root = path.canonicalize().map_err(io_err)?;
    let meta = std::fs::metadata(&root).map_err(io_err)?;
    // The name as the user gave it (a link keeps its own name); `.`, `..`
    // and the like fall back to the real folder's name.
    let name = path
        .file_name()
        .filter(|_| !path.ends_with(".."))
        .or_else(|| root.file_name())
        .ok_or_else(|| CreateError::NotFileOrDir(path.to_path_buf()))?;
    let name = checked_name(name.to_str(), &root)?;

    // (relative components, absolute path, length)
    let mut files: Vec<(Vec<String>, PathBuf, u64)> = Vec::new();
    let multi_file = if meta.is_dir() {
        walk(&root, &mut Vec::new(), &mut files)?;
        files.sort_by(|a, b| cmp_components(&a.0, &b.0));
        true
    } else if meta.is_file() {
        files.push((Vec::new(), root.clone(), meta.len()));
        false
    } else {
        return Err(CreateError::NotFileOrDir(path.to_path_buf()));
    };

    let mut total: u64 = 0;
    let mut entries = Vec::with_capacity(files.len());
    for (parts, _, length) in &files {
        let mut rel = PathBuf::from(&name);
        rel.extend(parts);
        entries.push(FileEntry {
            path: rel,
            length: *length,
            offset: total,
            pad: false,
            attr: String::new(),
        });
        total += length;
    }
    if total == 0 {
        return Err(CreateError::NothingToShare(path.to_path_buf()));
    }
    let piece_length = match options.piece_length {
        None => auto_piece_length(total),
        Some(p) if p.is_power_of_two() && (MIN_CREATE_PIECE_LEN..=MAX_PIECE_LEN).contains(&p) => p,
        Some(p) => return Err(CreateError::BadPieceLength(p)),
    };
    let num_pieces = total.div_ceil(piece_length);
    if num_pieces * 20 > MAX_METAINFO_LEN as u64 / 2 {
        return Err(CreateError::TooLarge);
    }

    let layout = Layout {
        files: entries,
        piece_length,
        total_length: total,
    };
    let paths: Vec<PathBuf> = files.iter().map(|f| f.1.clone()).collect();
    let threads = options.threads.unwrap_or_else(hash::default_threads);
    let hashes = hash::hash_pieces(
        &layout,
        hash::Source::Paths(&paths),
        threads,
        OnError::Stop,
        &progress,
    )?;
    let mut pieces = Vec::with_capacity(hashes.len() * 20);
    for (i, h) in hashes.iter().enumerate() {
        match h {
            Ok(h) => pieces.extend_from_slice(h),
            Err(kind) => {
                return Err(CreateError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(*kind, format!("piece {i} could not be read")),
                })
            }
        }
    }

    // The info dictionary, keys in sorted order.
    let mut w = Writer::new();
    w.dict();
    if multi_file {
        w.bytes(b"files").list();
        for (parts, _, length) in &files {
            w.dict().bytes(b"length").int(*length as i64);
            w.bytes(b"path").list();
            for p in parts {
                w.bytes(p.as_bytes());
            }
            w.end().end();
        }
        w.end();
    } else {
        w.bytes(b"length").int(total as i64);
    }
    w.bytes(b"name").bytes(name.as_bytes());
    w.bytes(b"piece length").int(piece_length as i64);
    w.bytes(b"pieces").bytes(&pieces);
    if options.private {
        w.bytes(b"private").int(1);
    }
    if let Some(source) = &options.source {
        w.bytes(b"source").bytes(source.as_bytes());
    }
    w.end();
    let info_bytes = w.finish();
    if info_bytes.len() > MAX_METAINFO_LEN {
        return Err(CreateError::TooLarge);
    }

    // The info is built from what we wrote rather than parsed back (that
    // costs real time for many files); tests check that the two agree.
    let info = Info {
        name,
        piece_length,
        pieces: pieces
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect(),
        files: layout.files,
        multi_file,
        private: options.private,
        source: options.source.clone(),
    };
    debug_assert_eq!(
        Info::from_bytes(&info_bytes).map(|i| (i.files, i.pieces, i.name)),
        Ok((info.files.clone(), info.pieces.clone(), info.name.clone()))
    );
    let mut m = Metainfo {
        info,
        info_hash: InfoHash(Sha1::digest(&info_bytes).into()),
        info_bytes: Bytes::from(info_bytes),
        announce: None,
        announce_list: Vec::new(),
        url_list: Vec::new(),
        comment: None,
        created_by: None,
        creation_date: None,
    };
    let tiers: Vec<Vec<String>> = options
        .trackers
        .iter()
        .filter(|t| !t.is_empty())
        .cloned()
        .collect();
    m.announce = tiers.first().and_then(|t| t.first()).cloned();
    if tiers.len() > 1 || tiers.first().is_some_and(|t| t.len() > 1) {
        m.announce_list = tiers;
    }
    m.url_list = options.web_seeds.clone();
    m.comment = options.comment.clone();
    m.created_by = Some(format!("Shoal/{}", env!("CARGO_PKG_VERSION")));
    m.creation_date = Some(options.creation_date.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }));
    Ok(m)
}

/// Compares two relative paths component by component, as bytes.
fn cmp_components(a: &[String], b: &[String]) -> Ordering {
    a.iter()
        .map(|s| s.as_bytes())
        .cmp(b.iter().map(|s| s.as_bytes()))
}

/// A name as it will be stored, refused when the metainfo layer would
/// change or reject it.
fn checked_name(name: Option<&str>, path: &Path) -> Result<String, CreateError> {
    match name {
        Some(n) if sanitize_component(n.as_bytes()).as_deref() == Ok(n) => Ok(n.to_string()),
        _ => Err(CreateError::UnsupportedName(path.to_path_buf())),
    }
}

/// Collects the regular files under `dir` (see the module docs for what is
/// skipped). `prefix` is the path of `dir` relative to the root.
fn walk(
    dir: &Path,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, PathBuf, u64)>,
) -> Result<(), CreateError> {
    let io_err = |source| CreateError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|source| CreateError::Io {
            path: path.clone(),
            source,
        })?;
        if kind.is_symlink() {
            continue;
        }
        let name = checked_name(entry.file_name().to_str(), &path)?;
        if kind.is_dir() {
            prefix.push(name);
            walk(&path, prefix, out)?;
            prefix.pop();
        } else if kind.is_file() {
            let len = entry
                .metadata()
                .map_err(|source| CreateError::Io {
                    path: path.clone(),
                    source,
                })?
                .len();
            let mut parts = prefix.clone();
            parts.push(name);
            // The same measure the parser applies to a file's path.
            if parts.iter().map(|p| p.len() + 1).sum::<usize>() > MAX_PATH_LEN {
                return Err(CreateError::UnsupportedName(path));
            }
            out.push((parts, path, len));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    #[test]
    fn auto_piece_sizes() {
        assert_eq!(auto_piece_length(1), MIN_CREATE_PIECE_LEN);
        assert_eq!(auto_piece_length(2 << 30), 2 << 20);
        assert_eq!(auto_piece_length(200 << 20), 128 << 10);
        assert_eq!(auto_piece_length(1 << 50), MAX_AUTO_PIECE_LEN);
        for total in [50u64 << 20, 700 << 20, 4 << 30, 30 << 30] {
            let n = total.div_ceil(auto_piece_length(total));
            assert!((1000..=2000).contains(&n), "{total}: {n}");
        }
    }

    #[test]
    fn folder_order_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("content");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("a.txt"), b"hello").unwrap();
        std::fs::write(root.join("a/b"), b"world!").unwrap();
        std::fs::write(root.join(".hidden"), b"h").unwrap();
        std::fs::write(root.join("Zero"), b"").unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link")).unwrap();
        let opts = CreateOptions {
            trackers: vec![vec!["http://t/a".into()]],
            private: true,
            comment: Some("c".into()),
            source: Some("S".into()),
            creation_date: Some(5),
            ..Default::default()
        };
        let m = create_torrent(&root, &opts, |_, _| {}).unwrap();
        let paths: Vec<_> = m.info.files.iter().map(|f| f.path.clone()).collect();
        let want: Vec<PathBuf> = [
            "content/.hidden",
            "content/Zero",
            "content/a/b",
            "content/a.txt",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(paths, want);
        assert!(m.info.private);
        assert_eq!(m.info.source.as_deref(), Some("S"));
        assert_eq!(m.announce.as_deref(), Some("http://t/a"));
        assert!(m.announce_list.is_empty());
        assert_eq!(
            m.info.pieces,
            vec![<[u8; 20]>::from(Sha1::digest(b"hworld!hello"))]
        );
        let back = Metainfo::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back.info_hash, m.info_hash);
        assert_eq!(back.creation_date, Some(5));
    }

    #[test]
    fn a_linked_folder_keeps_the_links_name() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("f"), b"data").unwrap();
        let alias = dir.path().join("alias");
        std::os::unix::fs::symlink(&real, &alias).unwrap();
        let m = create_torrent(&alias, &CreateOptions::default(), |_, _| {}).unwrap();
        assert_eq!(m.info.name, "alias");
        let m = create_torrent(&real.join("."), &CreateOptions::default(), |_, _| {}).unwrap();
        assert_eq!(m.info.name, "real");
    }

    #[test]
    fn single_file_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("one.bin");
        std::fs::write(&f, vec![7u8; 40000]).unwrap();
        let m = create_torrent(&f, &CreateOptions::default(), |_, _| {}).unwrap();
        assert!(!m.info.multi_file);
        assert_eq!(m.info.files[0].path, PathBuf::from("one.bin"));
        assert_eq!(m.info.num_pieces(), 3);
        let bad = CreateOptions {
            piece_length: Some(20000),
            ..Default::default()
        };
        assert!(matches!(
            create_torrent(&f, &bad, |_, _| {}),
            Err(CreateError::BadPieceLength(20000))
        ));
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(matches!(
            create_torrent(&empty, &CreateOptions::default(), |_, _| {}),
            Err(CreateError::NothingToShare(_))
        ));
        assert!(matches!(
            create_torrent(
                &dir.path().join("nope"),
                &CreateOptions::default(),
                |_, _| {}
            ),
            Err(CreateError::Io { .. })
        ));
    }
}
