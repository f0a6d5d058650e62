//! `shoal download` and `shoal seed`: one torrent in a session, with a live
//! line of progress, rates, peers and ETA.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use shoal::dht::DhtConfig;
use shoal::limit::from_kib;
use shoal::portmap::PortMapStatus;
use shoal::session::{Session, SessionConfig};
use shoal::torrent::{AddTorrent, TorrentHandle, TorrentSource, TorrentState};
use shoal::Magnet;

use crate::util::load_torrent;

/// Options shared by `download` and `seed`.
#[derive(clap::Args, Debug)]
pub struct NetArgs {
    /// Port to listen on for peers (0: any free port).
    #[arg(long, default_value_t = 6881)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// A peer to dial as well as the trackers' (HOST:PORT; repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,
    /// A DHT node to join through instead of the public routers
    /// (HOST:PORT; repeatable).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// Do not use the DHT.
    #[arg(long)]
    pub no_dht: bool,
    /// Listen on IPv4 only: without this, the IPv6 counterpart of --bind
    /// (`[::]` for 0.0.0.0, `[::1]` for 127.0.0.1) is listened on too, on
    /// the same port.
    #[arg(long)]
    pub no_ipv6: bool,
    /// Do not look for peers on the local network (BEP 14 multicast).
    #[arg(long)]
    pub no_lsd: bool,
    /// Protocol encryption (MSE/PE): off, prefer (dial encrypted and fall
    /// back to plain; answer both) or require (encrypted peers only).
    #[arg(long, value_name = "MODE", default_value = "prefer")]
    pub encryption: shoal::peer::Encryption,
    /// Do not ask the router to forward our port (UPnP IGD, PCP, NAT-PMP).
    #[arg(long)]
    pub no_port_mapping: bool,
    /// Seconds of lease a port mapping asks for; renewed at half of it.
    #[arg(long, value_name = "SECS", default_value_t = 3600, hide = true)]
    pub port_mapping_lease: u64,
    /// Keep the torrent's progress in DIR, so that an interrupted download
    /// (even a killed one) resumes where it was.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Seconds between progress records written to --state-dir while
    /// pieces arrive.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub resume_interval: f64,
    /// Most KiB per second to download, all peers together (0: no limit).
    #[arg(long, value_name = "KIB/S")]
    pub download_limit: Option<u64>,
    /// Most KiB per second to upload, all peers together (0: no limit).
    #[arg(long, value_name = "KIB/S")]
    pub upload_limit: Option<u64>,
    /// When the torrent stops on an error (a full disk, a folder that
    /// cannot be written, a file gone), try again after SECS seconds,
    /// keeping every verified piece, instead of exiting.
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<f64>,
    /// Most connections of the session, every torrent together.
    #[arg(long, value_name = "N", default_value_t = shoal::session::DEFAULT_MAX_SESSION_CONNECTIONS)]
    pub max_connections: usize,
    /// Most connections of one torrent.
    #[arg(long, value_name = "N", default_value_t = shoal::session::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections_per_torrent: usize,
    /// Print why the download is slow (the cause, the evidence, the fix)
    /// after SECS seconds without progress; type `w` and Enter to print it
    /// at any time.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub why_after: f64,
    /// Most connections with one IP address.
    #[arg(long, value_name = "N", default_value_t = shoal::session::DEFAULT_MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,
}

/// `shoal download`.
#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// The .torrent file or a magnet link.
    pub torrent: String,
    /// Save the .torrent to FILE once the metadata is known (for a magnet).
    #[arg(long, value_name = "FILE")]
    pub save_torrent: Option<PathBuf>,
    /// Save folder (the content goes to DIR/<name>).
    #[arg(short = 'o', long = "output", default_value = ".")]
    pub output: PathBuf,
    /// Keep seeding after the download completes (until Ctrl-C).
    #[arg(long)]
    pub seed: bool,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `shoal seed`.
#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// Save folder holding the content (at DIR/<name>).
    pub dir: PathBuf,
    #[command(flatten)]
    pub net: NetArgs,
}

