#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ with real inputs: torrents made by mktorrent,
# libtorrent and `shoal create`; magnet links; opentracker's HTTP and UDP
# answers captured on loopback; the bytes a libtorrent peer sends on a
# loopback connection (handshake, extension handshake, ut_metadata data);
# resume records written by `shoal seed` and `shoal download`; and the byte
# literals of the parsers' unit tests. Every connection stays on 127.0.0.1
# and every process started here is stopped by its PID on exit.
#
# Run from anywhere: bash fuzz/seed.sh. Files are named by their origin and
# overwritten, so a second run changes only what is not deterministic
# (hashes of fresh content, peer ids, timestamps). After fuzzing, minimise
# with `cargo +nightly fuzz cmin <target>`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
C=$PWD/fuzz/corpus
SHOAL=$PWD/target/debug/shoal
PY=/usr/bin/python3 # python3-libtorrent is installed for the system python only
TARGETS=(bencode metainfo magnet wire_stream extension_handshake ut_metadata ut_pex
    http_tracker udp_tracker tracker_scrape resume mse_handshake)

cargo build -q -p shoal --bin shoal
for t in "${TARGETS[@]}"; do mkdir -p "$C/$t"; done

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- Content: one small file and a folder of a few files, fixed bytes. ---
mkdir -p "$work/data/folder/sub" "$work/state"
head -c 3000 /dev/zero | tr '\0' 'a' >"$work/data/single.bin"
head -c 5000 /dev/zero | tr '\0' 'b' >"$work/data/folder/one.txt"
head -c 700 /dev/zero | tr '\0' 'c' >"$work/data/folder/sub/two.txt"
: >"$work/data/folder/sub/empty"

port=$(free_port)
tracker="http://127.0.0.1:$port/announce"

# --- Torrents. Small pieces keep them a few hundred bytes. ---
rm -f "$C/metainfo/mktorrent-single.torrent" "$C/metainfo/mktorrent-folder.torrent"
mktorrent -l 15 -a "$tracker" -o "$C/metainfo/mktorrent-single.torrent" "$work/data/single.bin" >/dev/null
mktorrent -l 15 -p -c "a comment" -a "$tracker" -a "udp://127.0.0.1:$port" \
    -w "http://127.0.0.1:1/seed/" -o "$C/metainfo/mktorrent-folder.torrent" "$work/data/folder" >/dev/null
"$SHOAL" create -p 16K -t "$tracker" -o "$C/metainfo/shoal-single.torrent" "$work/data/single.bin" >/dev/null
"$SHOAL" create -p 16K -t "$tracker,udp://127.0.0.1:$port" -t "$tracker" -w "http://127.0.0.1:1/" \
    --private -c "comment" -s "source" -o "$C/metainfo/shoal-folder.torrent" "$work/data/folder" >/dev/null
$PY - "$work/data" "$C/metainfo" "$tracker" <<'EOF'
# libtorrent: a v1 torrent with BEP 47 pad files and a v1+v2 hybrid.
import sys, libtorrent as lt
data, out, tracker = sys.argv[1:]
for name, flags in [("lt-v1-pad", lt.create_torrent.v1_only),
                    ("lt-hybrid", 0)]:
    fs = lt.file_storage()
    lt.add_files(fs, data + "/folder")
    t = lt.create_torrent(fs, 16384, flags=flags)
    t.add_tracker(tracker)
    t.set_comment("made by libtorrent")
    lt.set_piece_hashes(t, data)
    open(f"{out}/{name}.torrent", "wb").write(lt.bencode(t.generate()))
EOF
# The info dictionary alone, as a magnet link's metadata exchange yields it.
$PY - "$C/metainfo" <<'EOF'
import sys, libtorrent as lt
d = sys.argv[1]
ti = lt.torrent_info(f"{d}/lt-v1-pad.torrent")
open(f"{d}/lt-v1-pad-info-only", "wb").write(ti.metadata())
EOF

# --- Magnet links: written by libtorrent and by `shoal info`, and by hand. ---
$PY - "$C/metainfo" "$C/magnet" <<'EOF'
import sys, libtorrent as lt
src, out = sys.argv[1:]
for name in ["lt-v1-pad", "lt-hybrid", "mktorrent-folder"]:
    uri = lt.make_magnet_uri(lt.torrent_info(f"{src}/{name}.torrent"))
    open(f"{out}/{name}", "w").write(uri)
