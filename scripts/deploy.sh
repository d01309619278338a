#!/usr/bin/env bash
# Deploy Leadpipe to your AWS account (see docs/DEPLOY.md):
#   1. scripts/lambda-build.sh          cargo lambda build --release --arm64 (the six functions; prints sizes)
#   2. sam build                        in infra/ (BuildMethod rust-cargolambda; reuses step 1's build)
#   3. sam deploy                       --guided the first time (no infra/samconfig.toml yet), plain later
#   4. API keys                         KeySource ssm: creates the SSM SecureString parameters that do not exist
#                                       yet (values from the environment, typed at a prompt, or generated);
#                                       on a first deploy with infra/samconfig.toml before step 3, so that no
#                                       function starts without its keys (after a guided one, right after it)
#   5. upload static-site/ to the dashboard bucket with a config.js carrying the stack's ApiUrl
#   6. invalidate the CloudFront cache
#
# Usage: scripts/deploy.sh [--guided] [--skip-build] [--rotate-keys] [--site-only] [-- SAM_DEPLOY_ARGS...]
#   --guided        run `sam deploy --guided` even though infra/samconfig.toml exists
#   --skip-build    skip step 1 (sam build still runs cargo lambda, incrementally)
#   --rotate-keys   new values for the keys in the key store (the SSM parameters, or the fields of the Secrets
#                   Manager secret), then a deploy with a new KeysRevision so that every function reads them
#                   again; generated keys are printed once
#   --site-only     only steps 5 and 6 (upload the dashboard to an existing stack)
# Environment:
#   LEADPIPE_API_KEY, LEADPIPE_ADMIN_API_KEY, LEADPIPE_PUBLIC_API_KEY
#                   values for the ingest, admin and public keys: used when a key is created, and written to
#                   the key store (with a new KeysRevision) when they differ from the stored ones. The three keys
#                   must all differ. Without them a missing key is asked for on a terminal (Enter generates one)
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
warn() { printf '[deploy] warning: %s\n' "$*" >&2; }
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
    -h|--help) sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

# cargo-lambda lives in the project's venv (.cache/venv, see scripts/lib/tools.sh), and SAM's rust-cargolambda
# builder looks for `cargo-lambda` on PATH: put the venv's bin first here, for `sam build` (lambda-build.sh
# changes PATH only inside its own process).
VENV_BIN="$ROOT/.cache/venv/bin"
case ":$PATH:" in *":$VENV_BIN:"*) ;; *) PATH="$VENV_BIN:$PATH" ;; esac
export PATH

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }
need "$PY" "Python 3 is needed by the deploy helpers"
need aws "install the AWS CLI (https://docs.aws.amazon.com/cli/) and configure credentials"
if [ "$site_only" -eq 0 ]; then
  need sam "install the AWS SAM CLI (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)"
fi

tmp="$(mktemp -d)"
chmod 700 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# ------------------------------------------------------------------ stack, region, outputs
STACK="" REGION="" region_args=()
locate_stack() {
  STACK="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" stack_name)"
  STACK="${STACK:-${STACK_NAME:-}}"
  REGION="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" region)"
  REGION="${REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}"
  region_args=()
  if [ -n "$REGION" ]; then region_args=(--region "$REGION"); fi
}

# Prints the stack's outputs as JSON; fails when the stack cannot be described.
stack_outputs() {
  aws cloudformation describe-stacks --stack-name "$STACK" ${region_args[@]+"${region_args[@]}"} \
    --query 'Stacks[0].Outputs' --output json
}

# ------------------------------------------------------------------ the key store
# Index 0: ingest key, 1: admin key, 2: public key (optional).
KEY_TITLES=("ingest key" "admin key" "public key")
KEY_LABELS=(ApiKey AdminApiKey PublicApiKey)
KEY_ENVS=(LEADPIPE_API_KEY LEADPIPE_ADMIN_API_KEY LEADPIPE_PUBLIC_API_KEY)
SECRET_FIELDS=(API_KEY ADMIN_API_KEY PUBLIC_API_KEY)
KS_SOURCE="" KS_SECRET=""
KS_NAMES=("" "" "")
CURRENT=("" "" "")    # the stored values (read to check that the keys differ)
EXISTS=(0 0 0)
NEW=("" "" "")        # values this run writes
GENERATED=("" "" "")  # values this run generated (printed once at the end)

