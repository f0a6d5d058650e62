#!/usr/bin/python3
"""A libtorrent (python3-libtorrent) peer for the tests and benchmarks.

Seeds or downloads one torrent (a .torrent file or a magnet link) over TCP on
127.0.0.1 (or the address given with --listen, such as a lab host's) with
DHT, LSD (unless --lsd), UPnP, NAT-PMP and uTP off, and prints one JSON line per second with
its progress, so the caller can follow it:

    {"progress": 0.5, "state": "downloading", "peers": 1, "down": 123, "up": 0,
     "upload_only_peers": 0, ...}

It prints {"done": true, ...} when the download is complete and, unless
--stay is given, exits 0 then. It exits 1 on an error.

With --dht-bootstrap the DHT is on, joined through the given nodes only, with
the checks that keep a node off loopback and same-IP nodes relaxed (a test
network runs every node on 127.0.0.1). --wait-dht waits until the DHT has
nodes before adding the torrent and prints {"dht_ready_ms": ...}.
--report-peers prints {"peer_disconnected": ..., "reason": ...} for every
peer that leaves. --report-dht prints {"dht_peers": n, "t_ms": ...} for every DHT reply that
carries peers and {"dht_first_peer_ms": ...} for the first one, the times
counted from adding the torrent. A magnet prints {"metadata_ms": ...} when
its metadata arrives, counted the same way.
"""
import argparse
import faulthandler
import json
import os
import select
import signal
import sys
import time
import warnings

import libtorrent as lt


