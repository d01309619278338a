#!/usr/bin/env bash
# Deploy Leadpipe to your AWS account (see docs/DEPLOY.md):
#   1. scripts/lambda-build.sh          cargo lambda build --release --arm64 (prints the binary sizes)
#   2. sam build                        in infra/ (BuildMethod rust-cargolambda; reuses step 1's build)
#   3. sam deploy                       --guided the first time (no infra/samconfig.toml yet), plain later
#   4. upload static-site/ to the dashboard bucket with a config.js carrying the stack's ApiUrl
#   5. invalidate the CloudFront cache
#
# Usage: scripts/deploy.sh [--guided] [--skip-build] [--rotate-keys] [--site-only] [-- SAM_DEPLOY_ARGS...]
#   --guided        run `sam deploy --guided` even though infra/samconfig.toml exists
#   --skip-build    skip step 1 (sam build still runs cargo lambda, incrementally)
#   --rotate-keys   generate a new ApiKey and AdminApiKey, deploy them, print them once
#   --site-only     only steps 4 and 5 (upload the dashboard to an existing stack)
# Environment:
#   LEADPIPE_API_KEY, LEADPIPE_ADMIN_API_KEY   deploy these key values (first deploy without prompts,
#                                              or set one key); other parameters keep their values
#   STACK_NAME, AWS_REGION                     used when infra/samconfig.toml does not say
#   AWS_PROFILE etc.                           the usual AWS CLI credentials settings
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INFRA="$ROOT/infra"
SITE="$ROOT/static-site"
SAMCONFIG="$INFRA/samconfig.toml"
PY="${PYTHON:-python3}"
HELPERS="$INFRA/deploy_helpers.py"

say() { printf '[deploy] %s\n' "$*"; }
die() { printf '[deploy] error: %s\n' "$*" >&2; exit 1; }

guided=0 skip_build=0 rotate=0 site_only=0
extra=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --guided) guided=1 ;;
    --skip-build) skip_build=1 ;;
    --rotate-keys) rotate=1 ;;
    --site-only) site_only=1 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }
need "$PY" "Python 3 is needed by the deploy helpers"
need aws "install the AWS CLI (https://docs.aws.amazon.com/cli/) and configure credentials"
if [ "$site_only" -eq 0 ]; then
  need sam "install the AWS SAM CLI (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)"
fi

# ------------------------------------------------------------------ 1-3: build and deploy the stack
if [ "$site_only" -eq 0 ]; then
  if [ "$skip_build" -eq 0 ]; then
    "$ROOT/scripts/lambda-build.sh"
  fi

  say "sam build (infra/template.yaml; rust-cargolambda runs cargo lambda build --release --arm64 per function)"
  # rust-cargolambda was a beta build method in older SAM CLIs; this opts in there and is ignored later.
  (cd "$INFRA" && SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 sam build)

  overrides=""
  api_key="${LEADPIPE_API_KEY:-}"
  admin_key="${LEADPIPE_ADMIN_API_KEY:-}"
  if [ "$rotate" -eq 1 ]; then
    [ -n "$api_key" ] || api_key="$("$PY" "$HELPERS" new-key)"
    [ -n "$admin_key" ] || admin_key="$("$PY" "$HELPERS" new-key)"
  fi
  if [ -n "$api_key" ] || [ -n "$admin_key" ]; then
    # --parameter-overrides on the command line replaces the samconfig.toml value, so carry that over;
    # parameters named in neither keep the stack's previous value (SAM sends UsePreviousValue).
    overrides="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" parameter_overrides)"
    [ -n "$api_key" ] && overrides="$overrides ApiKey=$api_key"
    [ -n "$admin_key" ] && overrides="$overrides AdminApiKey=$admin_key"
  fi

  deploy_args=(--no-fail-on-empty-changeset)
  [ -n "$overrides" ] && deploy_args+=(--parameter-overrides "${overrides# }")
  if [ ! -f "$SAMCONFIG" ] || [ "$guided" -eq 1 ]; then
    [ -f "$SAMCONFIG" ] || say "no infra/samconfig.toml yet: first deploy, running 'sam deploy --guided'"
    [ -t 0 ] || die "'sam deploy --guided' needs a terminal; run this from an interactive shell, or copy infra/samconfig.example.toml to infra/samconfig.toml and set LEADPIPE_API_KEY and LEADPIPE_ADMIN_API_KEY"
    say "answer the prompts; save the answers to infra/samconfig.toml (the default) so later deploys need none."
    say "ApiKey / AdminApiKey: 16+ characters, e.g. from 'openssl rand -hex 32'; they are not saved to samconfig.toml."
    (cd "$INFRA" && sam deploy --guided "${deploy_args[@]}" ${extra[@]+"${extra[@]}"})
  else
    say "sam deploy (settings from infra/samconfig.toml)"
    (cd "$INFRA" && sam deploy "${deploy_args[@]}" ${extra[@]+"${extra[@]}"})
  fi
