#!/usr/bin/env bash
# Offline checks of the AWS deployment (no AWS account, no AWS call; runs in CI):
#   1. cfn-lint infra/template.yaml                 must report no error and no warning
#   2. SAM transform + cfn-lint of its output       infra/sam_transform.py runs aws-sam-translator (what
#                                                   `sam deploy` runs) offline; cfn-lint then checks the
#                                                   CloudFormation that AWS would receive
#   3. checkov (infra/checkov_scan.py)              the IaC security scanner on the template and on the
#                                                   transform's output: no failed check; each check that does
#                                                   not apply is skipped on its resource with its reason
#                                                   (Metadata.checkov.skip), and a skip matching nothing fails
#   4. infra/check_template.py                      what cfn-lint does not check: build method, runtime, arm64,
#                                                   cargo packages, references, the table vs
#                                                   infra/table-definition.json, every route of
#                                                   docs/openapi.json on the function whose router declares it,
#                                                   per-function IAM vs the code's DynamoDB calls, the key
#                                                   contract (no key in plain text), the stream consumer's
#                                                   event source mapping, alarms, throttles, logging, the
#                                                   optional WAF and budget, the dashboard, the
#                                                   customer-managed key (KmsKey) and point-in-time recovery
#   5. pytest infra/tests                           the checker's mutation tests (each check must fail on a
#                                                   template broken in that respect), the transform's output,
#                                                   and the deploy/teardown/build scripts run against stub
#                                                   aws/sam/cargo commands
#   6. bash -n (and shellcheck when installed) on scripts/*.sh of the deployment
#
# Usage: scripts/check-infra.sh [CHECKER_ARGS...]   e.g. --openapi path/to/openapi.json
# Installs cfn-lint, pytest and aws-sam-translator (pinned, from PyPI) into the project's venv .cache/venv when
# they are missing, and runs every Python step with that venv's interpreter. checkov (pinned, from PyPI) goes to
# its own venv, .cache/checkov-venv: it pins packaging<24, which pytest 9 cannot run with.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
cd "$ROOT"

say() { printf '\n[check-infra] %s\n' "$*"; }
failed=()

# The SAM transform (not a dependency of cfn-lint any more); pinned here, next to its only user.
PIN_SAM_TRANSLATOR=1.115.0
pip_install "cfn-lint==$PIN_CFN_LINT" "pytest==$PIN_PYTEST" "aws-sam-translator==$PIN_SAM_TRANSLATOR"
PY="$LEADPIPE_VENV/bin/python"
# checkov, pinned here too, in a venv of its own (same install rules: pip_install with that venv)
PIN_CHECKOV=3.3.30
CHECKOV_VENV="$ROOT/.cache/checkov-venv"
LEADPIPE_VENV="$CHECKOV_VENV" pip_install "checkov==$PIN_CHECKOV"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# cfn-lint's exit status is a bit mask: 2 = error, 4 = warning, 8 = informational. Errors and warnings fail.
lint() {
  local name=$1 rc
  shift
  set +e
  "$PY" -c 'import sys; from cfnlint.runner import main; sys.argv[0] = "cfn-lint"; sys.exit(main())' "$@"
  rc=$?
  set -e
  if [ $((rc & 2)) -ne 0 ] || [ "$rc" -eq 1 ] || [ "$rc" -gt 15 ]; then
    echo "cfn-lint: errors (exit status $rc)"
    failed+=("$name")
  elif [ $((rc & 4)) -ne 0 ]; then
    echo "cfn-lint: warnings (exit status $rc)"
    failed+=("$name")
  elif [ "$rc" -ne 0 ]; then
    echo "cfn-lint: no error, no warning; notes above (exit status $rc)"
  else
    echo "cfn-lint: no error, no warning"
  fi
}

# 1. cfn-lint on the SAM template
say "1/6 cfn-lint infra/template.yaml ($("$PY" -c 'import cfnlint.version as v; print(v.__version__)'))"
lint "cfn-lint" infra/template.yaml

# 2. the SAM transform, and cfn-lint on the CloudFormation it produces
say "2/6 SAM transform (aws-sam-translator $PIN_SAM_TRANSLATOR) and cfn-lint of its output"
transformed=()
if "$PY" infra/sam_transform.py "$out/template.cfn.json"; then
  lint "cfn-lint (transformed)" "$out/template.cfn.json"
  transformed=(--transformed "$out/template.cfn.json")
else
  failed+=("SAM transform")
fi

# 3. checkov, on the template and (when the transform worked) on its output
say "3/6 checkov $PIN_CHECKOV on infra/template.yaml and the transformed template"
if ! "$PY" infra/checkov_scan.py --checkov "$CHECKOV_VENV/bin/checkov" "${transformed[@]}"; then
  failed+=("checkov")
fi

# 4. the template checker
say "4/6 infra/check_template.py $*"
if ! "$PY" infra/check_template.py "$@"; then
  failed+=("check_template.py")
fi

# 5. self-tests
say "5/6 pytest infra/tests"
set +e
"$PY" -m pytest -q -p no:cacheprovider infra/tests
tests_rc=$?
set -e
[ "$tests_rc" -eq 0 ] || failed+=("pytest infra/tests")

# 6. shell scripts
say "6/6 shell syntax of the deployment scripts"
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
