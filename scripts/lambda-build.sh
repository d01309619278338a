#!/usr/bin/env bash
# Build Leadpipe's Lambda functions for AWS Lambda arm64 (provided.al2023) with cargo-lambda:
#   cargo lambda build --release --arm64 --bin postback --bin leads --bin stage --bin analytics
# and print the size of each target/lambda/<name>/bootstrap.
#
# `--bin` (not `--package`) on purpose: SAM's rust-cargolambda builder runs
# `cargo lambda build --release --arm64 --bin <name>` at the workspace root, so building the same way
# here gives the same dependency features, and `sam build` after this script finds nothing to rebuild.
#
# Usage: scripts/lambda-build.sh [FUNCTION...]     (default: all six: the four endpoint groups, the stream consumer and the webhook delivery function)
#
# Installs what is missing: cargo-lambda from PyPI into the project's venv .cache/venv (`pip install
# cargo-lambda`, which pulls in zig through the `ziglang` package) and the Rust target
# aarch64-unknown-linux-gnu (rustup).
# The release profile in Cargo.toml is size-tuned (opt-level "s", LTO, one codegen unit, stripped).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
TARGET=aarch64-unknown-linux-gnu
ALL_FUNCTIONS=(postback leads stage analytics counters webhooks)

say() { printf '[lambda-build] %s\n' "$*"; }
die() { printf '[lambda-build] error: %s\n' "$*" >&2; exit 1; }

if [ "$#" -gt 0 ]; then
  FUNCTIONS=("$@")
else
  FUNCTIONS=("${ALL_FUNCTIONS[@]}")
fi
for f in "${FUNCTIONS[@]}"; do
  [ -f "$ROOT/functions/$f/Cargo.toml" ] || die "unknown function '$f': no functions/$f/Cargo.toml (known: ${ALL_FUNCTIONS[*]})"
done

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs) first"
command -v "$PY" >/dev/null 2>&1 || die "$PY not found: Python 3 (with venv) is needed to install cargo-lambda"

# Python tools live in the project's venv (.cache/venv, as in scripts/lib/tools.sh), never in the global Python.
# This script stays self-contained (deploy.sh runs it, and infra/tests runs a copy of it without scripts/lib/).
VENV="$ROOT/.cache/venv"
CARGO_LAMBDA_VERSION=1.9.2
case ":$PATH:" in *":$VENV/bin:"*) ;; *) PATH="$VENV/bin:$PATH" ;; esac
export PATH

ensure_cargo_lambda() {
  if cargo lambda --version >/dev/null 2>&1; then
    say "using $(cargo lambda --version)"
    return
  fi
  say "cargo-lambda not found: installing cargo-lambda==$CARGO_LAMBDA_VERSION from PyPI into $VENV (brings zig via ziglang)"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" || die "'$PY -m venv $VENV' failed (on Debian: apt-get install python3-venv)"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION" \
    || die "pip install cargo-lambda failed (see above)"
  cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda was installed into $VENV but 'cargo lambda' does not run"
  say "installed $(cargo lambda --version)"
}

ensure_target() {
  if ! command -v rustup >/dev/null 2>&1; then
    say "rustup not found: assuming the $TARGET standard library is installed"
    return
  fi
  if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    return
  fi
  say "adding the Rust target $TARGET (rustup target add $TARGET)"
  rustup target add "$TARGET" || die "rustup target add $TARGET failed"
}

ensure_cargo_lambda
ensure_target

bin_args=()
for f in "${FUNCTIONS[@]}"; do bin_args+=(--bin "$f"); done

say "building ${FUNCTIONS[*]} (release, arm64) in $ROOT"
start=$(date +%s)
(cd "$ROOT" && cargo lambda build --release --arm64 "${bin_args[@]}")
say "build took $(( $(date +%s) - start ))s"

bootstraps=()
for f in "${FUNCTIONS[@]}"; do bootstraps+=("${CARGO_TARGET_DIR:-$ROOT/target}/lambda/$f/bootstrap"); done
"$PY" "$ROOT/infra/deploy_helpers.py" binary-report "${bootstraps[@]}"
