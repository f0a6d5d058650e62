//! Swarm benchmark in the network lab (`make bench`, or `cargo bench
//! --bench swarm`): the full-size scenarios of tests/lab.rs, each run with
//! a Shoal downloader and again with libtorrent in the same kind of swarm,
//! printed as one table. The lab code is the tests' (tests/common/lab).
//!
//! - many seeders: one downloader, 24 seeders of mixed clients (Shoal,
//!   libtorrent, aria2, Transmission, rtorrent) capped at 1-8 MiB/s up, summing to
//!   S; the ideal time is size / S. The seeders are started once and both
//!   downloaders fetch from the same swarm, one after the other.
//! - flash crowd: one seeder at 4 MiB/s up, 16 downloaders at 4 MiB/s up,
//!   all Shoal, all libtorrent, and half and half; the time until the last
//!   completes, against max(size / 4 MiB/s, 16 * size / (4 + 16 * 4) MiB/s).
//! - churn: three seeders at 4 MiB/s; at 30 % one leaves and two arrive
//!   through the tracker; the time to completion against 30 % over three
//!   seeders' caps and the rest over four.
//! - stall: two seeders at 4 MiB/s and a third that stops sending without
//!   closing its connections (SIGSTOP) at 90 %, when it holds blocks the
//!   downloader asked for; the time from the stall to completion against
//!   what is left over the two others' caps.
//!
//! Columns: time, time / ideal, time / libtorrent's in the same row group,
//! the seeders' upload / size, the downloaders' CPU seconds (summed) and
//! their largest peak RSS (VmHWM, which counts mapped file pages: high for
//! libtorrent 2, which maps its files) and peak anonymous memory. Not a test: it asserts nothing about times. Under
//! `cargo test` it does nothing (cargo passes `--bench` only when
//! benchmarking). Needs root (network namespaces).

#[path = "../tests/common/lab/mod.rs"]
mod lab;

use std::time::Duration;

use lab::clients::{self, PORT};
use lab::proc::ProcId;
use lab::{Caps, Host, Lab, Payload, MIB};

/// Piece length of the payloads.
const PIECE: u64 = 512 * 1024;
/// The most one run may take.
const LIMIT: Duration = Duration::from_secs(240);

/// One row of the table.
struct Row {
    scenario: &'static str,
    client: String,
    secs: f64,
    ideal: f64,
    /// libtorrent's time in the same scenario (filled in at the end).
    lt_secs: f64,
    seeders_up: f64,
    cpu: f64,
    rss_mib: f64,
    anon_mib: f64,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let mut rows = Vec::new();
    if want("many-seeders") {
        many_seeders(&mut rows);
    }
    if want("flash-crowd") {
        for mix in [Mix::Shoal, Mix::Libtorrent, Mix::Half] {
            rows.push(flash_crowd(mix));
        }
    }
    if want("churn") {
        for lt in [false, true] {
            rows.push(churn(lt));
        }
    }
    if want("stall") {
        for lt in [false, true] {
            rows.push(stall(lt));
        }
    }
    for i in 0..rows.len() {
        let lt = rows
            .iter()
            .find(|r| r.scenario == rows[i].scenario && r.client == "libtorrent")
            .map_or(f64::NAN, |r| r.secs);
        rows[i].lt_secs = lt;
    }
    println!(
        "\n{:<13} {:<11} {:>8} {:>8} {:>8} {:>10} {:>8} {:>9} {:>9}",
        "scenario",
        "client",
        "time s",
        "x ideal",
        "x lt",
        "seed up/sz",
        "cpu s",
        "peak MiB",
        "anon MiB"
    );
    for r in &rows {
        println!(
            "{:<13} {:<11} {:>8.2} {:>8.2} {:>8.2} {:>10.2} {:>8.2} {:>9.1} {:>9.1}",
            r.scenario,
            r.client,
            r.secs,
            r.secs / r.ideal,
            r.secs / r.lt_secs,
            r.seeders_up,
            r.cpu,
            r.rss_mib,
            r.anon_mib
        );
    }
}

