//! Deleting a torrent's data: its own files and the folders they leave
//! empty, nothing else in the save folder. Every removal goes through a
//! [`Root`] handle of the save folder without following links, so a folder
//! of the torrent replaced by a link to somewhere else is left alone (and
//! reported), and what it points to survives.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::beneath::Root;
use crate::metainfo::Info;

/// Deletes the files of `info` under `save_dir`, then each folder of the
/// torrent that is left empty, deepest first. Files already gone are
/// fine; the first other error (a link on a file's path among them) is
/// returned after trying every file.
pub fn delete_files(info: &Info, save_dir: &Path) -> io::Result<()> {
    let root = match Root::open(save_dir, false) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("{}: {e}", save_dir.display()),
            ))
        }
    };
    let mut first_err = None;
    let mut folders: BTreeSet<(usize, PathBuf)> = BTreeSet::new();
    for f in info.files.iter().filter(|f| !f.pad) {
        match root.remove_file(&f.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let path = save_dir.join(&f.path);
                first_err
                    .get_or_insert(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
            }
        }
        let mut dir = f.path.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            folders.insert((d.components().count(), d.to_owned()));
            dir = d.parent();
        }
    }
    for (_, d) in folders.iter().rev() {
        // Fails on a folder that still holds something, or on a link: it is
        // kept.
        let _ = root.remove_dir(d);
    }
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create::{create_torrent, CreateOptions};
    use std::fs;

    #[test]
    fn deletes_only_the_torrents_files() {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("album");
        fs::create_dir_all(content.join("cd1")).unwrap();
        fs::write(content.join("cd1/a.flac"), vec![1u8; 5000]).unwrap();
        fs::write(content.join("b.txt"), b"hello").unwrap();
        let meta = create_torrent(&content, &CreateOptions::default(), |_, _| {}).unwrap();
        // Something of the user's in the torrent's folder.
        fs::write(content.join("notes.txt"), b"mine").unwrap();
        fs::write(dir.path().join("other"), b"x").unwrap();
        delete_files(&meta.info, dir.path()).unwrap();
        assert!(!content.join("cd1").exists());
        assert!(!content.join("b.txt").exists());
        assert!(content.join("notes.txt").exists());
        assert!(dir.path().join("other").exists());
        // Twice is fine.
        delete_files(&meta.info, dir.path()).unwrap();
    }

    #[test]
    fn a_folder_replaced_by_a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let content = dir.path().join("album");
        fs::create_dir_all(content.join("cd1")).unwrap();
        fs::write(content.join("cd1/a.flac"), vec![1u8; 5000]).unwrap();
        fs::write(content.join("b.txt"), b"hello").unwrap();
        let meta = create_torrent(&content, &CreateOptions::default(), |_, _| {}).unwrap();
        // The torrent's folder now leads to someone else's files of the
        // same names.
        fs::rename(content.join("cd1"), outside.path().join("cd1")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("cd1"), content.join("cd1")).unwrap();
        let e = delete_files(&meta.info, dir.path()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(
            fs::read(outside.path().join("cd1/a.flac")).unwrap(),
            vec![1u8; 5000]
        );
        assert!(!content.join("b.txt").exists());
        assert!(content.join("cd1").symlink_metadata().is_ok());
    }
}
