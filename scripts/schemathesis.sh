#!/usr/bin/env bash
# Property-based API contract test: schemathesis generates requests from the OpenAPI document that
# `leadpipe serve` publishes (GET /api/openapi.json) and runs every check (`--checks all`) on the answers:
# server errors, status codes, content types, response schemas, data the schema allows being accepted and data it
# forbids being refused, auth actually enforced, ...
#
#   scripts/schemathesis.sh                       # uses target/debug/leadpipe (under CARGO_TARGET_DIR when set)
#   LEADPIPE_BIN=/path/to/leadpipe scripts/schemathesis.sh
#   scripts/schemathesis.sh --include-path /api/postback    # extra args go to `schemathesis run`
#
# It does NOT build Rust: build the binary first (cargo build --bin leadpipe).
# The server runs on a free loopback port with a fresh SQLite database and both keys set (API_KEY and
# ADMIN_API_KEY, two different values); requests carry the admin key as `x-api-key`.
# Deterministic (derandomized generation: the same cases every run, no example database) and bounded
# (SCHEMATHESIS_MAX_EXAMPLES per operation, default 100) so that it takes a few minutes on 2 cores.
# Reports land in artifacts/schemathesis/ (git-ignored): junit.xml, and the cassette of every request with the
# result of each check (the printed summary shows one example per operation and check; the cassette has them all).
# scripts/schemathesis.toml lists the few per-operation exceptions (rules the document cannot express), with why.
# schemathesis (pinned) is installed into the project's venv .cache/venv when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
BIN="${LEADPIPE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/leadpipe}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
REPORTS="$ROOT/artifacts/schemathesis"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
[ -x "$BIN" ] || die "leadpipe binary not found or not executable at $BIN
       Build it first (cargo build --bin leadpipe) or point LEADPIPE_BIN at it."

ensure_curl
pip_install "schemathesis==$PIN_SCHEMATHESIS"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/leadpipe-schemathesis.XXXXXX")"
PORT="$("$LEADPIPE_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
INGEST_KEY="schemathesis-ingest-$RANDOM$RANDOM"
ADMIN_KEY="schemathesis-admin-$RANDOM$RANDOM"

log "starting $BIN serve on $BASE (fresh database in $WORK)"
API_KEY="$INGEST_KEY" ADMIN_API_KEY="$ADMIN_KEY" RUST_LOG="${RUST_LOG:-warn}" \
  "$BIN" serve --port "$PORT" --db "$WORK/leads.db" --static-dir "$ROOT/static-site" \
  >"$WORK/server.log" 2>&1 </dev/null &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Ready = /api/health answers 200; give up when the server exits or after 60 s.
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null "$BASE/api/health" 2>/dev/null; do
  if ! kill -0 "$SERVER" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
    cat "$WORK/server.log" >&2
    die "leadpipe serve did not become ready on $BASE (its output is above)"
  fi
  sleep 0.1
done

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
log "schemathesis $PIN_SCHEMATHESIS: --checks all, at most $MAX_EXAMPLES examples per operation, deterministic"
status=0
(cd "$WORK" && PYTHONPATH="$ROOT/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks "$LEADPIPE_VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" run "$BASE/api/openapi.json" \
  --url "$BASE" \
  --checks all \
  --header "x-api-key: $ADMIN_KEY" \
  --max-examples "$MAX_EXAMPLES" \
  --generation-deterministic \
  --continue-on-failure \
  --workers 1 \
  --request-timeout 10 \
  --no-color \
  --report junit,vcr --report-dir "$REPORTS" \
  "$@") || status=$?

if [ "$status" -ne 0 ]; then
  log "schemathesis FAILED (exit $status): the server and docs/openapi.json disagree (failures above; reports in $REPORTS)"
  if [ -s "$WORK/server.log" ]; then
    log "leadpipe serve output (last 40 lines):"
    tail -n 40 "$WORK/server.log" >&2
  fi
else
  log "schemathesis passed"
fi
exit "$status"
