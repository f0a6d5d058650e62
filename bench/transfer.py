#!/usr/bin/python3
"""Transfer benchmark (`make bench`): Shoal against libtorrent, aria2 and
Transmission over loopback, side by side in one run, page cache warm.

Pairs (seeder -> leecher), each run in a fresh leecher folder that is deleted
afterwards:

  1. shoal -> shoal        vs  libtorrent / aria2 / Transmission -> libtorrent
  2. libtorrent -> shoal   vs  libtorrent -> libtorrent / aria2 / Transmission
  3. shoal -> libtorrent   vs  libtorrent / aria2 / Transmission -> libtorrent

For each leecher: wall time from its process start to its exit (or, for
Transmission, which does not exit, to its torrent-done script), MB/s
(1 MB = 10^6 bytes), peak RssAnon (polled every 20 ms from /proc/PID/status)
and CPU seconds (rusage of the reaped process; for Transmission,
/proc/PID/stat at the done signal). The seeder's CPU seconds during the
transfer are shown too. Every seeder is started fresh for its pair and the
leecher is started only once the seeder announces a complete bitfield (so
aria2's and Transmission's initial data check is not timed).

How peers meet (no tracker): Shoal and libtorrent leechers dial the seeder
(--peer); aria2 and Transmission cannot be given a peer on the command line,
so the libtorrent seeder dials them (bench/lt_ctl.py reads `connect
HOST:PORT` on stdin) as soon as their port is listening.

Environment:
  SHOAL_BENCH_DIR     data folder (default /tmp/shoal-bench); the payloads and
                      torrents are made once and kept there
  SHOAL_BENCH_ROUNDS  rounds of every pair (default 3); the best round counts
  SHOAL_BENCH_BIG=1   also Shoal -> Shoal on 4 GiB (leecher memory vs size)
  SHOAL_BENCH_ONLY    comma-separated pairs to run, e.g. shoal-shoal,lt-shoal
  SHOAL_BIN           the shoal binary (default target/release/shoal)
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btprobe import info_hash, seeder_complete  # noqa: E402
from procs import Proc, cpu_seconds, free_port, listening, stop_all, wait_until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"  # Debian's python3, where python3-libtorrent lives
LT_CTL = os.path.join(ROOT, "bench", "lt_ctl.py")
SHOAL = os.environ.get("SHOAL_BIN", os.path.join(ROOT, "target", "release", "shoal"))
BENCH_DIR = os.environ.get("SHOAL_BENCH_DIR", "/tmp/shoal-bench")
ROUNDS = int(os.environ.get("SHOAL_BENCH_ROUNDS", "3"))
BIG = os.environ.get("SHOAL_BENCH_BIG", "") not in ("", "0")
ONLY = [s for s in os.environ.get("SHOAL_BENCH_ONLY", "").split(",") if s]

MiB = 1 << 20
GiB = 1 << 30
PIECE_LOG2 = 20  # 1 MiB pieces for every payload, so only the size differs

SHORT = {"shoal": "shoal", "libtorrent": "lt", "aria2": "aria2", "transmission": "tr"}
NAMES = {"shoal": "Shoal", "libtorrent": "libtorrent", "aria2": "aria2", "transmission": "Transmission"}


class Payload:
    """One file and its v1 .torrent (mktorrent), kept in BENCH_DIR."""

    def __init__(self, key, size, seed):
        self.key = key
        self.size = size
        self.name = "payload-%s.bin" % key
        self.data_dir = os.path.join(BENCH_DIR, "data")
        self.path = os.path.join(self.data_dir, self.name)
        self.torrent = os.path.join(BENCH_DIR, "%s.torrent" % self.name)
        self.seed = seed
        self.pieces = (size + (1 << PIECE_LOG2) - 1) >> PIECE_LOG2
        self.hash = None

    def label(self):
        return "%d MiB" % (self.size // MiB) if self.size < GiB else "%d GiB" % (self.size // GiB)

    def make(self):
        os.makedirs(self.data_dir, exist_ok=True)
        if not (os.path.exists(self.path) and os.path.getsize(self.path) == self.size):
            print("making %s (%s of random bytes)..." % (self.path, self.label()), flush=True)
            tmp = self.path + ".part"
            with open(tmp, "wb") as out:
                if shutil.which("openssl"):
                    # AES-CTR keystream: seeded, and much faster than /dev/urandom.
                    key = "%032x" % self.seed
                    gen = subprocess.Popen(
                        ["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", key, "-iv", "0" * 32],
                        stdin=open("/dev/zero", "rb"), stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL)
                else:
                    gen = subprocess.Popen(["cat", "/dev/urandom"], stdout=subprocess.PIPE)
                left = self.size
                while left:
                    chunk = gen.stdout.read(min(left, 16 * MiB))
                    if not chunk:
                        raise RuntimeError("random generator ended early")
                    out.write(chunk)
                    left -= len(chunk)
                gen.stdout.close()
                gen.kill()
                gen.wait()
            os.replace(tmp, self.path)
            if os.path.exists(self.torrent):
                os.remove(self.torrent)
        if not os.path.exists(self.torrent):
            subprocess.run(
                ["mktorrent", "-l", str(PIECE_LOG2), "-t", "2", "-o", self.torrent, self.path],
                check=True, stdout=subprocess.DEVNULL, timeout=600)
        self.hash = info_hash(self.torrent)

    def warm(self):
        """Reads the file so it sits in the page cache."""
        with open(self.path, "rb", buffering=0) as f:
            while f.read(16 * MiB):
                pass


def aria2_argv(port, folder):
    return [
        "aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
        "--enable-peer-exchange=false", "--bt-require-crypto=false",
        "--listen-port=%d" % port, "--file-allocation=none", "--summary-interval=0",
        "--console-log-level=warn", "--bt-stop-timeout=0", "--dir=%s" % folder,
        "--interface=127.0.0.1", "--disable-ipv6=true",
    ]


def transmission_config(cfg, port):
    os.makedirs(cfg, exist_ok=True)
    settings = {
        "dht-enabled": "false", "lpd-enabled": "false", "pex-enabled": "false",
        "utp-enabled": "false", "port-forwarding-enabled": "false", "encryption": "0",
        "ratio-limit-enabled": "false", "idle-seeding-limit-enabled": "false",
        "speed-limit-up-enabled": "false", "speed-limit-down-enabled": "false",
        "peer-port": str(port), "bind-address-ipv4": '"127.0.0.1"',
        "message-level": "1",
    }
    with open(os.path.join(cfg, "settings.json"), "w") as f:
        f.write("{\n" + ",\n".join('  "%s": %s' % kv for kv in settings.items()) + "\n}\n")


def transmission_argv(cfg, folder, port, torrent, finish=None):
    argv = ["transmission-cli", "-g", cfg, "-w", folder, "-p", str(port), "-M", "-et"]
    if finish:
        argv += ["-f", finish]
    return argv + [torrent]


class Seeder:
    def __init__(self, kind, payload, work, logs):
        self.kind = kind
        self.port = free_port()
        log = os.path.join(logs, "seed-%s.log" % kind)
        p = payload
        if kind == "shoal":
            argv = [SHOAL, "seed", p.torrent, p.data_dir, "--bind", "127.0.0.1", "--no-port-mapping",
                    "--port", str(self.port)]
        elif kind == "libtorrent":
            argv = [PY, LT_CTL, p.torrent, "--save", p.data_dir, "--port", str(self.port),
                    "--seed", "--stay", "--timeout", "3600"]
        elif kind == "aria2":
            argv = aria2_argv(self.port, p.data_dir) + [
                "--check-integrity=true", "--bt-seed-unverified=false", "--seed-ratio=0.0",
                p.torrent]
        elif kind == "transmission":
            cfg = os.path.join(work, "tr-seed-cfg")
            transmission_config(cfg, self.port)
            argv = transmission_argv(cfg, p.data_dir, self.port, p.torrent)
        self.proc = Proc("%s seeder" % NAMES[kind], argv, log, stdin=(kind == "libtorrent"))
        # Ready once it announces every piece (aria2 and Transmission check the data first).
        wait_until("the %s seeder to announce a complete bitfield" % kind, 180,
                   lambda: self._alive() and seeder_complete(self.port, p.hash, p.pieces),
                   interval=0.1)

    def _alive(self):
        if self.proc.reap():
            raise RuntimeError("%s seeder exited (%s): %s" % (self.kind, self.proc.status, self.proc.tail()))
        return True

    def dial(self, port):
        if self.kind != "libtorrent":
            raise RuntimeError("only the libtorrent seeder can be told to dial")
        self.proc.send("connect 127.0.0.1:%d" % port)

    def cpu(self):
        try:
            return cpu_seconds(self.proc.pid)
        except OSError:
            return None

    def wchar(self):
        try:
            with open("/proc/%d/io" % self.proc.pid) as f:
                return next(int(l.split()[1]) for l in f if l.startswith("wchar:"))
        except (OSError, StopIteration, ValueError):
            return None


def run_pair(seed_kind, leech_kind, payload, tag):
    """One transfer; returns a dict of figures. Raises on failure."""
    work = os.path.join(BENCH_DIR, "run", tag)
    shutil.rmtree(work, ignore_errors=True)
    out = os.path.join(work, "out")
    logs = os.path.join(BENCH_DIR, "logs", tag)
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(out)
    os.makedirs(logs)
    seeder = leecher = None
    try:
        seeder = Seeder(seed_kind, payload, work, logs)
        load = os.getloadavg()[0]
        seed_cpu0 = seeder.cpu()
        seed_io0 = seeder.wchar()
        busy0 = machine_busy()
        log = os.path.join(logs, "leech-%s.log" % leech_kind)
        sp = "127.0.0.1:%d" % seeder.port
        done = None
        timeout = max(120, payload.size / (8 * 1e6))
        if leech_kind == "shoal":
            leecher = Proc("Shoal leecher", [SHOAL, "download", payload.torrent, "-o", out,
                                             "--bind", "127.0.0.1", "--no-port-mapping", "--port", "0", "--peer", sp], log)
        elif leech_kind == "libtorrent":
            leecher = Proc("libtorrent leecher", [PY, LT_CTL, payload.torrent, "--save", out,
                                                  "--port", str(free_port()), "--peer", sp,
                                                  "--timeout", str(timeout)], log)
        elif leech_kind == "aria2":
            port = free_port()
            leecher = Proc("aria2 leecher", aria2_argv(port, out) + ["--seed-time=0", payload.torrent], log)
            wait_until("aria2 to listen", 30, lambda: listening(port) or leecher.reap())
            seeder.dial(port)
        elif leech_kind == "transmission":
            port = free_port()
            cfg = os.path.join(work, "tr-leech-cfg")
            transmission_config(cfg, port)
            flag = os.path.join(work, "tr-done")
            script = os.path.join(work, "tr-done.sh")
            with open(script, "w") as f:
                f.write("#!/bin/sh\ntouch '%s'\n" % flag)
            os.chmod(script, 0o755)
            leecher = Proc("Transmission leecher",
                           transmission_argv(cfg, out, port, payload.torrent, finish=script), log)
            wait_until("Transmission to listen", 30, lambda: listening(port) or leecher.reap())
            seeder.dial(port)
            done = lambda: os.path.exists(flag)  # noqa: E731
        how = leecher.wait(timeout, done=done)
        wall = leecher.t_end - leecher.t0
        seed_cpu1 = seeder.cpu()
        seed_io1 = seeder.wchar()
        busy1 = machine_busy()
        if how == "exit" and leecher.status != 0:
            raise RuntimeError("%s exited %s: %s" % (leecher.name, leecher.status, leecher.tail()))
        cpu = leecher.cpu()
        leecher.stop()
        got = os.path.join(out, payload.name)
        if not os.path.exists(got) or os.path.getsize(got) != payload.size:
            raise RuntimeError("%s left no complete file" % leecher.name)
        same = subprocess.run(["cmp", "-s", got, payload.path], timeout=120).returncode == 0
        if not same:
            raise RuntimeError("%s's copy differs from the source" % leecher.name)
        seed_cpu = (seed_cpu1 - seed_cpu0) if None not in (seed_cpu0, seed_cpu1) else None
        # CPU time the rest of the machine took meanwhile: other builds and
        # the leecher's start-up before its first poll show up here.
        other = busy1 - busy0 - (cpu or 0) - (seed_cpu or 0)
        return {
            "wall": wall,
            "other": max(other, 0.0),
            # Bytes the leecher wrote (files; last seen at most 20 ms before
            # it ended) and the seeder wrote meanwhile (sockets through
            # write/writev, not send*): well above the payload means blocks
            # went twice.
            "wchar": leecher.io.get("wchar"),
            # (libtorrent sends with sendmsg, which wchar does not count: shown as -)
            "seed_wchar": (seed_io1 - seed_io0) if None not in (seed_io0, seed_io1)
            and seed_io1 - seed_io0 >= MiB else None,
            "mbps": payload.size / 1e6 / wall,
            "anon_mib": leecher.peak_anon_kib / 1024,
            "cpu": cpu,
            "seed_cpu": seed_cpu,
            "load": load,
        }
    finally:
        if leecher:
            leecher.stop()
        if seeder:
            seeder.proc.stop()
        shutil.rmtree(work, ignore_errors=True)


def machine_busy():
    """CPU seconds all cores have spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def fmt(v, spec):
    return "-" if v is None else spec % v