# Reads KeySource, the parameter names or the secret ARN from the stack outputs JSON in $1.
load_key_store() {
  local o
  o="$(printf '%s' "$1" | "$PY" "$HELPERS" outputs --partial KeySource ApiKeyParameter AdminApiKeyParameter \
        PublicApiKeyParameter KeysSecretArn)"
  KS_SOURCE="$(printf '%s\n' "$o" | sed -n 's/^KeySource=//p')"
  KS_NAMES=("$(printf '%s\n' "$o" | sed -n 's/^ApiKeyParameter=//p')"
            "$(printf '%s\n' "$o" | sed -n 's/^AdminApiKeyParameter=//p')"
            "$(printf '%s\n' "$o" | sed -n 's/^PublicApiKeyParameter=//p')")
  KS_SECRET="$(printf '%s\n' "$o" | sed -n 's/^KeysSecretArn=//p')"
}

# Reads the SSM parameters into CURRENT/EXISTS.
read_ssm_keys() {
  local i rc value
  for i in 0 1 2; do
    CURRENT[i]="" EXISTS[i]=0
    [ -n "${KS_NAMES[i]}" ] || continue
    rc=0
    value="$(aws ssm get-parameter --name "${KS_NAMES[i]}" --with-decryption --query Parameter.Value \
               --output text ${region_args[@]+"${region_args[@]}"} 2>"$tmp/ssm.err")" || rc=$?
    if [ "$rc" -eq 0 ]; then
      CURRENT[i]="$value" EXISTS[i]=1
    elif ! grep -q ParameterNotFound "$tmp/ssm.err"; then
      cat "$tmp/ssm.err" >&2
      die "cannot read the SSM parameter ${KS_NAMES[i]} (permission ssm:GetParameter and kms:Decrypt needed)"
    fi
  done
}

# Reads the Secrets Manager secret's fields into CURRENT/EXISTS (the secret itself into $tmp/secret.json).
read_secret_keys() {
  local i field value
  aws secretsmanager get-secret-value --secret-id "$KS_SECRET" --query SecretString --output text \
    ${region_args[@]+"${region_args[@]}"} > "$tmp/secret.json" \
    || die "cannot read the secret $KS_SECRET (create it first, see docs/DEPLOY.md)"
  "$PY" "$HELPERS" secret-fields "$tmp/secret.json" > "$tmp/secret.fields" || die "the secret $KS_SECRET is unusable"
  for i in 0 1 2; do
    CURRENT[i]="" EXISTS[i]=0
    while IFS=$'\t' read -r field value; do
      if [ "$field" = "${SECRET_FIELDS[i]}" ]; then CURRENT[i]="$value" EXISTS[i]=1; fi
    done < "$tmp/secret.fields"
  done
}

# Value for key $1 that is to be written: the environment, else a prompt (Enter generates one; for the optional
# public key Enter means none), else generated (when $2 is "generate") or nothing (returns 1).
value_for() {
  local i="$1" how="$2" env_name="${KEY_ENVS[$1]}" answer=""
  if [ -n "${!env_name:-}" ]; then
    NEW[i]="${!env_name}"
    return 0
  fi
  if [ "$how" = generate ]; then
    NEW[i]="$("$PY" "$HELPERS" new-key)" GENERATED[i]="${NEW[i]}"
    return 0
  fi
  if [ -t 0 ]; then
    if [ "$i" -eq 2 ]; then
      read -rs -p "[deploy] ${KEY_TITLES[i]} for postbacks from browsers (optional; Enter: none, 'generate': generate one): " answer
    else
      read -rs -p "[deploy] ${KEY_TITLES[i]} (16-128 characters; Enter: generate one): " answer
    fi
    printf '\n'
    if [ -z "$answer" ] && [ "$i" -eq 2 ]; then return 1; fi
    if [ -z "$answer" ] || [ "$answer" = generate ]; then
      NEW[i]="$("$PY" "$HELPERS" new-key)" GENERATED[i]="${NEW[i]}"
    else
      NEW[i]="$answer"
    fi
    return 0
  fi
  [ "$i" -eq 2 ] && return 1
  die "the ${KEY_TITLES[i]} does not exist yet: set ${KEY_ENVS[i]} (e.g. \$(openssl rand -hex 32)) or run this from a terminal"
}

