//! The leecher process of the connection step: one `Session` that downloads
//! the first torrents of the bench's folder from the seeder under test.
//!
//! The bench starts its own executable with `SHOAL_SCALE_LEECHER` set. The
//! leecher adds its torrents with a tiny session-wide download limit, so
//! its connections open and stay open while barely moving data (`hold`),
//! prints `added`, lifts the limit when it reads `go` on its standard
//! input, prints `complete MS` when every torrent is complete, and shuts
//! down when its standard input closes. Every wait is bounded.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shoal::session::{Session, SessionConfig};
use shoal::torrent::AddTorrent;
use shoal::Metainfo;

/// Longest any step of the leecher may take.
const STEP_LIMIT: Duration = Duration::from_secs(600);

/// What the leecher is told by the bench, through its environment.
pub struct LeecherArgs {
    /// The seeder under test.
    pub seeder: SocketAddr,
    /// The bench's .torrent files.
    pub torrents: PathBuf,
    /// How many of them (the first, by name) to download.
    pub count: usize,
    /// Where the downloads go.
    pub save: PathBuf,
    /// Session download limit while holding, bytes per second.
    pub hold_limit: u64,
}

impl LeecherArgs {
    /// Reads them from `SCALE_*` variables.
    pub fn from_env() -> LeecherArgs {
        let var = |n: &str| std::env::var(n).unwrap_or_else(|_| panic!("{n} not set"));
        LeecherArgs {
            seeder: var("SCALE_SEEDER").parse().expect("SCALE_SEEDER"),
            torrents: var("SCALE_TORRENTS").into(),
            count: var("SCALE_COUNT").parse().expect("SCALE_COUNT"),
            save: var("SCALE_SAVE").into(),
            hold_limit: var("SCALE_HOLD_LIMIT").parse().expect("SCALE_HOLD_LIMIT"),
        }
    }

    /// Sets them on a command that starts a leecher.
    pub fn to_command(&self, cmd: &mut std::process::Command) {
        cmd.env("SHOAL_SCALE_LEECHER", "1")
            .env("SCALE_SEEDER", self.seeder.to_string())
            .env("SCALE_TORRENTS", &self.torrents)
            .env("SCALE_COUNT", self.count.to_string())
            .env("SCALE_SAVE", &self.save)
            .env("SCALE_HOLD_LIMIT", self.hold_limit.to_string());
    }
}

/// The leecher's `main`.
pub fn run() {
    let args = LeecherArgs::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // Lines of our standard input, read on a thread of their own.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rt.block_on(async move {
        let session = Session::new(SessionConfig {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            download_limit: Some(args.hold_limit),
            // Every torrent's seeder is the one at 127.0.0.1.
            max_session_connections: 100_000,
            max_connections_per_ip: 100_000,
            ..Default::default()
        })
        .await
        .expect("leecher session");
        let mut handles = Vec::new();
        for path in super::torrent_files(&args.torrents)
            .into_iter()
            .take(args.count)
        {
            let meta = Metainfo::from_bytes(&std::fs::read(&path).expect("read .torrent"))
                .expect("parse .torrent");
            let mut add = AddTorrent::new(meta, &args.save);
            add.peers = vec![args.seeder];
            handles.push(session.add_torrent(add).expect("add"));
        }
        println!("added");
        let line = tokio::task::block_in_place(|| rx.recv_timeout(STEP_LIMIT));
        if line.as_deref() != Ok("go") {
            session.shutdown().await;
            return;
        }
        session.set_rate_limits(None, None);
        let t0 = Instant::now();
        let all = futures::future::join_all(handles.iter().map(|h| h.wait_complete()));
        match tokio::time::timeout(STEP_LIMIT, all).await {
            Ok(r) if r.iter().all(|x| x.is_ok()) => {
                println!("complete {:.0}", t0.elapsed().as_secs_f64() * 1000.0)
            }
            Ok(_) => println!("failed"),
            Err(_) => println!("timeout"),
        }
        // Until the bench closes our input (EOF or any line).
        let _ = tokio::task::block_in_place(|| rx.recv_timeout(STEP_LIMIT));
        session.shutdown().await;
    });
}
