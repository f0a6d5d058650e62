//! Turning the path components a .torrent file names into safe relative
//! paths, and joining them onto a save folder without ever leaving it.
//!
//! What a component must be (refused with a [`PathError`] otherwise): not
//! empty, not `.` or `..`, free of `/`, `\` and NUL, and not absolute (no
//! leading separator, no `C:`-style drive prefix).
//!
//! What we change so that a filesystem can hold the name (sanitising, applied
//! after the checks above, so it can never create a `.`, `..` or separator):
//! 1. bytes that are not UTF-8 are decoded lossily (each bad sequence becomes
//!    U+FFFD), because our paths are `String`s and most filesystems expect
//!    UTF-8 names today;
//! 2. ASCII control characters (0x01-0x1F and 0x7F) become `_`;
//! 3. a component longer than [`MAX_COMPONENT_LEN`] bytes (the limit of ext4,
//!    XFS, btrfs and NTFS) is shortened on a character boundary, keeping an
//!    extension of up to 16 bytes so the file type stays recognisable.
//!
//! **Architecture invariant:** a [`crate::metainfo::FileEntry::path`] only
//! ever holds `Normal` components built here, so no path outside the save
//! folder comes out of this layer. What is on disk (links planted under the
//! save folder) is the storage layer's to refuse: it opens every path
//! beneath the folder without following links
//! ([`crate::storage::beneath`]).

use std::path::{Component, Path, PathBuf};

/// Longest file name component we write, in bytes.
pub const MAX_COMPONENT_LEN: usize = 255;

/// Longest relative path of a file inside a torrent, in bytes (Linux's
/// `PATH_MAX`): a longer one could not be opened anyway.
pub const MAX_PATH_LEN: usize = 4096;

/// Longest extension kept when a long component is shortened, in bytes.
const MAX_KEPT_EXTENSION: usize = 16;

/// Why a path component or a joined path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A component of zero length (`a//b`).
    #[error("empty path component")]
    Empty,
    /// A file with no path components at all.
    #[error("file has an empty path")]
    NoComponents,
    /// The component `.`.
    #[error("path component \".\" is not allowed")]
    CurrentDir,
    /// The component `..`, which would climb out of the save folder.
    #[error("path component \"..\" is not allowed")]
    ParentDir,
    /// A `/` or `\` inside a component.
    #[error("path component contains a path separator")]
    Separator,
    /// A NUL byte, which no filesystem accepts.
    #[error("path component contains a NUL byte")]
    Nul,
    /// A leading separator or drive prefix.
    #[error("path component is absolute")]
    Absolute,
    /// The components add up to more than [`MAX_PATH_LEN`] bytes.
    #[error("path is longer than 4096 bytes")]
    TooLong,
    /// The joined path would leave the save folder.
    #[error("path leaves the save folder")]
    Outside,
}

/// Checks one raw component from a .torrent file and returns its sanitised
/// form (see the module docs for exactly what changes).
pub fn sanitize_component(raw: &[u8]) -> Result<String, PathError> {
    if raw.is_empty() {
        return Err(PathError::Empty);
    }
    if raw.contains(&0) {
        return Err(PathError::Nul);
    }
    if raw[0] == b'/' || raw[0] == b'\\' {
        return Err(PathError::Absolute);
    }
    if raw.len() >= 2 && raw[0].is_ascii_alphabetic() && raw[1] == b':' {
        return Err(PathError::Absolute);
    }
    if raw.contains(&b'/') || raw.contains(&b'\\') {
        return Err(PathError::Separator);
    }
    match raw {
        b"." => return Err(PathError::CurrentDir),
        b".." => return Err(PathError::ParentDir),
        _ => {}
    }
    let name: String = String::from_utf8_lossy(raw)
        .chars()
        .map(|c| if c.is_ascii_control() { '_' } else { c })
        .collect();
    Ok(shorten(name))
}

/// Sanitises a list of components into a relative path.
pub fn sanitize_components<'a>(
    parts: impl IntoIterator<Item = &'a [u8]>,
) -> Result<PathBuf, PathError> {
    let mut path = PathBuf::new();
    for part in parts {
        path.push(sanitize_component(part)?);
    }
    if path.as_os_str().is_empty() {
        return Err(PathError::NoComponents);
    }
    Ok(path)
}

