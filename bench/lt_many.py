#!/usr/bin/python3
"""Many torrents seeding in one libtorrent session, for benches/scale.rs.

Usage: lt_many.py TORRENT_DIR SAVE_DIR

Opens one session on 127.0.0.1 (a port from the OS) with the DHT, LSD,
UPnP, NAT-PMP and uTP off and no queueing (every torrent active, none
auto-managed), then prints one JSON line per step, each after the step is
done, so the caller can measure the process from outside between steps:

    {"session": true}                    the session is up, nothing added;
                                         it adds once it reads a line
    {"added": n, "add_ms": ...}          every add_torrent_alert is in
    {"seeding": n, "seeding_ms": ...}    every torrent seeds (data checked)

Then it does nothing until its standard input closes, and exits 0.
It exits 1 when a torrent fails or a step takes longer than 600 s.
"""
import json
import os
import select
import sys
import time

import libtorrent as lt

STEP_LIMIT_S = 600


def say(obj):
    print(json.dumps(obj), flush=True)


def main():
    torrent_dir, save_dir = sys.argv[1], sys.argv[2]
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        # Every torrent seeds at once: no queue.
        "active_downloads": -1,
        "active_seeds": -1,
        "active_limit": -1,
        "alert_queue_size": 100000,
        "alert_mask": int(lt.alert.category_t.status_notification
                          | lt.alert.category_t.error_notification),
    }
    ses = lt.session(settings)
    r, w = os.pipe()
    os.set_blocking(r, False)
    ses.set_alert_fd(w)

    def wait(seconds):
        select.select([r], [], [], seconds)
        try:
            while os.read(r, 4096):
                pass
        except BlockingIOError:
            pass
        return ses.pop_alerts()

    say({"session": True})
    # The caller measures the empty session, then says "add".
    if not sys.stdin.readline():
        return
    files = sorted(f for f in os.listdir(torrent_dir) if f.endswith(".torrent"))
    t0 = time.monotonic()
    for f in files:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(os.path.join(torrent_dir, f))
        p.save_path = save_dir
        p.flags &= ~lt.torrent_flags.auto_managed
        p.flags &= ~lt.torrent_flags.paused
        ses.async_add_torrent(p)
    added = 0
    seeding = set()
    seeding_ms = None
    while added < len(files) or len(seeding) < len(files):
        if time.monotonic() - t0 > STEP_LIMIT_S:
            say({"error": f"timeout: {added} added, {len(seeding)} seeding"})
            sys.exit(1)
        for a in wait(1.0):
            if isinstance(a, lt.add_torrent_alert):
                if a.error.value():
                    say({"error": a.error.message()})
                    sys.exit(1)
                added += 1
                if added == len(files):
                    say({"added": added, "add_ms": (time.monotonic() - t0) * 1000})
            elif isinstance(a, lt.state_changed_alert):
                if a.state == lt.torrent_status.seeding:
                    seeding.add(str(a.handle.info_hashes().v1))
            elif isinstance(a, lt.torrent_error_alert):
                say({"error": a.message()})
                sys.exit(1)
    seeding_ms = (time.monotonic() - t0) * 1000
    say({"seeding": len(seeding), "seeding_ms": seeding_ms})
    # Idle until the caller closes our stdin; alerts are drained as they come.
    while True:
        ready, _, _ = select.select([sys.stdin, r], [], [], 3600)
        if sys.stdin in ready:
            if not sys.stdin.readline():
                return
        if r in ready:
            wait(0)


if __name__ == "__main__":
    main()
