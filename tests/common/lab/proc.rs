//! Processes run inside lab hosts: started with `ip netns exec NS CMD`
//! (which execs, so the PID is the command's own), tracked by PID, sampled
//! for CPU time and peak memory while they run, paused and resumed with
//! SIGSTOP/SIGCONT, and stopped with SIGTERM then SIGKILL.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Host, Lab};

/// How long a process has after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// The index of a process in its lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcId(pub usize);

/// A process started inside a host.
pub struct LabProc {
    /// What it is, for reports and messages.
    pub label: String,
    /// The host it runs in (its name).
    pub host: String,
    /// The process; its PID is the command's (`ip netns exec` execs).
    child: Child,
    /// Its exit status once reaped.
    pub status: Option<std::process::ExitStatus>,
    /// CPU time (user + system) in clock ticks at the last sample: the
    /// kernel forgets it once the process is reaped.
    pub cpu_ticks: u64,
    /// Peak resident memory (VmHWM) in KiB at the last sample.
    pub peak_rss_kib: u64,
    /// Peak anonymous resident memory (RssAnon) seen, in KiB: the
    /// process's own heap, without the file pages it maps.
    pub peak_anon_kib: u64,
    /// Whether it is stopped with SIGSTOP.
    pub paused: bool,
}

impl Lab {
    /// Starts `cmd` inside `host` with its output in `<host dir>/<label>.log`.
    /// A missing tool fails the test.
    pub fn spawn(&mut self, host: &Host, label: &str, cmd: Command) -> ProcId {
        let log_path = host.dir.join(format!("{label}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut wrapped = Command::new("ip");
        wrapped
            .args(["netns", "exec", &host.ns])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        if let Some(dir) = cmd.get_current_dir() {
            wrapped.current_dir(dir);
        }
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        let child = wrapped
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label} in {}: {e}", host.name));
        self.procs.push(LabProc {
            label: label.to_string(),
            host: host.name.clone(),
            child,
            status: None,
            cpu_ticks: 0,
            peak_rss_kib: 0,
            peak_anon_kib: 0,
            paused: false,
        });
        ProcId(self.procs.len() - 1)
    }

    /// The process `id`.
    pub fn proc(&mut self, id: ProcId) -> &mut LabProc {
        &mut self.procs[id.0]
    }

    /// Samples every running process's CPU time and memory, and reaps the
    /// ones that exited.
    pub fn sample(&mut self) {
        for p in &mut self.procs {
            p.sample();
        }
    }

    /// Its log so far (for a failure message).
    pub fn log(&self, host: &Host, label: &str) -> String {
        std::fs::read_to_string(host.dir.join(format!("{label}.log"))).unwrap_or_default()
    }
}

impl LabProc {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running (reaps it if it exited).
    pub fn running(&mut self) -> bool {
        self.sample();
        self.status.is_none()
    }

    /// Pauses it (SIGSTOP): its connections stay open, it sends nothing.
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        self.paused = true;
    }

    /// Resumes it after [`LabProc::pause`].
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.paused = false;
    }

    /// Sends SIGTERM (and SIGCONT, so a paused process can act on it).
    pub fn terminate(&mut self) {
        self.signal(libc::SIGTERM);
        self.signal(libc::SIGCONT);
    }

    /// Stops it: SIGTERM, then SIGKILL after a grace period; reaps it.
    pub fn stop(&mut self) {
        stop_all(std::slice::from_mut(self));
    }

    /// Reads its CPU time and memory while it runs; reaps it once it has
    /// exited.
    pub fn sample(&mut self) {
        if self.status.is_some() {
            return;
        }
        let pid = self.pid();
        // Whether it has exited, leaving it a zombie whose CPU times can
        // still be read (reaped below, after reading them).
        // SAFETY: waitid on our own child with WNOWAIT only peeks.
        let exited = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) == 0
                && info.si_pid() != 0
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // Fields after the command name, which is in parentheses and
            // may hold spaces: utime and stime are fields 14 and 15.
            if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
                let f: Vec<&str> = rest.split_whitespace().collect();
                let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
                let ticks = num(11) + num(12);
                // A reaped-and-reused PID could read lower: keep the most.
                self.cpu_ticks = self.cpu_ticks.max(ticks);
            }
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let kib = |key: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            self.peak_rss_kib = self.peak_rss_kib.max(kib("VmHWM:"));
            self.peak_anon_kib = self.peak_anon_kib.max(kib("RssAnon:"));
        }
        if exited {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.status = Some(st);
            }
        }
    }

    /// CPU seconds (user + system) at the last sample.
    pub fn cpu_secs(&self) -> f64 {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        self.cpu_ticks as f64 / hz
    }

    fn signal(&mut self, sig: i32) {
        if self.status.is_none() {
            // SAFETY: a plain kill(2) of our own, not yet reaped child.
            unsafe { libc::kill(self.pid() as i32, sig) };
        }
    }
}

/// Stops every process of `procs` at once: SIGTERM (with SIGCONT for
/// paused ones), a shared grace period, then SIGKILL; reaps them all.
pub fn stop_all(procs: &mut [LabProc]) {
    for p in procs.iter_mut() {
        p.sample();
        p.terminate();
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && procs.iter_mut().any(|p| p.running()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in procs.iter_mut() {
        if p.status.is_none() {
            let _ = p.child.kill();
            p.status = p.child.wait().ok();
        }
    }
}