EOF
"$SHOAL" info "$C/metainfo/shoal-folder.torrent" | grep -o 'magnet:?[^ ]*' | head -1 | tr -d '\n' >"$C/magnet/shoal-info"
h=0123456789abcdef0123456789abcdef01234567
printf '%s' "magnet:?xt=urn:btih:$h&dn=a%20name&tr=udp%3A%2F%2F127.0.0.1%3A6969&tr=http%3A%2F%2F127.0.0.1%2Fa&x.pe=127.0.0.1:6881&x.pe=[::1]:6881&so=0,2-4,7" >"$C/magnet/hand-all-keys"
printf '%s' "MAGNET:?xt=urn:btih:AERUKZ4JVPG66AJDIVSYTK6N6ECSDPY6&dn=base32" >"$C/magnet/hand-base32"
printf '%s' "magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e" >"$C/magnet/hand-v2-only"
printf '%s' "magnet:?xt=urn:btih:$h&xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e&so=1-1" >"$C/magnet/hand-hybrid"

# --- opentracker on loopback: HTTP and UDP answers. ---
hash=$($PY -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hashes().v1)' "$C/metainfo/mktorrent-single.torrent")
mkdir -p "$work/ot"
chmod 755 "$work/ot"
echo "$hash" >"$work/ot/whitelist"
chmod 644 "$work/ot/whitelist"
opentracker -i 127.0.0.1 -p "$port" -P "$port" -d "$work/ot" -w whitelist >"$work/ot.log" 2>&1 &
pids+=($!)
ih=$($PY -c 'import sys; print("".join("%%%02x" % b for b in bytes.fromhex(sys.argv[1])))' "$hash")
for i in $(seq 50); do
    curl -s --max-time 2 "$tracker?info_hash=$ih&peer_id=-PROBE-0000000000000&port=1&left=0&compact=1&event=stopped" | grep -q interval && break
    sleep 0.1
done
for n in 1 2 3; do
    curl -s --max-time 5 -o "$C/http_tracker/opentracker-$n-peers" \
        "$tracker?info_hash=$ih&peer_id=-XX0000-00000000000$n&port=600$n&uploaded=0&downloaded=0&left=$n&compact=1&numwant=50"
done
curl -s --max-time 5 -o "$C/http_tracker/opentracker-stopped" \
    "$tracker?info_hash=$ih&peer_id=-XX0000-000000000001&port=6001&left=1&compact=1&event=stopped"
curl -s --max-time 5 -o "$C/http_tracker/opentracker-not-served" \
    "$tracker?info_hash=%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14&peer_id=-XX0000-000000000009&port=6009&left=1&compact=1"
curl -s --max-time 5 -o "$C/http_tracker/opentracker-scrape" "http://127.0.0.1:$port/scrape?info_hash=$ih"
cp "$C/http_tracker/opentracker-scrape" "$C/tracker_scrape/opentracker-scrape"
curl -s --max-time 5 -o "$C/tracker_scrape/opentracker-scrape-unknown" \
    "http://127.0.0.1:$port/scrape?info_hash=%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14"
$PY - "$port" "$hash" "$C/udp_tracker" <<'EOF'
# BEP 15 by hand: connect, announce (served and not served), a bad request.
import os, socket, struct, sys
port, info_hash, out = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("127.0.0.1", port))
def ask(packet, name):
    s.send(packet)
    reply = s.recv(65536)
    open(os.path.join(out, name), "wb").write(reply)
    return reply
reply = ask(struct.pack(">QII", 0x41727101980, 0, 1), "opentracker-connect")
conn = struct.unpack(">Q", reply[8:16])[0]
for n, (h, name) in enumerate([(info_hash, "opentracker-announce"),
                               (info_hash, "opentracker-announce-2"),
                               (bytes(range(20)), "opentracker-not-served")]):
    peer = b"-XX0000-0000000000%02d" % n
    ask(struct.pack(">QII20s20sQQQIIIiH", conn, 1, 2 + n, h, peer, 0, n, 0, 2, 0, n, 50, 7000 + n), name)
ask(struct.pack(">QII", conn, 2, 9) + info_hash, "opentracker-scrape")
EOF

# --- A libtorrent peer on loopback: what it sends on a connection. ---
$PY - "$C/metainfo/lt-v1-pad.torrent" "$work/data" "$C" <<'EOF'
import os, socket, struct, sys, time, libtorrent as lt
torrent, data, out = sys.argv[1:]
ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                  "enable_upnp": False, "enable_natpmp": False, "alert_mask": 0})
ti = lt.torrent_info(torrent)
h = ses.add_torrent({"ti": ti, "save_path": data})
deadline = time.time() + 20
while h.status().state != lt.torrent_status.seeding and time.time() < deadline:
    time.sleep(0.1)
def bdict(d):  # enough bencode for our own messages
    def enc(v):
        if isinstance(v, int): return b"i%de" % v
        if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
        if isinstance(v, dict):
            return b"d" + b"".join(enc(k) + enc(v[k]) for k in sorted(v)) + b"e"
    return enc(d)
def frame(msg_id, body=b""):
    return struct.pack(">IB", 1 + len(body), msg_id) + body
