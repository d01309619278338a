#!/usr/bin/env bash
# Runs every Leadpipe benchmark (see docs/PERFORMANCE.md) and writes the figures to target/bench/<mode>/
# (under CARGO_TARGET_DIR when it is set):
#   cold_start  binary sizes; exec -> first poll / first response against a local Lambda Runtime API stand-in; peak RSS
#   dynamo_cost DynamoDB round trips and capacity per operation (DynamoDB Local), $ per million postbacks
#   scaling     analytics and a list page with 1,000 and 100,000 leads, on SQLite and DynamoDB Local
#   loadgen     `leadpipe serve` on SQLite under a postback mix over loopback: req/s, p50/p99, ratio to /api/health
#
# Usage: scripts/bench.sh            full run on release builds (about 10 minutes after the build)
#        scripts/bench.sh --smoke    a short run of each benchmark on the debug build, for CI (well under a minute
#                                    after the build); figures from it mean nothing, it only proves the benchmarks run
# Environment:
#   LEADPIPE_TEST_DYNAMODB    use this DynamoDB Local (scripts/test.sh sets it); otherwise one is started and stopped
#   LEADPIPE_BENCH_BASELINE   path to another `leadpipe` binary: the load test runs it and the current build
#                             alternately in the same run (before/after figures)
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

START=$SECONDS
run cold_start
run dynamo_cost --cold-start-json "$OUT/cold_start.json"
run scaling
if [ -n "${LEADPIPE_BENCH_BASELINE:-}" ]; then
  run loadgen --server "$LEADPIPE_BENCH_BASELINE,$BIN/leadpipe" --labels before,after
else
  run loadgen --server "$BIN/leadpipe"
fi

step "done in $((SECONDS - START)) s: figures in $OUT/ (*.txt tables, *.json data)"
