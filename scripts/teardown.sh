#!/usr/bin/env bash
# Remove a Leadpipe deployment: empty the dashboard bucket, delete the CloudFormation stack.
#
# The DynamoDB table is NOT deleted: the template retains it (DeletionPolicy: Retain) and turns on
# deletion protection, so your leads survive a teardown. This script prints its name and the two
# commands that delete it for good. The API keys in SSM Parameter Store are not stack resources either
# (scripts/deploy.sh creates them): they are kept too, and the command that deletes them is printed.
#
# Usage: scripts/teardown.sh [--yes] [--stack-name NAME] [--region REGION]
#   --yes           do not ask for confirmation (otherwise you type the stack name)
#   --stack-name    default: stack_name in infra/samconfig.toml, else $STACK_NAME
#   --region        default: region in infra/samconfig.toml, else $AWS_REGION / $AWS_DEFAULT_REGION
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMCONFIG="$ROOT/infra/samconfig.toml"
PY="${PYTHON:-python3}"
HELPERS="$ROOT/infra/deploy_helpers.py"

say() { printf '[teardown] %s\n' "$*"; }
die() { printf '[teardown] error: %s\n' "$*" >&2; exit 1; }

yes=0 STACK="" REGION=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --yes|-y) yes=1 ;;
    --stack-name) [ "$#" -ge 2 ] || die "--stack-name needs a value"; STACK="$2"; shift ;;
    --region) [ "$#" -ge 2 ] || die "--region needs a value"; REGION="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

command -v aws >/dev/null 2>&1 || die "aws not found: install the AWS CLI and configure credentials"
command -v "$PY" >/dev/null 2>&1 || die "$PY not found"

[ -n "$STACK" ] || STACK="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" stack_name)"
STACK="${STACK:-${STACK_NAME:-}}"
[ -n "$REGION" ] || REGION="$("$PY" "$HELPERS" samconfig "$SAMCONFIG" region)"
REGION="${REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}"
[ -n "$STACK" ] || die "stack name unknown: pass --stack-name, set STACK_NAME, or keep infra/samconfig.toml"
region_args=()
[ -n "$REGION" ] && region_args=(--region "$REGION")

say "looking up stack $STACK${REGION:+ in $REGION}"
outputs_json="$(aws cloudformation describe-stacks --stack-name "$STACK" ${region_args[@]+"${region_args[@]}"} \
  --query 'Stacks[0].Outputs' --output json)" || die "cannot describe stack $STACK (already deleted? right region/profile?)"
# A stack whose first deploy failed (ROLLBACK_COMPLETE) has no outputs; it can still be deleted.
outputs="$(printf '%s' "$outputs_json" | "$PY" "$HELPERS" outputs --partial DashboardBucket TableName KeySource \
  ApiKeyParameter AdminApiKeyParameter PublicApiKeyParameter KeysSecretArn)"
BUCKET="$(printf '%s\n' "$outputs" | sed -n 's/^DashboardBucket=//p')"
TABLE="$(printf '%s\n' "$outputs" | sed -n 's/^TableName=//p')"
KEY_PARAMETERS="$(printf '%s\n' "$outputs" | sed -n 's/^\(Api\|AdminApi\|PublicApi\)KeyParameter=//p' | tr '\n' ' ')"
KEY_PARAMETERS="${KEY_PARAMETERS% }"
KEYS_SECRET="$(printf '%s\n' "$outputs" | sed -n 's/^KeysSecretArn=//p')"

cat <<EOF
This deletes stack $STACK${REGION:+ (region $REGION)}:
  - the six Lambda functions, the HTTP API, their log groups and IAM roles
  - the stream consumer's event source mapping, dead-letter queue (and any message in it) and alarms
  - the CloudFront distribution(s), the dashboard bucket${BUCKET:+ s3://$BUCKET (emptied first)}, and the
    optional AWS WAF web ACL and budget
It keeps the DynamoDB table${TABLE:+ $TABLE} and every lead in it, and the API keys in the key store.
EOF
if [ "$yes" -eq 0 ]; then
  [ -t 0 ] || die "not a terminal: pass --yes to confirm"
  printf 'Type the stack name (%s) to confirm: ' "$STACK"
  read -r answer
  [ "$answer" = "$STACK" ] || die "confirmation did not match; nothing deleted"
fi

if [ -n "$BUCKET" ]; then
  say "emptying s3://$BUCKET"
  aws s3 rm "s3://$BUCKET" --recursive ${region_args[@]+"${region_args[@]}"} >/dev/null
else
  say "the stack has no DashboardBucket output (failed first deploy?): no bucket to empty"
fi

say "deleting stack $STACK (CloudFront distributions take several minutes to delete)"
aws cloudformation delete-stack --stack-name "$STACK" ${region_args[@]+"${region_args[@]}"}
aws cloudformation wait stack-delete-complete --stack-name "$STACK" ${region_args[@]+"${region_args[@]}"} \
  || die "stack deletion did not complete; see the stack's events in the CloudFormation console"
say "stack $STACK deleted"

r="${REGION:+ --region $REGION}"
if [ -n "$KEY_PARAMETERS" ]; then
  cat <<EOF

The API keys stay in SSM Parameter Store ($KEY_PARAMETERS): a new deploy of stack $STACK uses them
again. To delete them (the public key's parameter may not exist):
  aws ssm delete-parameters --names $KEY_PARAMETERS$r
EOF
elif [ -n "$KEYS_SECRET" ]; then
  printf '\nThe API keys stay in the Secrets Manager secret %s (you created it; delete it yourself).\n' "$KEYS_SECRET"
fi
if [ -z "$TABLE" ]; then
  cat <<EOF

The stack had no TableName output. If its DynamoDB table was created before the deploy failed, it was
retained (DeletionPolicy: Retain); look for a table named $STACK-LeadsTable-* in:
  aws dynamodb list-tables$r
EOF
  exit 0
fi
cat <<EOF

The DynamoDB table $TABLE was retained (DeletionPolicy: Retain, deletion protection on), with its leads
and point-in-time-recovery backups. A new deploy creates a new, empty table; this one stays until you
delete it. To delete it for good (irreversible):
  aws dynamodb update-table --table-name $TABLE --no-deletion-protection-enabled$r
  aws dynamodb delete-table --table-name $TABLE$r
SAM's own artifact bucket (aws-sam-cli-managed-default-*) is shared by your SAM stacks and is left alone.
EOF
