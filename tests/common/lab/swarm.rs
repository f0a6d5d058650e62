//! Swarms in the lab: the payload every seeder shares, completion of each
//! download checked against it byte for byte, a bounded run loop, packet
//! counters, and the per-host report (completion time, bytes up and down
//! from the interface counters, CPU seconds, peak memory).

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use shoal::Metainfo;

use super::{Host, Lab};

/// How often the run loop samples processes and checks downloads.
const TICK: Duration = Duration::from_millis(100);
/// The unit of the byte-for-byte completion check.
const CHUNK: u64 = 1 << 20;

/// One file and its torrent, made in the lab's folder; every seeder reads
/// it from there (none writes to it).
pub struct Payload {
    /// The torrent's name: the file's name inside a save folder.
    pub name: String,
    /// The save folder holding the file (what seeders are given).
    pub dir: PathBuf,
    /// Its length in bytes.
    pub size: u64,
    /// The .torrent file.
    pub torrent: PathBuf,
    /// The torrent itself.
    pub meta: Metainfo,
}

impl Payload {
    /// A file `name` of `size` pseudo-random bytes (from `seed`) and its
    /// torrent with `piece_length` pieces announcing to `trackers`.
    pub fn new(
        lab: &Lab,
        name: &str,
        size: u64,
        piece_length: u64,
        trackers: &[String],
        seed: u64,
    ) -> Payload {
        let dir = lab.dir.join("payloads").join(name);
        std::fs::create_dir_all(&dir).expect("payload folder");
        super::chmod(&lab.dir.join("payloads"), 0o755);
        super::chmod(&dir, 0o755);
        let file = dir.join(name);
        write_pseudo_random(&file, size, seed);
        let opts = shoal::create::CreateOptions {
            piece_length: Some(piece_length),
            trackers: trackers.iter().map(|t| vec![t.clone()]).collect(),
            ..Default::default()
        };
        let meta = shoal::create::create_torrent(&file, &opts, |_, _| {}).expect("create torrent");
        let torrent = lab.dir.join("payloads").join(format!("{name}.torrent"));
        std::fs::write(&torrent, meta.to_bytes()).expect("write torrent");
        Payload {
            name: name.to_string(),
            dir,
            size,
            torrent,
            meta,
        }
    }

    /// The source file.
    pub fn file(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// Drops the file's pages from the page cache, so the next reader
    /// (a seeder checking its data) reads it from the disk.
    pub fn drop_cache(&self) {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(self.file()).expect("open payload");
        f.sync_all().expect("sync payload");
        // SAFETY: an advisory call on a valid descriptor.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }

    /// The torrent's path as a string, for command lines.
    pub fn torrent_arg(&self) -> String {
        self.torrent.to_string_lossy().into_owned()
    }

    /// A magnet link naming `peers` in `x.pe`.
    pub fn magnet(&self, peers: &[std::net::SocketAddr]) -> String {
        let mut m = shoal::magnet::Magnet::from_metainfo(&self.meta);
        m.trackers.clear();
        m.peers = peers.iter().map(|p| p.to_string()).collect();
        m.to_uri()
    }
}

/// Writes `size` bytes of xorshift output from `seed`, a MiB at a time.
fn write_pseudo_random(path: &Path, size: u64, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("payload file"));
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = size;
    let mut buf = Vec::with_capacity(CHUNK as usize);
    while left > 0 {
        buf.clear();
        let n = left.min(CHUNK);
        while (buf.len() as u64) < n {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        buf.truncate(n as usize);
        f.write_all(&buf).expect("write payload");
        left -= n;
    }
    f.flush().expect("flush payload");
}

/// A download whose completion is watched: the copy on a host, compared
/// with the source a chunk at a time (a chunk once equal stays equal).
pub struct Watch {
    /// The downloading host.
    pub host: Host,
    /// Where its copy is.
    copy: PathBuf,
    /// The source file.
    source: PathBuf,
    /// The file's length.
    size: u64,
    /// Which chunks already match.
    matched: Vec<bool>,
    /// When the copy first matched, from the lab's clock.
    pub done_at: Option<Duration>,
}

impl Watch {
    /// Compares the chunks not yet matched, once the copy holds nearly as
    /// many bytes on disk as the source (a cheap gate: most clients write
    /// sparse files, and those that allocate ahead only cost a few more
    /// comparisons).
    fn check(&mut self, now: Duration) {
        if self.done_at.is_some() {
            return;
        }
        let Ok(meta) = std::fs::metadata(&self.copy) else {
            return;
        };
        if meta.len() != self.size || meta.blocks() * 512 < self.size / 10 * 9 {
            return;
        }
        let (Ok(copy), Ok(source)) = (
            std::fs::File::open(&self.copy),
            std::fs::File::open(&self.source),
        ) else {
            return;
        };
        let mut a = vec![0u8; CHUNK as usize];
        let mut b = vec![0u8; CHUNK as usize];
        for (i, m) in self.matched.iter_mut().enumerate() {
            if *m {
                continue;
            }
            let off = i as u64 * CHUNK;
            let n = (self.size - off).min(CHUNK) as usize;
            if copy.read_exact_at(&mut a[..n], off).is_ok()
                && source.read_exact_at(&mut b[..n], off).is_ok()
                && a[..n] == b[..n]
            {
                *m = true;
            }
        }
        if self.matched.iter().all(|m| *m) {
            self.done_at = Some(now);
        }
    }
}

/// What a host did in a run.
#[derive(Clone, Debug)]
pub struct HostReport {
    /// The host's name.
    pub host: String,
    /// When its download was complete and correct, if it downloaded.
    pub done_at: Option<Duration>,
    /// Bytes it sent on its link (headers included).
    pub tx: u64,
    /// Bytes it received on its link.
    pub rx: u64,
    /// CPU seconds of its processes.
    pub cpu_secs: f64,
    /// The largest peak resident memory (VmHWM) among its processes, KiB.
    pub peak_rss_kib: u64,
    /// The largest peak of anonymous memory (RssAnon) among its processes,
    /// KiB: VmHWM also counts mapped file pages, which a client that maps
    /// its files (libtorrent 2) holds in bulk.
    pub peak_anon_kib: u64,
}

impl Lab {
    /// Watches `host`'s download of `payload` (into the host's folder).
    pub fn watch(&mut self, host: &Host, payload: &Payload) -> usize {
        self.watch_at(host, &host.dir.join(&payload.name), payload)
    }

    /// Watches a copy of `payload` at `copy` on `host`.
    pub fn watch_at(&mut self, host: &Host, copy: &Path, payload: &Payload) -> usize {
        self.watches.push(Watch {
            host: host.clone(),
            copy: copy.to_path_buf(),
            source: payload.file(),
            size: payload.size,
            matched: vec![false; payload.size.div_ceil(CHUNK) as usize],
            done_at: None,
        });
        self.watches.len() - 1
    }

    /// Samples processes and checks downloads once.
    pub fn tick(&mut self) {
        self.sample();
        let now = self.elapsed();
        for w in &mut self.watches {
            w.check(now);
        }
    }

    /// Whether every watched download is complete.
    pub fn all_done(&self) -> bool {
        self.watches.iter().all(|w| w.done_at.is_some())
    }

    /// Whether watch `i` is complete.
    pub fn done(&self, i: usize) -> bool {
        self.watches[i].done_at.is_some()
    }

    /// Ticks until `cond` holds; panics (and so fails the test, the guard
    /// then removing everything) after `limit`, with the report so far and
    /// the logs of the processes that exited.
    pub fn run_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut cond: impl FnMut(&mut Lab) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            self.tick();
            if cond(self) {
                return;
            }
            if Instant::now() > deadline {
                let table = format_table(&self.report(), 1);
                let mut exited = String::new();
                for p in &self.procs {
                    if let Some(st) = p.status {
                        exited += &format!("{} on {} exited: {st}\n", p.label, p.host);
                    }
                }
                panic!("timed out after {limit:?} waiting for {what}\n{table}{exited}");
            }
            std::thread::sleep(TICK);
        }
    }

