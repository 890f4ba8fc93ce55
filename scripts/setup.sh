#!/usr/bin/env bash
# Installs what bknd needs on a fresh Debian 12 machine; skips what is already there.
set -euo pipefail
PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

# What this script does not install: say what is missing before anything else happens.
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: Rust is missing. Install it with rustup (rust-toolchain.toml pins 1.95.0), then run make again." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  echo "setup: this script installs PostgreSQL 15 with apt (Debian 12). On another system install postgresql-15," >&2
  echo "       its server headers, clang and libclang, then run make again." >&2
  exit 1
fi

missing=()
# openssl: the TLS test makes its certificates with it
for pkg in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libclang-dev clang sudo openssl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q '0\.18\.1'; then
  echo "setup: installing cargo-pgrx 0.18.1 (takes several minutes, once)"
  cargo install cargo-pgrx --version 0.18.1 --locked
fi

if ! grep -qs "pg$PG_MAJOR" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG"
fi
