# The two commands of the README: `make run` and `make test`. Each installs
# what is missing first (scripts/setup.sh), so both work on a fresh clone.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: setup run test bench unit

setup:
	bash scripts/setup.sh

run: setup
	$(CARGO) run --release --bin shoal -- --help

test: setup
	$(CARGO) test --workspace --all-targets

bench: setup
	$(CARGO) build --release
	$(CARGO) bench --bench create
	/usr/bin/python3 bench/transfer.py

# Micro-benchmarks of the disk workers and the piece picker (release mode).
.PHONY: bench-parts
bench-parts:
	$(CARGO) test --release --lib -- --ignored --nocapture disk_throughput picker_throughput
