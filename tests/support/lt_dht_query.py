#!/usr/bin/python3
"""A libtorrent DHT node that looks up peers for one info hash through one
node only.

Runs one libtorrent session on 127.0.0.1 whose DHT is bootstrapped from
--node alone (no public router: dht_bootstrap_nodes is set to it, and LSD,
UPnP and NAT-PMP are off), then sends get_peers for --info-hash every second.
Prints one JSON line per event:
  {"peers": ["127.0.0.1:PORT", ...]}  a get_peers reply with peers
  {"table_nodes": N}                    nodes in its routing table (with one
                                        node to learn from, N > 0 means it
                                        answered libtorrent's queries)
and exits after --timeout seconds.
"""
import argparse
import json
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True, help="HOST:PORT of the only DHT node to use")
    ap.add_argument("--info-hash", required=True, help="40 hex digits")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True,
        "dht_bootstrap_nodes": args.node,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.dht_notification,
        # Loopback: every node shares 127.0.0.1.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_prefer_verified_node_ids": False,
        "dht_enforce_node_id": False,
        "dht_block_ratelimit": 1000000,
        "dht_block_timeout": 1,
    }
    ses = lt.session(settings)
    host, port = args.node.rsplit(":", 1)
    ses.add_dht_node((host, int(port)))
    target = lt.sha1_hash(bytes.fromhex(args.info_hash))

    start = time.monotonic()
    next_query = 0.0
    while time.monotonic() - start < args.timeout:
        now = time.monotonic()
        if now >= next_query:
            ses.dht_get_peers(target)
            ses.post_dht_stats()
            next_query = now + 1.0
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_get_peers_reply_alert):
                peers = ["%s:%d" % (ip, p) for ip, p in a.peers()]
                print(json.dumps({"peers": peers}), flush=True)
            elif isinstance(a, lt.dht_stats_alert):
                nodes = sum(b["num_nodes"] for b in a.routing_table)
                print(json.dumps({"table_nodes": nodes}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
