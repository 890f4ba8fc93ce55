#!/usr/bin/env bash
# Every test against a throwaway cluster: the extension's SQL tests, then the sidecar's.
# Expects the extension installed and the release build done (make test does both).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${BKND_TEST_PG_PORT:-54330}
DIR=target/test-pgdata

# unit and property tests of the sidecar (no database)
cargo test --release -p bknd-sidecar

scripts/pg.sh stop "$DIR" 2>/dev/null || true
rm -rf "$DIR"
scripts/pg.sh start "$DIR" "$PORT"
trap 'scripts/pg.sh stop "$DIR"' EXIT

export BKND_TEST_PG_PORT=$PORT
export BKND_BIN="$PWD/target/release/bknd"
[ -x "$BKND_BIN" ] || { echo "test: $BKND_BIN is missing; run make test" >&2; exit 1; }
# the conformance run prints its "N passed, M failed" line, so it runs uncaptured
cargo test --release -p bknd-tests --test conformance -- --nocapture
cargo test --release -p bknd-tests -- --test-threads=4 --skip postgrest_conformance_cases
