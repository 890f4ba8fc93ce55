#!/usr/bin/env bash
# The real clients the end-to-end tests use, pinned, into git-ignored folders:
#   tests/e2e/node_modules (npm, from package-lock.json) and .tools/venv (pip, requirements.txt).
# A second run skips what is already installed at the pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."
E2E=tests/e2e
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

# Node and npm run the JavaScript clients; they are not installed here (Debian's are too old).
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: $tool is missing: install Node.js 20 or newer with npm, then run make test again." >&2
    exit 1
  fi
done
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js $(node --version) is too old for the tests: install Node.js 20 or newer." >&2
  exit 1
fi
# Debian's packages: python3 -m venv needs python3-venv; the browser tests drive Debian's
# chromium (playwright-core never downloads a browser)
missing=()
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

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
