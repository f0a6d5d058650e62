#!/usr/bin/python3
"""A libtorrent (python3-libtorrent) peer for the tests and benchmarks.

Seeds or downloads one torrent (a .torrent file or a magnet link) over TCP on
127.0.0.1 with DHT, LSD, UPnP, NAT-PMP and uTP off, and prints one JSON line
per second with its progress, so the caller can follow it:

    {"progress": 0.5, "state": "downloading", "peers": 1, "down": 123, "up": 0}

It prints {"done": true, ...} when the download is complete and, unless
--stay is given, exits 0 then. It exits 1 on an error.
"""
import argparse
import json
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source", help=".torrent file or magnet link")
    ap.add_argument("--save", required=True, help="save folder")
    ap.add_argument("--port", type=int, required=True, help="listen port")
    ap.add_argument("--peer", action="append", default=[], help="HOST:PORT to dial")
    ap.add_argument("--stay", action="store_true", help="keep seeding after completion")
    ap.add_argument("--seed", action="store_true", help="the data is complete: seed it")
    ap.add_argument("--dht-bootstrap", action="append", default=[], help="HOST:PORT of a DHT node")
    ap.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    args = ap.parse_args()

    dht = bool(args.dht_bootstrap)
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % args.port,
        "enable_dht": dht,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        "user_agent": "libtorrent-test",
    }
    if dht:
        settings["dht_bootstrap_nodes"] = ",".join(args.dht_bootstrap)
        settings["dht_restrict_routing_ips"] = False
        settings["dht_restrict_search_ips"] = False
        settings["dht_ignore_dark_internet"] = False
        settings["dht_prefer_verified_node_ids"] = False
        settings["dht_enforce_node_id"] = False
    ses = lt.session(settings)

    if args.source.startswith("magnet:"):
        params = lt.parse_magnet_uri(args.source)
        params.save_path = args.save
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.source)
        params.save_path = args.save
    if args.seed:
        params.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(params)
    for p in args.peer:
        host, port = p.rsplit(":", 1)
        h.connect_peer((host, int(port)))

    start = time.time()
    done_reported = False
    while time.time() - start < args.timeout:
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_error_alert):
                print(json.dumps({"error": a.message()}), flush=True)
                return 1
        s = h.status()
        line = {
            "progress": s.progress,
            "state": str(s.state),
            "peers": s.num_peers,
            "down": s.download_payload_rate,
            "up": s.upload_payload_rate,
            "has_metadata": s.has_metadata,
            "total_download": s.total_payload_download,
            "total_upload": s.total_payload_upload,
        }
        if s.is_seeding and not done_reported:
            line["done"] = True
            done_reported = True
            print(json.dumps(line), flush=True)
            if not args.stay:
                return 0
        else:
            print(json.dumps(line), flush=True)
        # Peers we were told of are dialled again if they dropped.
        if s.num_peers == 0:
            for p in args.peer:
                host, port = p.rsplit(":", 1)
                h.connect_peer((host, int(port)))
        time.sleep(0.2 if not done_reported else 1.0)
    print(json.dumps({"error": "timed out"}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
