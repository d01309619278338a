#!/usr/bin/env bash
# Runs every Leadpipe benchmark (see docs/PERFORMANCE.md) and writes the figures to target/bench/<mode>/
# (under CARGO_TARGET_DIR when it is set):
#   cold_start  binary sizes; exec -> first poll / first response against a local Lambda Runtime API stand-in; peak RSS
#   dynamo_cost DynamoDB round trips and units per operation (DynamoDB Local) with the stream consumer's share
#   webhook_cost what webhooks add per million postbacks in AWS: fan-out, attempts, retries (DynamoDB Local + SQS count)
#   heat        partition heat and cost at 10,000 postbacks/s of the DynamoDB design (DynamoDB Local + the consumer)
#   scaling     analytics and a list page with 1,000 and 100,000 leads, on SQLite and DynamoDB Local
#   loadgen     `leadpipe serve` on SQLite under a postback mix over loopback: req/s, p50/p99, ratio to /api/health,
#               and postbacks that all hit one lead (hot lead)
#   peer        the Express + better-sqlite3 peer and `leadpipe serve` alternately, 32 connections, 3 rounds
#
# Usage: scripts/bench.sh            full run on release builds (about 25 minutes after the build)
#        scripts/bench.sh --smoke    a short run of each benchmark on the debug build, for CI (about 2 minutes after
#                                    the build); figures from it mean nothing, it only proves the benchmarks run —
#                                    except `heat --check`, which fails the run when the DynamoDB design's partition
#                                    heat or cost at 10,000 postbacks/s passes its limits
# Environment:
#   LEADPIPE_TEST_DYNAMODB    use this DynamoDB Local (scripts/test.sh sets it); otherwise one is started and stopped
#   LEADPIPE_BENCH_BASELINE   path to another `leadpipe` binary: the load test runs it and the current build
#                             alternately in the same run (before/after figures)
#   LEADPIPE_PEER_DIR         the peer to compare with (default ../shared/peers/express, next to the repository);
#                             skipped with a message when it does not exist. Its npm packages are installed into
#                             .cache/peer-express (full run only; the smoke run uses them when already there)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

MODE=full
case "${1:-}" in
  --smoke) MODE=smoke ;;
  "") ;;
  *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/bench/$MODE
mkdir -p "$OUT"

step() { printf '\n==> %s\n' "$*"; }

PKGS=(-p postback -p leads -p stage -p analytics -p leadpipe -p leadpipe-bench)
if [ "$MODE" = smoke ]; then
  step "debug build (smoke run)"
  cargo build --quiet "${PKGS[@]}"
  BIN=$TARGET/debug
  SMOKE=(--smoke)
else
  step "release build"
  cargo build --release "${PKGS[@]}"
  BIN=$TARGET/release
  SMOKE=()
fi
export LEADPIPE_BENCH_BIN_DIR=$BIN

if [ -z "${LEADPIPE_TEST_DYNAMODB:-}" ]; then
  step "starting DynamoDB Local"
  # Its own pid file, so a DynamoDB Local started by scripts/test.sh on this machine is left alone;
  # the jar the tests installed is reused.
  BENCH_CACHE=$TARGET/bench/dynamodb-cache
  mkdir -p "$BENCH_CACHE"
  if [ -d "$ROOT/.cache/dynamodb-local" ] && [ ! -e "$BENCH_CACHE/dynamodb-local" ]; then
    ln -s "$ROOT/.cache/dynamodb-local" "$BENCH_CACHE/dynamodb-local"
  fi
  LEADPIPE_TEST_DYNAMODB=$(LEADPIPE_CACHE=$BENCH_CACHE scripts/dynamodb-local.sh start)
  export LEADPIPE_TEST_DYNAMODB
  trap 'LEADPIPE_CACHE=$BENCH_CACHE scripts/dynamodb-local.sh stop' EXIT
  echo "DynamoDB Local at $LEADPIPE_TEST_DYNAMODB"
fi

run() {
  local name=$1
  shift
  step "$name"
  local start=$SECONDS
  "$BIN/$name" "${SMOKE[@]}" --json "$OUT/$name.json" "$@" | tee "$OUT/$name.txt"
  echo "($name took $((SECONDS - start)) s)"
}

# The Express peer, measured alternately with `leadpipe serve` under the same mix (full run), or a few seconds of
# each to prove the comparison runs (smoke run, only when its packages are installed already).
peer() {
  local dir=${LEADPIPE_PEER_DIR:-$ROOT/../shared/peers/express}
  if [ ! -f "$dir/server.js" ] || [ ! -f "$dir/package.json" ]; then
    step "peer: skipped ($dir has no server.js and package.json; set LEADPIPE_PEER_DIR)"
    return
  fi
  dir=$(cd "$dir" && pwd)
  local modules=$ROOT/.cache/peer-express
  if [ ! -d "$modules/node_modules/better-sqlite3" ] || [ ! -d "$modules/node_modules/express" ]; then
    if [ "$MODE" = smoke ]; then
      step "peer: skipped in the smoke run (its packages are not in $modules; the full run installs them)"
      return
    fi
    step "peer: npm install into $modules"
    # shellcheck source=scripts/lib/tools.sh
    . "$ROOT/scripts/lib/tools.sh"
    ensure_node
    mkdir -p "$modules"
    cp "$dir/package.json" "$modules/package.json"
    npm install --no-audit --no-fund --prefix "$modules" >&2
  fi
  export LEADPIPE_PEER_NODE_MODULES=$modules/node_modules
  step "peer ($dir, $(node --version)) vs leadpipe"
  local start=$SECONDS
  "$BIN/loadgen" "${SMOKE[@]}" --server "node:$dir,$BIN/leadpipe" --labels peer,leadpipe --concurrency 32 --hot-lead --fixed-secs 0 \
    --json "$OUT/peer.json" | tee "$OUT/peer.txt"
  echo "(peer took $((SECONDS - start)) s)"
}

START=$SECONDS
if [ "$MODE" = smoke ]; then
  # The one benchmark that asserts: partition heat and cost of the DynamoDB design (seeded; limits, not figures).
  run heat --check
fi
run cold_start
run dynamo_cost --cold-start-json "$OUT/cold_start.json"
run webhook_cost
if [ "$MODE" = full ]; then
  run heat --cold-start-json "$OUT/cold_start.json"
fi
run scaling
if [ -n "${LEADPIPE_BENCH_BASELINE:-}" ]; then
  run loadgen --hot-lead --server "$LEADPIPE_BENCH_BASELINE,$BIN/leadpipe" --labels before,after
else
  run loadgen --hot-lead --server "$BIN/leadpipe"
fi
peer

step "done in $((SECONDS - START)) s: figures in $OUT/ (*.txt tables, *.json data)"
