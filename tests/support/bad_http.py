#!/usr/bin/env python3
"""A small HTTP file server for web seed tests: serves the files under a
root folder with Range support (206), except that one named file is served
with every byte flipped (wrong data, right length). Binds to loopback."""

import argparse
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--corrupt", required=True, help="URL path (decoded) of the file served wrong")
    args = ap.parse_args()
    root = os.path.realpath(args.root)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            path = unquote(self.path.split("?", 1)[0])
            full = os.path.realpath(os.path.join(root, path.lstrip("/")))
            if not full.startswith(root + os.sep) or not os.path.isfile(full):
                self.send_error(404)
                return
            size = os.path.getsize(full)
            start, end = 0, size - 1
            m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            if m:
                start, end = int(m.group(1)), min(int(m.group(2)), size - 1)
            with open(full, "rb") as f:
                f.seek(start)
                data = f.read(end - start + 1)
            if path == args.corrupt:
                data = bytes(b ^ 0xFF for b in data)
            self.send_response(206 if m else 200)
            if m:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