def alert_waiter(ses):
    """Returns wait(seconds) -> alerts. libtorrent writes to a pipe when
    alerts arrive, so a wait wakes at once and times are exact; its own
    wait_for_alert can sleep through an alert and never return."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    ses.set_alert_fd(w)

    def wait(seconds):
        if seconds > 0:
            select.select([r], [], [], seconds)
        try:
            while os.read(r, 4096):
                pass
        except BlockingIOError:
            pass
        return ses.pop_alerts()

    return wait


def endpoint(text):
    """(host, port) from HOST:PORT or [IPv6]:PORT."""
    host, port = text.rsplit(":", 1)
    return (host.strip("[]"), int(port))


def main():
    # `kill -USR1 PID` prints where a stuck peer is.
    faulthandler.register(signal.SIGUSR1)
    ap = argparse.ArgumentParser()
    ap.add_argument("source", help=".torrent file or magnet link")
    ap.add_argument("--save", required=True, help="save folder")
    ap.add_argument("--port", type=int, required=True, help="listen port")
    ap.add_argument("--listen", default="127.0.0.1",
                    help="address to listen on; several separated by commas (::1 for IPv6)")
    ap.add_argument("--peer", action="append", default=[], help="HOST:PORT to dial")
    ap.add_argument("--stay", action="store_true", help="keep seeding after completion")
    ap.add_argument("--seed", action="store_true", help="the data is complete: seed it")
    ap.add_argument("--dht-bootstrap", action="append", default=[], help="HOST:PORT of a DHT node")
    ap.add_argument("--wait-dht", action="store_true", help="wait for DHT nodes before adding")
    ap.add_argument("--report-dht", action="store_true", help="print DHT peer replies")
    ap.add_argument("--dht-log", action="store_true", help="print libtorrent's DHT log to stderr")
    ap.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    ap.add_argument("--upload-limit", type=int, default=0, help="bytes per second sent, 0: no limit")
    ap.add_argument("--report-peers", action="store_true", help="print why each peer disconnected")
    ap.add_argument("--lsd", action="store_true", help="local peer discovery on (only inside the lab)")
    ap.add_argument("--unchoke-nobody", action="store_true",
                    help="no unchoke slots, loopback peers included (BEP 6 allowed fast only)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a libtorrent setting (an integer, true or false), after the others")
    ap.add_argument("--enc-policy", choices=["forced", "enabled", "disabled"], default="enabled",
                    help="protocol encryption, both directions (libtorrent's in/out_enc_policy)")
    ap.add_argument("--enc-level", choices=["rc4", "plaintext", "both"], default="both",
                    help="what an encrypted connection may carry (allowed_enc_level)")
    args = ap.parse_args()

    dht = bool(args.dht_bootstrap)
    settings = {
        "listen_interfaces": ",".join(
            ("[%s]:%d" if ":" in a else "%s:%d") % (a, args.port) for a in args.listen.split(",")
        ),
        "enable_dht": dht,
        "enable_lsd": args.lsd,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.dht_notification
        | lt.alert.category_t.tracker_notification,
        "user_agent": "libtorrent-test",
        "upload_rate_limit": args.upload_limit,
        "out_enc_policy": int(getattr(lt.enc_policy, args.enc_policy)),
        "in_enc_policy": int(getattr(lt.enc_policy, args.enc_policy)),
        "allowed_enc_level": int(getattr(lt.enc_level, args.enc_level)),
        "prefer_rc4": args.enc_level != "plaintext",
    }
    if args.dht_log:
        settings["alert_mask"] |= lt.alert.category_t.dht_log_notification
    if args.report_peers:
        settings["alert_mask"] |= lt.alert.category_t.peer_notification | lt.alert.category_t.connect_notification
    if dht:
        settings["dht_bootstrap_nodes"] = ",".join(args.dht_bootstrap)
        settings["dht_restrict_routing_ips"] = False
        settings["dht_restrict_search_ips"] = False
        settings["dht_ignore_dark_internet"] = False
        settings["dht_prefer_verified_node_ids"] = False
        settings["dht_enforce_node_id"] = False
        # Every node of a loopback network shares one IP, so the per-IP
        # request limit (5/s, then a 5-minute block) would soon block all.
        settings["dht_block_ratelimit"] = 1000000
        settings["dht_block_timeout"] = 1
        settings["dht_upload_rate_limit"] = 1000000000
    for kv in args.set:
        name, _, value = kv.partition("=")
        settings[name] = {"true": True, "false": False}.get(value.lower(), None)
        if settings[name] is None:
            settings[name] = int(value)
    ses = lt.session(settings)
    if args.upload_limit:
        # Peers on loopback are in libtorrent's "local" class, which the
        # session-wide limit does not cover.
        for cid in (ses.global_peer_class_id, ses.local_peer_class_id):
            c = ses.get_peer_class(cid)
            c["upload_limit"] = args.upload_limit
            ses.set_peer_class(cid, c)
    if args.unchoke_nobody:
        # Peers on loopback are in the "local" class, which by default is
        # unchoked whatever the slots.
        ses.apply_settings({"unchoke_slots_limit": 0, "num_optimistic_unchoke_slots": 0})
        c = ses.get_peer_class(ses.local_peer_class_id)
        c["ignore_unchoke_slots"] = False
        ses.set_peer_class(ses.local_peer_class_id, c)
    wait_alerts = alert_waiter(ses)
    t0 = time.monotonic()

    if dht and args.wait_dht:
        # Joined: the bootstrap lookup is done, or the routing table holds as
        # many nodes as we were given (the bootstrap lookup can linger on
        # nodes that never answer, such as mainline ones).
        want_nodes = min(len(args.dht_bootstrap), 8)
        ready = False
        next_report = t0 + 1
        while not ready and time.monotonic() - t0 < args.timeout:
            for a in wait_alerts(0.05):
                if isinstance(a, lt.dht_bootstrap_alert):
                    ready = True
                if isinstance(a, lt.listen_failed_alert):
                    print(json.dumps({"error": a.message()}), flush=True)
                    return 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                nodes = ses.status().dht_nodes
            if nodes >= want_nodes:
                ready = True
            if time.monotonic() >= next_report:
                next_report += 1
                print(json.dumps({"dht_nodes": nodes}), flush=True)
        if not ready:
            print(json.dumps({"error": "DHT did not bootstrap"}), flush=True)
            return 1
        print(json.dumps({"dht_ready_ms": (time.monotonic() - t0) * 1000}), flush=True)

    if args.source.startswith("magnet:"):
        params = lt.parse_magnet_uri(args.source)
        params.save_path = args.save
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.source)
        params.save_path = args.save
    if args.seed:
        params.flags |= lt.torrent_flags.seed_mode
    added = time.monotonic()
    h = ses.add_torrent(params)
    for p in args.peer:
        h.connect_peer(endpoint(p))

    start = time.monotonic()
    next_status = start
    first_dht_peer = True
    done_reported = False
    while time.monotonic() - start < args.timeout:
        # Alerts are taken as soon as they are posted, so the DHT times
        # below are exact to a millisecond, not to the status period.
        for a in wait_alerts(next_status - time.monotonic()):
            if args.dht_log and isinstance(a, (lt.dht_log_alert, lt.dht_pkt_alert)):
                print(a.message(), file=sys.stderr, flush=True)
            if isinstance(a, lt.torrent_error_alert):
                print(json.dumps({"error": a.message()}), flush=True)
                return 1
            if args.report_peers and isinstance(a, lt.peer_disconnected_alert):
                print(json.dumps({"peer_disconnected": str(a.endpoint), "reason": a.error.message()}), flush=True)
            if isinstance(a, lt.metadata_received_alert):
                t_ms = (time.monotonic() - added) * 1000
                print(json.dumps({"metadata_ms": t_ms}), flush=True)
            if args.report_dht and isinstance(a, lt.dht_reply_alert) and a.num_peers > 0:
                t_ms = (time.monotonic() - added) * 1000
                print(json.dumps({"dht_peers": a.num_peers, "t_ms": t_ms}), flush=True)
                if first_dht_peer:
                    first_dht_peer = False
                    print(json.dumps({"dht_first_peer_ms": t_ms}), flush=True)
        if time.monotonic() < next_status:
            continue
        next_status = time.monotonic() + (0.2 if not done_reported else 1.0)
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
            # Peers that said they only upload (BEP 21 `upload_only`).
            "upload_only_peers": sum(
                1 for p in h.get_peer_info() if p.flags & lt.peer_info.upload_only
            ),
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
                h.connect_peer(endpoint(p))
    print(json.dumps({"error": "timed out"}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
