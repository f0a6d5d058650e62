//! Small tmpfs mounts for disk-fault tests (a disk that fills up, a folder
//! that is read-only), each owned by a guard that unmounts it when dropped,
//! also while a failed test unwinds. Mounts are named
//! `shoaltest-tmpfs-<pid>`; `Tmpfs::mount` first unmounts those left by test
//! processes that died without unwinding (SIGKILL, abort). Needs root.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The name every mount of these tests carries, before the owner's PID.
const PREFIX: &str = "shoaltest-tmpfs-";

/// A mounted tmpfs, unmounted on drop.
pub struct Tmpfs {
    /// Where it is mounted.
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` bytes at `path` (created if missing),
    /// read-only if `read_only`.
    pub fn mount(path: &Path, size: u64, read_only: bool) -> Tmpfs {
        sweep();
        std::fs::create_dir_all(path).expect("mount point");
        let opts = format!(
            "size={size},mode=0755{}",
            if read_only { ",ro" } else { "" }
        );
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts])
            .arg(format!("{PREFIX}{}", std::process::id()))
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount -t tmpfs on {} failed (root?)",
            path.display()
        );
        Tmpfs {
            path: path.to_owned(),
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes it read-only or writable again (`mount -o remount`).
    pub fn remount(&self, read_only: bool) {
        let opt = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let status = Command::new("mount")
            .args(["-o", opt])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -o {opt} {}", self.path.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still holds a file there does not keep the
        // mount alive in the tree.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Unmounts the tmpfs mounts of test processes that are gone.
fn sweep() {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    for line in info.lines() {
        // "... mount-point options - fstype source super-options"
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some("tmpfs"), Some(source)) = (r.next(), r.next()) else {
            continue;
        };
        let Some(pid) = source.strip_prefix(PREFIX) else {
            continue;
        };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        if let Some(point) = left.split(' ').nth(4) {
            // mountinfo escapes spaces and the like as octal.
            let point = point.replace("\\040", " ");
            let _ = Command::new("umount").arg("-l").arg(&point).status();
        }
    }
}
