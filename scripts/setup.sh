#!/usr/bin/env bash
# Installs what `make run`, `make test` and `make bench` need on a Debian 12
# machine, skipping whatever is already there. Safe to run again; needs no
# input (CI=true, no stdin). Run as root, or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# System packages: Tauri's build and runtime, the WebDriver stack, and the
# real peers and tools the tests and benchmarks run against, and the network
# lab's tools (namespaces, shaping, NAT, port mapping; tests/common/lab),
# and nginx for the web seed tests (each starts its own, tests/common/http.rs).
APT_PACKAGES=(
  build-essential pkg-config curl file ca-certificates xz-utils git
  libwebkit2gtk-4.1-dev libssl-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
  webkit2gtk-driver xvfb xauth dbus
  python3-libtorrent transmission-cli aria2 mktorrent opentracker xclip
  iproute2 nftables miniupnpd-nftables miniupnpc natpmpc rtorrent
  nginx-light
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# Rust (rustup's stable toolchain; Debian's rustc is too old for the MSRV).
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --profile minimal --component rustfmt,clippy </dev/null
fi
# `make lint` needs rustfmt and clippy, which a minimal toolchain may lack.
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" </dev/null
  done
fi

# Node.js >= 20.19 for the UI build (Vite 8). Debian 12 ships 18, so if the
# node on PATH is missing or older, the official build goes to .tools/node
# (the Makefile puts it first on PATH), checked against its published SHA-256.
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  local v major minor
  v="$(node --version)"; v="${v#v}"
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  [ "$major" -gt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; }
}
export PATH="$PWD/.tools/node/bin:$PATH"
if ! node_ok; then
  echo "setup: installing Node.js 22 into .tools/node"
  base="https://nodejs.org/dist/latest-v22.x"
  tmp="$(mktemp -d)"
  curl -sSfL "$base/SHASUMS256.txt" -o "$tmp/SHASUMS256.txt"
  tarball="$(grep -o 'node-v[0-9.]*-linux-x64\.tar\.xz' "$tmp/SHASUMS256.txt" | head -1)"
  curl -sSfL "$base/$tarball" -o "$tmp/$tarball"
  (cd "$tmp" && grep " $tarball\$" SHASUMS256.txt | sha256sum -c --quiet -)
  rm -rf .tools/node && mkdir -p .tools/node
  tar -xJf "$tmp/$tarball" -C .tools/node --strip-components=1
  rm -rf "$tmp"
  node_ok || { echo "setup: Node.js install failed" >&2; exit 1; }
fi

# tauri-driver 2.x, the WebDriver front for the desktop app's test.
if ! cargo install --list | grep -q '^tauri-driver v2\.'; then
  echo "setup: installing tauri-driver 2.x"
  cargo install tauri-driver --locked --version '^2' </dev/null
fi

# A tracker that listens on IPv6 for tests/ipv6.rs (Debian's opentracker is
# built IPv4-only): the bittorrent-tracker package, pinned by its lock file.
# Its native WebRTC add-on is for the client side and is neither built nor
# loaded (server.mjs imports only the server).
if [ ! -d tests/support/tracker6/node_modules/bittorrent-tracker ]; then
  echo "setup: installing the IPv6 test tracker (npm)"
  (cd tests/support/tracker6 && npm ci --ignore-scripts --omit=optional --no-audit --no-fund </dev/null)
fi