    /// Runs until every watched download is complete, or panics after
    /// `limit`.
    pub fn run_until_done(&mut self, limit: Duration) {
        self.run_until("every download to complete", limit, |lab| lab.all_done());
    }

    /// The report of every host (processes sampled now).
    pub fn report(&mut self) -> Vec<HostReport> {
        self.sample();
        let hosts = self.hosts.clone();
        hosts
            .iter()
            .map(|h| {
                let (tx, rx) = self.counters(h);
                let mine = self.procs.iter().filter(|p| p.host == h.name);
                let (cpu, rss, anon) = mine.fold((0.0, 0, 0), |(c, r, a), p| {
                    (
                        c + p.cpu_secs(),
                        r.max(p.peak_rss_kib),
                        a.max(p.peak_anon_kib),
                    )
                });
                HostReport {
                    host: h.name.clone(),
                    done_at: self
                        .watches
                        .iter()
                        .filter(|w| w.host.name == h.name)
                        .filter_map(|w| w.done_at)
                        .max(),
                    tx,
                    rx,
                    cpu_secs: cpu,
                    peak_rss_kib: rss,
                    peak_anon_kib: anon,
                }
            })
            .collect()
    }

    /// Adds a packet counter `name` to `host`'s own firewall (a table of
    /// the lab's, counting only): `rule` is an nftables match, such as
    /// `ip saddr 10.77.0.3 tcp flags & (syn|ack) == syn`, checked on every
    /// packet the host receives (`input`) or sends (`output`).
    pub fn count_packets(&self, host: &Host, name: &str, hook: &str, rule: &str) {
        let rules = format!(
            "table inet shl {{\n\
             \tchain input {{ type filter hook input priority 0; policy accept; }}\n\
             \tchain output {{ type filter hook output priority 0; policy accept; }}\n\
             }}\n\
             add counter inet shl {name}\n\
             add rule inet shl {hook} {rule} counter name {name}\n"
        );
        super::nft(&host.ns, &rules);
    }

    /// The packets counter `name` on `host` has counted.
    pub fn packets(&self, host: &Host, name: &str) -> u64 {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &host.ns, "nft", "list", "counter", "inet", "shl", name,
            ])
            .output()
            .expect("nft");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counter {name} on {}: {text}", host.name))
    }
}

/// The report as a table; `size` (the payload's length) scales the
/// upload column ("up/size": how many copies a host sent).
pub fn format_table(rows: &[HostReport], size: u64) -> String {
    let mut s = format!(
        "{:<10} {:>9} {:>10} {:>10} {:>8} {:>8} {:>10} {:>10}\n",
        "host", "done s", "up MiB", "down MiB", "up/size", "cpu s", "peak MiB", "anon MiB"
    );
    for r in rows {
        let done = r
            .done_at
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .unwrap_or_else(|| "-".into());
        s += &format!(
            "{:<10} {:>9} {:>10.1} {:>10.1} {:>8.2} {:>8.2} {:>10.1} {:>10.1}\n",
            r.host,
            done,
            r.tx as f64 / super::MIB as f64,
            r.rx as f64 / super::MIB as f64,
            r.tx as f64 / size.max(1) as f64,
            r.cpu_secs,
            r.peak_rss_kib as f64 / 1024.0,
            r.peak_anon_kib as f64 / 1024.0
        );
    }
    s
}
