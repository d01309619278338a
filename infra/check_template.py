#!/usr/bin/env python3
"""Offline checks of infra/template.yaml that cfn-lint does not make.

cfn-lint validates CloudFormation/SAM syntax and schemas, but it does not notice a
misspelt `BuildMethod`, a function whose `Binary` names no cargo package, a `!Ref`
to a missing resource inside a function's environment or policies, a table whose
keys drift from what the code creates, a route of the OpenAPI contract that no
HttpApi event serves (or that the wrong function serves), a policy granting more
than the code calls, a key handed to a function in plain text, a stream consumer
whose event source mapping would break the exactly-once counters, or a throttle
that turns busy landing pages away. This script checks those, prints every check it
makes and exits 1 with precise messages when one fails.

Usage:  python3 infra/check_template.py [--root DIR] [--template FILE]
                                        [--table-definition FILE] [--openapi FILE]
Defaults are relative to --root (the cargo workspace root, default: this file's
parent's parent): infra/template.yaml, infra/table-definition.json, docs/openapi.json.
The Rust sources under ROOT (functions/*/src, shared/http/src/routes.rs,
shared/dynamo/src) are read for the routes each function serves, the DynamoDB
operations the code calls, the table design version and the TTL attribute.

The template is parsed with cfn-lint's own decoder, so the short intrinsic tags
(!Ref, !Sub, !GetAtt, ...) load as their long forms. No AWS call is made.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # pragma: no cover - older Pythons
    import tomli as tomllib  # type: ignore[no-redef]

# --------------------------------------------------------------------------- facts fixed by the code

TABLE_ACTIONS = "table"
STREAM = "stream"            # !GetAtt <table>.StreamArn
STREAMS = "streams"          # "*", for dynamodb:ListStreams only: it supports no resource-level permission
DLQ = "dlq"                  # !GetAtt <the consumer's on-failure queue>.Arn
WEBHOOK_QUEUE_ID = "WebhookQueue"
WEBHOOK_QUEUE = f"queue:{WEBHOOK_QUEUE_ID}"  # !GetAtt WebhookQueue.Arn: scheduled webhook deliveries


def index(name: str) -> str:
    return f"index:{name}"


#: binary (= cargo package under functions/) -> what its code calls, per resource. The DynamoDB actions follow
#: the code in shared/dynamo/src (see DYNAMODB_OPERATIONS below for the inventory that keeps this honest).
#: TransactWriteItems has no IAM action of its own: each Put/Update/Delete inside it needs PutItem/UpdateItem/
#: DeleteItem ("Using IAM with DynamoDB transactions", DynamoDB developer guide).
FUNCTION_GRANTS: dict[str, dict[str, set[str]]] = {
    # change(): GetItem (lead, claim), Query by_email, PutItem (claim, lead), TransactWriteItems (Put claim,
    # Put lead, Delete old claim), DeleteItem (stale claim); log_postback: PutItem; count_new_lead (browser-key
    # rate per client and minute): UpdateItem
    "postback": {
        TABLE_ACTIONS: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"},
        index("by_email"): {"dynamodb:Query"},
    },
    # list: Query by_created + BatchGetItem (+ BatchGetItem of the total's counter); get: Query of the lead's
    # partition; delete: GetItem, DeleteItem (claim, lead); postback log: Query of its day partitions;
    # import (POST /api/import): change() as for postbacks — GetItem, Query by_email, PutItem (claim, lead),
    # TransactWriteItems (Put claim, Put lead, Delete old claim), DeleteItem (stale claim)
    # webhooks (/api/webhooks…): the webhook items and deliveries as above; retry and enable queue deliveries
    # accounts (/api/auth…, /api/users…): users and email claims (GetItem, Query of the users' partition,
    # TransactWriteItems of two Puts, UpdateItem), sessions (BatchWriteItem of the session and its index item,
    # GetItem, UpdateItem, Query of the index), invites and sign-in failures (PutItem, GetItem, UpdateItem); a
    # change taking an admin away: TransactWriteItems of an Update and a ConditionCheck (ConditionCheckItem)
    "leads": {
        TABLE_ACTIONS: {
            "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:PutItem",
            "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
        },
        index("by_created"): {"dynamodb:Query"},
        index("by_revenue"): {"dynamodb:Query"},
        index("by_email"): {"dynamodb:Query"},
        WEBHOOK_QUEUE: {"sqs:SendMessage"},
    },
    # move and release: GetItem, PutItem (conditioned on the version)
    "stage": {TABLE_ACTIONS: {"dynamodb:GetItem", "dynamodb:PutItem"}},
    # counter buckets and registries: BatchGetItem; ad spend and exchange rates (/api/spend, /api/rates): Query of
    # each day's and each currency's partition, GetItem of the rate registry, BatchWriteItem (puts and deletes of
    # spend rows and rates), UpdateItem (the registry's set), DeleteItem (one rate); a rate change re-ranks the
    # leads with orders: Query by_revenue + BatchGetItem, then change(): GetItem and a conditional PutItem
    "analytics": {
        TABLE_ACTIONS: {
            "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchWriteItem",
            "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PutItem",
        },
        index("by_revenue"): {"dynamodb:Query"},
    },
    # the stream consumer: stage-change items and leftovers (BatchWriteItem, Query, DeleteItem), registries
    # (BatchGetItem, UpdateItem, GetItem), checkpoints and counters (GetItem, TransactWriteItems of Updates)
    # webhook fan-out: the webhook list (Query of its partition) and one conditional PutItem per delivery
    "counters": {
        TABLE_ACTIONS: {
            "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem",
            "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem",
        },
        STREAM: {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
        STREAMS: {"dynamodb:ListStreams"},
        DLQ: {"sqs:SendMessage"},
        # webhook fan-out: the deliveries a batch triggers are queued (SendMessageBatch is sqs:SendMessage)
        WEBHOOK_QUEUE: {"sqs:SendMessage"},
    },
    # webhook delivery: reads its queue (the event source mapping polls with the function's role), reads and
    # updates deliveries and webhooks, and queues retries
    # (delivery and webhook: GetItem, the webhook ids: Query of their partition, saves: PutItem; abandoning a
    # disabled webhook's pending deliveries lists them: Query by_created + BatchGetItem)
    "webhooks": {
        TABLE_ACTIONS: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchGetItem"},
        index("by_created"): {"dynamodb:Query"},
        WEBHOOK_QUEUE: {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage"},
    },
}

#: Actions without resource-level permissions (Service Authorization Reference): granted on "*" or not at all.
RESOURCE_STAR_ACTIONS = {"dynamodb:ListStreams"}

#: The binary that consumes the table's stream, and its event source mapping.
STREAM_CONSUMER = "counters"
ESM_SETTINGS: dict[str, Any] = {
    "StartingPosition": "TRIM_HORIZON",
    "BatchSize": 10000,
    "MaximumBatchingWindowInSeconds": 5,
    # the code needs the event's shardId, which only tumbling-window events carry
    "TumblingWindowInSeconds": 60,
    # one batch per shard at a time: the checkpoint orders a shard's writes
    "ParallelizationFactor": 1,
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 10,
    "MaximumRecordAgeInSeconds": 86400,
}
#: The webhook delivery function and its queue.
WEBHOOK_FUNCTION = "webhooks"
#: Functions that schedule webhook deliveries and so need the queue's URL.
WEBHOOK_QUEUE_USERS = {"counters", "leads", "webhooks"}
WEBHOOK_BATCH_MAX = 10
WEBHOOK_MAX_RECEIVES = 5

#: Only lead items (sk = "L") reach the consumer.
ESM_FILTER = {"dynamodb": {"Keys": {"sk": {"S": ["L"]}}}}
CONSUMER_TIMEOUT = 60
CONSUMER_MEMORY = 256
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
ITERATOR_AGE_THRESHOLD_MS = 60000
ALARM_WINDOW_SECONDS = 300

#: Throttling: the ingest route sized for 10,000 postbacks/s, every other route lower.
POSTBACK_ROUTE = ("POST", "/api/postback")
#: GET postbacks (networks that can only fire a URL): an ingest route too, exempt from the low admin throttle;
#: when it has its own RouteSettings they must be the ingest route's.
GET_POSTBACK_ROUTE = ("GET", "/api/postback")
#: Lambda's default concurrency per account and region, the part that must stay unreserved, what the admin
#: routes keep at the defaults, and what 10,000 postbacks/s at ~20 ms need (Little's law: 200).
ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MIN = 100
ADMIN_HEADROOM = 200
POSTBACK_MIN_CONCURRENCY = 200
POSTBACK_MIN_RATE = 10000
POSTBACK_MIN_BURST = 5000
OTHER_ROUTES_MAX_RATE = 1000
POSTBACK_MEMORY = 128

#: Environment. Every function: REQUIRED_ENV. Functions that serve routes also: ALLOWED_ORIGINS and the key
#: contract (names of where the keys are, never the keys).
REQUIRED_ENV = ["TABLE_NAME", "PIPELINE_STAGES", "REPORTING_TIMEZONE", "RUST_LOG"]
HTTP_ENV = ["ALLOWED_ORIGINS"]
KEY_PARAMETER_ENV = ["API_KEY_PARAMETER", "ADMIN_API_KEY_PARAMETER", "PUBLIC_API_KEY_PARAMETER"]
KEY_SECRET_ENV = "KEYS_SECRET_ARN"
KEY_ENV = KEY_PARAMETER_ENV + [KEY_SECRET_ENV]
#: Variables that would carry a key itself: never set on AWS.
PLAIN_KEY_ENV = ["API_KEY", "ADMIN_API_KEY", "PUBLIC_API_KEY"]
KEY_STORE_PREFIXES = ("ssm:", "secretsmanager:", "kms:")

REQUIRED_PARAMETERS = [
    "PipelineStages", "AllowedOrigins", "ReportingTimezone", "KeySource", "ApiKeyParameterName",
    "AdminApiKeyParameterName", "PublicApiKeyParameterName", "KeysSecretArn", "LogLevel", "LogRetentionDays",
]
REQUIRED_OUTPUTS = ["ApiUrl", "PostbackUrl", "DashboardUrl", "DashboardBucket", "DistributionId", "TableName",
                    "KeySource"]

#: DynamoDB operations in shared/dynamo/src: SDK fluent call -> IAM action.
DYNAMODB_OPERATIONS = {
    "get_item": "dynamodb:GetItem", "put_item": "dynamodb:PutItem", "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem", "query": "dynamodb:Query", "scan": "dynamodb:Scan",
    "batch_get_item": "dynamodb:BatchGetItem", "batch_write_item": "dynamodb:BatchWriteItem",
    "transact_get_items": "dynamodb:GetItem", "execute_statement": "dynamodb:PartiQLSelect",
    "describe_table": "dynamodb:DescribeTable", "create_table": "dynamodb:CreateTable",
    "update_table": "dynamodb:UpdateTable", "update_time_to_live": "dynamodb:UpdateTimeToLive",
}
#: Calls authorized by what they contain (TRANSACTION_ITEMS), not by an action of their own.
CONTAINER_CALLS = {"transact_write_items"}
TRANSACTION_ITEMS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                     "ConditionCheck": "dynamodb:ConditionCheckItem"}
#: Files whose operations no Lambda runs: local table creation and the `leadpipe recount` command.
TOOL_ONLY_FILES = {"schema.rs", "recount.rs"}
#: Files only the stream consumer runs.
CONSUMER_ONLY_FILES = {"consumer.rs"}

PSEUDO_PARAMETERS = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
    "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}
#: `!Ref X.Suffix` forms the SAM transform accepts on its own resources.
SAM_REF_SUFFIXES = {"Alias", "Version", "Stage", "DomainName"}
#: resources the SAM transform generates for X (may be referenced as X<suffix>).
SAM_GENERATED_SUFFIXES = ("Role", "ApiGatewayDefaultStage", "Alias", "Version")

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
OPENAPI_HINT = (
    "the OpenAPI document is written by the Rust code (docs/openapi.json); generate it first, "
    "or pass --openapi FILE"
)
NO_VALUE = {"Ref": "AWS::NoValue"}

# At rest and in backups (docs/DEPLOY.md, "Encryption at rest and backups"): KmsKey = create | none | <key ARN>.
KMS_PARAMETER = "KmsKey"
KMS_ON = "UseKmsKey"            # KmsKey is not none
KMS_CREATE = "CreateKmsKey"     # KmsKey is create: the stack's own key
KMS_KEY = "DataKey"             # that key
KMS_SAMPLE_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PITR_PARAMETER = "PitrRecoveryPeriodDays"
PITR_DEFAULT_DAYS = 35          # DynamoDB's longest window; DEPLOY.md's erasure text assumes it by default
UNKNOWN = object()


class Checker:
    def __init__(self, root: Path, template: Path, table_definition: Path, openapi: Path):
        self.root = root
        self.template_path = template
        self.table_definition_path = table_definition
        self.openapi_path = openapi
        self.failures: list[str] = []
        self.passed = 0
        self.tpl: dict[str, Any] = {}

    # ------------------------------------------------------------------ reporting
    def ok(self, msg: str) -> None:
        self.passed += 1
        print(f"  ok    {msg}")

    def fail(self, msg: str) -> None:
        self.failures.append(msg)
        print(f"  FAIL  {msg}")

    def check(self, cond: bool, ok_msg: str, fail_msg: str) -> bool:
        if cond:
            self.ok(ok_msg)
        else:
            self.fail(fail_msg)
        return cond

    @staticmethod
    def section(title: str) -> None:
        print(f"\n== {title}")

    # ------------------------------------------------------------------ loading
    def load_template(self) -> bool:
        self.section(f"template {self.template_path}")
        if not self.template_path.is_file():
            self.fail(f"template not found: {self.template_path}")
            return False
        from cfnlint.decode import decode  # cfn-lint's decoder understands !Ref/!Sub/!GetAtt

        tpl, matches = decode(str(self.template_path))
        if matches or tpl is None:
            for m in matches or []:
                self.fail(f"cannot parse template: {m}")
            if not matches:
                self.fail("cannot parse template (decoder returned nothing)")
            return False
        self.tpl = _plain(tpl)
        self.check(
            self.tpl.get("Transform") == "AWS::Serverless-2016-10-31",
            "Transform is AWS::Serverless-2016-10-31",
            f"Transform must be AWS::Serverless-2016-10-31, found {self.tpl.get('Transform')!r}",
        )
        return True

    @property
    def resources(self) -> dict[str, Any]:
        return self.tpl.get("Resources") or {}

    @property
    def parameters(self) -> dict[str, Any]:
        return self.tpl.get("Parameters") or {}

    @property
    def conditions(self) -> dict[str, Any]:
        return self.tpl.get("Conditions") or {}

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if isinstance(v, dict) and v.get("Type") == type_}

    def functions(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::Function")

    def _tables(self) -> dict[str, Any]:
        return self.of_type("AWS::DynamoDB::Table")

    def effective_props(self, res: dict[str, Any]) -> dict[str, Any]:
        """A function's properties with Globals.Function merged in, as SAM does (an intrinsic on either side: the
        resource's value wins; maps merge key by key)."""
        glob = ((self.tpl.get("Globals") or {}).get("Function")) or {}
        return _merge_globals(glob, res.get("Properties") or {})

    def env(self, res: dict[str, Any]) -> dict[str, Any]:
        """A function's environment as CloudFormation sets it: variables whose value is AWS::NoValue are absent."""
        variables = (self.effective_props(res).get("Environment") or {}).get("Variables") or {}
        return {k: v for k, v in variables.items() if v != NO_VALUE}

    def http_functions(self) -> set[str]:
        return {lid for lid, res in self.functions().items()
                if any((ev or {}).get("Type") == "HttpApi"
                       for ev in ((res.get("Properties") or {}).get("Events") or {}).values())}

    # ------------------------------------------------------------------ values at the parameters' defaults
    def default_of(self, node: Any) -> Any:
        """The value of `node` when every parameter keeps its Default (UNKNOWN when it depends on anything else)."""
        if isinstance(node, (str, int, float, bool)):
            return node
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in self.parameters:
            p = self.parameters[node["Ref"]]
            if "Default" not in p:
                return UNKNOWN
            d = p["Default"]
            if p.get("Type") == "Number" and isinstance(d, str):
                try:
                    return float(d) if "." in d else int(d)
                except ValueError:
                    return UNKNOWN
            return d
        if isinstance(node, dict) and set(node) == {"Fn::If"} and isinstance(node["Fn::If"], list):
            cond, *branches = node["Fn::If"]
            value = self.condition_default(cond)
            if value is UNKNOWN or len(branches) != 2:
                return UNKNOWN
            return self.default_of(branches[0] if value else branches[1])
        return UNKNOWN

    def condition_default(self, name_or_expr: Any, depth: int = 0) -> Any:
        """True/False for a condition (name or expression) at the parameters' defaults, else UNKNOWN."""
        if depth > 20:
            return UNKNOWN
        if isinstance(name_or_expr, str):
            expr = self.conditions.get(name_or_expr)
            return UNKNOWN if expr is None else self.condition_default(expr, depth + 1)
        if not isinstance(name_or_expr, dict) or len(name_or_expr) != 1:
            return UNKNOWN
        (fn, args), = name_or_expr.items()
        if fn == "Condition":
            return self.condition_default(args, depth + 1)
        if fn == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
            a, b = (self.default_of(x) for x in args)
            if a is UNKNOWN or b is UNKNOWN:
                return UNKNOWN
            return str(a) == str(b)
        if fn == "Fn::Not" and isinstance(args, list) and len(args) == 1:
            v = self.condition_default(args[0], depth + 1)
            return UNKNOWN if v is UNKNOWN else not v
        if fn in ("Fn::And", "Fn::Or") and isinstance(args, list):
            values = [self.condition_default(a, depth + 1) for a in args]
            if fn == "Fn::And":
                if any(v is False for v in values):
                    return False
                return UNKNOWN if any(v is UNKNOWN for v in values) else True
            if any(v is True for v in values):
                return True
            return UNKNOWN if any(v is UNKNOWN for v in values) else False
        return UNKNOWN

    def resource_enabled_by_default(self, lid: str) -> Any:
        cond = (self.resources.get(lid) or {}).get("Condition")
        return True if cond is None else self.condition_default(cond)

    # ------------------------------------------------------------------ Rust sources
    def rust(self, rel: str) -> str | None:
        p = self.root / rel
        return p.read_text() if p.is_file() else None

    # ------------------------------------------------------------------ functions
    def check_functions(self) -> dict[str, str]:
        """Returns logical id -> binary for every function that names one."""
        self.section("functions: build method, runtime, architecture, cargo package")
        fns = self.functions()
        binaries: dict[str, str] = {}
        if not fns:
            self.fail("no AWS::Serverless::Function in the template")
            return binaries
        workspace_members = self._workspace_members()
        for lid, res in sorted(fns.items()):
            meta = res.get("Metadata") or {}
            props = self.effective_props(res)
            self.check(
                meta.get("BuildMethod") == "rust-cargolambda",
                f"{lid}: Metadata.BuildMethod is rust-cargolambda",
                f"{lid}: Metadata.BuildMethod must be 'rust-cargolambda', found {meta.get('BuildMethod')!r}",
            )
            self.check(
                props.get("Runtime") == "provided.al2023",
                f"{lid}: Runtime is provided.al2023",
                f"{lid}: Runtime must be 'provided.al2023', found {props.get('Runtime')!r}",
            )
            self.check(
                props.get("Architectures") == ["arm64"],
                f"{lid}: Architectures is [arm64]",
                f"{lid}: Architectures must be ['arm64'], found {props.get('Architectures')!r}",
            )
            self.check(
                props.get("Handler") == "bootstrap",
                f"{lid}: Handler is bootstrap",
                f"{lid}: Handler must be 'bootstrap' (the name cargo-lambda gives the binary), "
                f"found {props.get('Handler')!r}",
            )
            code_uri = props.get("CodeUri")
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                resolved = (self.template_path.parent / code_uri).resolve()
                self.check(
                    resolved == self.root.resolve(),
                    f"{lid}: CodeUri {code_uri!r} is the cargo workspace root",
                    f"{lid}: CodeUri {code_uri!r} resolves to {resolved}, but SAM's rust-cargolambda builder "
                    f"runs cargo in CodeUri and copies target/lambda/<Binary>/bootstrap from there, so it "
                    f"must be the workspace root {self.root.resolve()}",
                )
            else:
                self.fail(f"{lid}: CodeUri must be a local path to the workspace root, found {code_uri!r}")
            if "Role" in props:
                self.fail(f"{lid}: has Role; use Policies so the per-function least-privilege policy applies")
            binary = (meta.get("BuildProperties") or {}).get("Binary")
            if not isinstance(binary, str) or not binary:
                self.fail(
                    f"{lid}: Metadata.BuildProperties.Binary is missing; with CodeUri at the workspace root it "
                    f"selects the package (one of {sorted(FUNCTION_GRANTS)})"
                )
                continue
            binaries[lid] = binary
            self._check_package(lid, binary, workspace_members)
        seen: dict[str, str] = {}
        for lid, b in sorted(binaries.items()):
            if b in seen:
                self.fail(f"{lid} and {seen[b]} both build Binary {b!r}")
            seen[b] = lid
        missing = sorted(set(FUNCTION_GRANTS) - set(binaries.values()))
        self.check(
            not missing,
            f"all {len(FUNCTION_GRANTS)} functions present: {', '.join(sorted(FUNCTION_GRANTS))}",
            f"no function builds {', '.join(missing)} (each package under functions/ needs one)",
        )
        return binaries

    def _workspace_members(self) -> list[str] | None:
        manifest = self.root / "Cargo.toml"
        if not manifest.is_file():
            self.fail(f"no Cargo.toml at the workspace root {self.root}")
            return None
        data = tomllib.loads(manifest.read_text())
        members = (data.get("workspace") or {}).get("members")
        if not isinstance(members, list):
            self.fail(f"{manifest} has no [workspace] members")
            return None
        return members

    def _check_package(self, lid: str, binary: str, members: list[str] | None) -> None:
        rel = f"functions/{binary}"
        manifest = self.root / rel / "Cargo.toml"
        if not manifest.is_file():
            self.fail(f"{lid}: BuildProperties.Binary {binary!r} names no package: {rel}/Cargo.toml does not exist")
            return
        data = tomllib.loads(manifest.read_text())
        pkg_name = (data.get("package") or {}).get("name")
        bins = [b.get("name") for b in data.get("bin") or []]
        has_bin = binary in bins or (
            pkg_name == binary and not bins and (manifest.parent / "src" / "main.rs").is_file()
        )
        self.check(
            pkg_name == binary and has_bin,
            f"{lid}: Binary {binary!r} is the package and binary of {rel}/Cargo.toml",
            f"{lid}: {rel}/Cargo.toml must define package {binary!r} with a binary {binary!r} "
            f"(found package {pkg_name!r}, binaries {bins or ['(default src/main.rs)']})",
        )
        if members is not None:
            self.check(
                any(fnmatch.fnmatchcase(rel, m.rstrip("/")) for m in members),
                f"{lid}: {rel} is a member of the cargo workspace",
                f"{lid}: {rel} is not in [workspace] members of {self.root / 'Cargo.toml'}",
            )

    # ------------------------------------------------------------------ references
    def check_references(self) -> None:
        self.section("references: every Ref / GetAtt / ${...} / condition names something that exists")
        params = set(self.parameters)
        resources = set(self.resources)
        conditions = set(self.conditions)
        serverless = {k for k, v in resources_items(self.resources) if str(v.get("Type", "")).startswith("AWS::Serverless::")}
        generated = {f"{r}{s}" for r in serverless for s in SAM_GENERATED_SUFFIXES}
        generated |= {"ServerlessHttpApi", "ServerlessRestApi"}  # SAM's implicit APIs

        def ref_ok(name: str) -> bool:
            if name in params or name in resources or name in PSEUDO_PARAMETERS or name in generated:
                return True
            if "." in name:
                base, suffix = name.split(".", 1)
                return base in serverless and suffix in SAM_REF_SUFFIXES
            return False

        def getatt_ok(name: str) -> bool:
            return name in resources or name in generated

        counts = {"Ref": 0, "Fn::GetAtt": 0, "Fn::Sub": 0, "Condition": 0}
        problems_before = len(self.failures)
        scopes: list[tuple[str, Any]] = [("Globals", self.tpl.get("Globals") or {})]
        scopes += [(f"Resources.{k}", v) for k, v in self.resources.items()]
        scopes += [(f"Outputs.{k}", v) for k, v in (self.tpl.get("Outputs") or {}).items()]
        scopes += [(f"Conditions.{k}", v) for k, v in self.conditions.items()]
        scopes += [(f"Rules.{k}", v) for k, v in (self.tpl.get("Rules") or {}).items()]
        for scope, node in scopes:
            for path, kind, target, local in _intrinsics(node, scope):
                counts[kind] += 1
                where = path
                if kind == "Ref":
                    if not ref_ok(target):
                        self.fail(f"{where}: !Ref {target} names no parameter, resource or pseudo parameter")
                elif kind == "Fn::GetAtt":
                    if target in params:
                        self.fail(f"{where}: !GetAtt {target}.* names a parameter, not a resource")
                    elif not getatt_ok(target):
                        self.fail(f"{where}: !GetAtt {target}.* names no resource")
                elif kind == "Fn::Sub":
                    if target in local:
                        continue
                    base = target.split(".", 1)[0] if "." in target else target
                    if "." in target and not target.startswith("AWS::"):
                        if not getatt_ok(base) and not ref_ok(target):
                            self.fail(f"{where}: ${{{target}}} in !Sub names no resource {base}")
                    elif not ref_ok(target):
                        self.fail(f"{where}: ${{{target}}} in !Sub names no parameter, resource or pseudo parameter")
                elif kind == "Condition":
                    if target not in conditions:
                        self.fail(f"{where}: condition {target!r} is not defined in Conditions")
        if len(self.failures) == problems_before:
            self.ok(
                f"{counts['Ref']} Ref, {counts['Fn::GetAtt']} GetAtt, {counts['Fn::Sub']} ${{...}} and "
                f"{counts['Condition']} condition references resolve (functions' Environment and Policies included)"
            )

    # ------------------------------------------------------------------ environment and keys
    def check_environment(self) -> None:
        self.section("environment: settings for every function, the key contract for those serving routes, "
                     "no key in plain text")
        tables = self._tables()
        http = self.http_functions()
        no_echo = {k for k, p in self.parameters.items() if p.get("NoEcho") in (True, "true", "True")}
        for lid, res in sorted(self.functions().items()):
            env = self.env(res)
            missing = [v for v in REQUIRED_ENV if v not in env]
            self.check(not missing, f"{lid}: environment sets {', '.join(REQUIRED_ENV)}",
                       f"{lid}: environment lacks {', '.join(missing)}")
            table_ref = env.get("TABLE_NAME")
            self.check(
                isinstance(table_ref, dict) and table_ref.get("Ref") in tables,
                f"{lid}: TABLE_NAME is !Ref of the DynamoDB table",
                f"{lid}: TABLE_NAME must be !Ref <the AWS::DynamoDB::Table>, found {table_ref!r}",
            )
            plain = [v for v in PLAIN_KEY_ENV if v in env]
            self.check(
                not plain,
                f"{lid}: no key in plain text ({', '.join(PLAIN_KEY_ENV)} unset)",
                f"{lid}: environment sets {', '.join(plain)}: keys must come from the key store "
                f"({', '.join(KEY_ENV)}), never from environment values (readable with "
                f"lambda:GetFunctionConfiguration)",
            )
            echoed = sorted({t for name, value in env.items() for _, kind, t, _ in _intrinsics(value, name)
                             if kind in ("Ref", "Fn::Sub") and t in no_echo})
            if echoed:
                self.fail(f"{lid}: environment references the NoEcho parameter(s) {echoed}: a secret in an "
                          f"environment value is readable with lambda:GetFunctionConfiguration")
            if lid in http:
                missing = [v for v in HTTP_ENV + KEY_ENV if v not in env]
                self.check(
                    not missing,
                    f"{lid}: serves routes: sets {', '.join(HTTP_ENV + KEY_ENV)}",
                    f"{lid}: serves routes but its environment lacks {', '.join(missing)} (the key contract, "
                    f"docs/DEPLOY.md)",
                )
                for var in KEY_PARAMETER_ENV:
                    if var in env:
                        self._check_key_name_value(lid, var, env[var])
                if KEY_SECRET_ENV in env:
                    self._check_secret_arn_value(lid, env[KEY_SECRET_ENV])
            else:
                extra = [v for v in KEY_ENV if v in env]
                self.check(
                    not extra,
                    f"{lid}: serves no route and gets no key-store variable",
                    f"{lid}: serves no route but gets {', '.join(extra)}: it checks no key, so it must not be "
                    f"able to read them (set them to !Ref AWS::NoValue)",
                )

    def _check_key_name_value(self, lid: str, var: str, value: Any) -> None:
        """A *_PARAMETER variable: in every branch, a parameter holding an SSM name (AllowedPattern requiring a
        leading /) or a literal/!Sub name starting with /."""
        bad = []
        for _, v in _branches(value):
            if isinstance(v, dict) and set(v) == {"Ref"} and v["Ref"] in self.parameters:
                if not self._is_ssm_name_parameter(v["Ref"]):
                    bad.append(v)
            elif isinstance(v, dict) and set(v) == {"Fn::Sub"} and isinstance(v["Fn::Sub"], str) \
                    and v["Fn::Sub"].startswith("/"):
                continue
            elif isinstance(v, str) and v.startswith("/"):
                continue
            else:
                bad.append(v)
        self.check(not bad, f"{lid}: {var} is an SSM parameter name",
                   f"{lid}: {var} must be an SSM parameter name (a parameter whose AllowedPattern requires a "
                   f"leading /, or a !Sub \"/...\"), found {bad}")

    def _is_ssm_name_parameter(self, name: str) -> bool:
        p = self.parameters.get(name) or {}
        pattern = p.get("AllowedPattern")
        if p.get("Type") != "String" or not isinstance(pattern, str):
            return False
        try:
            rx = re.compile(pattern)
        except re.error:
            return False
        return bool(rx.fullmatch("/leadpipe/prod/api-key")) and not rx.fullmatch("leadpipe/prod/api-key") \
            and not rx.fullmatch("0f1e2d3c4b5a69788796a5b4c3d2e1f0")

    def _check_secret_arn_value(self, lid: str, value: Any) -> None:
        bad = []
        for _, v in _branches(value):
            p = self.parameters.get(v.get("Ref")) if isinstance(v, dict) and set(v) == {"Ref"} else None
            pattern = (p or {}).get("AllowedPattern")
            if not (isinstance(pattern, str) and ":secretsmanager:" in pattern
                    and not re.fullmatch(pattern, "0f1e2d3c4b5a69788796a5b4c3d2e1f0")):
                bad.append(v)
        self.check(not bad, f"{lid}: {KEY_SECRET_ENV} is a Secrets Manager ARN parameter",
                   f"{lid}: {KEY_SECRET_ENV} must be !Ref of a parameter whose AllowedPattern only admits "
                   f"Secrets Manager ARNs, found {bad}")

    # ------------------------------------------------------------------ parameters and outputs
    def check_parameters_outputs(self) -> None:
        self.section("parameters and outputs")
        for name in REQUIRED_PARAMETERS:
            self.check(name in self.parameters, f"parameter {name} exists", f"parameter {name} is missing")
        for name in ("ApiKeyParameterName", "AdminApiKeyParameterName", "PublicApiKeyParameterName"):
            if name in self.parameters:
                self.check(self._is_ssm_name_parameter(name),
                           f"{name}: AllowedPattern admits only SSM names starting with /",
                           f"{name}: AllowedPattern must admit only SSM parameter names starting with / (the "
                           f"IAM resource is ...:parameter<name>), found {self.parameters[name].get('AllowedPattern')!r}")
        key_source = self.parameters.get("KeySource") or {}
        if key_source:
            self.check(set(key_source.get("AllowedValues") or []) == {"ssm", "secretsmanager"},
                       "KeySource: ssm or secretsmanager",
                       f"KeySource: AllowedValues must be [ssm, secretsmanager], found {key_source.get('AllowedValues')!r}")
        outputs = self.tpl.get("Outputs") or {}
        for name in REQUIRED_OUTPUTS:
            self.check(name in outputs, f"output {name} exists", f"output {name} is missing")

    # ------------------------------------------------------------------ table
    def check_table(self) -> None:
        self.section(f"DynamoDB table vs {self.table_definition_path}")
        tables = self._tables()
        if len(tables) != 1:
            self.fail(f"expected exactly one AWS::DynamoDB::Table, found {len(tables)}: {sorted(tables)}")
            return
        lid, res = next(iter(tables.items()))
        props = res.get("Properties") or {}
        if not self.table_definition_path.is_file():
            self.fail(
                f"{self.table_definition_path} does not exist: it is the table definition the code creates "
                "for local use (kept equal to the code by a Rust test)"
            )
            return
        try:
            want = json.loads(self.table_definition_path.read_text())
        except json.JSONDecodeError as e:
            self.fail(f"{self.table_definition_path} is not JSON: {e}")
            return
        compared = {"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
                    "StreamSpecification", "BillingMode", "TableName"}
        unknown = sorted(set(want) - compared)
        self.check(not unknown, f"{lid}: every field of table-definition.json is compared",
                   f"table-definition.json has {unknown}, which check_template.py does not compare with the "
                   f"template: teach it (check_table) what they mean")

        def attrs(defs: Any) -> dict[str, str]:
            return {d.get("AttributeName"): d.get("AttributeType") for d in defs or []}

        def keys(schema: Any) -> list[tuple[str, str]]:
            return [(k.get("AttributeName"), k.get("KeyType")) for k in schema or []]

        def projection(p: Any) -> tuple[str, tuple[str, ...]]:
            p = p or {}
            return (p.get("ProjectionType"), tuple(sorted(p.get("NonKeyAttributes") or [])))

        got_attrs, want_attrs = attrs(props.get("AttributeDefinitions")), attrs(want.get("AttributeDefinitions"))
        self.check(
            got_attrs == want_attrs,
            f"{lid}: AttributeDefinitions equal ({', '.join(f'{k}:{v}' for k, v in sorted(want_attrs.items()))})",
            f"{lid}: AttributeDefinitions differ: template {sorted(got_attrs.items())} vs "
            f"table-definition.json {sorted(want_attrs.items())}",
        )
        got_keys, want_keys = keys(props.get("KeySchema")), keys(want.get("KeySchema"))
        self.check(
            got_keys == want_keys,
            f"{lid}: KeySchema equal {want_keys}",
            f"{lid}: KeySchema differs: template {got_keys} vs table-definition.json {want_keys}",
        )
        got_gsi = {g.get("IndexName"): g for g in props.get("GlobalSecondaryIndexes") or []}
        want_gsi = {g.get("IndexName"): g for g in want.get("GlobalSecondaryIndexes") or []}
        self.check(
            set(got_gsi) == set(want_gsi),
            f"{lid}: GSIs are {sorted(want_gsi)}",
            f"{lid}: GSI names differ: template {sorted(got_gsi)} vs table-definition.json {sorted(want_gsi)}",
        )
        for name in sorted(set(got_gsi) & set(want_gsi)):
            g, w = got_gsi[name], want_gsi[name]
            self.check(
                keys(g.get("KeySchema")) == keys(w.get("KeySchema")),
                f"{lid}: GSI {name} KeySchema equal {keys(w.get('KeySchema'))}",
                f"{lid}: GSI {name} KeySchema differs: template {keys(g.get('KeySchema'))} vs "
                f"table-definition.json {keys(w.get('KeySchema'))}",
            )
            wp = projection(w.get("Projection"))
            self.check(
                projection(g.get("Projection")) == wp,
                f"{lid}: GSI {name} projection {wp[0]}" + (f" {list(wp[1])}" if wp[1] else ""),
                f"{lid}: GSI {name} projection differs: template {projection(g.get('Projection'))} vs "
                f"table-definition.json {wp}",
            )
        want_lsi = want.get("LocalSecondaryIndexes") or []
        got_lsi = props.get("LocalSecondaryIndexes") or []
        self.check(
            len(want_lsi) == len(got_lsi),
            f"{lid}: local secondary indexes agree ({len(want_lsi)})",
            f"{lid}: LocalSecondaryIndexes differ: template {len(got_lsi)} vs table-definition.json {len(want_lsi)}",
        )
        want_stream = want.get("StreamSpecification") or {}
        want_view = want_stream.get("StreamViewType") if want_stream.get("StreamEnabled", bool(want_stream)) else None
        got_view = (props.get("StreamSpecification") or {}).get("StreamViewType")
        self.check(
            got_view == want_view,
            f"{lid}: stream {want_view} (the consumer reads old and new images)",
            f"{lid}: StreamSpecification.StreamViewType must be {want_view!r} as in table-definition.json, "
            f"found {got_view!r}",
        )
        self.check(
            props.get("BillingMode") == "PAY_PER_REQUEST",
            f"{lid}: BillingMode PAY_PER_REQUEST (on-demand)",
            f"{lid}: BillingMode must be PAY_PER_REQUEST, found {props.get('BillingMode')!r}",
        )
        ttl_attr = self._ttl_attribute()
        ttl = props.get("TimeToLiveSpecification") or {}
        self.check(
            ttl.get("Enabled") is True and ttl.get("AttributeName") == ttl_attr,
            f"{lid}: TTL enabled on {ttl_attr!r} (stream checkpoints expire)",
            f"{lid}: TimeToLiveSpecification must be enabled on {ttl_attr!r} (TTL_ATTRIBUTE in "
            f"shared/dynamo/src/schema.rs), found {ttl!r}",
        )
        pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        self.check(pitr is True, f"{lid}: point-in-time recovery enabled",
                   f"{lid}: PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled must be true")
        self.check(props.get("DeletionProtectionEnabled") is True, f"{lid}: deletion protection enabled",
                   f"{lid}: DeletionProtectionEnabled must be true")
        self.check(
            res.get("DeletionPolicy") == "Retain" and res.get("UpdateReplacePolicy") == "Retain",
            f"{lid}: DeletionPolicy and UpdateReplacePolicy Retain",
            f"{lid}: DeletionPolicy and UpdateReplacePolicy must be Retain (found {res.get('DeletionPolicy')!r}, "
            f"{res.get('UpdateReplacePolicy')!r})",
        )
        version = self._design_version()
        tags = {t.get("Key"): t.get("Value") for t in props.get("Tags") or [] if isinstance(t, dict)}
        meta = ((res.get("Metadata") or {}).get("Leadpipe") or {}).get("TableDesignVersion")
        self.check(
            version is not None and str(tags.get("leadpipe:table-design-version")) == str(version)
            and str(meta) == str(version),
            f"{lid}: table design version {version} (tag leadpipe:table-design-version and Metadata)",
            f"{lid}: tag leadpipe:table-design-version ({tags.get('leadpipe:table-design-version')!r}) and "
            f"Metadata.Leadpipe.TableDesignVersion ({meta!r}) must equal DESIGN_VERSION in "
            f"shared/dynamo/src/keys.rs ({version!r})",
        )
        out = ((self.tpl.get("Outputs") or {}).get("TableDesignVersion") or {}).get("Value")
        if out is not None:
            self.check(str(out) == str(version), f"output TableDesignVersion is {version}",
                       f"output TableDesignVersion is {out!r}, DESIGN_VERSION is {version!r}")

    def _design_version(self) -> int | None:
        text = self.rust("shared/dynamo/src/keys.rs")
        m = re.search(r"pub const DESIGN_VERSION: u32 = (\d+);", text or "")
        if not m:
            self.fail("cannot read DESIGN_VERSION from shared/dynamo/src/keys.rs")
            return None
        return int(m.group(1))

    def _ttl_attribute(self) -> str | None:
        text = self.rust("shared/dynamo/src/schema.rs")
        m = re.search(r'pub const TTL_ATTRIBUTE: &str = "([^"]+)";', text or "")
        if not m:
            self.fail("cannot read TTL_ATTRIBUTE from shared/dynamo/src/schema.rs")
            return None
        return m.group(1)

    # ------------------------------------------------------------------ routes
    def served_routes(self, binaries: dict[str, str]) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
        """(METHOD, normalised path) -> binary whose router declares it, and the public routes every function's
        application adds (shared/http/src/routes.rs)."""
        own: dict[tuple[str, str], str] = {}
        for binary in sorted(set(binaries.values())):
            src = self.root / "functions" / binary / "src"
            for rs in sorted(src.glob("*.rs")) if src.is_dir() else []:
                for method, path in _axum_routes(rs.read_text()):
                    own[(method, _norm(path))] = binary
        public_src = self.rust("shared/http/src/routes.rs")
        public = {(m, _norm(p)) for m, p in _axum_routes(public_src or "")}
        return own, public

    def check_routes(self, binaries: dict[str, str]) -> None:
        self.section(f"routes: {self.openapi_path} vs HttpApi events vs the functions' routers")
        http_apis = set(self.of_type("AWS::Serverless::HttpApi"))
        events: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.preflights: dict[str, list[tuple[str, str]]] = {}
        for lid, res in sorted(self.functions().items()):
            for ename, ev in ((res.get("Properties") or {}).get("Events") or {}).items():
                etype = ev.get("Type")
                if etype != "HttpApi":
                    if etype in ("Api",):
                        self.fail(f"{lid}.Events.{ename}: a REST Api event; routes belong to the HttpApi")
                    continue
                ep = ev.get("Properties") or {}
                api = ep.get("ApiId")
                if not (isinstance(api, dict) and api.get("Ref") in http_apis):
                    self.fail(
                        f"{lid}.Events.{ename}: ApiId must be !Ref of the template's AWS::Serverless::HttpApi "
                        f"({sorted(http_apis)}), found {api!r} (without it SAM makes a second API without CORS "
                        f"or throttling)"
                    )
                path, method = ep.get("Path"), ep.get("Method")
                if not isinstance(path, str) or not isinstance(method, str):
                    self.fail(f"{lid}.Events.{ename}: HttpApi event needs a literal Path and Method "
                              f"(found Path={path!r}, Method={method!r})")
                    continue
                if method.upper() == "OPTIONS":
                    # CORS preflights: not API operations (check_http_api checks where they go)
                    self.preflights.setdefault(_norm(path), []).append((lid, ename))
                    continue
                events.setdefault((method.upper(), _norm(path)), []).append((lid, ename))
        if not self.openapi_path.is_file():
            self.fail(f"{self.openapi_path} does not exist: {OPENAPI_HINT}")
            return
        try:
            doc = json.loads(self.openapi_path.read_text())
        except json.JSONDecodeError as e:
            self.fail(f"{self.openapi_path} is not JSON: {e}")
            return
        paths = doc.get("paths")
        if not isinstance(paths, dict) or not paths:
            self.fail(f"{self.openapi_path} lists no operation under 'paths' (is it still a placeholder?)")
            return
        contract: dict[tuple[str, str], str] = {}
        for path, item in paths.items():
            for method in (item or {}):
                if method.lower() in HTTP_METHODS:
                    contract[(method.upper(), _norm(path))] = path
        self.ok(f"OpenAPI {doc.get('openapi', '?')} document lists {len(contract)} operations")
        own, public = self.served_routes(binaries)
        if not own:
            self.fail(f"no .route(\"/api/...\", ...) found in {self.root}/functions/*/src/*.rs: cannot tell which "
                      f"function serves which route")
        for key in sorted(contract):
            method, _ = key
            shown = f"{method} {contract[key]}"
            want_bin = own.get(key)
            is_public = key in public
            if want_bin is None and not is_public:
                self.fail(f"{shown} is in the OpenAPI document but no function's router declares it "
                          f"(functions/*/src/*.rs, shared/http/src/routes.rs)")
            routed = events.get(key, [])
            if not routed:
                self.fail(f"{shown} (OpenAPI) is routed by no HttpApi event"
                          + (f"; it belongs on the {want_bin} function" if want_bin else ""))
                continue
            if len(routed) > 1:
                self.fail(f"{shown} is routed by {len(routed)} HttpApi events: "
                          + ", ".join(f"{l}.Events.{e}" for l, e in routed))
                continue
            lid, ename = routed[0]
            got_bin = binaries.get(lid)
            if want_bin is not None:
                self.check(
                    got_bin == want_bin,
                    f"{shown} -> {lid} ({got_bin})",
                    f"{shown} is routed to {lid} ({got_bin}) by {lid}.Events.{ename}, but the {want_bin} "
                    f"function serves it (its router in functions/{want_bin}/src declares it)",
                )
            elif is_public:
                self.ok(f"{shown} -> {lid} ({got_bin}; a public route every function answers)")
        for key in sorted(set(events) - set(contract)):
            for lid, ename in events[key]:
                self.fail(f"{lid}.Events.{ename} routes {key[0]} {key[1]}, which the OpenAPI document does not list")
        self.contract = contract
        self.events = events

    # ------------------------------------------------------------------ HTTP API settings
    def check_http_api(self) -> None:
        self.section("HTTP API: CORS, per-route throttling, access logs")
        apis = self.of_type("AWS::Serverless::HttpApi")
        if len(apis) != 1:
            self.fail(f"expected exactly one AWS::Serverless::HttpApi, found {sorted(apis)}")
            return
        lid, res = next(iter(apis.items()))
        props = res.get("Properties") or {}
        contract = getattr(self, "contract", {})
        events = getattr(self, "events", {})
        self.check_cors(lid, props, events)

        # throttling: the postback route its own, high limits; every other route the default, low ones
        default = props.get("DefaultRouteSettings") or {}
        route_settings = props.get("RouteSettings") or {}
        if not isinstance(route_settings, dict):
            self.fail(f"{lid}: RouteSettings must be a map of route keys (\"POST /api/postback\") to settings")
            route_settings = {}
        parsed: dict[tuple[str, str], dict[str, Any]] = {}
        for rk, settings in route_settings.items():
            m = re.fullmatch(r"([A-Z]+) (/\S*)", rk)
            key = (m.group(1), _norm(m.group(2))) if m else None
            if key is None or (key not in events and not (key[0] == "OPTIONS" and key[1] in self.preflights)):
                self.fail(f"{lid}: RouteSettings names route {rk!r}, which no HttpApi event routes (the stage "
                          f"would fail to deploy: route keys are \"METHOD /path\" exactly as routed)")
                continue
            parsed[key] = settings or {}
        pb_key = (POSTBACK_ROUTE[0], _norm(POSTBACK_ROUTE[1]))
        pb = parsed.get(pb_key)
        if pb is None:
            self.fail(f"{lid}: RouteSettings has no \"{POSTBACK_ROUTE[0]} {POSTBACK_ROUTE[1]}\" entry: the ingest "
                      f"route would share the default (admin) throttle and busy landing pages would get 429s")
            pb_rate = pb_burst = None
        else:
            pb_rate = self.default_of(pb.get("ThrottlingRateLimit"))
            pb_burst = self.default_of(pb.get("ThrottlingBurstLimit"))
            self.check(
                _num(pb_rate) is not None and _num(pb_rate) >= POSTBACK_MIN_RATE
                and _num(pb_burst) is not None and _num(pb_burst) >= POSTBACK_MIN_BURST,
                f"{lid}: {POSTBACK_ROUTE[0]} {POSTBACK_ROUTE[1]} throttled at {pb_rate}/s, burst {pb_burst} "
                f"(sized for {POSTBACK_MIN_RATE:,} postbacks/s)",
                f"{lid}: {POSTBACK_ROUTE[0]} {POSTBACK_ROUTE[1]} must allow at least {POSTBACK_MIN_RATE}/s with "
                f"burst {POSTBACK_MIN_BURST} by default, found rate {pb_rate!r}, burst {pb_burst!r}",
            )
        get_key = (GET_POSTBACK_ROUTE[0], _norm(GET_POSTBACK_ROUTE[1]))
        if get_key in parsed and pb is not None:
            same = all(parsed[get_key].get(k) == pb.get(k) for k in ("ThrottlingRateLimit", "ThrottlingBurstLimit"))
            self.check(same, f"{lid}: {GET_POSTBACK_ROUTE[0]} {GET_POSTBACK_ROUTE[1]} shares the ingest throttle",
                       f"{lid}: {GET_POSTBACK_ROUTE[0]} {GET_POSTBACK_ROUTE[1]} must use the ingest route's throttle "
                       f"(the same ThrottlingRateLimit and ThrottlingBurstLimit as {POSTBACK_ROUTE[0]} {POSTBACK_ROUTE[1]})")
        pre_key = ("OPTIONS", _norm(POSTBACK_ROUTE[1]))
        if pb is not None:
            pre = parsed.get(pre_key) or {}
            same = all(pre.get(k) == pb.get(k) for k in ("ThrottlingRateLimit", "ThrottlingBurstLimit"))
            self.check(same, f"{lid}: OPTIONS {POSTBACK_ROUTE[1]} (landing pages' preflights) shares the ingest throttle",
                       f"{lid}: RouteSettings \"OPTIONS {POSTBACK_ROUTE[1]}\" must use the ingest route's throttle: "
                       f"every fetch from a landing page is preceded by a preflight, which the default (admin) "
                       f"throttle would refuse with 429")
        d_rate = self.default_of(default.get("ThrottlingRateLimit"))
        d_burst = self.default_of(default.get("ThrottlingBurstLimit"))
        ingest = {pb_key} | ({get_key} if get_key in parsed else set())
        others = sorted(k for k in contract if k not in ingest)
        bad = []
        for key in others:
            s = parsed.get(key, {})
            rate = self.default_of(s.get("ThrottlingRateLimit")) if "ThrottlingRateLimit" in s else d_rate
            burst = self.default_of(s.get("ThrottlingBurstLimit")) if "ThrottlingBurstLimit" in s else d_burst
            r, b = _num(rate), _num(burst)
            if r is None or b is None or r > OTHER_ROUTES_MAX_RATE or (_num(pb_rate) is not None and r >= _num(pb_rate)):
                bad.append(f"{key[0]} {contract[key]} (rate {rate!r}, burst {burst!r})")
        self.check(
            not bad,
            f"{lid}: the other {len(others)} routes throttled lower (default {d_rate}/s, burst {d_burst})",
            f"{lid}: every route but the postback route needs a throttle below {OTHER_ROUTES_MAX_RATE}/s and below "
            f"the postback route's (DefaultRouteSettings or RouteSettings); not so: {bad}",
        )

        # access logs: behind a parameter, off by default
        logs = props.get("AccessLogSettings")
        if logs is None:
            self.ok(f"{lid}: no access log")
        elif isinstance(logs, dict) and set(logs) == {"Fn::If"}:
            cond, *branches = logs["Fn::If"]
            off = NO_VALUE in branches
            enabled = self.condition_default(cond)
            self.check(
                off and enabled is False,
                f"{lid}: access log behind condition {cond} (off by default)",
                f"{lid}: AccessLogSettings must be !If [<condition off by default>, ..., !Ref AWS::NoValue] "
                f"(condition {cond!r} is {'unknown' if enabled is UNKNOWN else enabled} at the defaults)",
            )
        else:
            self.fail(f"{lid}: AccessLogSettings is always on; put it behind a parameter that is off by default "
                      f"(about $0.13 per million requests)")

    def check_cors(self, lid: str, props: dict[str, Any], events: dict[tuple[str, str], list[tuple[str, str]]]) -> None:
        """CORS is the functions' (shared/http/src/app.rs): an HTTP API's CorsConfiguration holds one origin list
        for every route, answers the preflights itself and drops the functions' CORS headers, while the postback
        routes must accept any origin and the admin routes only the dashboard's."""
        self.check(
            "CorsConfiguration" not in props,
            f"{lid}: no CorsConfiguration (the functions answer CORS: any origin on /api/postback, "
            f"ALLOWED_ORIGINS elsewhere)",
            f"{lid}: CorsConfiguration must not be set: API Gateway would answer every preflight itself with one "
            f"origin list for all routes and drop the functions' CORS headers, so landing pages (any origin) "
            f"could not post with fetch, or any origin could call the admin routes",
        )
        pb_path = _norm(POSTBACK_ROUTE[1])
        pb_fn = {l for l, _ in events.get((POSTBACK_ROUTE[0], pb_path), [])}
        pre = self.preflights.get(pb_path, [])
        self.check(
            bool(pre) and {l for l, _ in pre} <= pb_fn and len(pre) == 1,
            f"OPTIONS {POSTBACK_ROUTE[1]} -> {', '.join(sorted(pb_fn))} (landing pages' preflights)",
            f"OPTIONS {POSTBACK_ROUTE[1]} must be routed (once) to the function serving {POSTBACK_ROUTE[0]} "
            f"{POSTBACK_ROUTE[1]} ({sorted(pb_fn)}), found {pre}: without it a landing page's fetch preflight "
            f"gets 404 and the browser refuses the postback",
        )
        catch_all = [l for p in ("/{}",) for l, _ in self.preflights.get(p, [])]
        http_fns = {l for routed in events.values() for l, _ in routed}
        self.check(
            len(catch_all) == 1 and catch_all[0] in http_fns,
            f"OPTIONS /{{proxy+}} -> {catch_all[0] if catch_all else '?'} (the dashboard's preflights)",
            f"an OPTIONS /{{proxy+}} route to one HTTP function must answer the other routes' preflights, "
            f"found {catch_all}",
        )
        src = self.rust("shared/http/src/app.rs") or ""
        layer = src[src.find("pub fn cors("):]
        layer = layer[:layer.find("\n}\n") + 1] if "pub fn cors(" in src else ""
        allow = re.search(r"\.allow_headers\(\[(.*?)\]\)", layer, re.S)
        allow_text = allow.group(1) if allow else ""
        expose = re.search(r"\.expose_headers\(\[(.*?)\]\)", layer, re.S)
        needs = {"content-type": "CONTENT_TYPE", "x-api-key": "API_KEY_HEADER", "idempotency-key": "IDEMPOTENCY_HEADER"}
        missing = [h for h, ident in needs.items() if ident not in allow_text]
        self.check(not missing, "shared/http/src/app.rs: CORS allows content-type, x-api-key, idempotency-key",
                   f"shared/http/src/app.rs: the CORS layer's allow_headers lacks {missing} (landing pages send them)")
        self.check(bool(expose) and '"idempotent-replayed"' in expose.group(1),
                   "shared/http/src/app.rs: CORS exposes idempotent-replayed",
                   "shared/http/src/app.rs: the CORS layer must expose_headers idempotent-replayed (landing pages "
                   "read it)")
        self.check('parts.uri.path() == "/api/postback"' in layer,
                   "shared/http/src/app.rs: /api/postback from any origin, other routes only ALLOWED_ORIGINS",
                   "shared/http/src/app.rs: the CORS origin predicate must allow any origin on /api/postback only")

    # ------------------------------------------------------------------ policies
    def _policy_statements(self, lid: str, res: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        """(where, condition or None, statement) for every Allow statement a function's role gets."""
        policies = self.effective_props(res).get("Policies")
        if isinstance(policies, (str, dict)):
            policies = [policies]
        managed = self.of_type("AWS::IAM::ManagedPolicy")
        for i, pol in enumerate(policies or []):
            where = f"{lid}.Policies[{i}]"
            doc = None
            if isinstance(pol, dict) and "Statement" in pol:
                doc = pol
            elif isinstance(pol, dict) and set(pol) == {"Ref"} and pol["Ref"] in managed:
                where = f"{where} ({pol['Ref']})"
                doc = (managed[pol["Ref"]].get("Properties") or {}).get("PolicyDocument") or {}
            else:
                self.fail(f"{where}: must be an inline policy document or !Ref of an AWS::IAM::ManagedPolicy of "
                          f"this template; managed policies and SAM policy templates grant more than the "
                          f"function needs (found {pol!r})")
                continue
            stmts = doc.get("Statement")
            stmts = [stmts] if isinstance(stmts, dict) else stmts or []
            for j, st in enumerate(stmts):
                for cond, branch in _branches(st):
                    if isinstance(branch, dict) and branch.get("Effect") == "Allow":
                        yield f"{where}.Statement[{j}]", cond, branch

    def check_policies(self, binaries: dict[str, str]) -> None:
        self.section("IAM: per function exactly what its code calls, on exactly its resources")
        tables = self._tables()
        queues = set(self.of_type("AWS::SQS::Queue"))
        dlq = self._consumer_dlq()
        http = self.http_functions()
        self.granted_table_actions: dict[str, set[str]] = {}
        for lid, res in sorted(self.functions().items()):
            binary = binaries.get(lid)
            if binary not in FUNCTION_GRANTS:
                if binary is not None:
                    self.fail(f"{lid}: Binary {binary!r} is not one of {sorted(FUNCTION_GRANTS)}; "
                              f"no known grants for it")
                continue
            needed = FUNCTION_GRANTS[binary]
            before = len(self.failures)
            granted: dict[str, set[str]] = {}
            key_statements: list[tuple[str, Any, dict[str, Any]]] = []
            statements = list(self._policy_statements(lid, res))
            if not statements and len(self.failures) == before:
                self.fail(f"{lid}: has no Policies; the {binary} function needs {_show_grants(needed)}")
                continue
            for sw, cond, st in statements:
                if "NotAction" in st or "NotResource" in st:
                    self.fail(f"{sw}: NotAction/NotResource grant too much")
                    continue
                actions = st.get("Action")
                actions = [actions] if isinstance(actions, str) else list(actions or [])
                if any(isinstance(a, str) and a.startswith(KEY_STORE_PREFIXES) for a in actions):
                    if lid not in http:
                        self.fail(f"{sw}: grants {actions} to {lid}, which serves no route and checks no key")
                    else:
                        key_statements.append((sw, cond, st))
                    continue
                resources = st.get("Resource")
                resources = resources if isinstance(resources, list) else [resources]
                for r in resources:
                    kind = _resource_kind(r, tables, queues)
                    if r == "*" and actions and set(actions) <= RESOURCE_STAR_ACTIONS:
                        kind = STREAMS
                    if kind is None:
                        self.fail(f"{sw}: Resource {r!r} is not one of this template's table ARN (!GetAtt "
                                  f"<table>.Arn), index ARNs (!Sub \"${{<table>.Arn}}/index/<name>\"), stream ARN "
                                  f"(!GetAtt <table>.StreamArn) or queue ARN (!GetAtt <queue>.Arn)")
                        continue
                    if kind == "index:*":
                        self.fail(f"{sw}: grants every index of the table (index/*); name the index the "
                                  f"{binary} function queries")
                        continue
                    if kind.startswith("queue:"):
                        kind = DLQ if kind == f"queue:{dlq}" else kind
                    allowed = needed.get(kind, set())
                    extra = [a for a in actions if a not in allowed]
                    if extra:
                        self.fail(f"{sw}: grants {extra} on {_show_kind(kind)}, which the {binary} function does not "
                                  f"call there (it calls {sorted(allowed) or 'nothing'} there)")
                    granted.setdefault(kind, set()).update(a for a in actions if a in allowed)
            for kind, acts in needed.items():
                missing = acts - granted.get(kind, set())
                if missing:
                    self.fail(f"{lid}: policy lacks {sorted(missing)} on {_show_kind(kind)}, which the {binary} "
                              f"function's code calls")
            self.granted_table_actions[binary] = granted.get(TABLE_ACTIONS, set())
            if lid in http:
                self._check_key_statements(lid, res, key_statements)
            if len(self.failures) == before:
                self.ok(f"{lid}: grants exactly {_show_grants(needed)}"
                        + (" + reading its keys from the key store" if lid in http else ""))

    def _consumer_dlq(self) -> str | None:
        for _, esm in self.of_type("AWS::Lambda::EventSourceMapping").items():
            dest = (((esm.get("Properties") or {}).get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            q = _getatt(dest, "Arn")
            if q:
                return q
        return None

    def _check_key_statements(self, lid: str, res: dict[str, Any], statements: list[tuple[str, Any, dict]]) -> None:
        """ssm:GetParameter(s) on exactly the parameters the environment names, secretsmanager:GetSecretValue on
        exactly the secret it names, kms:Decrypt only through that service."""
        env = self.env(res)
        want_names = {json.dumps(v, sort_keys=True) for var in KEY_PARAMETER_ENV if var in env
                      for _, v in _branches(env[var])}
        want_secret = {json.dumps(v, sort_keys=True) for _, v in _branches(env.get(KEY_SECRET_ENV))} \
            if KEY_SECRET_ENV in env else set()
        got_names: set[str] = set()
        got_secret: set[str] = set()
        kms_services: set[str] = set()
        for sw, _, st in statements:
            actions = st.get("Action")
            actions = [actions] if isinstance(actions, str) else list(actions or [])
            resources = st.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            services = {a.split(":", 1)[0] for a in actions}
            if len(services) != 1:
                self.fail(f"{sw}: mixes {sorted(services)} actions; one key-store service per statement")
                continue
            service = services.pop()
            if service == "ssm":
                extra = [a for a in actions if a not in ("ssm:GetParameter", "ssm:GetParameters")]
                if extra:
                    self.fail(f"{sw}: grants {extra}; reading the keys needs ssm:GetParameter(s) only")
                for r in resources:
                    name = _ssm_parameter_name(r)
                    if name is None:
                        self.fail(f"{sw}: Resource {r!r} is not !Sub \"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:"
                                  f"${{AWS::AccountId}}:parameter${{Name}}\" of one key parameter")
                    else:
                        got_names |= {json.dumps(v, sort_keys=True) for _, v in _branches(name)}
            elif service == "secretsmanager":
                extra = [a for a in actions if a != "secretsmanager:GetSecretValue"]
                if extra:
                    self.fail(f"{sw}: grants {extra}; reading the keys needs secretsmanager:GetSecretValue only")
                for r in resources:
                    got_secret.add(json.dumps(r, sort_keys=True))
                    if json.dumps(r, sort_keys=True) not in want_secret:
                        self.fail(f"{sw}: Resource {r!r} is not the secret {KEY_SECRET_ENV} names")
            elif service == "kms":
                extra = [a for a in actions if a != "kms:Decrypt"]
                if extra:
                    self.fail(f"{sw}: grants {extra}; reading the keys needs kms:Decrypt only")
                cond = (st.get("Condition") or {}).get("StringEquals") or {}
                via = cond.get("kms:ViaService")
                context = [k for k in cond if k.startswith("kms:EncryptionContext:")]
                if via is None or not context or any(r == "*" for r in resources):
                    self.fail(f"{sw}: kms:Decrypt needs Condition StringEquals kms:ViaService (the key store) and "
                              f"kms:EncryptionContext:... (these keys only), and a Resource other than \"*\"")
                else:
                    text = json.dumps(via)
                    kms_services |= {s for s in ("ssm", "secretsmanager") if f"{s}." in text}
            else:
                self.fail(f"{sw}: {service} actions are not part of reading keys")
        if want_names:
            missing = want_names - got_names
            extra = got_names - want_names
            self.check(
                not missing and not extra,
                f"{lid}: ssm:GetParameter(s) on exactly the parameters its "
                f"{', '.join(v for v in KEY_PARAMETER_ENV if v in env)} name (given or default names)",
                f"{lid}: the SSM grant must cover exactly the parameters named by {', '.join(KEY_PARAMETER_ENV)}"
                + (f"; missing {sorted(missing)}" if missing else "") + (f"; not named {sorted(extra)}" if extra else ""),
            )
            self.check("ssm" in kms_services, f"{lid}: kms:Decrypt via SSM for the SecureString parameters",
                       f"{lid}: no kms:Decrypt statement conditioned on kms:ViaService ssm.<region>... for the "
                       f"SecureString key parameters")
        if want_secret:
            self.check(got_secret == want_secret, f"{lid}: secretsmanager:GetSecretValue on exactly the keys' secret",
                       f"{lid}: needs secretsmanager:GetSecretValue on exactly {sorted(want_secret)}, found "
                       f"{sorted(got_secret)}")
            self.check("secretsmanager" in kms_services, f"{lid}: kms:Decrypt via Secrets Manager for the secret",
                       f"{lid}: no kms:Decrypt statement conditioned on kms:ViaService secretsmanager.<region>...")

    # ------------------------------------------------------------------ the code's DynamoDB operations
    def check_code_inventory(self) -> None:
        self.section("IAM vs code: every DynamoDB operation the Lambda code calls is granted")
        src = self.root / "shared" / "dynamo" / "src"
        if not src.is_dir():
            self.fail(f"{src} does not exist: cannot list the DynamoDB operations the code calls")
            return
        granted_any = set().union(*getattr(self, "granted_table_actions", {}).values()) \
            if getattr(self, "granted_table_actions", None) else set()
        consumer = getattr(self, "granted_table_actions", {}).get(STREAM_CONSUMER, set())
        unknown_total: list[str] = []
        inventory: dict[str, set[str]] = {}
        for rs in sorted(src.glob("*.rs")):
            ops = _dynamodb_operations(rs.read_text())
            if not ops:
                continue
            unknown = sorted(o for o in ops if o.startswith("?"))
            unknown_total += [f"{rs.name}: {o[1:]}" for o in unknown]
            inventory[rs.name] = {o for o in ops if not o.startswith("?")}
        if unknown_total:
            self.fail(f"the code calls DynamoDB operations check_template.py has no IAM action for: {unknown_total} "
                      f"(add them to DYNAMODB_OPERATIONS)")
        for name, ops in sorted(inventory.items()):
            shown = ", ".join(sorted(a.split(":")[1] for a in ops))
            if name in TOOL_ONLY_FILES:
                self.ok(f"{name}: {shown} (not run by any Lambda: local table creation / leadpipe recount)")
                continue
            if name in CONSUMER_ONLY_FILES:
                missing = sorted(ops - consumer)
                self.check(not missing, f"{name}: {shown}, granted to the {STREAM_CONSUMER} function",
                           f"{name} calls {missing}, which the {STREAM_CONSUMER} function is not granted "
                           f"(FUNCTION_GRANTS and its policy)")
                continue
            missing = sorted(ops - granted_any)
            self.check(not missing, f"{name}: {shown}, each granted to the functions that call it",
                       f"{name} calls {missing}, which no function is granted: a Lambda running it would get "
                       f"AccessDenied (update FUNCTION_GRANTS and the policies of the functions that call it)")

    # ------------------------------------------------------------------ stream consumer
    def check_stream_consumer(self, binaries: dict[str, str]) -> None:
        self.section("stream consumer: event source mapping, dead-letter queue, limits")
        tables = self._tables()
        consumer = [lid for lid, b in binaries.items() if b == STREAM_CONSUMER]
        for lid, res in sorted(self.functions().items()):
            for ename, ev in ((res.get("Properties") or {}).get("Events") or {}).items():
                if (ev or {}).get("Type") in ("DynamoDB", "Kinesis"):
                    self.fail(f"{lid}.Events.{ename}: a SAM {ev.get('Type')} event attaches the managed policy "
                              f"AWSLambdaDynamoDBExecutionRole (stream actions on Resource \"*\"); use an "
                              f"AWS::Lambda::EventSourceMapping and grant the stream actions on the table's stream")
        if not consumer:
            self.fail(f"no function builds the stream consumer {STREAM_CONSUMER!r}")
            return
        clid = consumer[0]
        props = self.effective_props(self.functions()[clid])
        self.check(
            self.default_of(props.get("Timeout")) == CONSUMER_TIMEOUT
            and self.default_of(props.get("MemorySize")) == CONSUMER_MEMORY,
            f"{clid}: Timeout {CONSUMER_TIMEOUT} s, MemorySize {CONSUMER_MEMORY} MB",
            f"{clid}: needs Timeout {CONSUMER_TIMEOUT} and MemorySize {CONSUMER_MEMORY}, found "
            f"{props.get('Timeout')!r} and {props.get('MemorySize')!r}",
        )
        self.check(clid not in self.http_functions(), f"{clid}: serves no route",
                   f"{clid}: the stream consumer must not serve HTTP routes")
        mappings = {k: v for k, v in self.of_type("AWS::Lambda::EventSourceMapping").items()
                    if _getatt((v.get("Properties") or {}).get("EventSourceArn"), "StreamArn") in tables}
        if len(mappings) != 1:
            self.fail(f"expected one AWS::Lambda::EventSourceMapping on the table's stream (EventSourceArn: "
                      f"!GetAtt <table>.StreamArn), found {sorted(mappings)}")
            return
        mid, esm = next(iter(mappings.items()))
        ep = esm.get("Properties") or {}
        fn = ep.get("FunctionName")
        self.check(
            fn in ({"Ref": clid}, {"Fn::GetAtt": [clid, "Arn"]}, {"Fn::GetAtt": f"{clid}.Arn"}),
            f"{mid}: invokes {clid}",
            f"{mid}: FunctionName must be !Ref {clid} (the {STREAM_CONSUMER} function), found {fn!r}",
        )
        for key, want in ESM_SETTINGS.items():
            got = self.default_of(ep.get(key)) if key in ep else None
            self.check(got == want, f"{mid}: {key} {want}",
                       f"{mid}: {key} must be {want!r}, found {got!r}")
        filters = ((ep.get("FilterCriteria") or {}).get("Filters")) or []
        patterns = []
        for f in filters:
            try:
                patterns.append(json.loads(f.get("Pattern")))
            except (TypeError, json.JSONDecodeError):
                patterns.append(f.get("Pattern"))
        self.check(patterns == [ESM_FILTER], f"{mid}: filter passes only lead items (Keys.sk.S = L)",
                   f"{mid}: FilterCriteria must be exactly one pattern {json.dumps(ESM_FILTER)} (only lead items; "
                   f"the consumer's own writes must not come back to it), found {patterns}")
        dest = (((ep.get("DestinationConfig") or {}).get("OnFailure")) or {}).get("Destination")
        queue = _getatt(dest, "Arn")
        queues = self.of_type("AWS::SQS::Queue")
        if queue not in queues:
            self.fail(f"{mid}: DestinationConfig.OnFailure.Destination must be !GetAtt <an SQS queue of this "
                      f"template>.Arn (the dead-letter queue for batches given up on), found {dest!r}")
            return
        self.ok(f"{mid}: failed batches go to {queue}")
        self._check_dead_letter_queue(queue, queues[queue])
        self.consumer_lid, self.dlq_lid = clid, queue

    def _check_dead_letter_queue(self, qid: str, queue: dict[str, Any]) -> None:
        """A dead-letter queue: encrypted, and keeping its messages 14 days."""
        qp = queue.get("Properties") or {}
        self.check(_queue_encrypted(qp),
                   f"{qid}: encrypted", f"{qid}: needs SqsManagedSseEnabled: true or KmsMasterKeyId")
        self.check(self.default_of(qp.get("MessageRetentionPeriod")) == DLQ_RETENTION_SECONDS,
                   f"{qid}: keeps messages 14 days",
                   f"{qid}: MessageRetentionPeriod must be {DLQ_RETENTION_SECONDS} (14 days), found "
                   f"{qp.get('MessageRetentionPeriod')!r}")

    # ------------------------------------------------------------------ alarms
    def check_alarms(self) -> None:
        self.section("alarms: consumer lag, consumer errors, dead-letter queue")
        clid, queue = getattr(self, "consumer_lid", None), getattr(self, "dlq_lid", None)
        alarms = self.of_type("AWS::CloudWatch::Alarm")

        def find(namespace: str, metric: str, dim: str, value: Any) -> list[tuple[str, dict]]:
            out = []
            for aid, a in sorted(alarms.items()):
                p = a.get("Properties") or {}
                dims = {d.get("Name"): d.get("Value") for d in p.get("Dimensions") or []}
                if p.get("Namespace") == namespace and p.get("MetricName") == metric and dims.get(dim) == value:
                    out.append((aid, p))
            return out

        def window(p: dict) -> Any:
            period, n = _num(self.default_of(p.get("Period"))), _num(self.default_of(p.get("EvaluationPeriods")))
            m = _num(self.default_of(p.get("DatapointsToAlarm", p.get("EvaluationPeriods"))))
            return None if None in (period, n, m) or m != n else period * n

        def always(aid: str) -> bool:
            return self.resource_enabled_by_default(aid) is True

        if clid:
            found = find("AWS/Lambda", "IteratorAge", "FunctionName", {"Ref": clid})
            good = [aid for aid, p in found if p.get("Statistic") == "Maximum" and always(aid)
                    and _num(self.default_of(p.get("Threshold"))) == ITERATOR_AGE_THRESHOLD_MS
                    and p.get("ComparisonOperator") == "GreaterThanThreshold" and window(p) == ALARM_WINDOW_SECONDS]
            self.check(bool(good), f"{good[0] if good else ''}: {clid} IteratorAge Maximum > {ITERATOR_AGE_THRESHOLD_MS} ms "
                                   f"for 5 minutes",
                       f"no alarm on AWS/Lambda IteratorAge of {clid} (Statistic Maximum, GreaterThanThreshold "
                       f"{ITERATOR_AGE_THRESHOLD_MS}, every period of a 5-minute window); found {[a for a, _ in found]}")
            found = find("AWS/Lambda", "Errors", "FunctionName", {"Ref": clid})
            good = [aid for aid, p in found if always(aid) and _num(self.default_of(p.get("Threshold"))) == 0
                    and p.get("ComparisonOperator") == "GreaterThanThreshold"]
            self.check(bool(good), f"{good[0] if good else ''}: {clid} Errors > 0",
                       f"no alarm on AWS/Lambda Errors of {clid} (GreaterThanThreshold 0); found "
                       f"{[a for a, _ in found]}")
        if queue:
            found = find("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                         {"Fn::GetAtt": [queue, "QueueName"]}) + \
                find("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": f"{queue}.QueueName"})
            good = [aid for aid, p in found if always(aid) and _num(self.default_of(p.get("Threshold"))) == 0
                    and p.get("ComparisonOperator") == "GreaterThanThreshold"]
            self.check(bool(good), f"{good[0] if good else ''}: messages in {queue}",
                       f"no alarm on AWS/SQS ApproximateNumberOfMessagesVisible of {queue} (QueueName !GetAtt "
                       f"{queue}.QueueName, GreaterThanThreshold 0)")

    # ------------------------------------------------------------------ webhook delivery
    def check_webhook_delivery(self, binaries: dict[str, str]) -> None:
        self.section("webhook delivery: queue, dead-letter queue, event source mapping, alarm")
        queues = self.of_type("AWS::SQS::Queue")
        q = queues.get(WEBHOOK_QUEUE_ID)
        if q is None:
            self.fail(f"no AWS::SQS::Queue {WEBHOOK_QUEUE_ID} (scheduled webhook deliveries)")
            return
        fns = [lid for lid, b in binaries.items() if b == WEBHOOK_FUNCTION]
        if not fns:
            self.fail(f"no function builds {WEBHOOK_FUNCTION!r}")
            return
        flid = fns[0]
        self.check(flid not in self.http_functions(), f"{flid}: serves no route",
                   f"{flid}: the webhook delivery function must not serve HTTP routes")
        for lid, b in sorted(binaries.items()):
            if b in WEBHOOK_QUEUE_USERS:
                got = self.env(self.functions()[lid]).get("WEBHOOK_QUEUE_URL")
                self.check(got == {"Ref": WEBHOOK_QUEUE_ID}, f"{lid}: WEBHOOK_QUEUE_URL is !Ref {WEBHOOK_QUEUE_ID}",
                           f"{lid}: WEBHOOK_QUEUE_URL must be !Ref {WEBHOOK_QUEUE_ID} (the {b} function schedules "
                           f"deliveries on it), found {got!r}")
        qp = q.get("Properties") or {}
        self.check(_queue_encrypted(qp),
                   f"{WEBHOOK_QUEUE_ID}: encrypted", f"{WEBHOOK_QUEUE_ID}: needs SqsManagedSseEnabled: true or KmsMasterKeyId")
        timeout = _num(self.default_of(self.effective_props(self.functions()[flid]).get("Timeout")))
        vis = _num(self.default_of(qp.get("VisibilityTimeout")))
        self.check(timeout is not None and vis is not None and vis >= 6 * timeout,
                   f"{WEBHOOK_QUEUE_ID}: VisibilityTimeout {vis:g} s >= 6 x {flid}'s timeout" if vis else "",
                   f"{WEBHOOK_QUEUE_ID}: VisibilityTimeout must be at least 6 times {flid}'s Timeout ({timeout!r}) so a "
                   f"message is not handed out again while an attempt runs, found {qp.get('VisibilityTimeout')!r}")
        redrive = qp.get("RedrivePolicy") or {}
        dlq = _getatt(redrive.get("deadLetterTargetArn"), "Arn")
        receives = _num(self.default_of(redrive.get("maxReceiveCount")))
        if dlq not in queues or dlq == WEBHOOK_QUEUE_ID:
            self.fail(f"{WEBHOOK_QUEUE_ID}: RedrivePolicy.deadLetterTargetArn must be !GetAtt <another queue of this "
                      f"template>.Arn (messages the function keeps failing on), found {redrive.get('deadLetterTargetArn')!r}")
        else:
            self.check(receives == WEBHOOK_MAX_RECEIVES,
                       f"{WEBHOOK_QUEUE_ID}: to {dlq} after {WEBHOOK_MAX_RECEIVES} receives",
                       f"{WEBHOOK_QUEUE_ID}: RedrivePolicy.maxReceiveCount must be {WEBHOOK_MAX_RECEIVES}, found {receives!r}")
            self._check_dead_letter_queue(dlq, queues[dlq])
            alarms = [aid for aid, a in sorted(self.of_type("AWS::CloudWatch::Alarm").items())
                      if (a.get("Properties") or {}).get("MetricName") == "ApproximateNumberOfMessagesVisible"
                      and any(d.get("Value") in ({"Fn::GetAtt": [dlq, "QueueName"]}, {"Fn::GetAtt": f"{dlq}.QueueName"})
                              for d in (a.get("Properties") or {}).get("Dimensions") or [])
                      and _num(self.default_of((a.get("Properties") or {}).get("Threshold"))) == 0]
            self.check(bool(alarms), f"{alarms[0] if alarms else ''}: messages in {dlq}",
                       f"no alarm on AWS/SQS ApproximateNumberOfMessagesVisible of {dlq} (Threshold 0)")
        mappings = {k: v for k, v in self.of_type("AWS::Lambda::EventSourceMapping").items()
                    if _getatt((v.get("Properties") or {}).get("EventSourceArn"), "Arn") == WEBHOOK_QUEUE_ID}
        if len(mappings) != 1:
            self.fail(f"expected one AWS::Lambda::EventSourceMapping on {WEBHOOK_QUEUE_ID}, found {sorted(mappings)}")
            return
        mid, esm = next(iter(mappings.items()))
        ep = esm.get("Properties") or {}
        self.check(ep.get("FunctionName") in ({"Ref": flid}, {"Fn::GetAtt": [flid, "Arn"]}, {"Fn::GetAtt": f"{flid}.Arn"}),
                   f"{mid}: invokes {flid}", f"{mid}: FunctionName must be !Ref {flid}, found {ep.get('FunctionName')!r}")
        self.check("ReportBatchItemFailures" in (ep.get("FunctionResponseTypes") or []),
                   f"{mid}: ReportBatchItemFailures (only unhandled messages come back)",
                   f"{mid}: FunctionResponseTypes must include ReportBatchItemFailures, or one failed message "
                   f"re-runs the attempts of the whole batch")
        batch = _num(self.default_of(ep.get("BatchSize")))
        self.check(batch is not None and batch <= WEBHOOK_BATCH_MAX, f"{mid}: BatchSize {batch:g}" if batch else "",
                   f"{mid}: BatchSize must be at most {WEBHOOK_BATCH_MAX} (a batch's attempts share one invocation), "
                   f"found {ep.get('BatchSize')!r}")

    # ------------------------------------------------------------------ logs and cost
    def check_logs(self) -> None:
        self.section("logs and cost: JSON at WARN, no platform lines, retention; postback at 128 MB")
        groups = self.of_type("AWS::Logs::LogGroup")
        for lid, res in sorted(self.functions().items()):
            props = self.effective_props(res)
            cfg = props.get("LoggingConfig") or {}
            fmt = cfg.get("LogFormat")
            app_level = self.default_of(cfg.get("ApplicationLogLevel"))
            sys_level = self.default_of(cfg.get("SystemLogLevel"))
            self.check(
                fmt == "JSON" and app_level == "WARN" and sys_level == "WARN",
                f"{lid}: LoggingConfig JSON, ApplicationLogLevel WARN, SystemLogLevel WARN",
                f"{lid}: LoggingConfig must set LogFormat JSON, ApplicationLogLevel WARN (by default) and "
                f"SystemLogLevel WARN (no START/END/REPORT lines), found {fmt!r}, {app_level if app_level is not UNKNOWN else cfg.get('ApplicationLogLevel')!r}, "
                f"{sys_level if sys_level is not UNKNOWN else cfg.get('SystemLogLevel')!r}",
            )
            rust_log = self.env(res).get("RUST_LOG")
            level = self.default_of(rust_log)
            if isinstance(level, str) and level.lower() in ("trace", "debug", "info"):
                self.fail(f"{lid}: RUST_LOG is {level!r} by default: one line per request (CloudWatch Logs bills "
                          f"per GB); default to warn")
            target = cfg.get("LogGroup")
            group = None
            if isinstance(target, dict) and target.get("Ref") in groups:
                group = target["Ref"]
            else:  # classic layout: a group named /aws/lambda/${Function}
                for gid, g in groups.items():
                    name = (g.get("Properties") or {}).get("LogGroupName")
                    if isinstance(name, dict) and name.get("Fn::Sub") == f"/aws/lambda/${{{lid}}}":
                        group = gid
            if group is None:
                self.fail(f"{lid}: no AWS::Logs::LogGroup for it (LoggingConfig.LogGroup: !Ref <group>, "
                          f"or a group named /aws/lambda/${{{lid}}})")
                continue
            retention = (groups[group].get("Properties") or {}).get("RetentionInDays")
            self.check(retention is not None, f"{lid}: logs go to {group} with RetentionInDays",
                       f"{lid}: log group {group} has no RetentionInDays (logs would be kept forever)")
        for lid, res in sorted(self.functions().items()):
            if any((ev or {}).get("Type") == "HttpApi" and
                   ((ev.get("Properties") or {}).get("Method") or "").upper() == POSTBACK_ROUTE[0] and
                   _norm((ev.get("Properties") or {}).get("Path") or "") == _norm(POSTBACK_ROUTE[1])
                   for ev in ((res.get("Properties") or {}).get("Events") or {}).values()):
                mem = self.default_of(self.effective_props(res).get("MemorySize"))
                self.check(mem == POSTBACK_MEMORY, f"{lid}: MemorySize {POSTBACK_MEMORY} MB",
                           f"{lid}: serves {POSTBACK_ROUTE[0]} {POSTBACK_ROUTE[1]} and must have MemorySize "
                           f"{POSTBACK_MEMORY} (Lambda bills GB-seconds), found {mem!r}")

    # ------------------------------------------------------------------ abuse limits and budget
    def check_edge_and_budget(self) -> None:
        self.section("optional abuse limits (CloudFront + AWS WAF) and budget: off by default, correct when on")
        acls = self.of_type("AWS::WAFv2::WebACL")
        rules = self.tpl.get("Rules") or {}
        for aid, acl in sorted(acls.items()):
            p = acl.get("Properties") or {}
            self.check(self.resource_enabled_by_default(aid) is False, f"{aid}: off by default",
                       f"{aid}: must be behind a condition that is off at the parameters' defaults ($5/month + "
                       f"$1/rule + $0.60 per million requests)")
            self.check(p.get("Scope") == "CLOUDFRONT", f"{aid}: Scope CLOUDFRONT",
                       f"{aid}: Scope must be CLOUDFRONT (the API distribution), found {p.get('Scope')!r}")
            guarded = any(
                "AWS::Region" in json.dumps(r.get("Assertions")) and "us-east-1" in json.dumps(r.get("Assertions"))
                for r in rules.values() if isinstance(r, dict))
            self.check(guarded, f"{aid}: a template rule asserts us-east-1 (CLOUDFRONT web ACLs exist only there)",
                       f"{aid}: a CLOUDFRONT-scope web ACL can only be created in us-east-1: add a Rules entry "
                       f"asserting !Equals [!Ref AWS::Region, us-east-1] when it is created")
            rate_rules = []
            for rule in p.get("Rules") or []:
                rb = ((rule.get("Statement") or {}).get("RateBasedStatement")) or {}
                scope = json.dumps(rb.get("ScopeDownStatement") or {})
                if rb.get("AggregateKeyType") == "IP" and "/api/postback" in scope and "Block" in (rule.get("Action") or {}):
                    rate_rules.append((rule.get("Name"), self.default_of(rb.get("Limit")),
                                       self.default_of(rb.get("EvaluationWindowSec", 300))))
            self.check(bool(rate_rules),
                       f"{aid}: rate-based rule per IP on /api/postback {rate_rules[0] if rate_rules else ''}",
                       f"{aid}: needs a Block rule with a RateBasedStatement (AggregateKeyType IP) scoped down to "
                       f"/api/postback")
        dists = {k: v for k, v in self.of_type("AWS::CloudFront::Distribution").items()
                 if "execute-api" in json.dumps(((v.get("Properties") or {}).get("DistributionConfig") or {}).get("Origins"))}
        for did, d in sorted(dists.items()):
            cfg = (d.get("Properties") or {}).get("DistributionConfig") or {}
            self.check(self.resource_enabled_by_default(did) is False, f"{did}: off by default",
                       f"{did}: the API distribution must be off at the parameters' defaults")
            self.check(bool(cfg.get("WebACLId")), f"{did}: has a web ACL", f"{did}: needs WebACLId (the WAF web ACL)")
            behavior = cfg.get("DefaultCacheBehavior") or {}
            self.check(
                behavior.get("CachePolicyId") == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
                and "POST" in (behavior.get("AllowedMethods") or []) and behavior.get("OriginRequestPolicyId"),
                f"{did}: no caching, all methods, viewer headers (x-api-key) forwarded",
                f"{did}: the API behaviour needs CachingDisabled, AllowedMethods with POST and an origin request "
                f"policy forwarding x-api-key (AllViewerExceptHostHeader)",
            )
        if acls and not dists:
            self.fail("a web ACL without an API distribution protects nothing")
        budgets = self.of_type("AWS::Budgets::Budget")
        for bid, b in sorted(budgets.items()):
            p = b.get("Properties") or {}
            self.check(self.resource_enabled_by_default(bid) is False, f"{bid}: off by default",
                       f"{bid}: must be behind a condition that is off at the parameters' defaults")
            subs = [s for n in p.get("NotificationsWithSubscribers") or [] for s in n.get("Subscribers") or []]
            self.check(bool(subs) and all(s.get("SubscriptionType") == "EMAIL" for s in subs),
                       f"{bid}: notifies by email", f"{bid}: needs email subscribers on its notifications")
        if not acls and not dists and not budgets:
            self.ok("no optional abuse-limit or budget resources")

    # ------------------------------------------------------------------ dashboard
    def check_dashboard(self) -> None:
        self.section("dashboard: private bucket behind CloudFront with origin access control")
        buckets = self.of_type("AWS::S3::Bucket")
        dists = {k: v for k, v in self.of_type("AWS::CloudFront::Distribution").items()
                 if any("OriginAccessControlId" in o or "S3OriginConfig" in o for o in
                        (((v.get("Properties") or {}).get("DistributionConfig") or {}).get("Origins") or []))}
        policies = self.of_type("AWS::S3::BucketPolicy")
        if len(buckets) != 1 or len(dists) != 1:
            self.fail(f"expected one S3 bucket and one CloudFront distribution with an S3 origin, found "
                      f"{sorted(buckets)} and {sorted(dists)}")
            return
        bid, bucket = next(iter(buckets.items()))
        did, dist = next(iter(dists.items()))
        bp = bucket.get("Properties") or {}
        pab = bp.get("PublicAccessBlockConfiguration") or {}
        flags = ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]
        self.check(all(pab.get(f) is True for f in flags), f"{bid}: all public access blocked",
                   f"{bid}: PublicAccessBlockConfiguration must set {', '.join(flags)} to true")
        self.check(bool(bp.get("BucketEncryption")), f"{bid}: encryption configured",
                   f"{bid}: BucketEncryption must be set")
        origins = ((dist.get("Properties") or {}).get("DistributionConfig") or {}).get("Origins") or []
        self.check(
            any("OriginAccessControlId" in o for o in origins),
            f"{did}: S3 origin uses origin access control",
            f"{did}: the S3 origin needs OriginAccessControlId (origin access control)",
        )
        ok_policy = False
        for pid, pol in policies.items():
            pp = pol.get("Properties") or {}
            if pp.get("Bucket") != {"Ref": bid}:
                continue
            for st in (pp.get("PolicyDocument") or {}).get("Statement") or []:
                if st.get("Effect") != "Allow":
                    continue
                principal = st.get("Principal") or {}
                cond = json.dumps(st.get("Condition") or {})
                if principal == {"Service": "cloudfront.amazonaws.com"} and f"${{{did}}}" in cond:
                    ok_policy = True
                elif principal not in ({"Service": "cloudfront.amazonaws.com"},):
                    self.fail(f"{pid}: allows principal {principal!r}; only the distribution may read the bucket")
        self.check(ok_policy, f"bucket policy lets only distribution {did} read {bid}",
                   f"no bucket policy on {bid} allows cloudfront.amazonaws.com with AWS:SourceArn of {did}")

    # ------------------------------------------------------------------ concurrency and account-wide names
    def check_concurrency(self, binaries: dict[str, str]) -> None:
        """Reserved concurrency (issue 24, finding 6): the consumers get some whatever the postback load, the
        postback function is capped, and the defaults leave the account's 100 unreserved and room for the admin
        routes in the default 1,000."""
        self.section("reserved concurrency: consumers reserved, postback capped")
        by_bin = {b: lid for lid, b in binaries.items()}
        reserved: dict[str, Any] = {}
        for binary in ("postback", "counters", "webhooks"):
            lid = by_bin.get(binary)
            if lid is None:
                continue
            node = (self.functions()[lid].get("Properties") or {}).get("ReservedConcurrentExecutions")
            value = self.default_of(node) if node is not None else None
            reserved[binary] = value
            param = None
            if isinstance(node, dict) and "Fn::If" in node and isinstance(node["Fn::If"], list):
                branch = node["Fn::If"][1] if len(node["Fn::If"]) == 3 else None
                param = branch.get("Ref") if isinstance(branch, dict) else None
            self.check(
                param in self.parameters and isinstance(_num(value), (int, float)) and _num(value) >= 1,
                f"{lid}: ReservedConcurrentExecutions from parameter {param} (default {value})",
                f"{lid}: ReservedConcurrentExecutions must be !If [<condition>, !Ref <Number parameter>, "
                f"!Ref AWS::NoValue] with a default of at least 1, found {node!r}: without it a postback spike "
                f"at the account's concurrency limit starves the {binary} function",
            )
        values = [_num(v) for v in reserved.values()]
        if len(values) == 3 and all(isinstance(v, (int, float)) for v in values):
            total = sum(values)
            self.check(
                total <= ACCOUNT_CONCURRENCY - UNRESERVED_MIN - ADMIN_HEADROOM,
                f"reserved concurrency at the defaults: {int(total)} of the default {ACCOUNT_CONCURRENCY} (keeps "
                f"{UNRESERVED_MIN} unreserved and {ADMIN_HEADROOM} for the admin routes)",
                f"reserved concurrency at the defaults is {int(total)}: more than {ACCOUNT_CONCURRENCY} - "
                f"{UNRESERVED_MIN} (unreserved minimum) - {ADMIN_HEADROOM} (admin routes) on a default account",
            )
            pb = _num(reserved.get("postback"))
            self.check(
                pb is not None and pb >= POSTBACK_MIN_CONCURRENCY,
                f"postback cap {int(pb or 0)} >= {POSTBACK_MIN_CONCURRENCY} (10,000/s at ~20 ms each)",
                f"the postback function's default cap {pb} is below {POSTBACK_MIN_CONCURRENCY}, what 10,000 "
                f"postbacks/s need",
            )

    def check_global_names(self) -> None:
        """Names that are unique per account, not per region (issue 24, finding 7): the same stack name in a
        second region must not collide."""
        self.section("account-wide names carry the region")
        for rtype, path in (("AWS::CloudFront::OriginAccessControl", ("OriginAccessControlConfig", "Name")),
                            ("AWS::Budgets::Budget", ("Budget", "BudgetName"))):
            for lid, res in sorted(self.of_type(rtype).items()):
                node: Any = res.get("Properties") or {}
                for key in path:
                    node = node.get(key) if isinstance(node, dict) else None
                text = node.get("Fn::Sub") if isinstance(node, dict) else None
                text = text[0] if isinstance(text, list) and text else text
                self.check(
                    isinstance(text, str) and "${AWS::StackName}" in text and "${AWS::Region}" in text,
                    f"{lid}: {path[-1]} has the stack name and the region",
                    f"{lid}: {path[-1]} is account-wide: it must !Sub both ${{AWS::StackName}} and "
                    f"${{AWS::Region}} (the same stack in a second region fails 'already exists'), found {node!r}",
                )

    def check_origin_secret(self) -> None:
        """With ApiEdge on the functions believe CloudFront-Viewer-Address only on requests carrying the header
        CloudFront adds (issue 24, finding 4): the distribution must send it with the value the functions get."""
        self.section("ApiEdge: forwarded addresses trusted only with CloudFront's origin header")
        env = ((self.tpl.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
        env = env.get("Variables") or {}
        secret = env.get("ORIGIN_SECRET")
        branches = secret.get("Fn::If") if isinstance(secret, dict) else None
        value = branches[1] if isinstance(branches, list) and len(branches) == 3 else None
        self.check(value is not None and branches[2] == NO_VALUE,
                   "Globals: ORIGIN_SECRET set with ApiEdge on",
                   f"Globals: ORIGIN_SECRET must be !If [ApiEdgeOn, <value>, !Ref AWS::NoValue] next to "
                   f"TRUST_FORWARDED_FOR, found {secret!r}: without it a direct caller of the execute-api URL forges "
                   f"CloudFront-Viewer-Address and escapes the per-address quarantine")
        for did, res in sorted(self.of_type("AWS::CloudFront::Distribution").items()):
            origins = ((res.get("Properties") or {}).get("DistributionConfig") or {}).get("Origins") or []
            for o in origins:
                if not (isinstance(o, dict) and "execute-api" in json.dumps(o.get("DomainName"))):
                    continue
                headers = {h.get("HeaderName", "").lower(): h.get("HeaderValue")
                           for h in o.get("OriginCustomHeaders") or [] if isinstance(h, dict)}
                self.check(value is not None and headers.get("x-leadpipe-origin-secret") == value,
                           f"{did}: adds x-leadpipe-origin-secret with the functions' ORIGIN_SECRET",
                           f"{did}: the API origin must add OriginCustomHeaders x-leadpipe-origin-secret with the "
                           f"same value as ORIGIN_SECRET, found {headers.get('x-leadpipe-origin-secret')!r}")
        src = self.rust("shared/http/src/extract.rs") or ""
        self.check("from_trusted_proxy(&parts.headers, origin_secret())" in src
                   and 'ORIGIN_SECRET_HEADER: &str = "x-leadpipe-origin-secret"' in src
                   and 'ORIGIN_SECRET_VAR: &str = "ORIGIN_SECRET"' in src,
                   "shared/http/src/extract.rs: forwarded addresses need the origin secret",
                   "shared/http/src/extract.rs: ClientOrigin must check x-leadpipe-origin-secret against "
                   "ORIGIN_SECRET before believing forwarded addresses")

    # ------------------------------------------------------------------ run
    # ------------------------------------------------------------------ at rest and in backups
    def _is_data_key(self, node: Any) -> bool:
        """`node` is the customer-managed key: !If [CreateKmsKey, !GetAtt DataKey.Arn, !Ref KmsKey]."""
        return (_getatt(_when(node, {KMS_CREATE: True}), "Arn") == KMS_KEY
                and _when(node, {KMS_CREATE: False}) == {"Ref": KMS_PARAMETER})

    def _condition_with(self, name: str, parameter: str, value: str) -> Any:
        """Condition `name` when `parameter` is `value` (every other parameter at its default)."""
        p = self.parameters.get(parameter) or {}
        saved, p["Default"] = p.get("Default", UNKNOWN), value
        try:
            return self.condition_default(name)
        finally:
            if saved is UNKNOWN:
                p.pop("Default", None)
            else:
                p["Default"] = saved

    def check_encryption(self) -> None:
        self.section("at rest and in backups: the customer-managed key (KmsKey) on the table, queues, log groups "
                     "and alarm topic; point-in-time recovery")
        p = self.parameters.get(KMS_PARAMETER)
        if not isinstance(p, dict):
            self.fail(f"no {KMS_PARAMETER} parameter (create | none | a KMS key ARN): the table, queues, log groups "
                      f"and alarm topic must be able to use a customer-managed key")
            return
        pattern = p.get("AllowedPattern") or ""
        accepted = {v: bool(re.fullmatch(pattern, v)) for v in ("create", "none", KMS_SAMPLE_ARN)}
        self.check(all(accepted.values()) and not re.fullmatch(pattern, "alias/leadpipe"),
                   f"{KMS_PARAMETER}: accepts create, none or a key ARN (not an alias: log groups need the ARN)",
                   f"{KMS_PARAMETER}: AllowedPattern must accept create, none and a key ARN and refuse an alias, "
                   f"found {pattern!r} ({accepted})")
        self.check(p.get("Default") == "create",
                   f"{KMS_PARAMETER}: default create (a customer-managed key unless told otherwise)",
                   f"{KMS_PARAMETER}: Default must be create (the lead data gets a customer-managed key by default), "
                   f"found {p.get('Default')!r}")
        for value in ("create", "none", KMS_SAMPLE_ARN):
            on, create = (self._condition_with(c, KMS_PARAMETER, value) for c in (KMS_ON, KMS_CREATE))
            self.check(on is (value != "none") and create is (value == "create"),
                       f"{KMS_PARAMETER}={value if len(value) < 12 else '<key ARN>'}: {KMS_ON} {on}, {KMS_CREATE} {create}",
                       f"{KMS_PARAMETER}={value}: conditions {KMS_ON} must be {value != 'none'} (found {on!r}) and "
                       f"{KMS_CREATE} {value == 'create'} (found {create!r})")

        key = self.resources.get(KMS_KEY)
        if not isinstance(key, dict) or key.get("Type") != "AWS::KMS::Key":
            self.fail(f"no AWS::KMS::Key {KMS_KEY} (the key {KMS_PARAMETER}=create makes)")
        else:
            kp = key.get("Properties") or {}
            self.check(key.get("Condition") == KMS_CREATE, f"{KMS_KEY}: only with {KMS_CREATE}",
                       f"{KMS_KEY}: needs Condition {KMS_CREATE}, found {key.get('Condition')!r}")
            self.check(key.get("DeletionPolicy") == "Retain" and key.get("UpdateReplacePolicy") == "Retain",
                       f"{KMS_KEY}: DeletionPolicy and UpdateReplacePolicy Retain (like the table)",
                       f"{KMS_KEY}: DeletionPolicy and UpdateReplacePolicy must be Retain: the table and its backups "
                       f"are retained, and without their key they cannot be read")
            self.check(kp.get("EnableKeyRotation") is True, f"{KMS_KEY}: rotation on",
                       f"{KMS_KEY}: EnableKeyRotation must be true")
            stmts = ((kp.get("KeyPolicy") or {}).get("Statement")) or []
            root = any(isinstance(s, dict) and s.get("Effect") == "Allow" and s.get("Action") == "kms:*"
                       and ":root" in json.dumps((s.get("Principal") or {}).get("AWS")) for s in stmts)
            self.check(root, f"{KMS_KEY}: the account administers the key through IAM (no lock-out)",
                       f"{KMS_KEY}: KeyPolicy needs an Allow of kms:* to the account's root principal (else the "
                       f"key can become unmanageable)")
            services = json.dumps([s.get("Principal") for s in stmts if isinstance(s, dict)])
            self.check("logs." in services, f"{KMS_KEY}: CloudWatch Logs may use it for the log groups",
                       f"{KMS_KEY}: KeyPolicy lets no logs.<region> service principal use it: the log groups using "
                       f"it cannot be created")
            if self.of_type("AWS::SNS::Topic"):
                self.check("cloudwatch.amazonaws.com" in services,
                           f"{KMS_KEY}: CloudWatch alarms may publish to the encrypted topic",
                           f"{KMS_KEY}: KeyPolicy lets cloudwatch.amazonaws.com do nothing: alarms could not "
                           f"publish to the alarm topic encrypted with it")

        # the table: the key when on (its stream and backups follow), the AWS-owned key when off
        for lid, res in sorted(self._tables().items()):
            sse = (res.get("Properties") or {}).get("SSESpecification")
            on, off = _when(sse, {KMS_ON: True}) or {}, _when(sse, {KMS_ON: False}) or {}
            self.check(isinstance(on, dict) and on.get("SSEEnabled") is True and on.get("SSEType") == "KMS"
                       and self._is_data_key(on.get("KMSMasterKeyId")),
                       f"{lid}: SSE with the customer-managed key when {KMS_ON}",
                       f"{lid}: SSESpecification must be SSEEnabled true, SSEType KMS, KMSMasterKeyId "
                       f"!If [{KMS_CREATE}, !GetAtt {KMS_KEY}.Arn, !Ref {KMS_PARAMETER}] when {KMS_ON}, found {on!r}")
            self.check(isinstance(off, dict) and not off.get("SSEEnabled") and "KMSMasterKeyId" not in off,
                       f"{lid}: the AWS-owned key with {KMS_PARAMETER}=none",
                       f"{lid}: with {KMS_PARAMETER}=none SSESpecification must name no key, found {off!r}")
            props = res.get("Properties") or {}
            period = self.default_of((props.get("PointInTimeRecoverySpecification") or {}).get("RecoveryPeriodInDays"))
            self.check(period == PITR_DEFAULT_DAYS and PITR_PARAMETER in self.parameters,
                       f"{lid}: point-in-time recovery keeps {PITR_DEFAULT_DAYS} days by default ({PITR_PARAMETER})",
                       f"{lid}: PointInTimeRecoverySpecification.RecoveryPeriodInDays must be !Ref {PITR_PARAMETER} "
                       f"with Default {PITR_DEFAULT_DAYS} (docs/DEPLOY.md's erasure window), found {period!r}")
        for kind, prop in (("AWS::SQS::Queue", "KmsMasterKeyId"), ("AWS::Logs::LogGroup", "KmsKeyId"),
                           ("AWS::SNS::Topic", "KmsMasterKeyId")):
            for lid, res in sorted(self.of_type(kind).items()):
                props = res.get("Properties") or {}
                on = _when(props, {KMS_ON: True})
                ok = self._is_data_key(on.get(prop))
                if kind == "AWS::SQS::Queue":
                    ok = ok and on.get("SqsManagedSseEnabled") is not True \
                        and _when(props, {KMS_ON: False}).get("SqsManagedSseEnabled") is True
                self.check(ok, f"{lid}: the customer-managed key when {KMS_ON}"
                           + (", SQS-managed keys with none" if kind == "AWS::SQS::Queue" else ""),
                           f"{lid}: {prop} must be !If [{KMS_ON}, !If [{KMS_CREATE}, !GetAtt {KMS_KEY}.Arn, "
                           f"!Ref {KMS_PARAMETER}], !Ref AWS::NoValue]"
                           + (" and SqsManagedSseEnabled !If [UseKmsKey, false, true]"
                              if kind == "AWS::SQS::Queue" else "") + f", found {on.get(prop)!r}")

    def run(self) -> int:
        print(f"check_template.py: root {self.root}")
        if self.load_template():
            binaries = self.check_functions()
            self.check_references()
            self.check_environment()
            self.check_parameters_outputs()
            self.check_table()
            self.check_routes(binaries)
            self.check_http_api()
            self.check_policies(binaries)
            self.check_code_inventory()
            self.check_stream_consumer(binaries)
            self.check_alarms()
            self.check_webhook_delivery(binaries)
            self.check_logs()
            self.check_edge_and_budget()
            self.check_dashboard()
            self.check_concurrency(binaries)
            self.check_global_names()
            self.check_origin_secret()
            self.check_encryption()
        print()
        if self.failures:
            print(f"check_template.py: {len(self.failures)} problem(s), {self.passed} check(s) passed:")
            for f in self.failures:
                print(f"  - {f}")
            return 1
        print(f"check_template.py: all {self.passed} checks passed")
        return 0


# --------------------------------------------------------------------------- helpers


def resources_items(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for k, v in resources.items():
        if isinstance(v, dict):
            yield k, v


def _plain(node: Any) -> Any:
    """cfn-lint's decoder returns dict/str subclasses that carry line marks; make them plain."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _is_intrinsic(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and (
        next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::") or next(iter(node)) == "Condition")


def _when(node: Any, conds: dict[str, bool]) -> Any:
    """`node` with every Fn::If on a condition of `conds` replaced by its branch, and AWS::NoValue dropped."""
    if isinstance(node, dict):
        v = node.get("Fn::If")
        if set(node) == {"Fn::If"} and isinstance(v, list) and len(v) == 3 and v[0] in conds:
            return _when(v[1] if conds[v[0]] else v[2], conds)
        out = {k: _when(x, conds) for k, x in node.items()}
        return {k: x for k, x in out.items() if x != NO_VALUE}
    if isinstance(node, list):
        return [y for y in (_when(x, conds) for x in node) if y != NO_VALUE]
    return node


def _queue_encrypted(props: dict[str, Any]) -> bool:
    """Encrypted at rest whichever way KmsKey goes: SQS-managed keys or a KMS key in each branch."""
    for on in (True, False):
        p = _when(props, {KMS_ON: on})
        if not (p.get("SqsManagedSseEnabled") is True or p.get("KmsMasterKeyId")):
            return False
    return True


def _merge_globals(glob: Any, local: Any) -> Any:
    """SAM's Globals merge: maps merge key by key (the resource's keys win); an intrinsic on either side, or a
    scalar: the resource's value wins; lists concatenate."""
    if isinstance(glob, dict) and isinstance(local, dict):
        if _is_intrinsic(glob) or _is_intrinsic(local):
            return local
        out = dict(glob)
        for k, v in local.items():
            out[k] = _merge_globals(out[k], v) if k in out else v
        return out
    if isinstance(glob, list) and isinstance(local, list):
        return glob + local
    return local


def _branches(node: Any, cond: Any = None) -> Iterator[tuple[Any, Any]]:
    """(condition, value) for every value an !If tree can take, AWS::NoValue left out."""
    if isinstance(node, dict) and set(node) == {"Fn::If"} and isinstance(node["Fn::If"], list) \
            and len(node["Fn::If"]) == 3:
        c, yes, no = node["Fn::If"]
        yield from _branches(yes, c)
        yield from _branches(no, {"Fn::Not": [{"Condition": c}]})
        return
    if node == NO_VALUE or node is None:
        return
    yield cond, node


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def _intrinsics(node: Any, path: str) -> Iterator[tuple[str, str, str, set[str]]]:
    """Yields (path, kind, target name, Sub-local variable names) for every reference."""
    if isinstance(node, dict):
        if len(node) == 1:
            (key, val), = node.items()
            if key == "Ref" and isinstance(val, str):
                yield path, "Ref", val, set()
                return
            if key == "Fn::GetAtt":
                if isinstance(val, str):
                    yield path, "Fn::GetAtt", val.split(".", 1)[0], set()
                    return
                if isinstance(val, list) and val and isinstance(val[0], str):
                    yield path, "Fn::GetAtt", val[0], set()
                    yield from _intrinsics(val[1:], f"{path}.Fn::GetAtt")
                    return
            if key == "Fn::Sub":
                text, local = (val, {}) if isinstance(val, str) else (val[0], val[1] if len(val) > 1 else {})
                if isinstance(text, str):
                    names = set(local) if isinstance(local, dict) else set()
                    for m in _SUB_VAR.finditer(text):
                        yield path, "Fn::Sub", m.group(1).strip(), names
                if isinstance(local, dict):
                    for k, v in local.items():
                        yield from _intrinsics(v, f"{path}.Fn::Sub.{k}")
                return
            if key == "Fn::If" and isinstance(val, list) and val and isinstance(val[0], str):
                yield path, "Condition", val[0], set()
                for i, v in enumerate(val[1:], start=1):
                    yield from _intrinsics(v, f"{path}.Fn::If[{i}]")
                return
            if key == "Condition" and isinstance(val, str) and path.startswith("Conditions."):
                # {"Condition": name} inside Fn::And / Fn::Or / Fn::Not
                yield path, "Condition", val, set()
                return
        for k, v in node.items():
            if k == "Condition" and isinstance(v, str) and path.count(".") == 1 and (
                path.startswith("Resources.") or path.startswith("Outputs.")
            ):
                yield f"{path}.Condition", "Condition", v, set()
                continue
            yield from _intrinsics(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _intrinsics(v, f"{path}[{i}]")


def _norm(path: str) -> str:
    """Path with every {param} name dropped, so /a/{id} and /a/{lead_id} are one route."""
    return re.sub(r"\{[^}]+\}", "{}", path.rstrip("/") or "/")


_ROUTE_CALL = re.compile(r"\.route\(\s*\"(/api[^\"]*)\"\s*,")
_AXUM_METHOD = re.compile(r"\b(get|post|put|delete|patch|head|options|trace)\s*\(")


def _axum_routes(text: str) -> Iterator[tuple[str, str]]:
    """(METHOD, path) of every `.route("/api/...", get(h).delete(h2))` in Rust source (tests left out)."""
    text = _without_tests(text)
    for m in _ROUTE_CALL.finditer(text):
        path = m.group(1)
        if "*" in path or path.rstrip("/") == "/api":
            continue  # catch-alls (JSON 404s), not routes
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        for method in _AXUM_METHOD.findall(text[m.end():i - 1]):
            yield method.upper(), path


def _without_tests(text: str) -> str:
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    return text[:m.start()] if m else text


def _dynamodb_operations(text: str) -> set[str]:
    """IAM actions of the SDK calls in Rust source (`client.get_item()`, `Put::builder()` in transactions);
    '?name' for an SDK call without a known action."""
    text = _without_tests(text)
    ops: set[str] = set()
    for name in re.findall(r"\.([a-z_]+)\(\)\s*\n?\s*\.", text):
        if name in DYNAMODB_OPERATIONS:
            ops.add(DYNAMODB_OPERATIONS[name])
        elif name in CONTAINER_CALLS:
            continue
        elif re.fullmatch(r"(batch|transact|describe|list|create|delete|update|restore|export|import)_[a-z_]+", name) \
                and name not in ("delete_item",):
            ops.add(f"?{name}")
    for item in re.findall(r"\b(Put|Update|Delete|ConditionCheck)::builder\(\)", text):
        ops.add(TRANSACTION_ITEMS[item])
    return ops


def _getatt(node: Any, attribute: str) -> str | None:
    """The logical id X of !GetAtt X.<attribute>, else None."""
    if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
        v = node["Fn::GetAtt"]
        parts = v.split(".", 1) if isinstance(v, str) else v
        if isinstance(parts, list) and len(parts) == 2 and parts[1] == attribute:
            return parts[0]
    return None


def _resource_kind(r: Any, tables: dict[str, Any], queues: set[str]) -> str | None:
    """'table', 'index:<name>' (or 'index:*'), 'stream', 'streams' or 'queue:<id>' for this template's ARNs."""
    t = _getatt(r, "Arn")
    if t in tables:
        return TABLE_ACTIONS
    if t in queues:
        return f"queue:{t}"
    if _getatt(r, "StreamArn") in tables:
        return STREAM
    if isinstance(r, dict) and set(r) == {"Fn::Sub"} and isinstance(r["Fn::Sub"], str):
        m = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}/index/([A-Za-z0-9_.*-]+)", r["Fn::Sub"])
        if m and m.group(1) in tables:
            name = m.group(2)
            names = {g.get("IndexName") for g in (tables[m.group(1)].get("Properties") or {}).get(
                "GlobalSecondaryIndexes") or []}
            if name == "*":
                return "index:*"
            if name in names:
                return index(name)
    return None


def _ssm_parameter_name(r: Any) -> Any:
    """For !Sub ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}", {Name: X}] the
    expression X; for !Sub "arn:...:parameter${P}" {"Ref": P}; else None."""
    prefix = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
    if not (isinstance(r, dict) and set(r) == {"Fn::Sub"}):
        return None
    v = r["Fn::Sub"]
    if isinstance(v, str):
        m = re.fullmatch(re.escape(prefix) + r"\$\{([A-Za-z0-9]+)\}", v)
        return {"Ref": m.group(1)} if m else None
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], dict):
        m = re.fullmatch(re.escape(prefix) + r"\$\{([A-Za-z0-9]+)\}", v[0])
        if m and m.group(1) in v[1]:
            return v[1][m.group(1)]
    return None


def _show_kind(kind: str) -> str:
    return {TABLE_ACTIONS: "the table", STREAM: "the table's stream", STREAMS: "\"*\" (ListStreams has no resource type)",
            DLQ: "the consumer's dead-letter queue"}.get(kind, kind.replace("index:", "index ")
                                                          .replace("queue:", "queue "))


def _show_grants(grants: dict[str, set[str]]) -> str:
    return "; ".join(f"{', '.join(sorted(a.split(':')[1] for a in acts))} on {_show_kind(k)}"
                     for k, acts in grants.items())


def main(argv: list[str] | None = None) -> int:
    default_root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=default_root, help="cargo workspace root (default: %(default)s)")
    ap.add_argument("--template", type=Path, help="default: ROOT/infra/template.yaml")
    ap.add_argument("--table-definition", type=Path, help="default: ROOT/infra/table-definition.json")
    ap.add_argument("--openapi", type=Path, help="default: ROOT/docs/openapi.json")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    checker = Checker(
        root=root,
        template=(args.template or root / "infra" / "template.yaml").resolve(),
        table_definition=(args.table_definition or root / "infra" / "table-definition.json").resolve(),
        openapi=(args.openapi or root / "docs" / "openapi.json").resolve(),
    )
    return checker.run()


if __name__ == "__main__":
    sys.exit(main())