/// The downloaders' CPU seconds and largest peak RSS, and the seeders'
/// upload since `before` (per host, in `seeders` order) over `size`.
fn tally(
    lab: &mut Lab,
    downloaders: &[&str],
    seeders: &[(String, u64)],
    size: u64,
) -> (f64, f64, f64, f64) {
    let report = lab.report();
    let mine = report
        .iter()
        .filter(|r| downloaders.contains(&r.host.as_str()));
    let (cpu, rss, anon) = mine.fold((0.0, 0, 0), |(c, m, a), r| {
        (
            c + r.cpu_secs,
            m.max(r.peak_rss_kib),
            a.max(r.peak_anon_kib),
        )
    });
    let up: u64 = seeders
        .iter()
        .map(|(name, before)| {
            report
                .iter()
                .find(|r| &r.host == name)
                .map_or(0, |r| r.tx.saturating_sub(*before))
        })
        .sum();
    (
        cpu,
        rss as f64 / 1024.0,
        anon as f64 / 1024.0,
        up as f64 / size as f64,
    )
}

/// The 24-seeder swarm, downloaded by Shoal, then by libtorrent.
fn many_seeders(rows: &mut Vec<Row>) {
    const SIZE: u64 = 512 * MIB;
    // 1-8 MiB/s, three times: S = 66 MiB/s.
    const CAPS: [u64; 8] = [1, 1, 1, 2, 2, 3, 4, 8];
    let mut lab = Lab::new();
    let (t, payload) = clients::tracked(&mut lab, |lab, url| {
        Payload::new(lab, "many.bin", SIZE, PIECE, &[url], 3)
    });
    let mut seeders = Vec::new();
    let mut caps = Vec::new();
    let mut sum = 0;
    for i in 0..24 {
        let cap = CAPS[i % CAPS.len()] * MIB;
        sum += cap;
        caps.push(cap);
        let kind = ["shoal", "lt", "aria2", "trans", "rtorr"][i % 5];
        let h = lab.host(&format!("s{i}-{kind}"), Caps::up(cap));
        let cmd = match kind {
            "shoal" => clients::shoal_seed(&h, &payload, &[]),
            "lt" => clients::libtorrent_seed(&h, &payload),
            "aria2" => clients::aria2(&h, &payload.torrent, &payload.dir, true),
            "trans" => clients::transmission(&h, &payload.torrent, &payload.dir),
            _ => clients::rtorrent(&h, &payload.torrent, &payload.dir),
        };
        lab.spawn(&h, "seed", cmd);
        seeders.push(h);
    }
    // Every seeder listens, has announced itself, and has finished
    // checking its data: their processes' CPU time stops growing (aria2
    // and Transmission hash the whole payload first).
    for h in &seeders {
        lab.wait_listening(h, PORT, LIMIT);
    }
    lab.run_until("24 seeders at the tracker", LIMIT, |lab| {
        clients::scrape_peers(lab, &t, &payload) >= 24
    });
    let mut last = (std::time::Instant::now(), u64::MAX);
    lab.run_until("the seeders to settle", LIMIT, |lab| {
        let now = std::time::Instant::now();
        if now - last.0 < Duration::from_secs(1) {
            return false;
        }
        let ticks: u64 = lab.procs.iter().map(|p| p.cpu_ticks).sum();
        // Under a tenth of a core over the last second (100 ticks/s).
        let idle = ticks.saturating_sub(last.1) < 10;
        last = (now, ticks);
        idle
    });
    let ideal = SIZE as f64 / sum as f64;
    for (name, lt) in [("d-shoal", false), ("d-lt", true)] {
        let before: Vec<(String, u64)> = seeders
            .iter()
            .map(|h| (h.name.clone(), lab.counters(h).0))
            .collect();
        let d = lab.host(name, Caps::none());
        let cmd = if lt {
            clients::libtorrent(&d, &payload.torrent_arg(), &d.dir, false, false)
        } else {
            clients::shoal_download(&d, &payload.torrent_arg(), &[], false)
        };
        lab.start_clock();
        lab.spawn(&d, "download", cmd);
        let w = lab.watch(&d, &payload);
        lab.run_until("the download", LIMIT, |lab| lab.done(w));
        let secs = lab.watches[w].done_at.map_or(f64::NAN, |d| d.as_secs_f64());
        let (cpu, rss, anon, up) = tally(&mut lab, &[name], &before, SIZE);
        print_progress("many-seeders", name, secs, ideal);
        // How much of its cap each seeder delivered while it lasted.
        let mut line = String::from("  seeders' use of their caps:");
        for ((h, cap), (_, b)) in seeders.iter().zip(&caps).zip(&before) {
            let sent = lab.counters(h).0.saturating_sub(*b) as f64;
            line += &format!(" {}={:.0}%", h.name, 100.0 * sent / (*cap as f64 * secs));
        }
        println!("{line}");
        rows.push(Row {
            scenario: "many-seeders",
            client: if lt { "libtorrent" } else { "shoal" }.into(),
            secs,
            ideal,
            lt_secs: f64::NAN,
            seeders_up: up,
            cpu,
            rss_mib: rss,
            anon_mib: anon,
        });
        // The finished downloader leaves the swarm before the next one.
        let _ = std::fs::remove_file(d.dir.join(&payload.name));
    }
}

