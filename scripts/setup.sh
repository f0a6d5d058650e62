#!/usr/bin/env bash
# Installs what `make run`, `make test` and `make bench` need on a Debian 12
# machine, skipping whatever is already there. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Tauri's build and runtime, the WebDriver stack, and the
# real peers and tools the tests and benchmarks run against.
APT_PACKAGES=(
  build-essential pkg-config curl file
  libwebkit2gtk-4.1-dev libssl-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
  webkit2gtk-driver xvfb xauth
  python3-libtorrent transmission-cli aria2 mktorrent opentracker
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
