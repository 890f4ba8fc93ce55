#!/usr/bin/env bash
# Builds the extension (release) and installs it into the system PostgreSQL 15.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "install: building and installing extension bknd (release)"
mkdir -p target
$SUDO env "PATH=$PATH" "HOME=$HOME" cargo pgrx install --release --pg-config /usr/lib/postgresql/15/bin/pg_config >target/pgrx-install.log 2>&1 \
  || { tail -50 target/pgrx-install.log; exit 1; }
# earlier releases' install scripts, so `CREATE EXTENSION bknd VERSION '0.1.0'` and then
# `ALTER EXTENSION bknd UPDATE` work (tests/tests/upgrade.rs)
$SUDO install -m 644 sql/archive/bknd--*.sql "$(/usr/lib/postgresql/15/bin/pg_config --sharedir)/extension/"