# Checks that every key that will be in the store (new or kept) is valid and that they all differ.
check_distinct() {
  local i value
  : > "$tmp/keys.tsv"
  for i in 0 1 2; do
    value="${NEW[i]:-${CURRENT[i]}}"
    [ -n "$value" ] && printf '%s\t%s\n' "${KEY_LABELS[i]}" "$value" >> "$tmp/keys.tsv"
  done
  "$PY" "$HELPERS" check-keys < "$tmp/keys.tsv" || die "no key was written"
  rm -f "$tmp/keys.tsv"
}

# Writes NEW[i] to the key store.
write_keys() {
  local i overwrite wrote=0
  if [ "$KS_SOURCE" = ssm ]; then
    for i in 0 1 2; do
      [ -n "${NEW[i]}" ] || continue
      overwrite=false
      [ "${EXISTS[i]}" -eq 1 ] && overwrite=true
      printf '%s' "${NEW[i]}" | "$PY" "$HELPERS" ssm-put-input "${KS_NAMES[i]}" "$overwrite" > "$tmp/put.json"
      aws ssm put-parameter --cli-input-json "file://$tmp/put.json" ${region_args[@]+"${region_args[@]}"} >/dev/null
      rm -f "$tmp/put.json"
      say "$( [ "$overwrite" = true ] && echo "replaced" || echo "created") the ${KEY_TITLES[i]} in SSM parameter ${KS_NAMES[i]} (SecureString)"
    done
    return
  fi
  : > "$tmp/fields.tsv"
  for i in 0 1 2; do
    if [ -n "${NEW[i]}" ]; then printf '%s\t%s\n' "${SECRET_FIELDS[i]}" "${NEW[i]}" >> "$tmp/fields.tsv"; wrote=1; fi
  done
  [ "$wrote" -eq 1 ] || return 0
  "$PY" "$HELPERS" secret-put-input "$KS_SECRET" "$tmp/secret.json" < "$tmp/fields.tsv" > "$tmp/put.json"
  aws secretsmanager put-secret-value --cli-input-json "file://$tmp/put.json" ${region_args[@]+"${region_args[@]}"} >/dev/null
  rm -f "$tmp/put.json" "$tmp/fields.tsv"
  say "wrote new key values into the secret $KS_SECRET"
}