c = socket.create_connection(("127.0.0.1", ses.listen_port()), timeout=5)
reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x05])
sent = b"\x13BitTorrent protocol" + reserved + ti.info_hashes().v1.to_bytes() + b"-XX0000-000000000000"
sent += frame(20, b"\x00" + bdict({b"m": {b"ut_metadata": 1, b"ut_pex": 2}, b"v": b"seed", b"reqq": 250}))
sent += frame(0x0f) + frame(2)  # have none, interested
c.sendall(sent)
got, stream, asked, requested = b"", b"", False, False
end = time.time() + 5
c.settimeout(0.5)
while time.time() < end:
    try:
        chunk = c.recv(65536)
    except socket.timeout:
        chunk = b""
    if chunk == b"" and time.time() >= end:
        break
    got += chunk
    # Parse frames after the 68-byte handshake.
    pos, msgs = 68, []
    while len(got) >= pos + 4:
        n = struct.unpack(">I", got[pos:pos + 4])[0]
        if len(got) < pos + 4 + n: break
        msgs.append(got[pos + 4:pos + 4 + n])
        pos += 4 + n
    for m in msgs:
        if m[:2] == b"\x14\x00" and not asked:
            ext = m[2:]
            # libtorrent's ut_metadata id, from its handshake's "m".
            key = b"11:ut_metadatai"
            i = ext.index(key) + len(key)
            lt_id = int(ext[i:ext.index(b"e", i)])
            c.sendall(frame(20, bytes([lt_id]) + bdict({b"msg_type": 0, b"piece": 0})))
            asked = True
        if m[:1] == b"\x01" and not requested:  # unchoke: ask for a block
            c.sendall(frame(6, struct.pack(">III", 0, 0, 4096)))
            requested = True
    if asked and requested and any(m[:1] == b"\x07" for m in msgs) \
            and any(m[:2] == b"\x14\x01" for m in msgs):
        break
c.close()
open(os.path.join(out, "wire_stream", "libtorrent-seed"), "wb").write(b"\x04" + got)
open(os.path.join(out, "wire_stream", "to-libtorrent"), "wb").write(b"\x04" + sent)
for m in msgs:
    if m[:2] == b"\x14\x00":
        open(os.path.join(out, "extension_handshake", "libtorrent"), "wb").write(m[2:])
        open(os.path.join(out, "bencode", "libtorrent-extension-handshake"), "wb").write(m[2:])
    if m[:2] == b"\x14\x01":
        open(os.path.join(out, "ut_metadata", "libtorrent-data"), "wb").write(m[2:])
EOF

# --- Resume records written by Shoal: a seed, and a magnet without metadata. ---
"$SHOAL" seed --bind 127.0.0.1 --port 0 --no-dht --no-lsd --state-dir "$work/state/seed" \
    "$C/metainfo/mktorrent-single.torrent" "$work/data" >/dev/null 2>&1 &
pids+=($!)
"$SHOAL" download --bind 127.0.0.1 --port 0 --no-dht --no-lsd --state-dir "$work/state/magnet" \
    -o "$work/dl" "$(cat "$C/magnet/hand-all-keys")" >/dev/null 2>&1 &
pids+=($!)
for i in $(seq 100); do
    n=$(find "$work/state" -name '*.resume' | wc -l)
    [ "$n" -ge 2 ] && break
    sleep 0.1
done
for f in $(find "$work/state" -name '*.resume'); do
    cp "$f" "$C/resume/shoal-$(basename "$(dirname "$(dirname "$f")")")"
done

