//! A hook for crash tests: with `SHOAL_TEST_STALL=POINT:MS` in the
//! environment, the process prints `stall: POINT` to stderr and sleeps MS
//! milliseconds each time it reaches POINT, so that a test can kill it
//! exactly there. Points: `check` (the start check of a torrent, before
//! its data is hashed), `flush` (a record of verified pieces taken, before
//! the files are synced for it) and `record` (a resume record written to
//! its temporary file, before the rename), and `write` (each run of blocks
//! a disk worker writes: a slow disk, for the diagnosis). Unset, a call
//! costs a look at a cached value.

use std::sync::OnceLock;
use std::time::Duration;

/// The point and the pause, read from the environment once.
fn config() -> Option<&'static (String, Duration)> {
    static CONFIG: OnceLock<Option<(String, Duration)>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let v = std::env::var("SHOAL_TEST_STALL").ok()?;
            let (point, ms) = v.split_once(':')?;
            Some((point.to_string(), Duration::from_millis(ms.parse().ok()?)))
        })
        .as_ref()
}

/// Pauses here if the environment names this point. Blocking: call it
/// off the async runtime.
pub(crate) fn stall(point: &str) {
    if let Some((p, pause)) = config() {
        if p == point {
            eprintln!("stall: {point}");
            std::thread::sleep(*pause);
        }
    }
}
