//! What the kernel says about a process: CPU time, resident memory,
//! threads and how often its threads were woken (context switches), read
//! from /proc, so our session (this process) and libtorrent (a child) are
//! measured the same way.

use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// One reading of a process.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// User plus system CPU time of every thread so far.
    pub cpu: Duration,
    /// CPU time this thread spent reading the threads' counts, before
    /// `cpu` was read: counted in `cpu` when we sample ourselves.
    pub scan_cpu: Duration,
    /// Resident set size in KiB.
    pub rss_kib: u64,
    /// Threads.
    pub threads: u64,
    /// Voluntary and involuntary context switches of each live thread, by
    /// thread id: how often it was put to sleep and woken again. Kept per
    /// thread because a thread that ends takes its count with it.
    pub switches: HashMap<u32, u64>,
}

/// Reads `/proc/<pid>`. The threads are read first: with thousands of
/// them that takes tens of milliseconds of CPU, which for our own process
/// is measured (`scan_cpu`) and left out of the window that ends here.
pub fn sample(pid: u32) -> Sample {
    let scan_start = thread_cpu();
    let mut switches = HashMap::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let s = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            let n: &mut u64 = switches.entry(tid).or_default();
            for l in s.lines() {
                if let Some(v) = l
                    .strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                {
                    *n += v.trim().parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
    let scan_cpu = if pid == std::process::id() {
        thread_cpu().saturating_sub(scan_start)
    } else {
        Duration::ZERO
    };
    let at = Instant::now();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = Duration::from_secs_f64((ticks(14) + ticks(15)) as f64 / hz);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Sample {
        at,
        cpu,
        scan_cpu,
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
        switches,
    }
}

/// Our own process.
pub fn me() -> Sample {
    sample(std::process::id())
}

/// CPU use between two samples, in percent of one core, less the cost of
/// taking the second.
pub fn cpu_percent(a: &Sample, b: &Sample) -> f64 {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    let used = b.cpu.saturating_sub(a.cpu).saturating_sub(b.scan_cpu);
    used.as_secs_f64() / wall * 100.0
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Context switches per second between two samples, of the threads alive
/// at the second (a thread that ended in between is not counted).
pub fn switches_per_sec(a: &Sample, b: &Sample) -> f64 {
    let wall = b.at.duration_since(a.at).as_secs_f64();
    let n: u64 = b
        .switches
        .iter()
        .map(|(tid, n)| n.saturating_sub(a.switches.get(tid).copied().unwrap_or(0)))
        .sum();
    n as f64 / wall
}

/// A child process ended by PID when dropped: SIGTERM, then SIGKILL after
/// five seconds.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.0.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !matches!(self.0.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