def main():
    atexit.register(stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: (stop_all(), sys.exit(130)))
    for tool in (SHOAL, PY, "aria2c", "transmission-cli", "mktorrent", "cmp"):
        if not shutil.which(tool):
            sys.exit("transfer bench: %s not found (build with `cargo build --release`; "
                     "run scripts/setup.sh)" % tool)

    one = Payload("1g", GiB, 1)
    small = Payload("128m", 128 * MiB, 2)
    big = Payload("4g", 4 * GiB, 3)
    payloads = [one, small] + ([big] if BIG else [])
    for p in payloads:
        p.make()

    pairs = [
        ("shoal", "shoal", one),
        ("libtorrent", "libtorrent", one),
        ("aria2", "libtorrent", one),
        ("transmission", "libtorrent", small),
        ("libtorrent", "shoal", one),
        ("libtorrent", "aria2", one),
        ("libtorrent", "transmission", small),
        ("shoal", "libtorrent", one),
    ]
    key = lambda s, l: "%s-%s" % (SHORT[s], SHORT[l])  # noqa: E731
    if ONLY:
        pairs = [p for p in pairs if key(p[0], p[1]) in ONLY]

    print("transfer bench: %s, %d round(s), %d cores, load average at start %s"
          % (BENCH_DIR, ROUNDS, os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3])),
          flush=True)
    results = {}
    for r in range(1, ROUNDS + 1):
        for p in payloads:
            p.warm()
        for s, l, p in pairs:
            k = key(s, l)
            tag = "%s-r%d" % (k, r)
            try:
                res = run_pair(s, l, p, tag)
                results.setdefault(k, []).append(res)
                print("  round %d %-9s %-14s %7.1f MB/s  %6.2f s  RssAnon %6.1f MiB  CPU %5s s  "
                      "seeder CPU %5s s  others %4.1f CPU-s  load %.2f  wrote %s MiB  seeder wrote %s MiB"
                      % (r, p.label(), "%s->%s" % (SHORT[s], SHORT[l]), res["mbps"], res["wall"],
                         res["anon_mib"], fmt(res["cpu"], "%.2f"), fmt(res["seed_cpu"], "%.2f"),
                         res["other"], res["load"], fmt(res["wchar"] and res["wchar"] / MiB, "%.0f"),
                         fmt(res["seed_wchar"] and res["seed_wchar"] / MiB, "%.0f")), flush=True)
            except Exception as e:  # a failed pair is reported and the bench goes on
                results.setdefault(k, []).append({"error": str(e)})
                print("  round %d %-9s %-14s FAILED: %s"
                      % (r, p.label(), "%s->%s" % (SHORT[s], SHORT[l]), e), flush=True)

    big_res = None
    if BIG:
        big.warm()
        try:
            big_res = run_pair("shoal", "shoal", big, "shoal-shoal-4g")
        except Exception as e:
            big_res = {"error": str(e)}

    report(results, pairs, key, one, small, big_res)
    shutil.rmtree(os.path.join(BENCH_DIR, "run"), ignore_errors=True)


