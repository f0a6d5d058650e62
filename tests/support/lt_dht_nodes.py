#!/usr/bin/python3
"""libtorrent DHT nodes for a loopback test network.

Starts --count libtorrent sessions in this process, each a DHT node on
127.0.0.1 (port from the OS) with no torrents, joined to each other and to the
--bootstrap nodes given, with the checks that keep a node off loopback and
same-IP nodes relaxed. Prints one JSON line {"nodes": ["127.0.0.1:PORT", ...]}
once all are up, then keeps running until killed or --timeout.

Why a test network needs them: the `mainline` crate (8.x) only parses KRPC
messages whose transaction id is 4 bytes, while libtorrent sends 2-byte ids,
so a network of mainline nodes alone never answers a libtorrent peer. These
nodes answer both.
"""
import argparse
import json
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--bootstrap", action="append", default=[], help="HOST:PORT of a DHT node")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    sessions = []
    for _ in range(args.count):
        settings = {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": True,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "aio_threads": 1,
            "hashing_threads": 1,
            "alert_mask": 0,
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_ignore_dark_internet": False,
            "dht_prefer_verified_node_ids": False,
            "dht_enforce_node_id": False,
            # Every node shares 127.0.0.1: no per-IP request limit or block.
            "dht_block_ratelimit": 1000000,  # per second
            "dht_block_timeout": 1,
            "dht_upload_rate_limit": 1000000000,
        }
        if args.bootstrap:
            settings["dht_bootstrap_nodes"] = ",".join(args.bootstrap)
        sessions.append(lt.session(settings))

    deadline = time.monotonic() + 10
    while any(s.listen_port() == 0 for s in sessions) and time.monotonic() < deadline:
        time.sleep(0.01)
    nodes = ["127.0.0.1:%d" % s.listen_port() for s in sessions]
    for s in sessions:
        for other in sessions:
            if other is not s:
                s.add_dht_node(("127.0.0.1", other.listen_port()))
    print(json.dumps({"nodes": nodes}), flush=True)

    start = time.monotonic()
    while time.monotonic() - start < args.timeout:
        time.sleep(0.5)
        for s in sessions:
            s.pop_alerts()
    return 0


if __name__ == "__main__":
    sys.exit(main())
