#!/usr/bin/env bash
# Offline checks of the AWS deployment (no AWS account, no AWS call; runs in CI):
#   1. cfn-lint infra/template.yaml                 must report no error
#   2. infra/check_template.py                      what cfn-lint does not check: build method, runtime,
#                                                   arm64, cargo packages, references in environment and
#                                                   policies, table vs infra/table-definition.json, every
#                                                   route of docs/openapi.json on the right function,
#                                                   least-privilege policies, log retention, dashboard
#   3. pytest infra/tests                           the checker's negative self-tests (mutated templates must
#                                                   fail) and the deploy/teardown/build scripts run against
#                                                   stub aws/sam/cargo commands
#   4. bash -n (and shellcheck when installed) on scripts/*.sh of the deployment
#
# Usage: scripts/check-infra.sh [CHECKER_ARGS...]   e.g. --openapi path/to/openapi.json
# Installs cfn-lint and pytest (pinned, from PyPI) into the project's venv .cache/venv when they are missing,
# and runs every Python step with that venv's interpreter.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
cd "$ROOT"

say() { printf '\n[check-infra] %s\n' "$*"; }
failed=()

pip_install "cfn-lint==$PIN_CFN_LINT" "pytest==$PIN_PYTEST"
PY="$LEADPIPE_VENV/bin/python"

# 1. cfn-lint. Exit status is a bit mask: 2 = error, 4 = warning, 8 = informational.
say "1/4 cfn-lint infra/template.yaml ($("$PY" -c 'import cfnlint.version as v; print(v.__version__)'))"
set +e
"$PY" -c 'import sys; from cfnlint.runner import main; sys.argv[0] = "cfn-lint"; sys.exit(main())' infra/template.yaml
lint_rc=$?
set -e
if [ $((lint_rc & 2)) -ne 0 ] || [ "$lint_rc" -eq 1 ] || [ "$lint_rc" -gt 15 ]; then
  echo "cfn-lint: errors (exit status $lint_rc)"
  failed+=("cfn-lint")
elif [ "$lint_rc" -ne 0 ]; then
  echo "cfn-lint: no error; warnings or notes above (exit status $lint_rc)"
else
  echo "cfn-lint: no error, no warning"
fi

# 2. the template checker
say "2/4 infra/check_template.py $*"
if ! "$PY" infra/check_template.py "$@"; then
  failed+=("check_template.py")
fi

# 3. self-tests
say "3/4 pytest infra/tests"
set +e
"$PY" -m pytest -q -p no:cacheprovider infra/tests
tests_rc=$?
set -e
[ "$tests_rc" -eq 0 ] || failed+=("pytest infra/tests")

# 4. shell scripts
say "4/4 shell syntax of the deployment scripts"
scripts=(scripts/deploy.sh scripts/teardown.sh scripts/lambda-build.sh scripts/check-infra.sh)
for s in "${scripts[@]}"; do
  if bash -n "$s"; then echo "  ok    bash -n $s"; else failed+=("bash -n $s"); fi
done
if command -v shellcheck >/dev/null 2>&1; then
  if shellcheck -S warning "${scripts[@]}"; then echo "  ok    shellcheck (warnings and errors)"; else failed+=("shellcheck"); fi
else
  echo "  (shellcheck not installed; skipped)"
fi

if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "all infra checks passed"
