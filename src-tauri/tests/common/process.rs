//! Processes a test starts, stopped by the test by PID: a guard sends SIGTERM
//! on drop, waits a bounded time, and only then SIGKILLs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a process gets to exit after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(10);

/// A child process that is terminated (SIGTERM, then SIGKILL after
/// [`TERM_GRACE`]) and reaped when the guard drops.
pub struct ChildGuard {
    /// What the process is, for messages.
    name: String,
    /// The process; `None` once it has been stopped.
    child: Option<Child>,
}

impl ChildGuard {
    /// Spawns `cmd`, failing loudly with the program's name if it cannot start.
    pub fn spawn(name: &str, cmd: &mut Command) -> ChildGuard {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        ChildGuard {
            name: name.to_string(),
            child: Some(child),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// `Some(status)` if the process has exited already.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops the process: SIGTERM, a bounded wait, then SIGKILL. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + TERM_GRACE;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "{} (pid {}) ignored SIGTERM; killing it",
            self.name,
            child.id()
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; a stale pid only
    // makes it fail with ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself
        // contain spaces or parentheses.
        Ok(stat) => match stat.rfind(')') {
            Some(i) => !matches!(
                stat[i + 1..].trim_start().chars().next(),
                Some('Z') | Some('X')
            ),
            None => false,
        },
        Err(_) => false,
    }
}

/// Reaps `pid` if it is a zombie child of ours (orphans are, once we are a
/// subreaper) and says whether it is gone from the process table.
pub fn reap(pid: u32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`, a valid local; for a pid that
    // is not our child it fails with ECHILD and changes nothing.
    unsafe {
        libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG);
    }
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Every live descendant of `root` (children, grandchildren, ...).
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(i) = stat.rfind(')') else { continue };
            let ppid = stat[i + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        for &(pid, ppid) in &parent_of {
            if ppid == p && !found.contains(&pid) {
                found.push(pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

/// Stops processes that are not (yet) our children: SIGTERM each, wait a
/// bounded time for them to exit and, as orphans reparented to us, be reaped;
/// SIGKILL whatever is still running, and reap that too.
pub fn stop_pids(pids: &[u32]) {
    for &p in pids {
        if alive(p) {
            signal(p, libc::SIGTERM);
        }
    }
    if !wait_gone(pids, TERM_GRACE) {
        for &p in pids {
            if alive(p) {
                eprintln!("pid {p} ignored SIGTERM; killing it");
                signal(p, libc::SIGKILL);
            }
        }
        if !wait_gone(pids, TERM_GRACE) {
            eprintln!("some of {pids:?} could not be reaped");
        }
    }
}

/// Reaps `pids` until all are gone or `limit` has passed; true if all are gone.
fn wait_gone(pids: &[u32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let mut all_gone = true;
        for &p in pids {
            all_gone &= reap(p);
        }
        if all_gone {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Finds `program` on PATH, then in the extra folders given; panics with a
/// message saying how to install it if it is nowhere.
pub fn find_program(program: &str, extra: &[PathBuf], how_to_install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
        .unwrap_or_else(|| panic!("{program} is not installed: {how_to_install}"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