def best(results, k):
    ok = [r for r in results.get(k, []) if "error" not in r]
    return min(ok, key=lambda r: r["wall"]) if ok else None


def report(results, pairs, key, one, small, big_res):
    ran = {key(s, l): p for s, l, p in pairs}

    def line(label, k):
        if k not in ran:
            return
        b = best(results, k)
        if b is None:
            errs = [r["error"] for r in results.get(k, [])]
            print("  %-30s FAILED: %s" % (label, errs[-1] if errs else "not run"))
            return
        per_gib = b["cpu"] / (ran[k].size / GiB) if b["cpu"] is not None else None
        print("  %-30s %8s %8.1f %8.2f %11.1f %7s %9s %8s %7.1f %6.2f"
              % (label, ran[k].label(), b["mbps"], b["wall"], b["anon_mib"], fmt(b["cpu"], "%.2f"),
                 fmt(per_gib, "%.2f"), fmt(b["seed_cpu"], "%.2f"), b["other"], b["load"]))

    def mbps(k):
        b = best(results, k)
        return b["mbps"] if b else None

    def ratio(a, b):
        return "%.2fx" % (a / b) if a and b else "n/a"

    head = "  %-30s %8s %8s %8s %11s %7s %9s %8s %7s %6s" % (
        "seeder -> leecher", "payload", "MB/s", "wall s", "RssAnon MiB", "CPU s", "CPU s/GiB",
        "seed CPU", "others", "load1")
    print()
    print("Transfer over loopback, best of %d round(s). MB/s = 10^6 bytes/s. RssAnon (peak), CPU s "
          "and CPU s/GiB are the leecher's;\nlibtorrent's include the Python interpreter. seed CPU: "
          "the seeder's CPU s during the transfer. others: CPU s\nthe rest of the machine used "
          "meanwhile (other builds; high values mean a noisy figure). Transmission moves a\n"
          "128 MiB payload (it manages only ~20 MB/s on loopback), the others 1 GiB." % ROUNDS)
    peers1 = ["lt-lt", "aria2-lt", "tr-lt"]
    rows1 = [("Shoal -> Shoal", "shoal-shoal"), ("libtorrent -> libtorrent", "lt-lt"),
             ("aria2 -> libtorrent", "aria2-lt"), ("Transmission -> libtorrent", "tr-lt")]
    rows2 = [("libtorrent -> Shoal", "lt-shoal"), ("libtorrent -> libtorrent", "lt-lt"),
             ("libtorrent -> aria2", "lt-aria2"), ("libtorrent -> Transmission", "lt-tr")]
    rows3 = [("Shoal -> libtorrent", "shoal-lt"), ("libtorrent -> libtorrent", "lt-lt"),
             ("aria2 -> libtorrent", "aria2-lt"), ("Transmission -> libtorrent", "tr-lt")]
    bestpeer = max([(mbps(k), k) for k in peers1 if mbps(k)], default=(None, None))

    def section(title, rows, summary):
        if not any(k in ran for _, k in rows):
            return
        print()
        print(title)
        print(head)
        for label, k in rows:
            line(label, k)
        print(summary)

    section("1. Shoal -> Shoal against the best pair of the peers", rows1,
            "  => Shoal->Shoal / best peer pair (%s): %s   (target >= 2x and >= 800 MB/s)"
            % (bestpeer[1], ratio(mbps("shoal-shoal"), bestpeer[0])))
    ls = mbps("lt-shoal")
    section("2. Leechers from the same libtorrent seeder (restarted for each leecher)", rows2,
            "  => Shoal leecher vs libtorrent %s, aria2 %s, Transmission %s   (target >= 1x each)"
            % (ratio(ls, mbps("lt-lt")), ratio(ls, mbps("lt-aria2")), ratio(ls, mbps("lt-tr"))))
    section("3. Seeders to a libtorrent leecher", rows3,
            "  => Shoal seeding / best seeder (%s): %s   (target >= 1.2x)"
            % (bestpeer[1], ratio(mbps("shoal-lt"), bestpeer[0])))
    print()
    print("Shoal leecher (targets: RssAnon <= 16 MiB, <= 2 CPU-s per GiB):")
    for label, k in (("from Shoal", "shoal-shoal"), ("from libtorrent", "lt-shoal")):
        b = best(results, k)
        if b and k in ran:
            print("  %-16s peak RssAnon %.1f MiB, %.2f CPU-s per GiB"
                  % (label, b["anon_mib"], b["cpu"] / (ran[k].size / GiB)))
    if big_res is not None:
        if "error" in big_res:
            print("  4 GiB Shoal -> Shoal FAILED: %s" % big_res["error"])
        else:
            b1 = best(results, "shoal-shoal")
            print("  4 GiB Shoal -> Shoal: %.1f MB/s, %.2f s, peak RssAnon %.1f MiB (1 GiB: %s MiB), "
                  "%.2f CPU-s per GiB, others %.1f CPU-s"
                  % (big_res["mbps"], big_res["wall"], big_res["anon_mib"],
                     "%.1f" % b1["anon_mib"] if b1 else "n/a", big_res["cpu"] / 4, big_res["other"]))
    print()
    print("load average at end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
