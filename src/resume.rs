//! What a session keeps across restarts, in its state folder:
//!
//! ```text
//! <state_dir>/torrents/<info hash>.torrent   the metainfo, once known
//! <state_dir>/torrents/<info hash>.resume    a bencoded resume record
//! ```
//!
//! A resume record holds a torrent's settings (save folder, paused, file
//! priorities, sequential, rate limits), its all-time transfer counters and
//! which pieces were verified — with the size and modification time of each
//! file at that moment. On start the verified pieces are trusted only if
//! every file still has that size and time; otherwise the data is checked
//! again. Every file is written atomically (temp file, fsync, rename, fsync
//! of the folder), so a crash leaves the old record or the new one, never
//! half of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::bencode;
use crate::metainfo::{FileEntry, Metainfo};
use crate::picker::Priority;
use crate::storage::beneath::Root;
use crate::types::InfoHash;

/// The largest resume record read (a bitfield of a million pieces is
/// 128 KiB; ten thousand file stamps a few hundred KiB more).
pub const MAX_RESUME_SIZE: u64 = 16 * 1024 * 1024;
/// The largest .torrent read back from the state folder.
pub const MAX_TORRENT_SIZE: u64 = 64 * 1024 * 1024;

const FORMAT: &str = "shoal resume file";
const VERSION: i64 = 1;

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is larger than any record we write.
    #[error("{0}: too large for a resume record")]
    TooLarge(PathBuf),
    /// The file is not a resume record of ours.
    #[error("{path}: not a valid resume record ({why})")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// A file's size and modification time when the record was written, or
/// that it did not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStamp {
    /// No file at that path.
    Missing,
    /// A file of this size, last modified at this time (nanoseconds since
    /// the Unix epoch).
    Present {
        /// Bytes.
        len: u64,
        /// Modification time.
        mtime_ns: u64,
    },
}

impl FileStamp {
    /// The stamp of a file from its status; anything but a regular file
    /// (a link in the file's place among them) stamps as missing.
    fn of(st: &rustix::fs::Stat) -> FileStamp {
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return FileStamp::Missing;
        }
        // Times before the epoch count as the epoch.
        let secs = u64::try_from(st.st_mtime).unwrap_or(0);
        // The field's type differs between platforms.
        #[allow(clippy::useless_conversion)]
        let nanos = u64::try_from(st.st_mtime_nsec).unwrap_or(0);
        FileStamp::Present {
            len: st.st_size as u64,
            mtime_ns: secs.saturating_mul(1_000_000_000).saturating_add(nanos),
        }
    }
}

/// The stamps of a torrent's files under `save_dir`, in torrent order. Pad
/// files are never on disk and stamp as missing. Files are looked up beneath
/// the save folder without following links (see
/// [`crate::storage::beneath`]): a file reached only through a link stamps
/// as missing, so a record never vouches for data behind a link.
pub fn stamp_files(save_dir: &Path, files: &[FileEntry]) -> Vec<FileStamp> {
    let Ok(root) = Root::open(save_dir, false) else {
        return vec![FileStamp::Missing; files.len()];
    };
    files
        .iter()
        .map(|f| match root.stat(&f.path) {
            Ok(Some(st)) if !f.pad => FileStamp::of(&st),
            _ => FileStamp::Missing,
        })
        .collect()
}

/// A torrent as a session remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Its name, for messages about a torrent whose metadata is unknown.
    pub name: String,
    /// Its save folder.
    pub save_dir: PathBuf,
    /// Paused by the user.
    pub paused: bool,
    /// Fetching pieces in order.
    pub sequential: bool,
    /// File priorities in torrent order (empty: all normal).
    pub priorities: Vec<Priority>,
    /// The magnet link, while the metadata is not known yet.
    pub magnet: Option<String>,
    /// Verified pieces as bitfield bytes, with the stamps of the files when
    /// they were verified. `None`: check the data on start.
    pub verified: Option<Verified>,
    /// Payload bytes received, all time.
    pub downloaded: u64,
    /// Payload bytes sent, all time.
    pub uploaded: u64,
    /// When the torrent was added, seconds since the Unix epoch.
    pub added_at: u64,
    /// Download limit, bytes per second.
    pub download_limit: Option<u64>,
    /// Upload limit, bytes per second.
    pub upload_limit: Option<u64>,
}