/// Runs `shoal download`.
pub fn download(args: DownloadArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(download_async(args))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `shoal seed`.
pub fn seed(args: SeedArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(seed_async(args))?;
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn download_async(args: DownloadArgs) -> anyhow::Result<()> {
    let source = if args.torrent.starts_with("magnet:") {
        TorrentSource::Magnet(Magnet::parse(&args.torrent).context("bad magnet link")?)
    } else {
        TorrentSource::Metainfo(Box::new(load_torrent(Path::new(&args.torrent))?))
    };
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    run(source, args.output, &args.net, args.seed, args.save_torrent).await
}

async fn seed_async(args: SeedArgs) -> anyhow::Result<()> {
    let meta = load_torrent(&args.torrent)?;
    if !args.dir.join(&meta.info.name).exists() {
        bail!(
            "{} does not hold {} (the content must be at DIR/{})",
            args.dir.display(),
            meta.info.name,
            meta.info.name
        );
    }
    let source = TorrentSource::Metainfo(Box::new(meta));
    run(source, args.dir, &args.net, true, None).await
}

fn resolve_peers(peers: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    for p in peers {
        let addrs = p
            .to_socket_addrs()
            .with_context(|| format!("bad peer address {p:?} (want HOST:PORT)"))?;
        out.extend(addrs);
    }
    Ok(out)
}

async fn start_session(net: &NetArgs) -> anyhow::Result<Session> {
    let dht = (!net.no_dht).then(|| {
        let mut c = DhtConfig::default();
        if !net.dht_bootstrap.is_empty() {
            c.bootstrap = net.dht_bootstrap.clone();
        }
        if let IpAddr::V4(ip) = net.bind {
            c.bind = ip;
        }
        c
    });
    if !(net.resume_interval.is_finite() && net.resume_interval >= 0.0) {
        bail!("--resume-interval wants a number of seconds");
    }
    if !(net.why_after.is_finite() && net.why_after >= 0.0) {
        bail!("--why-after wants a number of seconds");
    }
    if net
        .retry_after
        .is_some_and(|r| !(r.is_finite() && r >= 0.0))
    {
        bail!("--retry-after wants a number of seconds");
    }
    let config = SessionConfig {
        listen_addr: SocketAddr::new(net.bind, net.port),
        ipv6: !net.no_ipv6,
        dht,
        state_dir: net.state_dir.clone(),
        resume_interval: Duration::from_secs_f64(net.resume_interval),
        download_limit: net.download_limit.and_then(from_kib),
        upload_limit: net.upload_limit.and_then(from_kib),
        lsd: !net.no_lsd,
        port_mapping: !net.no_port_mapping,
        port_mapping_lease: Duration::from_secs(net.port_mapping_lease.max(1)),
        encryption: net.encryption,
        max_session_connections: net.max_connections,
        max_connections: net.max_connections_per_torrent,
        max_connections_per_ip: net.max_connections_per_ip,
        ..Default::default()
    };
    match Session::new(config.clone()).await {
        Ok(s) => Ok(s),
        Err(e) if net.port != 0 => {
            // The default port may be taken by another client: any port will do.
            let s = Session::new(SessionConfig {
                listen_addr: SocketAddr::new(net.bind, 0),
                ..config
            })
            .await
            .context("cannot open a listening port")?;
            eprintln!("{e}; listening on port {} instead", s.listen_port());
            Ok(s)
        }
        Err(e) => Err(e.into()),
    }
}

async fn run(
    source: TorrentSource,
    dir: PathBuf,
    net: &NetArgs,
    keep_seeding: bool,
    save_torrent: Option<PathBuf>,
) -> anyhow::Result<()> {
    let peers = resolve_peers(&net.peers)?;
    let session = start_session(net).await?;
    for e in session.restore_errors() {
        eprintln!("not resumed: {e}");
    }
    let info_hash = source.info_hash();
    let handle = match session.torrent(&info_hash) {
        // Resumed from --state-dir.
        Some(h) => {
            h.add_peers(peers).await;
            h
        }
        None => {
            let mut add = AddTorrent::from_source(source, dir);
            add.peers = peers;
            session.add_torrent(add)?
        }
    };
    let work = async {
        if let Some(path) = save_torrent {
            // Resolves once the metadata is known.
            let meta = loop {
                if let Some(m) = handle.metainfo().await {
                    break m;
                }
                if let TorrentState::Error(e) = handle.stats().state {
                    bail!("{e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            std::fs::write(&path, meta.to_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let retry = net.retry_after.map(Duration::from_secs_f64);
        let why_after = Duration::from_secs_f64(net.why_after);
        follow(&session, &handle, keep_seeding, retry, why_after).await
    };
    let outcome = tokio::select! {
        r = work => r,
        _ = stop_signal() => {
            eprintln!("stopping");
            Ok(())
        }
    };
    session.shutdown().await;
    outcome
}

/// Shows a live line until the download completes (or forever while
/// seeding); fails if the torrent stops on an error, unless `retry` says
/// to resume it after a while. When stderr is not a terminal (the bar is
/// hidden), each change of state is a plain line instead, with the
/// verified pieces: `downloading: 12 of 40 pieces verified`.
async fn follow(
    session: &Session,
    handle: &TorrentHandle,
    keep_seeding: bool,
    retry: Option<Duration>,
    why_after: Duration,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let plain = !std::io::stderr().is_terminal();
    let mut last_label = "";
    let bar = ProgressBar::new(handle.stats().total_bytes);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:12} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} {prefix}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let mut rx = handle.subscribe();
    let mut announced_done = false;
    let mut bans_shown = 0;
    let mut web_failures_shown = 0;
    let mut web_failed: std::collections::HashSet<String> = Default::default();
    let mut port_map = PortMapStatus::Off;
    let mut keys = crate::why::keys();
    let mut keys_open = true;
    let mut stall = crate::why::StallWatch::new(why_after);
    let mut dht_said: Option<(bool, Option<String>)> = None;
    loop {
        let dht = session.dht().map(|d| d.join_status());
        if let Some(join) = &dht {
            // One line when the DHT joins, and when it fails to for a new
            // reason, also when the output is not a terminal.
            let now = (join.joined, join.problem.clone());
            if dht_said.as_ref() != Some(&now) && (join.joined || join.problem.is_some()) {
                bar.suspend(|| eprintln!("{}", dht_line(join)));
            }
            dht_said = Some(now);
        }
        let pm = session.port_mapping();
        if pm != port_map {
            // One line per change (mapped, renewed, failed), also when the
            // output is not a terminal.
            if let Some(line) = port_map_line(&port_map, &pm) {
                bar.suspend(|| eprintln!("{line}"));
            }
            port_map = pm;
        }
        let st = rx.borrow_and_update().clone();
        if st.banned as usize > bans_shown {
            // One line per ban, also when the output is not a terminal
            // (the bar is hidden then, and `println` with it).
            let banned = handle.banned().await;
            for (ip, reason) in banned.iter().skip(bans_shown) {
                bar.suspend(|| println!("banned {ip}: {}", reason.describe()));
            }
            bans_shown = banned.len().max(bans_shown);
        }
        if st.web_seeds_failed > web_failures_shown {
            // One line per web seed dropped, with the reason.
            for w in handle.web_seeds().await {
                if let shoal::webseed::WebSeedState::Failed(why) = &w.state {
                    if web_failed.insert(w.url.clone()) {
                        bar.suspend(|| println!("web seed {} failed: {why}", w.url));
                    }
                }
            }
            web_failures_shown = st.web_seeds_failed;
        }
        bar.set_length(st.wanted_bytes.max(1));
        bar.set_position(st.have_bytes.min(st.wanted_bytes));
        bar.set_message(st.state.label().to_string());
        let eta = if st.download_rate > 0 && !st.complete {
            let secs = st.wanted_bytes.saturating_sub(st.have_bytes) / st.download_rate;
            format!(
                "ETA {}",
                indicatif::HumanDuration(Duration::from_secs(secs))
            )
        } else {
            String::new()
        };
        let web = if st.web_seeds + st.web_seeds_failed > 0 {
            format!(
                " web seeds {} ({} failed)",
                st.web_seeds, st.web_seeds_failed
            )
        } else {
            String::new()
        };
        bar.set_prefix(format!(
            "down {}/s up {}/s peers {} ({} seeds, {} encrypted){web} {}{}{}",
            indicatif::HumanBytes(st.download_rate),
            indicatif::HumanBytes(st.upload_rate),
            st.peers,
            st.seeds,
            st.encrypted_peers,
            dht.as_ref().map(dht_word).unwrap_or_default(),
            connectable(&port_map),
            eta
        ));
        let downloading = matches!(
            st.state,
            TorrentState::Downloading | TorrentState::FetchingMetadata
        );
        if stall.stalled(st.have_bytes, downloading, std::time::Instant::now()) {
            bar.suspend(|| println!("{}", crate::why::format(&st.diagnosis)));
        }
        let label = st.state.label();
        if plain && label != last_label {
            eprintln!(
                "{label}: {} of {} pieces verified",
                st.pieces_have, st.num_pieces
            );
        }
        last_label = label;
        if let TorrentState::Error(e) = &st.state {
            let Some(wait) = retry else {
                bar.abandon();
                bail!("{e}");
            };
            bar.suspend(|| eprintln!("error: {e}; trying again in {:.0} s", wait.as_secs_f64()));
            tokio::time::sleep(wait).await;
            handle.resume().await;
            // The torrent publishes its new state once it has the command.
            if rx.changed().await.is_err() {
                bail!("the torrent stopped");
            }
            continue;
        }
        if st.complete && !announced_done {
            announced_done = true;
            if !keep_seeding {
                bar.finish_with_message("complete");
                return Ok(());
            }
            bar.println(format!(
                "complete: {} verified, seeding",
                indicatif::HumanBytes(st.have_bytes)
            ));
        }
        // Woken by the torrent's stats, a typed line, or after a second
        // for the port mapping's status.
        tokio::select! {
            r = rx.changed() => if r.is_err() {
                bail!("the torrent stopped");
            },
            line = keys.recv(), if keys_open => match line {
                Some(l) if crate::why::asks_why(&l) => {
                    let d = handle.stats().diagnosis;
                    bar.suspend(|| println!("{}", crate::why::format(&d)));
                }
                Some(_) => {}
                None => keys_open = false,
            },
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM: either stops the session cleanly
/// (trackers told, port mappings removed, files flushed).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The status line's word on the DHT: joined, or when it tries again.
fn dht_word(join: &shoal::dht::DhtJoin) -> String {
    match join.retry_in() {
        Some(wait) if !join.joined => format!("DHT connecting (retry in {} s) ", wait.as_secs()),
        _ if join.joined => "DHT on ".into(),
        _ => "DHT joining… ".into(),
    }
}

/// The line printed when the DHT joins or fails to join.
fn dht_line(join: &shoal::dht::DhtJoin) -> String {
    if join.joined {
        return "DHT: joined".into();
    }
    let problem = join.problem.as_deref().unwrap_or("not joined yet");
    match join.retry_in() {
        Some(wait) => format!(
            "DHT: connecting: {problem}; retrying in {} s",
            wait.as_secs().max(1)
        ),
        None => format!("DHT: connecting: {problem}"),
    }
}

/// The status line's word on whether peers outside can dial us.
fn connectable(pm: &PortMapStatus) -> String {
    match pm {
        PortMapStatus::Off => String::new(),
        PortMapStatus::Searching => "port mapping… ".into(),
        PortMapStatus::Mapped { external, .. } => format!("connectable at {external} "),
        PortMapStatus::Failed(_) => "not mapped ".into(),
    }
}

/// The line printed when the port mapping's status goes from `old` to `new`.
fn port_map_line(old: &PortMapStatus, new: &PortMapStatus) -> Option<String> {
    match (old, new) {
        (
            PortMapStatus::Mapped { external: a, .. },
            PortMapStatus::Mapped {
                protocol,
                external,
                renewals,
                ..
            },
        ) if a == external => Some(format!(
            "port mapping renewed ({protocol}, {renewals} so far): {external}"
        )),
        (
            _,
            PortMapStatus::Mapped {
                protocol,
                external,
                udp,
                ..
            },
        ) => Some(format!(
            "connectable: port mapped with {protocol} at {external}{}",
            if *udp { " (TCP and UDP)" } else { " (TCP)" }
        )),
        (_, PortMapStatus::Failed(why)) => Some(format!("port mapping failed: {why}")),
        _ => None,
    }
}
