"""Just enough BitTorrent to tell when a seeder is ready: the info hash of a
.torrent file, and a probe that handshakes with a peer and reads whether its
bitfield is complete (a seeder still checking its data is not ready)."""
import hashlib
import os
import socket
import time


def _skip(data, i):
    """Index just past the bencoded value starting at data[i]."""
    c = data[i:i + 1]
    if c == b"i":
        return data.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while data[i:i + 1] != b"e":
            i = _skip(data, i)
        return i + 1
    colon = data.index(b":", i)
    return colon + 1 + int(data[i:colon])


def info_hash(torrent_path):
    """SHA-1 of the raw `info` dictionary (v1 info hash)."""
    with open(torrent_path, "rb") as f:
        data = f.read()
    assert data[:1] == b"d", "not a bencoded dictionary"
    i = 1
    while data[i:i + 1] != b"e":
        key_end = _skip(data, i)
        colon = data.index(b":", i)
        key = data[colon + 1:key_end]
        value_end = _skip(data, key_end)
        if key == b"info":
            return hashlib.sha1(data[key_end:value_end]).digest()
        i = value_end
    raise ValueError("no info dictionary in %s" % torrent_path)


def _read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


def _complete(bitfield, pieces):
    full, rest = divmod(pieces, 8)
    if len(bitfield) < full + (1 if rest else 0):
        return False
    if any(b != 0xFF for b in bitfield[:full]):
        return False
    if rest:
        mask = (0xFF << (8 - rest)) & 0xFF
        return bitfield[full] & mask == mask
    return True


def seeder_complete(port, ih, pieces, timeout=3.0):
    """Handshakes with 127.0.0.1:port and says whether it announces every
    piece (bitfield or HaveAll). False on any error or on silence."""
    peer_id = b"-BP0001-" + os.urandom(12)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"\x13BitTorrent protocol" + bytes(8) + ih + peer_id)
            hs = _read_exact(s, 68)
            if hs[28:48] != ih:
                return False
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                length = int.from_bytes(_read_exact(s, 4), "big")
                if length == 0:
                    continue
                if length > (1 << 20):
                    return False
                msg = _read_exact(s, length)
                if msg[0] == 5:
                    return _complete(msg[1:], pieces)
                if msg[0] == 14:  # HaveAll
                    return True
                if msg[0] == 15:  # HaveNone
                    return False
            return False
    except (OSError, ConnectionError, ValueError):
        return False