fi

# ------------------------------------------------------------------ 4-5: dashboard
STACK="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" stack_name)"
STACK="${STACK:-${STACK_NAME:-}}"
REGION="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" region)"
REGION="${REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}"
[ -n "$STACK" ] || die "stack name unknown: no stack_name in infra/samconfig.toml and STACK_NAME is not set"
region_args=()
[ -n "$REGION" ] && region_args=(--region "$REGION")

say "reading the outputs of stack $STACK${REGION:+ in $REGION}"
outputs_json="$(aws cloudformation describe-stacks --stack-name "$STACK" ${region_args[@]+"${region_args[@]}"} \
  --query 'Stacks[0].Outputs' --output json)" || die "cannot describe stack $STACK (deployed? right region/profile?)"
outputs="$(printf '%s' "$outputs_json" | "$PY" "$HELPERS" outputs ApiUrl DashboardUrl DashboardBucket DistributionId)" \
  || die "stack $STACK does not have the expected outputs"
API_URL="$(printf '%s\n' "$outputs" | sed -n 's/^ApiUrl=//p')"
DASHBOARD_URL="$(printf '%s\n' "$outputs" | sed -n 's/^DashboardUrl=//p')"
BUCKET="$(printf '%s\n' "$outputs" | sed -n 's/^DashboardBucket=//p')"
DISTRIBUTION="$(printf '%s\n' "$outputs" | sed -n 's/^DistributionId=//p')"

[ -d "$SITE" ] || die "no static-site/ directory at $SITE"
[ -f "$SITE/index.html" ] || say "warning: static-site/index.html is missing; the dashboard URL will answer 403"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PY" "$HELPERS" config-js "$API_URL" "$STACK" > "$tmp/config.js"

say "uploading static-site/ to s3://$BUCKET (config.js points the dashboard at $API_URL)"
aws s3 sync "$SITE/" "s3://$BUCKET/" --delete --exclude "config.js" ${region_args[@]+"${region_args[@]}"} \
  --cache-control "public, max-age=300"
aws s3 cp "$tmp/config.js" "s3://$BUCKET/config.js" ${region_args[@]+"${region_args[@]}"} \
  --content-type "application/javascript; charset=utf-8" --cache-control "no-cache, no-store, must-revalidate"

say "invalidating the CloudFront cache of distribution $DISTRIBUTION"
invalidation="$(aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION" --paths '/*' \
  --query 'Invalidation.Id' --output text)"
say "invalidation $invalidation started (takes a minute or two)"

cat <<EOF

Leadpipe is deployed (stack $STACK${REGION:+, region $REGION}).
  Dashboard:         $DASHBOARD_URL   (it asks for the admin key)
  API:               $API_URL
  Postback endpoint: $API_URL/api/postback   (header x-api-key: the ingest key)
EOF
if [ -n "${api_key:-}" ] || [ -n "${admin_key:-}" ]; then
  printf '\nKeys deployed by this run (store them now; they are not shown again):\n'
  [ -n "${api_key:-}" ] && printf '  ApiKey (ingest):  %s\n' "$api_key"
  [ -n "${admin_key:-}" ] && printf '  AdminApiKey:      %s\n' "$admin_key"
fi
exit 0
