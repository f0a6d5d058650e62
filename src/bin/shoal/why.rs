//! "Why is it slow?" on the command line: the engine's diagnosis printed
//! when the user asks (a line `w`, then Enter, on standard input; a
//! terminal in its usual line mode sends it on Enter) and once whenever the
//! download has made no progress for a while, so that a script reading
//! the output sees it too.

use std::time::{Duration, Instant};

use shoal::torrent::diagnosis::Diagnosis;
use tokio::sync::mpsc;

/// Lines typed on standard input, read on a thread of its own (a blocking
/// read must not hold a runtime thread, and the runtime does not wait for
/// this one at exit). Ends when standard input does.
pub fn keys() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("shoal-keys".into())
        .spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                match std::io::stdin().read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line.trim().to_string()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    if spawned.is_err() {
        // Without the thread, `w` does nothing; the stall report remains.
        eprintln!("cannot read keys from standard input");
    }
    rx
}

/// Whether a typed line asks for the diagnosis.
pub fn asks_why(line: &str) -> bool {
    matches!(line, "w" | "why" | "?")
}

/// The diagnosis as printed: a title with the cause's label, the evidence
/// and the fix, each on a line of its own.
pub fn format(d: &Diagnosis) -> String {
    let mut s = format!(
        "why: {} [{}]\n  {}",
        d.cause.title(),
        d.cause.label(),
        d.evidence
    );
    if !d.fix.is_empty() {
        s.push_str(&format!("\n  fix: {}", d.fix));
    }
    s
}

/// Watches progress and says when the download has stood still for
/// `after`: once per stall, again only after progress resumed.
pub struct StallWatch {
    /// How long without a new verified byte counts as a stall.
    after: Duration,
    /// The verified bytes last seen, and since when (`None` before the
    /// first look).
    last: Option<(u64, Instant)>,
    /// Whether this stall was reported already.
    reported: bool,
}

impl StallWatch {
    pub fn new(after: Duration) -> Self {
        StallWatch {
            after,
            last: None,
            reported: false,
        }
    }

    /// Feeds the verified bytes now; returns true when the stall is to be
    /// reported.
    pub fn stalled(&mut self, have: u64, downloading: bool, now: Instant) -> bool {
        let since = match self.last {
            Some((bytes, since)) if bytes == have && downloading => since,
            _ => {
                self.last = Some((have, now));
                self.reported = false;
                return false;
            }
        };
        if !self.reported && now.duration_since(since) >= self.after {
            self.reported = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_reported_once_until_progress() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut w = StallWatch::new(Duration::from_secs(10));
        assert!(!w.stalled(0, true, t0));
        assert!(!w.stalled(0, true, t0 + 9 * s));
        assert!(w.stalled(0, true, t0 + 10 * s));
        assert!(!w.stalled(0, true, t0 + 30 * s));
        // Progress re-arms it.
        assert!(!w.stalled(5, true, t0 + 31 * s));
        assert!(w.stalled(5, true, t0 + 41 * s));
        // Not downloading (seeding, paused): never a stall.
        assert!(!w.stalled(5, false, t0 + 100 * s));
        assert!(!w.stalled(5, false, t0 + 200 * s));
    }
}