/// Who the flash crowd's downloaders are.
#[derive(Clone, Copy)]
enum Mix {
    Shoal,
    Libtorrent,
    Half,
}

fn flash_crowd(mix: Mix) -> Row {
    const SIZE: u64 = 64 * MIB;
    const N: usize = 16;
    const CAP: u64 = 4 * MIB;
    let mut lab = Lab::new();
    let (_t, payload) = clients::tracked(&mut lab, |lab, url| {
        Payload::new(lab, "crowd.bin", SIZE, PIECE, &[url], 4)
    });
    let seeder = lab.host("seeder", Caps::up(CAP));
    lab.spawn(&seeder, "seed", clients::shoal_seed(&seeder, &payload, &[]));
    lab.wait_listening(&seeder, PORT, Duration::from_secs(30));
    lab.start_clock();
    let mut names = Vec::new();
    for i in 0..N {
        let lt = match mix {
            Mix::Shoal => false,
            Mix::Libtorrent => true,
            Mix::Half => i % 2 == 1,
        };
        let h = lab.host(&format!("d{i}"), Caps::up(CAP));
        let cmd = if lt {
            clients::libtorrent(&h, &payload.torrent_arg(), &h.dir, false, true)
        } else {
            clients::shoal_download(&h, &payload.torrent_arg(), &[], true)
        };
        lab.spawn(&h, "download", cmd);
        lab.watch(&h, &payload);
        names.push(h.name.clone());
    }
    lab.run_until_done(LIMIT);
    let secs = lab
        .watches
        .iter()
        .filter_map(|w| w.done_at)
        .max()
        .map_or(f64::NAN, |d| d.as_secs_f64());
    let ideal =
        (SIZE as f64 / CAP as f64).max(N as f64 * SIZE as f64 / (CAP * (N as u64 + 1)) as f64);
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let (cpu, rss, anon, up) = tally(&mut lab, &refs, &[("seeder".into(), 0)], SIZE);
    let client = match mix {
        Mix::Shoal => "shoal",
        Mix::Libtorrent => "libtorrent",
        Mix::Half => "half-half",
    };
    row("flash-crowd", client, secs, ideal, (cpu, rss, anon, up))
}

/// Two seeders at 4 MiB/s and a third that stalls at 90 %.
fn stall(lt: bool) -> Row {
    const SIZE: u64 = 128 * MIB;
    const CAP: u64 = 4 * MIB;
    let mut lab = Lab::new();
    let (_t, payload) = clients::tracked(&mut lab, |lab, url| {
        Payload::new(lab, "stall.bin", SIZE, PIECE, &[url], 5)
    });
    let (seeders, stalling, d, w) =
        three_seeders_and_a_downloader(&mut lab, &payload, CAP, "s-stall", lt);
    let at = SIZE / 10 * 9;
    lab.run_until("90 %", LIMIT, |lab| lab.counters(&d).1 >= at);
    let stalled_at = lab.elapsed();
    lab.proc(stalling).pause();
    lab.run_until("the download", LIMIT, |lab| lab.done(w));
    let secs = lab.watches[w]
        .done_at
        .map_or(f64::NAN, |t| (t - stalled_at).as_secs_f64());
    // What was left (at most a tenth, headers counted) over the two others.
    let ideal = (SIZE - at) as f64 / (2 * CAP) as f64;
    let (cpu, rss, anon, up) = tally(&mut lab, &["d"], &seeders, SIZE);
    let client = if lt { "libtorrent" } else { "shoal" };
    row("stall", client, secs, ideal, (cpu, rss, anon, up))
}