# ------------------------------------------------------------------ 1-3: build and deploy the stack
if [ "$site_only" -eq 0 ]; then
  # The template hands the functions where their keys are (API_KEY_PARAMETER ..., KEYS_SECRET_ARN), never the
  # keys. Functions that do not read them would run without key checks: refuse to deploy such code.
  if ! grep -rqs --include='*.rs' -e API_KEY_PARAMETER "$ROOT/shared" "$ROOT/functions" \
     || ! grep -rqs --include='*.rs' -e KEYS_SECRET_ARN "$ROOT/shared" "$ROOT/functions"; then
    die "the functions' code does not read API_KEY_PARAMETER / KEYS_SECRET_ARN (the key contract in docs/DEPLOY.md); deploying it would leave the API without key checks"
  fi

  if [ "$skip_build" -eq 0 ]; then
    "$ROOT/scripts/lambda-build.sh"
  fi

  command -v cargo-lambda >/dev/null 2>&1 \
    || die "cargo-lambda not found in $VENV_BIN nor on PATH: run scripts/setup.sh (or scripts/lambda-build.sh, without --skip-build); sam build needs it"
  say "sam build (infra/template.yaml; rust-cargolambda runs cargo lambda build --release --arm64 per function)"
  # rust-cargolambda was a beta build method in older SAM CLIs; this opts in there and is ignored later.
  (cd "$INFRA" && SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 sam build)

  # Keys changed before the deploy (--rotate-keys, or LEADPIPE_*_KEY differing from the stored value), so that
  # the deploy's new KeysRevision makes every function read them again.
  revision=""
  locate_stack
  pre_outputs=""
  if [ -f "$SAMCONFIG" ] && [ -n "$STACK" ]; then
    pre_outputs="$(stack_outputs 2>/dev/null)" || pre_outputs=""
  fi
  if [ -n "$pre_outputs" ] && [ "$pre_outputs" != null ]; then
    load_key_store "$pre_outputs"
    if [ "$KS_SOURCE" = ssm ]; then
      read_ssm_keys
    elif [ "$KS_SOURCE" = secretsmanager ]; then
      read_secret_keys
    fi
    if [ -n "$KS_SOURCE" ]; then
      for i in 0 1 2; do
        [ "$KS_SOURCE" = secretsmanager ] || [ -n "${KS_NAMES[i]}" ] || continue
        env_name="${KEY_ENVS[i]}"
        if [ -n "${!env_name:-}" ] && [ "${!env_name}" != "${CURRENT[i]}" ] \
           && { [ "${EXISTS[i]}" -eq 1 ] || [ "$KS_SOURCE" = secretsmanager ]; }; then
          NEW[i]="${!env_name}"
        elif [ "$rotate" -eq 1 ] && [ "${EXISTS[i]}" -eq 1 ]; then
          value_for "$i" generate
        fi
      done
      if [ -n "${NEW[0]}${NEW[1]}${NEW[2]}" ]; then
        check_distinct
        write_keys
        revision="$(date -u +%Y%m%dT%H%M%SZ)"
      elif [ "$rotate" -eq 1 ]; then
        die "--rotate-keys: the key store of stack $STACK holds no key yet; deploy once without it"
      fi
    elif [ "$rotate" -eq 1 ]; then
      die "--rotate-keys: stack $STACK has no KeySource output (deployed with an older template?)"
    fi
  elif [ "$rotate" -eq 1 ]; then
    die "--rotate-keys: stack ${STACK:-?} not found (nothing to rotate); deploy it first"
  elif [ -f "$SAMCONFIG" ] && [ -n "$STACK" ] && [ "$guided" -eq 0 ]; then
    # First deploy with a samconfig.toml: create the SSM keys before the stack, so that no function starts
    # without them (the names are the template's defaults or the samconfig's overrides).
    planned="$("$PY" "$HELPERS" planned-key-store "$SAMCONFIG" "$STACK")"
    KS_SOURCE="$(printf '%s\n' "$planned" | sed -n 's/^KeySource=//p')"
    if [ "$KS_SOURCE" = ssm ]; then
      KS_NAMES=("$(printf '%s\n' "$planned" | sed -n 's/^ApiKeyParameter=//p')"
                "$(printf '%s\n' "$planned" | sed -n 's/^AdminApiKeyParameter=//p')"
                "$(printf '%s\n' "$planned" | sed -n 's/^PublicApiKeyParameter=//p')")
      say "first deploy of stack $STACK: creating its keys before the stack, so that its functions can start"
      read_ssm_keys
      NEW=("" "" "")
      for i in 0 1 2; do
        if [ "${EXISTS[i]}" -eq 0 ]; then
          value_for "$i" ask || say "no public key: postbacks need the ingest or admin key"
        fi
      done
      if [ -n "${NEW[0]}${NEW[1]}${NEW[2]}" ]; then
        check_distinct
        write_keys
      fi
    fi
  fi

  overrides=""
  if [ -n "$revision" ]; then
    # --parameter-overrides on the command line replaces the samconfig.toml value, so carry that over;
    # parameters named in neither keep the stack's previous value (SAM sends UsePreviousValue).
    overrides="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" parameter_overrides) KeysRevision=$revision"
  fi

  deploy_args=(--no-fail-on-empty-changeset)
  [ -n "$overrides" ] && deploy_args+=(--parameter-overrides "${overrides# }")
  if [ ! -f "$SAMCONFIG" ] || [ "$guided" -eq 1 ]; then
    [ -f "$SAMCONFIG" ] || say "no infra/samconfig.toml yet: first deploy, running 'sam deploy --guided'"
    [ -t 0 ] || die "'sam deploy --guided' needs a terminal; run this from an interactive shell, or copy infra/samconfig.example.toml to infra/samconfig.toml and set LEADPIPE_API_KEY and LEADPIPE_ADMIN_API_KEY"
    say "answer the prompts; save the answers to infra/samconfig.toml (the default) so later deploys need none."
    say "the API keys are not template parameters: this script stores them in SSM Parameter Store afterwards."
    (cd "$INFRA" && sam deploy --guided "${deploy_args[@]}" ${extra[@]+"${extra[@]}"})
  else
    say "sam deploy (settings from infra/samconfig.toml)"
    (cd "$INFRA" && sam deploy "${deploy_args[@]}" ${extra[@]+"${extra[@]}"})
  fi