/// Which pieces were verified, and the files as they were then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Verified pieces, bitfield bytes in wire order.
    pub pieces: Vec<u8>,
    /// The file stamps, in torrent order.
    pub files: Vec<FileStamp>,
}

impl Verified {
    /// Whether the files on disk still match the stamps, so the pieces can
    /// be trusted without hashing them again.
    pub fn still_valid(&self, save_dir: &Path, files: &[FileEntry]) -> bool {
        self.files.len() == files.len() && stamp_files(save_dir, files) == self.files
    }

    /// How many pieces are marked verified.
    pub fn count(&self) -> u32 {
        self.pieces.iter().map(|b| b.count_ones()).sum()
    }
}

impl Resume {
    /// A fresh record for a torrent added now.
    pub fn new(info_hash: InfoHash, name: String, save_dir: PathBuf) -> Resume {
        Resume {
            info_hash,
            name,
            save_dir,
            paused: false,
            sequential: false,
            priorities: Vec::new(),
            magnet: None,
            verified: None,
            downloaded: 0,
            uploaded: 0,
            added_at: now_secs(),
            download_limit: None,
            upload_limit: None,
        }
    }

    /// The record as bencode.
    pub fn to_bytes(&self) -> Vec<u8> {
        let raw = Raw {
            format: FORMAT.into(),
            version: VERSION,
            info_hash: self.info_hash.0.to_vec(),
            name: self.name.clone(),
            save_path: path_bytes(&self.save_dir),
            paused: self.paused as i64,
            sequential: self.sequential as i64,
            priorities: self.priorities.iter().map(|p| priority_code(*p)).collect(),
            magnet: self.magnet.clone(),
            pieces: self.verified.as_ref().map(|v| v.pieces.clone()),
            file_stamps: self.verified.as_ref().map(|v| {
                v.files
                    .iter()
                    .map(|s| match s {
                        FileStamp::Missing => Vec::new(),
                        FileStamp::Present { len, mtime_ns } => {
                            vec![*len as i64, *mtime_ns as i64]
                        }
                    })
                    .collect()
            }),
            downloaded: self.downloaded as i64,
            uploaded: self.uploaded as i64,
            added_at: self.added_at as i64,
            download_limit: self.download_limit.map(|l| l as i64),
            upload_limit: self.upload_limit.map(|l| l as i64),
        };
        // Serialising plain integers, strings and lists cannot fail.
        serde_bencode::to_bytes(&raw).unwrap_or_default()
    }

    /// Parses a record; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Resume, ResumeError> {
        let invalid = |why: String| ResumeError::Invalid {
            path: path.to_owned(),
            why,
        };
        bencode::validate_exact(bytes).map_err(|e| invalid(e.to_string()))?;
        let raw: Raw = serde_bencode::from_bytes(bytes).map_err(|e| invalid(e.to_string()))?;
        if raw.format != FORMAT || raw.version != VERSION {
            return Err(invalid(format!(
                "format {:?} version {}",
                raw.format, raw.version
            )));
        }
        let info_hash: [u8; 20] = raw
            .info_hash
            .as_slice()
            .try_into()
            .map_err(|_| invalid("the info hash is not 20 bytes".into()))?;
        let verified = match (raw.pieces, raw.file_stamps) {
            (Some(pieces), Some(stamps)) => Some(Verified {
                pieces,
                files: stamps
                    .iter()
                    .map(|s| match s.as_slice() {
                        [] => Ok(FileStamp::Missing),
                        [len, mtime] if *len >= 0 && *mtime >= 0 => Ok(FileStamp::Present {
                            len: *len as u64,
                            mtime_ns: *mtime as u64,
                        }),
                        _ => Err(invalid("a file stamp is malformed".into())),
                    })
                    .collect::<Result<_, _>>()?,
            }),
            _ => None,
        };
        let count = |v: i64| u64::try_from(v).map_err(|_| invalid("a negative count".into()));
        Ok(Resume {
            info_hash: InfoHash(info_hash),
            name: raw.name,
            save_dir: path_from_bytes(raw.save_path),
            paused: raw.paused != 0,
            sequential: raw.sequential != 0,
            priorities: raw.priorities.into_iter().map(priority_from).collect(),
            magnet: raw.magnet,
            verified,
            downloaded: count(raw.downloaded)?,
            uploaded: count(raw.uploaded)?,
            added_at: count(raw.added_at)?,
            download_limit: raw.download_limit.map(count).transpose()?,
            upload_limit: raw.upload_limit.map(count).transpose()?,
        })
    }
}

