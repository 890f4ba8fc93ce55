#!/usr/bin/env bash
# Every test against a throwaway cluster: the extension's SQL tests, then the sidecar's.
# Expects the extension installed and the release build done (make test does both).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${BKND_TEST_PG_PORT:-54330}
DIR=target/test-pgdata

# `make test T=storage` runs one file of tests/tests; `T=storage/moving` only its tests whose
# names contain `moving`
ONLY=${T:-}

# unit and property tests of the sidecar (no database)
[ -n "$ONLY" ] || cargo test --release -p bknd-sidecar

scripts/pg.sh stop "$DIR" 2>/dev/null || true
rm -rf "$DIR"
scripts/pg.sh start "$DIR" "$PORT"
trap 'scripts/pg.sh stop "$DIR"' EXIT

export BKND_TEST_PG_PORT=$PORT
# the extension installed once; each test's database is a copy (tests/src/lib.rs)
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE bknd_template"
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d bknd_template -c "CREATE EXTENSION bknd"
export BKND_TEST_TEMPLATE=bknd_template
export BKND_BIN="$PWD/target/release/bknd"
[ -x "$BKND_BIN" ] || { echo "test: $BKND_BIN is missing; run make test" >&2; exit 1; }
if [ -n "$ONLY" ]; then
  file=${ONLY%%/*}; filter=""; [ "$file" = "$ONLY" ] || filter=${ONLY#*/}
  [ -f "tests/tests/$file.rs" ] || { echo "test: no tests/tests/$file.rs (T=file or T=file/name)" >&2; exit 2; }
  cargo test --release -p bknd-tests --test "$file" -- --test-threads=4 $filter
  exit
fi
# the conformance run prints its "N passed, M failed" line, so it runs uncaptured
cargo test --release -p bknd-tests --test conformance -- --nocapture
# every file runs even after one fails, so one run names every failure
cargo test --release -p bknd-tests --no-fail-fast -- --test-threads=4 --skip postgrest_conformance_cases
