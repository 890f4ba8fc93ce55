#!/usr/bin/env bash
# The real clients the end-to-end tests use, pinned, into git-ignored folders:
#   tests/e2e/node_modules (npm, from package-lock.json) and .tools/venv (pip, requirements.txt).
# A second run skips what is already installed at the pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."
E2E=tests/e2e

if [ ! -f "$E2E/node_modules/.installed" ] || [ "$E2E/package-lock.json" -nt "$E2E/node_modules/.installed" ]; then
  echo "setup: npm packages for the end-to-end tests"
  (cd "$E2E" && npm ci --no-audit --no-fund --silent)
  touch "$E2E/node_modules/.installed"
fi

VENV=.tools/venv
if [ ! -f "$VENV/.installed" ] || [ "$E2E/requirements.txt" -nt "$VENV/.installed" ]; then
  echo "setup: Python packages for the end-to-end tests"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$E2E/requirements.txt"
  touch "$VENV/.installed"
fi
