#!/usr/bin/env bash
# End-to-end smoke test of the real Lambda function binaries under `cargo lambda watch` (cargo-lambda's emulation
# of the Lambda control plane and runtime API) against DynamoDB Local: a postback, a listing, a manual stage move,
# analytics and a delete, each through the runtime API of the function that serves it in AWS. The functions start
# with a server and an admin key (they refuse to start without them) and each request carries the one it needs.
# Analytics come from the table's stream in AWS (the counters function); `cargo lambda watch` does not feed a
# stream to it, so `leadpipe recount --dynamodb` builds the counters from the stored leads, as the consumer would.
#
# Usage: scripts/lambda-smoke.sh     (needs LEADPIPE_TEST_DYNAMODB, or starts DynamoDB Local itself)
# Installs cargo-lambda (pinned, from PyPI) into the project's venv .cache/venv when it is missing, and curl with apt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

ensure_curl
if ! command -v cargo-lambda >/dev/null 2>&1; then
  pip_install "cargo-lambda==$PIN_CARGO_LAMBDA"
fi

STARTED_DYNAMODB=0
if [ -z "${LEADPIPE_TEST_DYNAMODB:-}" ]; then
  LEADPIPE_TEST_DYNAMODB=$(scripts/dynamodb-local.sh start)
  STARTED_DYNAMODB=1
  trap 'scripts/dynamodb-local.sh stop' EXIT
fi
export TABLE_NAME="lambda-smoke-$$" AWS_ENDPOINT_URL="$LEADPIPE_TEST_DYNAMODB" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
SERVER_KEY="smoke-server-key-$$" ADMIN_KEY="smoke-admin-key-$$"
cargo build --quiet -p leadpipe
# `cargo lambda watch` starts each function with `cargo run --bin <name>`, whose features are that package's alone
# (resolver 2): build each one the same way first, so no function is compiled while a request waits for it.
for fn in postback leads stage analytics; do
  cargo build --quiet --bin "$fn"
done
"$TARGET_DIR/debug/leadpipe" create-table

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
cargo lambda watch --quiet --invoke-address 127.0.0.1 --invoke-port "$PORT" \
  --env-var "TABLE_NAME=$TABLE_NAME,AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL,AWS_REGION=us-east-1,AWS_ACCESS_KEY_ID=local,AWS_SECRET_ACCESS_KEY=local,API_KEY=$SERVER_KEY,ADMIN_API_KEY=$ADMIN_KEY" \
  >"$LOG" 2>&1 &
WATCH=$!
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "lambda smoke failed (exit $rc); cargo lambda watch log:" >&2
    tail -n 60 "$LOG" >&2
  fi
  kill "$WATCH" 2>/dev/null || true
  wait "$WATCH" 2>/dev/null || true
  rm -f "$LOG"
  if [ "$STARTED_DYNAMODB" = 1 ]; then scripts/dynamodb-local.sh stop; fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  sleep 0.2
done
# Each function starts on its first request (and is built then if the build above left anything to do): wait
# until every one answers its health route, up to a deadline, so the checks below never race a start-up.
for fn in postback leads stage analytics; do
  started=$(date +%s)
  until [ "$(curl -s -m 600 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/lambda-url/$fn/api/health")" = 200 ]; do
    if [ $(( $(date +%s) - started )) -ge 900 ]; then
      echo "FAIL $fn did not answer GET /api/health within 900 s" >&2
      exit 1
    fi
    sleep 1
  done
  echo "     $fn answers (started in $(( $(date +%s) - started )) s)" >&2
done

FAILED=0
# call NAME METHOD FUNCTION PATH [BODY] -> prints the body, checks the status
call() {
  local name=$1 method=$2 fn=$3 path=$4 body=${5:-} expect=$6 out status key=$ADMIN_KEY
  if [ "$fn" = postback ]; then key=$SERVER_KEY; fi
  out=$(mktemp)
  status=$(curl -s -m 120 -o "$out" -w '%{http_code}' -X "$method" "http://127.0.0.1:$PORT/lambda-url/$fn$path" \
    -H 'content-type: application/json' -H "x-api-key: $key" ${body:+-d "$body"})
  if [ "$status" = "$expect" ]; then
    printf 'ok   %-22s %s %s via %s -> %s\n' "$name" "$method" "$path" "$fn" "$status" >&2
  else
    printf 'FAIL %-22s %s %s via %s -> %s (expected %s): %s\n' "$name" "$method" "$path" "$fn" "$status" "$expect" "$(cat "$out")" >&2
    FAILED=$((FAILED + 1))
  fi
  cat "$out"
  rm -f "$out"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# Personal data the Lambda logs must never show (checked at the end).
PII_EMAIL="smoke.person.$$@example.com" PII_PHONE="+1 555 01$$" PII_NAME="Smokename$$"
ID=$(call postback POST postback /api/postback "{\"email\":\"$PII_EMAIL\",\"phone\":\"$PII_PHONE\",\"first_name\":\"$PII_NAME\",\"stage\":\"Form Started\",\"source\":\"google\"}" 201 | json 'd["lead_id"]')
LISTED=$(call listing GET leads "/api/leads?stage=Form%20Started" "" 200 | json 'd["leads"][0]["id"]')
[ "$LISTED" = "$ID" ] || { echo "FAIL listing does not show the lead" >&2; FAILED=$((FAILED + 1)); }
STAGE=$(call manual-move PUT stage "/api/leads/$ID/stage" '{"stage":"Paid"}' 200 | json 'd["lead"]["stage"]')
[ "$STAGE" = "Paid" ] || { echo "FAIL stage move answered $STAGE" >&2; FAILED=$((FAILED + 1)); }
"$TARGET_DIR/debug/leadpipe" recount --dynamodb >&2
PAID=$(call analytics GET analytics /api/analytics "" 200 | json '[f["count"] for f in d["funnel"] if f["stage"]=="Paid"][0]')
[ "$PAID" = "1" ] || { echo "FAIL analytics counts $PAID paid leads" >&2; FAILED=$((FAILED + 1)); }
call delete DELETE leads "/api/leads/$ID" "" 204 >/dev/null
call gone GET leads "/api/leads/$ID" "" 404 >/dev/null
SEARCHED=$(call search GET leads "/api/leads?search=$PII_EMAIL" "" 200 | json 'len(d["leads"])')
[ "$SEARCHED" = "0" ] || { echo "FAIL the deleted lead is still found by its email" >&2; FAILED=$((FAILED + 1)); }
# The functions' logs (everything cargo lambda watch printed) never hold the person's email, phone or name.
[ -s "$LOG" ] || { echo "FAIL cargo lambda watch printed nothing to check" >&2; FAILED=$((FAILED + 1)); }
for pii in "$PII_EMAIL" "$PII_PHONE" "$PII_NAME"; do
  if grep -qiF -- "$pii" "$LOG"; then
    echo "FAIL personal data ($pii) in the Lambda logs" >&2; FAILED=$((FAILED + 1))
  else
    printf 'ok   %-22s %s not in %s lines of Lambda logs\n' "no-pii-in-logs" "$pii" "$(wc -l <"$LOG")" >&2
  fi
done

if [ "$FAILED" -ne 0 ]; then
  echo "cargo lambda watch log:" >&2
  tail -n 40 "$LOG" >&2
  echo "lambda smoke: $FAILED check(s) failed" >&2
  exit 1
fi
echo "lambda smoke: all checks passed through cargo lambda watch" >&2