/// Three seeders at 4 MiB/s; at 30 % one leaves and two arrive (a Shoal
/// and a libtorrent seeder, found through the tracker: they announce and
/// dial the downloader).
fn churn(lt: bool) -> Row {
    const SIZE: u64 = 128 * MIB;
    const CAP: u64 = 4 * MIB;
    let mut lab = Lab::new();
    let (_t, payload) = clients::tracked(&mut lab, |lab, url| {
        Payload::new(lab, "churn.bin", SIZE, PIECE, &[url], 6)
    });
    let (mut seeders, leaving, d, w) =
        three_seeders_and_a_downloader(&mut lab, &payload, CAP, "s-leave", lt);
    let at = SIZE / 10 * 3;
    lab.run_until("30 %", LIMIT, |lab| lab.counters(&d).1 >= at);
    lab.proc(leaving).terminate();
    let n1 = lab.host("n-shoal", Caps::up(CAP));
    lab.spawn(&n1, "seed", clients::shoal_seed(&n1, &payload, &[]));
    let n2 = lab.host("n-lt", Caps::up(CAP));
    lab.spawn(&n2, "seed", clients::libtorrent_seed(&n2, &payload));
    seeders.push((n1.name.clone(), 0));
    seeders.push((n2.name.clone(), 0));
    lab.run_until("the download", LIMIT, |lab| lab.done(w));
    let secs = lab.watches[w].done_at.map_or(f64::NAN, |t| t.as_secs_f64());
    // 30 % over three seeders, the rest over four.
    let ideal = at as f64 / (3 * CAP) as f64 + (SIZE - at) as f64 / (4 * CAP) as f64;
    let (cpu, rss, anon, up) = tally(&mut lab, &["d"], &seeders, SIZE);
    let client = if lt { "libtorrent" } else { "shoal" };
    row("churn", client, secs, ideal, (cpu, rss, anon, up))
}

/// Two Shoal seeders and a third (`third`, returned to leave or stall)
/// capped at `cap`, and a downloader (libtorrent with `lt`, else Shoal)
/// started on the clock and watched. Returns the seeders' names for the
/// tally, the third's process, the downloader and its watch.
fn three_seeders_and_a_downloader(
    lab: &mut Lab,
    payload: &Payload,
    cap: u64,
    third: &str,
    lt: bool,
) -> (Vec<(String, u64)>, ProcId, Host, usize) {
    let mut seeders = Vec::new();
    let mut last = None;
    for name in ["s-a", "s-b", third] {
        let h = lab.host(name, Caps::up(cap));
        last = Some(lab.spawn(&h, "seed", clients::shoal_seed(&h, payload, &[])));
        lab.wait_listening(&h, PORT, Duration::from_secs(30));
        seeders.push((h.name.clone(), 0));
    }
    let d = lab.host("d", Caps::none());
    let cmd = if lt {
        clients::libtorrent(&d, &payload.torrent_arg(), &d.dir, false, false)
    } else {
        clients::shoal_download(&d, &payload.torrent_arg(), &[], false)
    };
    lab.start_clock();
    lab.spawn(&d, "download", cmd);
    let w = lab.watch(&d, payload);
    // The loop ran three times.
    let last = last.expect("three seeders");
    (seeders, last, d, w)
}

/// A table row for `client` in `scenario`, printed as it is made.
fn row(
    scenario: &'static str,
    client: &str,
    secs: f64,
    ideal: f64,
    (cpu, rss_mib, anon_mib, seeders_up): (f64, f64, f64, f64),
) -> Row {
    print_progress(scenario, client, secs, ideal);
    Row {
        scenario,
        client: client.into(),
        secs,
        ideal,
        lt_secs: f64::NAN,
        seeders_up,
        cpu,
        rss_mib,
        anon_mib,
    }
}

fn print_progress(scenario: &str, client: &str, secs: f64, ideal: f64) {
    println!("{scenario} {client}: {secs:.2} s (ideal {ideal:.2} s)");
}
