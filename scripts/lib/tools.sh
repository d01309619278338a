# shellcheck shell=bash disable=SC2034  # (the PIN_ variables are read by the scripts that source this file)
# Sourced by the scripts in scripts/: where Leadpipe's tools live and how a missing one is installed.
# Every install is idempotent (skipped when the tool is already there at the pinned version) and project-local:
#   apt packages     the machine's (as root, or through sudo)
#   Python tools     one venv, .cache/venv          (never the global Python)
#   cargo tools      cargo install --root .cache/tools
#   npm packages     under .cache/ or the test folder (see dynamodb-local.sh, browser-tests.sh)
# After sourcing, .cache/tools/bin and .cache/venv/bin are first on PATH (so `python3` there is the venv's).

LEADPIPE_ROOT=${LEADPIPE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LEADPIPE_VENV=$LEADPIPE_ROOT/.cache/venv
LEADPIPE_TOOLS=$LEADPIPE_ROOT/.cache/tools

# Pinned versions of what is installed from PyPI and crates.io.
PIN_CFN_LINT=1.58.0
PIN_PYTEST=9.2.0
PIN_CARGO_LAMBDA=1.9.2
PIN_SCHEMATHESIS=4.32.5
PIN_CARGO_MACHETE=0.9.2

case ":$PATH:" in *":$LEADPIPE_TOOLS/bin:"*) ;; *) PATH="$LEADPIPE_TOOLS/bin:$PATH" ;; esac
case ":$PATH:" in *":$LEADPIPE_VENV/bin:"*) ;; *) PATH="$LEADPIPE_VENV/bin:$PATH" ;; esac
export PATH

tools_log() { printf '[tools] %s\n' "$*" >&2; }
tools_die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    tools_die "root is needed to run '$*': run this as root or install sudo"
  fi
}

# apt_install PACKAGE...: installs the packages that are not installed yet (apt-get update once per run).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || tools_die "apt-get not available: install ${missing[*]} yourself"
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    tools_die "installing ${missing[*]} with apt-get needs root: run this as root, install sudo, or install them yourself"
  fi
  if [ -z "${LEADPIPE_APT_UPDATED:-}" ]; then
    tools_log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    LEADPIPE_APT_UPDATED=1
    export LEADPIPE_APT_UPDATED
  fi
  tools_log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

have_java17() { java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; }
have_node() { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }

ensure_java() { have_java17 || apt_install openjdk-17-jre-headless; have_java17 || tools_die "Java 17+ still missing"; }
ensure_node() {
  have_node || apt_install nodejs npm
  have_node || tools_die "node and npm still missing"
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 18 ] || tools_die "Node.js >= 18 needed (found $(node --version))"
}
ensure_curl() { command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates; }

# The venv at .cache/venv, created with the machine's python3 (python3-venv from apt when it cannot make one).
ensure_venv() {
  [ -x "$LEADPIPE_VENV/bin/python" ] && return 0
  local py
  py=$(PATH=${PATH//"$LEADPIPE_VENV/bin:"/} command -v python3) || tools_die "python3 not found: install Python 3"
  if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  tools_log "creating the venv $LEADPIPE_VENV ($("$py" --version))"
  "$py" -m venv "$LEADPIPE_VENV" || { rm -rf "$LEADPIPE_VENV"; tools_die "python3 -m venv failed"; }
}

# pip_install DIST==VERSION...: installs into .cache/venv what is not there at that version.
pip_install() {
  ensure_venv
  local missing=() spec
  for spec in "$@"; do
    "$LEADPIPE_VENV/bin/python" - "$spec" <<'EOF' >/dev/null 2>&1 || missing+=("$spec")
import sys
from importlib.metadata import version
name, want = sys.argv[1].split("==")
sys.exit(0 if version(name) == want else 1)
EOF
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  tools_log "pip install ${missing[*]} (into $LEADPIPE_VENV)"
  "$LEADPIPE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}" >&2
}

# cargo_tool CRATE VERSION [BINARY]: cargo install --locked --root .cache/tools, unless that version is there.
cargo_tool() {
  local crate=$1 version=$2 bin=${3:-$1}
  if [ -x "$LEADPIPE_TOOLS/bin/$bin" ] && "$LEADPIPE_TOOLS/bin/$bin" --version 2>/dev/null | grep -qF "$version"; then
    return 0
  fi
  command -v cargo >/dev/null 2>&1 || tools_die "cargo not found: install Rust with rustup (https://rustup.rs)"
  tools_log "cargo install $crate@$version (into $LEADPIPE_TOOLS)"
  # Without the workspace's CARGO_TARGET_DIR: cargo install then builds in a temp dir it removes afterwards.
  env -u CARGO_TARGET_DIR cargo install --locked --quiet --root "$LEADPIPE_TOOLS" "$crate" --version "$version" >&2
}

ensure_python_tools() {
  pip_install "cfn-lint==$PIN_CFN_LINT" "pytest==$PIN_PYTEST" "cargo-lambda==$PIN_CARGO_LAMBDA" \
    "schemathesis==$PIN_SCHEMATHESIS"
}
