#!/usr/bin/env bash
# Runs every Leadpipe test on this machine, installing what they need when it is missing (scripts/setup.sh:
# apt packages first, then npm, PyPI into .cache/venv and cargo tools into .cache/tools):
#   formatting, lints and unused dependencies (cargo-machete), unit tests, the store conformance suite on
#   SQLite and on DynamoDB Local, HTTP and Lambda-event tests, the dashboard in headless Chromium, the API
#   against its OpenAPI document (schemathesis), and the infrastructure checks.
# Usage: scripts/test.sh            (CI runs exactly this through .ci/run)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"

step() { printf '\n==> %s\n' "$*"; }

step "installing what is missing (apt, then npm, pip into .cache/venv, cargo tools into .cache/tools)"
scripts/setup.sh

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "unused dependencies (cargo-machete $PIN_CARGO_MACHETE)"
cargo machete

step "starting DynamoDB Local"
LEADPIPE_TEST_DYNAMODB=$(scripts/dynamodb-local.sh start)
export LEADPIPE_TEST_DYNAMODB
LEADPIPE_DYNAMODB_JAR=$(scripts/dynamodb-local.sh jar)
export LEADPIPE_DYNAMODB_JAR
trap 'scripts/dynamodb-local.sh stop' EXIT
echo "DynamoDB Local at $LEADPIPE_TEST_DYNAMODB"

step "cargo test --workspace"
cargo test --workspace

step "benchmark smoke run (figures meaningless here; proves every benchmark builds and runs)"
scripts/bench.sh --smoke

step "Lambda binaries under cargo lambda watch (runtime API emulation) against DynamoDB Local"
scripts/lambda-smoke.sh

LEADPIPE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/leadpipe"
export LEADPIPE_BIN
cargo build --quiet --bin leadpipe

if [ -x scripts/browser-tests.sh ]; then
  step "dashboard tests in headless Chromium"
  scripts/browser-tests.sh
fi

step "the API against its OpenAPI document (schemathesis, every check)"
scripts/schemathesis.sh

if [ -x scripts/check-infra.sh ]; then
  step "infrastructure checks"
  scripts/check-infra.sh
fi

step "release arm64 build of the six Lambdas (four endpoint groups, the counters stream consumer, the webhooks delivery function) with cargo lambda (sizes below)"
scripts/lambda-build.sh

step "all tests passed"
