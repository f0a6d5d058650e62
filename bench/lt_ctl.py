#!/usr/bin/python3
"""A libtorrent peer for the transfer benchmark (bench/transfer.py).

The same session settings as tests/support/lt_peer.py (TCP only on
127.0.0.1, DHT, LSD, UPnP, NAT-PMP and uTP off, several connections per IP
allowed), with two differences that matter when timing it:

- it waits on libtorrent's alerts and exits as soon as the torrent is
  finished (all pieces downloaded and hash-checked), instead of polling its
  status every 0.2 s;
- it reads commands on stdin, one per line: `connect HOST:PORT` dials a
  peer at once. aria2 and Transmission as leechers must be dialled by the
  seeder, and only once they listen, so the seeder is told when.

Prints one JSON line per event: {"ready": true} once seeding (as a seed, or
when a download completes), {"done": true} when a download completes (it
exits 0 then unless --stay), {"error": ...} on an error (exit 1).
"""
import argparse
import json
import queue
import sys
import threading
import time

import libtorrent as lt


def read_commands(q):
    for line in sys.stdin:
        q.put(line.strip())


def dial(h, peer):
    host, port = peer.rsplit(":", 1)
    h.connect_peer((host, int(port)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torrent", help=".torrent file")
    ap.add_argument("--save", required=True, help="save folder")
    ap.add_argument("--port", type=int, required=True, help="listen port")
    ap.add_argument("--peer", action="append", default=[], help="HOST:PORT to dial")
    ap.add_argument("--seed", action="store_true", help="the data is complete: seed it")
    ap.add_argument("--stay", action="store_true", help="keep running after completion")
    ap.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    args = ap.parse_args()

    ses = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % args.port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        "user_agent": "libtorrent-bench",
    })
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.save
    if args.seed:
        params.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(params)
    for p in args.peer:
        dial(h, p)

    commands = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()

    deadline = time.monotonic() + args.timeout
    ready = False
    while time.monotonic() < deadline:
        ses.wait_for_alert(20)
        finished = False
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                print(json.dumps({"error": a.message()}), flush=True)
                return 1
            if isinstance(a, lt.torrent_finished_alert):
                finished = True
        while not commands.empty():
            cmd = commands.get()
            if cmd.startswith("connect "):
                dial(h, cmd.split(" ", 1)[1])
        if not ready and (finished or h.status().is_seeding):
            ready = True
            s = h.status()
            print(json.dumps({"ready": True, "done": not args.seed,
                              "total_download": s.total_payload_download}), flush=True)
            if not args.seed and not args.stay:
                return 0
    print(json.dumps({"error": "timed out"}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