/// A session's state folder.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// The folder.
    root: PathBuf,
}

/// A torrent read back from a state folder.
#[derive(Debug)]
pub struct Stored {
    /// Its record.
    pub resume: Resume,
    /// Its metainfo, if it was known.
    pub metainfo: Option<Metainfo>,
}

impl StateDir {
    /// The state folder at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn torrents(&self) -> PathBuf {
        self.root.join("torrents")
    }

    /// Where a torrent's record lives.
    pub fn resume_path(&self, info_hash: &InfoHash) -> PathBuf {
        self.torrents()
            .join(format!("{}.resume", info_hash.to_hex()))
    }

    /// Where a torrent's metainfo lives.
    pub fn torrent_path(&self, info_hash: &InfoHash) -> PathBuf {
        self.torrents()
            .join(format!("{}.torrent", info_hash.to_hex()))
    }

    /// Writes a torrent's record.
    pub fn save_resume(&self, resume: &Resume) -> Result<(), ResumeError> {
        let path = self.resume_path(&resume.info_hash);
        write_atomic(&path, &resume.to_bytes()).map_err(|source| ResumeError::Io { path, source })
    }

    /// Writes a torrent's metainfo unless it is there already.
    pub fn save_metainfo(&self, meta: &Metainfo) -> Result<(), ResumeError> {
        let path = self.torrent_path(&meta.info_hash);
        if path.exists() {
            return Ok(());
        }
        write_atomic(&path, &meta.to_bytes()).map_err(|source| ResumeError::Io { path, source })
    }

    /// Forgets a torrent: deletes its record and metainfo.
    pub fn remove(&self, info_hash: &InfoHash) -> Result<(), ResumeError> {
        for path in [self.resume_path(info_hash), self.torrent_path(info_hash)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(ResumeError::Io { path, source }),
            }
        }
        Ok(())
    }

    /// Every torrent stored, oldest first, and an error for each record that
    /// could not be read (the files are left in place).
    pub fn load(&self) -> (Vec<Stored>, Vec<ResumeError>) {
        let dir = self.torrents();
        let mut stored = Vec::new();
        let mut errors = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (stored, errors),
            Err(source) => {
                errors.push(ResumeError::Io { path: dir, source });
                return (stored, errors);
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // Left by a crash between writing and renaming: the record
                // it was to replace is intact.
                let _ = fs::remove_file(&path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "resume") {
                continue;
            }
            match self.load_one(&path) {
                Ok(s) => stored.push(s),
                Err(e) => errors.push(e),
            }
        }
        stored.sort_by(|a, b| {
            (a.resume.added_at, a.resume.info_hash.0)
                .cmp(&(b.resume.added_at, b.resume.info_hash.0))
        });
        (stored, errors)
    }

    fn load_one(&self, path: &Path) -> Result<Stored, ResumeError> {
        let bytes = read_limited(path, MAX_RESUME_SIZE)?;
        let resume = Resume::from_bytes(&bytes, path)?;
        let torrent = self.torrent_path(&resume.info_hash);
        let metainfo = if torrent.exists() {
            let bytes = read_limited(&torrent, MAX_TORRENT_SIZE)?;
            let meta = Metainfo::from_bytes(&bytes).map_err(|e| ResumeError::Invalid {
                path: torrent.clone(),
                why: e.to_string(),
            })?;
            if meta.info_hash != resume.info_hash {
                return Err(ResumeError::Invalid {
                    path: torrent,
                    why: "its info hash is not the one its name says".into(),
                });
            }
            Some(meta)
        } else if resume.magnet.is_none() {
            return Err(ResumeError::Invalid {
                path: path.to_owned(),
                why: format!("neither a magnet link nor {}", torrent.display()),
            });
        } else {
            None
        };
        Ok(Stored { resume, metainfo })
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old content
/// or the new: a temp file beside it, fsync, rename over, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        crate::stall::stall("record");
        fs::rename(&tmp, path)?;
        // The rename itself is durable once the folder is synced.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, ResumeError> {
    let io = |source| ResumeError::Io {
        path: path.to_owned(),
        source,
    };
    let len = fs::metadata(path).map_err(io)?.len();
    if len > max {
        return Err(ResumeError::TooLarge(path.to_owned()));
    }
    fs::read(path).map_err(io)
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn priority_code(p: Priority) -> i64 {
    match p {
        Priority::Skip => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        // Negative so that an older build, which knows 0 to 2, reads it
        // as Normal rather than High.
        Priority::Low => -1,
    }
}

fn priority_from(code: i64) -> Priority {
    match code {
        0 => Priority::Skip,
        c if c < 0 => Priority::Low,
        c if c >= 2 => Priority::High,
        _ => Priority::Normal,
    }
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(unix)]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(b))
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&b).into_owned())
}

