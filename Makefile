# bknd: `make run` starts a local backend, `make test` runs every test. Both set up a fresh
# Debian 12 machine first (skipping what is already installed).

BKND_DATA_DIR ?= .bknd
BKND_PG_PORT ?= 54329
BKND_LISTEN ?= 127.0.0.1:3000
export BKND_DATA_DIR BKND_PG_PORT BKND_LISTEN
# make test T=storage (one file of tests/tests) or T=storage/moving (its tests named so)
export T

.PHONY: run test check bench setup install sidecar build clients console

setup:
	@scripts/setup.sh

install: setup
	@scripts/install-extension.sh

# the web console's assets, embedded in the sidecar (console/, pinned lockfile)
console:
	@scripts/build-console.sh

sidecar: setup console
	@echo "build: sidecar (release)"
	@cargo build --release -p bknd-sidecar --bins --quiet

build: sidecar
	@echo "build: tests (release)"
	@cargo build --release -p bknd-tests --tests --quiet

# run builds only what it runs: the extension and the sidecar
run: install sidecar
	@scripts/run.sh

clients:
	@scripts/setup-clients.sh

test: install build clients
	@scripts/test.sh

# formatting (rustfmt.toml) and lints, warnings as errors, over the whole workspace
check: setup console
	@echo "check: rustfmt and clippy"
	@cargo fmt --all -- --check
	@cargo clippy --workspace --all-targets --release --quiet -- -D warnings

bench: install build
	@cargo build --release -p bknd-tests --bin argon2_rate --bin http_file --bin sign_in_share --bin realtime_bench --bin webhook_bench --quiet
	@scripts/bench.sh