fi

# ------------------------------------------------------------------ outputs
locate_stack
[ -n "$STACK" ] || die "stack name unknown: no stack_name in infra/samconfig.toml and STACK_NAME is not set"
say "reading the outputs of stack $STACK${REGION:+ in $REGION}"
outputs_json="$(stack_outputs)" || die "cannot describe stack $STACK (deployed? right region/profile?)"
outputs="$(printf '%s' "$outputs_json" | "$PY" "$HELPERS" outputs ApiUrl DashboardUrl DashboardBucket DistributionId)" \
  || die "stack $STACK does not have the expected outputs"
API_URL="$(printf '%s\n' "$outputs" | sed -n 's/^ApiUrl=//p')"
DASHBOARD_URL="$(printf '%s\n' "$outputs" | sed -n 's/^DashboardUrl=//p')"
BUCKET="$(printf '%s\n' "$outputs" | sed -n 's/^DashboardBucket=//p')"
DISTRIBUTION="$(printf '%s\n' "$outputs" | sed -n 's/^DistributionId=//p')"
POSTBACK_URL="$(printf '%s' "$outputs_json" | "$PY" "$HELPERS" outputs --partial PostbackUrl | sed -n 's/^PostbackUrl=//p')"
POSTBACK_URL="${POSTBACK_URL:-$API_URL/api/postback}"

# ------------------------------------------------------------------ 4: keys that do not exist yet
if [ "$site_only" -eq 0 ]; then
  load_key_store "$outputs_json"
  if [ "$KS_SOURCE" = ssm ]; then
    read_ssm_keys
    NEW=("" "" "")
    for i in 0 1 2; do
      if [ -n "${KS_NAMES[i]}" ] && [ "${EXISTS[i]}" -eq 0 ]; then
        say "the ${KEY_TITLES[i]} (SSM parameter ${KS_NAMES[i]}) does not exist yet"
        value_for "$i" ask || say "no public key: postbacks need the ingest or admin key"
      fi
    done
    if [ -n "${NEW[0]}${NEW[1]}${NEW[2]}" ]; then
      check_distinct
      write_keys
    fi
    say "keys: SSM parameters ${KS_NAMES[0]}, ${KS_NAMES[1]}, ${KS_NAMES[2]} (read by the functions at start-up)"
  elif [ "$KS_SOURCE" = secretsmanager ]; then
    read_secret_keys
    if [ "${EXISTS[0]}" -eq 0 ] || [ "${EXISTS[1]}" -eq 0 ]; then
      warn "the secret $KS_SECRET lacks API_KEY or ADMIN_API_KEY: the functions cannot start until it has both (docs/DEPLOY.md)"
    fi
    NEW=("" "" "")
    check_distinct
    say "keys: the fields API_KEY, ADMIN_API_KEY, PUBLIC_API_KEY of the secret $KS_SECRET"
  else
    warn "stack $STACK has no KeySource output; the keys are not managed by this script"
  fi
fi

# ------------------------------------------------------------------ 5-6: dashboard
[ -d "$SITE" ] || die "no static-site/ directory at $SITE"
[ -f "$SITE/index.html" ] || say "warning: static-site/index.html is missing; the dashboard URL will answer 403"

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
  Postback endpoint: $POSTBACK_URL   (header x-api-key: the ingest key)
EOF
if [ -n "${GENERATED[0]}${GENERATED[1]}${GENERATED[2]}" ]; then
  printf '\nKeys generated by this run (store them now; they are not shown again):\n'
  for i in 0 1 2; do
    [ -n "${GENERATED[i]}" ] && printf '  %-12s %s\n' "${KEY_LABELS[i]}:" "${GENERATED[i]}"
  done
fi
exit 0
