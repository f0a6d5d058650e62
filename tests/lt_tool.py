"""libtorrent (python3-libtorrent) as a reference implementation for the
metainfo interop tests. Run with Debian's /usr/bin/python3.

  lt_tool.py hash <file.torrent>            -> "info hash: <v1 hex>"
  lt_tool.py create <path> <out> <piece> <v1|hybrid>
                                            -> writes out, "info hash: <v1 hex>"
  lt_tool.py check <file.torrent> <save>    -> "pieces: <have> of <total>"
"""
import os
import sys
import time

import libtorrent as lt


def v1_hex(ti):
    return str(ti.info_hashes().v1)


def cmd_hash(path):
    ti = lt.torrent_info(path)
    print("info hash:", v1_hex(ti))
    print("files:", ti.num_files())
    for i in range(ti.num_files()):
        fs = ti.files()
        print("file:", fs.file_path(i), fs.file_size(i), "pad" if fs.file_flags(i) & lt.file_storage.flag_pad_file else "")


def cmd_create(path, out, piece, kind):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    flags = lt.create_torrent.v1_only if kind == "v1" else 0
    ct = lt.create_torrent(fs, int(piece), flags=flags)
    ct.add_tracker("http://127.0.0.1:6969/announce")
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    data = lt.bencode(ct.generate())
    with open(out, "wb") as f:
        f.write(data)
    print("info hash:", v1_hex(lt.torrent_info(data)))


def cmd_check(path, save):
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification,
    }
    ses = lt.session(settings)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(path)
    atp.save_path = save
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    deadline = time.time() + 60
    checked = False
    while not checked:
        if time.time() > deadline:
            print("timeout waiting for libtorrent to check the files", file=sys.stderr)
            sys.exit(2)
        ses.wait_for_alert(500)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                checked = True
            elif isinstance(a, lt.torrent_error_alert):
                print("libtorrent error:", a.message(), file=sys.stderr)
                sys.exit(3)
    st = h.status()
    print("pieces: %d of %d" % (st.num_pieces, atp.ti.num_pieces()))
    print("info hash:", v1_hex(atp.ti))


def main():
    cmd = sys.argv[1]
    if cmd == "hash":
        cmd_hash(sys.argv[2])
    elif cmd == "create":
        cmd_create(*sys.argv[2:6])
    elif cmd == "check":
        cmd_check(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
