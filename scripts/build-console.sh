#!/usr/bin/env bash
# Builds the web console (console/ -> console/dist, embedded in the sidecar) from the pinned
# lockfile. Skips what is up to date: npm packages when the lockfile has not changed, the
# bundle when no source has.
set -euo pipefail
cd "$(dirname "$0")/../console"
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "console: $tool is missing: install Node.js 20 or newer with npm, then run make again." >&2
    exit 1
  fi
done
if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  echo "console: npm packages"
  npm ci --no-audit --no-fund --silent
  touch node_modules/.installed
fi
newest_source=$(find src build.mjs package-lock.json -type f -newer dist/assets/app.js.gz 2>/dev/null | head -1 || true)
if [ ! -f dist/assets/app.js.gz ] || [ -n "$newest_source" ]; then
  echo "console: building"
  node build.mjs
fi