# --- Byte literals of the unit tests. ---
lit() { printf "$2" >"$C/$1"; }
lit bencode/empty-dict 'de'
lit bencode/nested 'd1:ald1:bi-5eee1:c0:e'
lit bencode/int-min 'i-9223372036854775808e'
lit bencode/trailing 'li1ee\x00\x01'
lit bencode/deep-64 "$(printf 'l%.0s' $(seq 64))$(printf 'e%.0s' $(seq 64))"
lit bencode/int-key 'di1ei2ee'
lit extension_handshake/ours 'd1:md11:ut_metadatai1e6:ut_pexi2ee4:reqqi500e1:v11:Shoal 0.1.0e'
lit extension_handshake/full 'd1:md6:ut_pexi0ee13:metadata_sizei31235e1:pi6881e4:reqqi255e1:v13:qBittorrent/56:yourip4:\x7f\x00\x00\x01e'
lit extension_handshake/yourip6 'd6:yourip16:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01e'
lit ut_metadata/request 'd8:msg_typei0e5:piecei3ee'
lit ut_metadata/reject 'd8:msg_typei2e5:piecei0ee'
lit ut_metadata/data-short 'd8:msg_typei1e5:piecei0e10:total_sizei5eehello'
lit ut_pex/added-v4 'd5:added12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe27:added.f2:\x10\x02e'
lit ut_pex/all-keys 'd5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f1:\x016:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe18:added6.f1:\x047:dropped6:\x7f\x00\x00\x03\x1a\xe38:dropped60:e'
lit http_tracker/dict-peers 'd8:intervali1800e12:min intervali60e5:peersld2:ip9:127.0.0.17:peer id20:-XX0000-0000000000014:porti6881eee6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e'
lit http_tracker/failure 'd14:failure reason12:not this onee'
lit http_tracker/warning 'd8:completei5e10:incompletei3e8:intervali5e5:peers0:15:warning message4:slow10:tracker id3:abce'
lit tracker_scrape/entry 'd5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei5e10:downloadedi50e10:incompletei10eeee'
lit tracker_scrape/two-entries 'd5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:incompletei2ee20:bbbbbbbbbbbbbbbbbbbbd8:completei7e10:incompletei8eeee'
lit tracker_scrape/failure 'd14:failure reason9:forbiddene'
lit tracker_scrape/no-counts 'd5:filesd20:aaaaaaaaaaaaaaaaaaaad10:downloadedi3eeee'
lit tracker_scrape/udp-body '\x00\x00\x00\x03\x00\x00\x01\x00\x00\x00\x00\x07'
# mse_handshake: a first byte of 0 sends the rest as it is; any other plays
# an initiator and encrypts the rest: VC, crypto_provide, len(PadC), PadC,
# len(IA), IA (a handshake for the target's torrent, 0x5a x 20).
MSE_HS='\x13BitTorrent protocol\x00\x00\x00\x00\x00\x00\x00\x00'"$(printf '\\x5a%.0s' $(seq 20))"'-XX0000-fuzzfuzzfuzz'
lit mse_handshake/rc4-with-handshake '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x44'"$MSE_HS"
lit mse_handshake/plaintext-only '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x44'"$MSE_HS"
lit mse_handshake/no-common-method '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x44'"$MSE_HS"
lit mse_handshake/padc-over-bound '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x02\x01\x00\x00'
lit mse_handshake/ia-empty '\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00'
lit mse_handshake/wrong-vc '\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x02\x00\x00\x00\x00'
lit mse_handshake/raw-plain-handshake '\x00'"$MSE_HS"
lit mse_handshake/raw-short-key "\\x00$(printf '\\x07%.0s' $(seq 60))"
lit udp_tracker/scrape '\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x00\x03\x00\x00\x01\x00\x00\x00\x00\x07'
lit udp_tracker/error '\x00\x00\x00\x03\x00\x00\x00\x07no such torrent'
lit udp_tracker/announce-v6 '\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x07\x08\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1'
# wire_stream: the first byte picks the geometry (low 2 bits), a leading
# handshake (bit 2) and the chunk sizes (the rest).
lit wire_stream/every-message '\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x01\x00\x00\x00\x01\x02\x00\x00\x00\x01\x03\x00\x00\x00\x05\x04\x00\x00\x00\x02\x00\x00\x00\x03\x05\x81\x00\x00\x00\x0d\x06\x00\x00\x00\x01\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00\x00\x0d\x08\x00\x00\x00\x01\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00\x00\x03\x09\x1a\xe1\x00\x00\x00\x05\x0d\x00\x00\x00\x03\x00\x00\x00\x01\x0e\x00\x00\x00\x01\x0f\x00\x00\x00\x0d\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x05\x11\x00\x00\x00\x0a\x00\x00\x00\x0c\x07\x00\x00\x00\x00\x00\x00\x00\x00abc\x00\x00\x00\x03\x14\x03x\x00\x00\x00\x03\x63\x00\x00'
lit wire_stream/piece-geometry '\x02\x00\x00\x00\x0c\x07\x00\x00\x00\x00\x00\x00\x00\x00abc\x00\x00\x00\x02\x05\x80'
lit wire_stream/too-long '\x00\x7f\xff\xff\xff\x07'

# Resume records by hand: minimal, and with verified pieces and stamps.
$PY - "$C/resume" <<'EOF'
import sys
out = sys.argv[1]
def enc(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, str): return enc(v.encode())
    if isinstance(v, list): return b"l" + b"".join(enc(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(enc(k) + enc(v[k]) for k in sorted(v)) + b"e"
open(f"{out}/hand-not-a-record", "wb").write(enc({"file-format": "other", "file-version": 9}))
EOF

# bencode: every bencoded seed of the other targets.
for t in metainfo http_tracker extension_handshake ut_pex resume; do
    for f in "$C/$t"/*; do cp "$f" "$C/bencode/$t-$(basename "$f")"; done
done
echo "seeded: $(find "$C" -type f | wc -l) files, $(du -sh "$C" | cut -f1)"
