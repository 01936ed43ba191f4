#!/usr/bin/env bash
# `npm test`: installs what the tests need when it is missing (Debian packages as root, npm
# dependencies), starts private services (a D-Bus session with an unlocked gnome-keyring, a
# loopback PostgreSQL), then runs lint, type-check, unit/integration/reliability tests and the
# Chromium end-to-end tests. Prints one closing line: "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. Debian packages the tests use, installed only when missing.
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have chromium || need+=(chromium)
have xvfb-run || need+=(xvfb xauth)
have gnome-keyring-daemon || need+=(gnome-keyring)
have dbus-run-session && have dbus-launch || need+=(dbus-x11)
[ -f /usr/include/libsecret-1/libsecret/secret.h ] || need+=(libsecret-1-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have oathtool || need+=(oathtool)
have zbarimg || need+=(zbar-tools)
have sqlite3 || need+=(sqlite3)
have pdftotext || need+=(poppler-utils)
have python3 || need+=(python3)
# The Python verifier of the journal vectors checks Ed25519 signatures with it (journal-vectors.test.ts fails without).
python3 -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' 2>/dev/null || need+=(python3-cryptography)
have make && have g++ || need+=(build-essential)
if [ "${#need[@]}" -gt 0 ]; then
  echo "npm test: installing Debian packages the tests need: ${need[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "npm test: not root; run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi

# 2. npm dependencies. The Electron binary cannot be downloaded here; its types still install.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "npm test: installing npm dependencies (ELECTRON_SKIP_BINARY_DOWNLOAD=1: the Electron binary is not downloaded)"
  # npm ci: exactly the committed lock (which lists every platform's optional builds), never rewritten.
  ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund </dev/null
fi

# 3. Services: a private PostgreSQL on loopback.
# Stopped afterwards only when this run started it (a developer's running server is left alone).
if build/postgres.sh status; then pg_started_here=0; else pg_started_here=1; fi
HALFKEY_TEST_PG="$(build/postgres.sh start)"
export HALFKEY_TEST_PG
[ "$pg_started_here" = 1 ] && trap 'build/postgres.sh stop' EXIT

# 4. Every check, inside a private D-Bus session with a real Secret Service.
build/with-keyring.sh bash build/checks.sh
