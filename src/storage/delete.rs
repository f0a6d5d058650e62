//! Deleting a torrent's data: its own files and the folders they leave
//! empty, nothing else in the save folder.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::metainfo::path::safe_join;
use crate::metainfo::Info;

/// Deletes the files of `info` under `save_dir`, then each folder of the
/// torrent that is left empty, deepest first. Files already gone are
/// fine; the first other error is returned after trying every file.
pub fn delete_files(info: &Info, save_dir: &Path) -> io::Result<()> {
    let mut first_err = None;
    let mut folders: BTreeSet<(usize, PathBuf)> = BTreeSet::new();
    for f in info.files.iter().filter(|f| !f.pad) {
        let path = match safe_join(save_dir, &f.path) {
            Ok(p) => p,
            Err(e) => {
                first_err.get_or_insert(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()));
                continue;
            }
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                first_err
                    .get_or_insert(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
            }
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == save_dir || !d.starts_with(save_dir) {
                break;
            }
            folders.insert((d.components().count(), d.to_owned()));
            dir = d.parent();
        }
    }
    for (_, d) in folders.iter().rev() {
        // Fails on a folder that still holds something: it is kept.
        let _ = fs::remove_dir(d);
    }
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create::{create_torrent, CreateOptions};

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
}
