//! Checking a save folder against a torrent: which pieces are on disk and
//! correct. Resume and recheck use it; the `shoal verify` command prints it.
//!
//! Missing, short or unreadable files make the pieces they touch bad; they
//! are not errors. A symbolic link on a file's path under the save folder is
//! an error: it is never followed (files are opened through
//! [`super::beneath`]), and a torrent whose files cannot be reached without
//! it cannot be checked. Pad files are never opened and read as zeros.
//! Hashing runs on every core through [`crate::hash`].

use std::io;
use std::path::Path;

use super::beneath::Root;
use crate::hash::{self, OnError, Source};
use crate::metainfo::Info;
use crate::storage::Layout;

/// Checks every piece of `info` against the files under `save_dir` (the
/// content of a multi-file torrent is at `save_dir/<name>/...`, a single
/// file at `save_dir/<name>`). Returns one flag per piece, `true` when the
/// piece is complete and its SHA-1 matches. `progress(bytes_checked,
/// bytes_total)` is called from the hashing threads.
///
/// Fails only when a file's path under `save_dir` meets a symbolic link.
pub fn verify(
    info: &Info,
    save_dir: &Path,
    progress: impl Fn(u64, u64) + Sync,
) -> Result<Vec<bool>, io::Error> {
    verify_with_threads(info, save_dir, hash::default_threads(), progress)
}

/// [`verify`] with a chosen number of hashing threads.
pub fn verify_with_threads(
    info: &Info,
    save_dir: &Path,
    threads: usize,
    progress: impl Fn(u64, u64) + Sync,
) -> Result<Vec<bool>, io::Error> {
    let root = match Root::open(save_dir, false) {
        Ok(r) => r,
        // Nothing on disk yet: every piece is missing.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(vec![false; info.num_pieces() as usize])
        }
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("{}: {e}", save_dir.display()),
            ))
        }
    };
    // A link is refused by the reads below too; checking first turns it
    // into an error on the torrent rather than silently bad pieces.
    for f in info.files.iter().filter(|f| !f.pad) {
        root.check(&f.path)?;
    }
    let layout = Layout::new(info);
    let hashes = hash::hash_pieces(
        &layout,
        Source::Beneath(&root),
        threads,
        OnError::Continue,
        &progress,
    )
    .map_err(|e| e.source)?;
    Ok(hashes
        .iter()
        .zip(&info.pieces)
        .map(|(got, want)| got.as_ref().is_ok_and(|h| h == want))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::Metainfo;
    use sha1::{Digest, Sha1};

    /// A two-file torrent of 3 pieces of 16 KiB: `d/a` 20000 bytes, `d/b` 20000.
    fn torrent(a: &[u8], b: &[u8]) -> Metainfo {
        let mut stream = a.to_vec();
        stream.extend_from_slice(b);
        let mut pieces = Vec::new();
        for c in stream.chunks(16384) {
            pieces.extend_from_slice(&Sha1::digest(c));
        }
        let mut t = format!(
            "d4:infod5:filesld6:lengthi{}e4:pathl1:aeed6:lengthi{}e4:pathl1:beee4:name1:d12:piece lengthi16384e6:pieces{}:",
            a.len(),
            b.len(),
            pieces.len()
        )
        .into_bytes();
        t.extend_from_slice(&pieces);
        t.extend_from_slice(b"ee");
        Metainfo::from_bytes(&t).unwrap()
    }

    #[test]
    fn good_bad_and_missing() {
        let a = vec![1u8; 20000];
        let b = vec![2u8; 20000];
        let m = torrent(&a, &b);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        assert_eq!(
            verify(&m.info, dir.path(), |_, _| {}).unwrap(),
            vec![false; 3]
        );
        std::fs::write(dir.path().join("d/a"), &a).unwrap();
        assert_eq!(
            verify(&m.info, dir.path(), |_, _| {}).unwrap(),
            vec![true, false, false]
        );
        let mut b2 = b.clone();
        b2[19999] = 0;
        std::fs::write(dir.path().join("d/b"), &b2).unwrap();
        assert_eq!(
            verify(&m.info, dir.path(), |_, _| {}).unwrap(),
            vec![true, true, false]
        );
        std::fs::write(dir.path().join("d/b"), &b).unwrap();
        assert_eq!(
            verify(&m.info, dir.path(), |_, _| {}).unwrap(),
            vec![true; 3]
        );
        let gone = tempfile::tempdir().unwrap();
        assert_eq!(
            verify(&m.info, &gone.path().join("nothing"), |_, _| {}).unwrap(),
            vec![false; 3]
        );
    }

    #[test]
    fn links_are_refused_not_read() {
        let a = vec![1u8; 20000];
        let b = vec![2u8; 20000];
        let m = torrent(&a, &b);
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("b"), &b).unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/a"), &a).unwrap();
        std::os::unix::fs::symlink(outside.path().join("b"), dir.path().join("d/b")).unwrap();
        let e = verify(&m.info, dir.path(), |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("d/b is a symbolic link"), "{e}");
        // A link to a folder in place of the torrent's own folder.
        std::fs::remove_dir_all(dir.path().join("d")).unwrap();
        std::fs::write(outside.path().join("a"), &a).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("d")).unwrap();
        let e = verify(&m.info, dir.path(), |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("/d is a symbolic link"), "{e}");
    }
}