/// The record on disk. Keys are bencode dictionary keys.
#[derive(Serialize, Deserialize)]
struct Raw {
    #[serde(rename = "file-format")]
    format: String,
    #[serde(rename = "file-version")]
    version: i64,
    #[serde(rename = "info-hash", with = "serde_bytes")]
    info_hash: Vec<u8>,
    name: String,
    #[serde(rename = "save-path", with = "serde_bytes")]
    save_path: Vec<u8>,
    paused: i64,
    sequential: i64,
    #[serde(rename = "file-priority")]
    priorities: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    magnet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_bytes")]
    pieces: Option<Vec<u8>>,
    #[serde(
        rename = "file-stamps",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    file_stamps: Option<Vec<Vec<i64>>>,
    #[serde(rename = "total-downloaded")]
    downloaded: i64,
    #[serde(rename = "total-uploaded")]
    uploaded: i64,
    #[serde(rename = "added-time")]
    added_at: i64,
    #[serde(
        rename = "download-limit",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    download_limit: Option<i64>,
    #[serde(
        rename = "upload-limit",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    upload_limit: Option<i64>,
}

/// `Option<Vec<u8>>` as a bencode byte string.
mod opt_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_bytes(b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Some(serde_bytes::ByteBuf::deserialize(d)?.into_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_codes_keep_old_records_readable() {
        // 0 to 2 are what records held before Low existed.
        assert_eq!(priority_from(0), Priority::Skip);
        assert_eq!(priority_from(1), Priority::Normal);
        assert_eq!(priority_from(2), Priority::High);
        for p in [
            Priority::Skip,
            Priority::Low,
            Priority::Normal,
            Priority::High,
        ] {
            assert_eq!(priority_from(priority_code(p)), p);
        }
        assert!(priority_code(Priority::Low) < 0);
    }

    fn sample() -> Resume {
        let mut r = Resume::new(
            InfoHash([7; 20]),
            "data".into(),
            PathBuf::from("/tmp/dl/\u{e9}t\u{e9}"),
        );
        r.paused = true;
        r.sequential = true;
        r.priorities = vec![
            Priority::Skip,
            Priority::Normal,
            Priority::High,
            Priority::Low,
        ];
        r.verified = Some(Verified {
            pieces: vec![0b1010_0000],
            files: vec![
                FileStamp::Missing,
                FileStamp::Present {
                    len: 10,
                    mtime_ns: 1_700_000_000_123_456_789,
                },
            ],
        });
        r.downloaded = 5;
        r.uploaded = 6;
        r.download_limit = Some(1000);
        r
    }

    #[test]
    fn round_trips() {
        let r = sample();
        let back = Resume::from_bytes(&r.to_bytes(), Path::new("x")).unwrap();
        assert_eq!(back, r);
        let mut m = Resume::new(InfoHash([1; 20]), "m".into(), PathBuf::from("d"));
        m.magnet = Some("magnet:?xt=urn:btih:0101010101010101010101010101010101010101".into());
        let back = Resume::from_bytes(&m.to_bytes(), Path::new("x")).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.verified, None);
    }

    #[test]
    fn refuses_what_is_not_a_record() {
        for bad in [
            &b""[..],
            b"de",
            b"d4:name1:xe",
            b"i3e",
            b"d11:file-format3:abce",
            &b"d1:a"[..],
        ] {
            assert!(
                matches!(
                    Resume::from_bytes(bad, Path::new("x")),
                    Err(ResumeError::Invalid { .. })
                ),
                "{bad:?}"
            );
        }
        // A short info hash.
        let mut bytes = sample().to_bytes();
        let at = bytes
            .windows(13)
            .position(|w| w == b"9:info-hash20")
            .unwrap();
        bytes.splice(at..at + 13, b"9:info-hash19".iter().copied());
        bytes.remove(at + 14);
        assert!(Resume::from_bytes(&bytes, Path::new("x")).is_err());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.resume");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("b.resume")]);
    }

    #[test]
    fn stamps_see_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![FileEntry {
            path: PathBuf::from("t/f"),
            length: 3,
            offset: 0,
            pad: false,
            attr: String::new(),
        }];
        let missing = stamp_files(dir.path(), &files);
        assert_eq!(missing, vec![FileStamp::Missing]);
        fs::create_dir_all(dir.path().join("t")).unwrap();
        fs::write(dir.path().join("t/f"), b"abc").unwrap();
        let v = Verified {
            pieces: vec![0x80],
            files: stamp_files(dir.path(), &files),
        };
        assert!(v.still_valid(dir.path(), &files));
        fs::write(dir.path().join("t/f"), b"abcd").unwrap();
        assert!(!v.still_valid(dir.path(), &files));
    }

    #[test]
    fn stamps_do_not_vouch_for_files_behind_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let files = vec![FileEntry {
            path: PathBuf::from("t/f"),
            length: 3,
            offset: 0,
            pad: false,
            attr: String::new(),
        }];
        fs::create_dir_all(dir.path().join("t")).unwrap();
        fs::write(dir.path().join("t/f"), b"abc").unwrap();
        let v = Verified {
            pieces: vec![0x80],
            files: stamp_files(dir.path(), &files),
        };
        // The folder moved out and a link put in its place: same file, same
        // stamp through the link, but the record must not trust it.
        fs::rename(dir.path().join("t"), outside.path().join("t")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("t"), dir.path().join("t")).unwrap();
        assert!(!v.still_valid(dir.path(), &files));
        fs::remove_file(dir.path().join("t")).unwrap();
        fs::create_dir(dir.path().join("t")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("t/f"), dir.path().join("t/f")).unwrap();
        assert!(!v.still_valid(dir.path(), &files));
    }

    #[test]
    fn a_state_folder_keeps_records_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        let mut r = sample();
        r.magnet = Some(format!("magnet:?xt=urn:btih:{}", r.info_hash.to_hex()));
        state.save_resume(&r).unwrap();
        fs::write(dir.path().join("torrents/bad.resume"), b"junk").unwrap();
        let stale = dir.path().join("torrents/.x.resume.1.tmp");
        fs::write(&stale, b"half a record").unwrap();
        let (stored, errors) = state.load();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].resume, r);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("bad.resume"),
            "{}",
            errors[0]
        );
        // The bad file is left for the user; a crash's temp file is gone.
        assert!(dir.path().join("torrents/bad.resume").exists());
        assert!(!stale.exists());
        state.remove(&r.info_hash).unwrap();
        assert_eq!(state.load().0.len(), 0);
    }

    #[test]
    fn an_oversized_record_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        let mut r = sample();
        r.magnet = Some(format!("magnet:?xt=urn:btih:{}", r.info_hash.to_hex()));
        state.save_resume(&r).unwrap();
        // Sparse: the size is seen, no byte of it is read.
        let big = dir.path().join("torrents/big.resume");
        fs::File::create(&big)
            .unwrap()
            .set_len(MAX_RESUME_SIZE + 1)
            .unwrap();
        let (stored, errors) = state.load();
        assert_eq!(stored.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(
            matches!(&errors[0], ResumeError::TooLarge(p) if p == &big),
            "{}",
            errors[0]
        );
    }
}
