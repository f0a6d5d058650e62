# The two commands of the README: `make run` and `make test`. Each installs
# what is missing first (scripts/setup.sh), so both work on a fresh clone.
#
# Build order: the UI (ui/dist) is built before the desktop app compiles,
# because src-tauri embeds it.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
NPM ?= npm
# Tools setup.sh may install outside the system PATH.
export PATH := $(CURDIR)/.tools/node/bin:$(HOME)/.cargo/bin:$(PATH)
export CARGO_TERM_COLOR ?= never
# A one-off build (a fresh clone, CI) gains nothing from incremental
# state but gigabytes on disk; set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL ?= 0
export npm_config_fund := false
export npm_config_audit := false
export npm_config_update_notifier := false

.PHONY: setup ui run lint test test-ui test-rust bench fuzz

setup:
	bash scripts/setup.sh

# npm packages, reinstalled only when the lock file changes.
ui/node_modules/.package-lock.json: ui/package-lock.json ui/package.json | setup
	cd ui && $(NPM) ci

ui: ui/node_modules/.package-lock.json
	cd ui && $(NPM) run build

run: setup ui
	$(CARGO) run -p shoal-desktop

test: setup ui lint test-ui test-rust
	@echo "make test: every test passed"

# Formatting, clippy on every package and target with warnings as errors,
# and the UI's type check. Clippy builds the desktop app, which embeds
# ui/dist, so the UI is built first.
lint: setup ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd ui && $(NPM) run check

# UI: vitest unit tests (its type check is part of `lint`).
test-ui: ui
	cd ui && $(NPM) test

# Rust: unit and integration tests of the engine and the desktop app,
# doc tests, and the WebDriver test of the real window (under its own Xvfb).
test-rust: setup ui
	$(CARGO) test --workspace --no-fail-fast

# Regenerates ui/src/lib/bindings.ts (the window's types) from the DTOs in
# src-tauri/src/dto.rs; `make test` fails while it is stale.
.PHONY: bindings
bindings: ui
	SHOAL_WRITE_BINDINGS=1 $(CARGO) test -p shoal-desktop --lib bindings

bench: setup
	$(CARGO) build --release
	$(CARGO) bench --bench create
	# DHT: time from lookup to first peer, Shoal vs libtorrent (benches/dht.rs)
	$(CARGO) bench --bench dht
	# Magnets: time from adding a magnet to verified metadata, Shoal vs libtorrent
	$(CARGO) bench --bench magnet
	# Scale: 1,000 torrents in one session, restart, 300 connections, beside libtorrent
	$(CARGO) bench --bench scale
	# Swarms in the network lab: many seeders, a flash crowd, a stalled peer,
	# Shoal beside libtorrent (benches/swarm.rs; needs root)
	$(CARGO) bench --bench swarm
	# Transfers: Shoal against libtorrent, aria2 and Transmission (bench/README.md)
	/usr/bin/python3 bench/transfer.py

# Coverage-guided fuzzing of every parser (fuzz/, cargo-fuzz and libFuzzer on
# the nightly toolchain, both installed here when missing): each target runs
# for FUZZ_SECONDS, one after another, and the first crash stops the run
# (its input is in fuzz/artifacts/<target>/). The corpus of the repository,
# fuzz/corpus/<target>/, is read; new inputs go to fuzz/target/new-corpus/.
# `make fuzz-merge` then adds to the repository's corpora only the new inputs
# that reach code the corpora miss. `make test` replays the corpora
# (tests/fuzz_corpus.rs). FUZZ_FLAGS passes options to `cargo fuzz run`
# (AddressSanitizer by default; `--sanitizer none` runs without).
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs)))
FUZZ_BIN := fuzz/target/x86_64-unknown-linux-gnu/release

.PHONY: fuzz-tools fuzz-merge
fuzz-tools:
	rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

fuzz: fuzz-tools
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/target/new-corpus/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(CARGO) +nightly fuzz run $(FUZZ_FLAGS) $$t fuzz/target/new-corpus/$$t fuzz/corpus/$$t \
			-- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1; \
	done

# Edges, not hit counts (-use_counters=0), keep the corpora small.
fuzz-merge: fuzz-tools
	for t in $(FUZZ_TARGETS); do \
		$(CARGO) +nightly fuzz build $(FUZZ_FLAGS) $$t; \
		mkdir -p fuzz/target/new-corpus/$$t; \
		$(FUZZ_BIN)/$$t -merge=1 -use_counters=0 fuzz/corpus/$$t fuzz/target/new-corpus/$$t; \
	done

# Micro-benchmarks of the disk workers and the piece picker (release mode).
.PHONY: bench-parts
bench-parts:
	$(CARGO) test --release --lib -- --ignored --nocapture disk_throughput picker_throughput

# Registers the built app with the desktop for the current user: magnet links
# and .torrent files open in Shoal (a running Shoal receives them).
.PHONY: install-desktop
install-desktop: ui
	$(CARGO) build -p shoal-desktop
	install -Dm755 target/debug/shoal-desktop $(HOME)/.local/bin/shoal-desktop
	install -Dm644 assets/shoal.desktop $(HOME)/.local/share/applications/shoal.desktop
	install -Dm644 src-tauri/icons/128x128.png $(HOME)/.local/share/icons/hicolor/128x128/apps/shoal.png
	-update-desktop-database $(HOME)/.local/share/applications
	-xdg-mime default shoal.desktop x-scheme-handler/magnet application/x-bittorrent

# The window under load: 200 and 1,000 torrents and 500 peers of synthetic updates,
# timed from each update to the painted frame (prints medians and maxima).
.PHONY: bench-ui
bench-ui: ui
	$(CARGO) test -p shoal-desktop --test ui_bench -- --ignored --nocapture