/// Joins a relative torrent path onto the save folder and proves the result
/// stays inside it: every component of `rel` must be a plain name, and any
/// part of the joined path that already exists on disk is resolved through
/// symlinks and must still lie under the (resolved) save folder.
///
/// A check at one moment, for showing or vetting a path: the disk never
/// opens the result (a link could appear after the check); it resolves
/// torrent paths through [`crate::storage::beneath`] instead.
pub fn safe_join(save_dir: &Path, rel: &Path) -> Result<PathBuf, PathError> {
    if rel.as_os_str().is_empty() {
        return Err(PathError::NoComponents);
    }
    for c in rel.components() {
        match c {
            Component::Normal(_) => {}
            Component::ParentDir => return Err(PathError::ParentDir),
            Component::CurDir => return Err(PathError::CurrentDir),
            Component::RootDir | Component::Prefix(_) => return Err(PathError::Absolute),
        }
    }
    let joined = save_dir.join(rel);
    if !joined.starts_with(save_dir) {
        return Err(PathError::Outside);
    }
    // Symlinks already on disk could redirect a plain name elsewhere.
    if let Ok(root) = save_dir.canonicalize() {
        let mut existing = joined.as_path();
        loop {
            if existing.symlink_metadata().is_ok() {
                break;
            }
            match existing.parent() {
                Some(p) if p.starts_with(save_dir) => existing = p,
                _ => return Ok(joined),
            }
        }
        if existing != save_dir {
            if let Ok(real) = existing.canonicalize() {
                if !real.starts_with(&root) {
                    return Err(PathError::Outside);
                }
            }
        }
    }
    Ok(joined)
}

/// Shortens a name to [`MAX_COMPONENT_LEN`] bytes on a character boundary,
/// keeping a short extension.
fn shorten(name: String) -> String {
    if name.len() <= MAX_COMPONENT_LEN {
        return name;
    }
    let ext = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= MAX_KEPT_EXTENSION => &name[i..],
        _ => "",
    };
    let mut cut = MAX_COMPONENT_LEN - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &name[..cut], ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dangerous_components() {
        assert_eq!(sanitize_component(b""), Err(PathError::Empty));
        assert_eq!(sanitize_component(b"."), Err(PathError::CurrentDir));
        assert_eq!(sanitize_component(b".."), Err(PathError::ParentDir));
        assert_eq!(sanitize_component(b"a/b"), Err(PathError::Separator));
        assert_eq!(sanitize_component(b"a\\b"), Err(PathError::Separator));
        assert_eq!(sanitize_component(b"/etc"), Err(PathError::Absolute));
        assert_eq!(sanitize_component(b"\\etc"), Err(PathError::Absolute));
        assert_eq!(sanitize_component(b"C:x"), Err(PathError::Absolute));
        assert_eq!(sanitize_component(b"a\0b"), Err(PathError::Nul));
    }

    #[test]
    fn sanitises_names() {
        assert_eq!(sanitize_component(b"ok.txt").unwrap(), "ok.txt");
        assert_eq!(sanitize_component(b"...").unwrap(), "...");
        assert_eq!(sanitize_component(b".hidden").unwrap(), ".hidden");
        assert_eq!(sanitize_component(b"a\x01b\x7f").unwrap(), "a_b_");
        assert_eq!(sanitize_component(b"caf\xe9").unwrap(), "caf\u{fffd}");
        let long = format!("{}.mkv", "\u{e9}".repeat(200));
        let s = sanitize_component(long.as_bytes()).unwrap();
        assert!(s.len() <= MAX_COMPONENT_LEN);
        assert!(s.ends_with(".mkv"));
    }

    #[test]
    fn joins_inside_only() {
        let root = Path::new("/nonexistent-save-dir");
        assert_eq!(
            safe_join(root, Path::new("a/b")).unwrap(),
            PathBuf::from("/nonexistent-save-dir/a/b")
        );
        assert_eq!(
            safe_join(root, Path::new("../x")),
            Err(PathError::ParentDir)
        );
        assert_eq!(safe_join(root, Path::new("/etc")), Err(PathError::Absolute));
        assert_eq!(safe_join(root, Path::new("")), Err(PathError::NoComponents));
    }

    #[test]
    fn symlink_out_of_save_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        assert_eq!(
            safe_join(dir.path(), Path::new("link/file")),
            Err(PathError::Outside)
        );
        assert!(safe_join(dir.path(), Path::new("plain/file")).is_ok());
    }
}
