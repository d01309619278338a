#!/usr/bin/env bash
# Browser tests for the dashboard (static-site/) in headless Debian Chromium, driven by playwright-core,
# against the real `leadpipe serve`. Idempotent: installs only what is missing.
#
#   scripts/browser-tests.sh                 # uses target/debug/leadpipe
#   LEADPIPE_BIN=/path/to/leadpipe scripts/browser-tests.sh
#   scripts/browser-tests.sh --test-name-pattern=XSS   # extra args go to `node --test`
#
# It does NOT build Rust: build the binary first (cargo build).
# Screenshots of every screen land in artifacts/screenshots/ (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTS_DIR="$ROOT/tests/browser"
BIN="${LEADPIPE_BIN:-$ROOT/target/debug/leadpipe}"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- the server binary (never built here) ---
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
[ -x "$BIN" ] || die "leadpipe binary not found or not executable at $BIN
       Build it first (cargo build) or point LEADPIPE_BIN at it."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not available; install $* yourself"
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    apt_updated=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# --- Chromium (Debian's; Playwright never downloads a browser) ---
if [ ! -x "$CHROMIUM" ]; then
  apt_install chromium
fi
[ -x "$CHROMIUM" ] || die "Chromium still missing at $CHROMIUM"
log "$("$CHROMIUM" --version 2>/dev/null || echo chromium)"

# --- Node.js + npm ---
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "Node.js >= 18 needed (found $(node --version))"

# --- npm dependencies: `npm ci` when node_modules is missing or older than the lockfile ---
lock_sum="$(sha256sum "$TESTS_DIR/package-lock.json" | cut -d' ' -f1)"
stamp="$TESTS_DIR/node_modules/.leadpipe-lock-sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ] || [ ! -d "$TESTS_DIR/node_modules/playwright-core" ]; then
  log "npm ci (tests/browser)"
  (cd "$TESTS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$lock_sum" > "$stamp"
else
  log "tests/browser/node_modules is up to date"
fi

# --- run ---
export LEADPIPE_BIN="$BIN" CHROMIUM_PATH="$CHROMIUM"
cd "$TESTS_DIR"
# The 100,000-lead database of tests/volume.test.js, built once through `leadpipe import` and cached in
# artifacts/volume/ (about 3.5 min with a debug binary the first time; nothing afterwards). Outside the timeout
# below. LEADPIPE_VOLUME=0 skips it and the volume test.
log "volume database (LEADPIPE_VOLUME=${LEADPIPE_VOLUME:-100000} leads)"
node lib/volume-db.js
log "running browser tests against $BIN"
status=0
# Deadlines against a hung browser, not waits: every test waits for state. They are generous because this 2-core
# machine often runs builds beside the suite (the axe file alone took ~90 s under such load).
timeout 2400 node --test --test-concurrency=1 --test-timeout=360000 "$@" tests/ || status=$?
if [ "$status" -eq 0 ]; then
  log "browser tests passed; screenshots in $ROOT/artifacts/screenshots/"
else
  log "browser tests FAILED (exit $status); screenshots in $ROOT/artifacts/screenshots/"
fi
exit "$status"
