#!/usr/bin/env python3
"""Offline checks of infra/template.yaml that cfn-lint does not make.

cfn-lint validates CloudFormation/SAM syntax and schemas, but it does not notice a
misspelt `BuildMethod`, a function whose `Binary` names no cargo package, a `!Ref`
to a missing resource inside a function's environment or policies, a table whose
keys drift from what the code creates, or a route of the OpenAPI contract that no
HttpApi event serves. This script checks those, prints every check it makes and
exits 1 with precise messages when one fails.

Usage:  python3 infra/check_template.py [--root DIR] [--template FILE]
                                        [--table-definition FILE] [--openapi FILE]
Defaults are relative to --root (the cargo workspace root, default: this file's
parent's parent): infra/template.yaml, infra/table-definition.json, docs/openapi.json.

The template is parsed with cfn-lint's own decoder, so the short intrinsic tags
(!Ref, !Sub, !GetAtt, ...) load as their long forms. No AWS call is made.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterator

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # pragma: no cover - older Pythons
    import tomli as tomllib  # type: ignore[no-redef]

# --------------------------------------------------------------------------- facts fixed by the code

#: binary (= cargo package under functions/) -> DynamoDB actions its code performs.
FUNCTION_ACTIONS: dict[str, set[str]] = {
    "postback": {
        "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem",
    },
    "leads": {
        "dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem", "dynamodb:BatchWriteItem",
    },
    "stage": {
        "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    },
    "analytics": {"dynamodb:Query"},
}

#: binaries whose code queries a global secondary index (only these may be granted
#: dynamodb:Query on `<table arn>/index/...`).
QUERIES_INDEXES = {"postback", "leads"}

#: (METHOD, path) of the HTTP API contract -> binary of the function that serves it.
EXPECTED_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/health"): "analytics",
    ("GET", "/api/stages"): "analytics",
    ("GET", "/api/openapi.json"): "analytics",
    ("GET", "/api/analytics"): "analytics",
    ("POST", "/api/postback"): "postback",
    ("GET", "/api/leads"): "leads",
    ("GET", "/api/leads/{id}"): "leads",
    ("DELETE", "/api/leads/{id}"): "leads",
    ("PUT", "/api/leads/{id}/stage"): "stage",
}

REQUIRED_ENV = [
    "TABLE_NAME", "API_KEY", "ADMIN_API_KEY", "PIPELINE_STAGES", "ALLOWED_ORIGINS",
    "REPORTING_TIMEZONE", "RUST_LOG",
]
REQUIRED_PARAMETERS = ["ApiKey", "AdminApiKey", "PipelineStages", "AllowedOrigins", "ReportingTimezone"]
REQUIRED_OUTPUTS = ["ApiUrl", "DashboardUrl", "DashboardBucket", "DistributionId"]
SECRET_PARAMETERS = ["ApiKey", "AdminApiKey"]

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

    def functions(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::Serverless::Function"}

    def effective_props(self, res: dict[str, Any]) -> dict[str, Any]:
        """A function's properties with Globals.Function merged in, as SAM does."""
        glob = ((self.tpl.get("Globals") or {}).get("Function")) or {}
        props = dict(glob)
        for k, v in (res.get("Properties") or {}).items():
            if k == "Environment" and isinstance(v, dict) and isinstance(props.get("Environment"), dict):
                merged = dict(props["Environment"].get("Variables") or {})
                merged.update(v.get("Variables") or {})
                props["Environment"] = {"Variables": merged}
            else:
                props[k] = v
        return props

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
                    f"selects the package (one of {sorted(FUNCTION_ACTIONS)})"
                )
                continue
            binaries[lid] = binary
            self._check_package(lid, binary, workspace_members)
        seen: dict[str, str] = {}
        for lid, b in sorted(binaries.items()):
            if b in seen:
                self.fail(f"{lid} and {seen[b]} both build Binary {b!r}")
            seen[b] = lid
        missing = sorted(set(FUNCTION_ACTIONS) - set(binaries.values()))
        self.check(
            not missing,
            f"all four functions present: {', '.join(sorted(FUNCTION_ACTIONS))}",
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
        conditions = set((self.tpl.get("Conditions") or {}).keys())
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
        scopes += [(f"Conditions.{k}", v) for k, v in (self.tpl.get("Conditions") or {}).items()]
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
        for lid, res in sorted(self.functions().items()):
            env = (self.effective_props(res).get("Environment") or {}).get("Variables") or {}
            missing = [v for v in REQUIRED_ENV if v not in env]
            self.check(
                not missing,
                f"{lid}: environment sets {', '.join(REQUIRED_ENV)}",
                f"{lid}: environment lacks {', '.join(missing)}",
            )
            table_ref = env.get("TABLE_NAME")
            tables = self._tables()
            self.check(
                isinstance(table_ref, dict) and table_ref.get("Ref") in tables,
                f"{lid}: TABLE_NAME is !Ref of the DynamoDB table",
                f"{lid}: TABLE_NAME must be !Ref <the AWS::DynamoDB::Table>, found {table_ref!r}",
            )

    # ------------------------------------------------------------------ parameters and outputs
    def check_parameters_outputs(self) -> None:
        self.section("parameters and outputs")
        for name in REQUIRED_PARAMETERS:
            self.check(name in self.parameters, f"parameter {name} exists", f"parameter {name} is missing")
        for name in SECRET_PARAMETERS:
            p = self.parameters.get(name)
            if not isinstance(p, dict):
                continue
            self.check(p.get("NoEcho") in (True, "true", "True"), f"{name}: NoEcho",
                       f"{name}: must be NoEcho: true (it is a secret)")
            min_len = p.get("MinLength")
            self.check(isinstance(min_len, int) and min_len >= 16, f"{name}: MinLength {min_len} >= 16",
                       f"{name}: MinLength must be at least 16, found {min_len!r}")
            pattern = p.get("AllowedPattern")
            if not isinstance(pattern, str):
                self.fail(f"{name}: needs an AllowedPattern that refuses 'changeme'")
                continue
            try:
                rx = re.compile(pattern)
            except re.error as e:
                self.fail(f"{name}: AllowedPattern {pattern!r} does not compile: {e}")
                continue
            refused = ["changeme", "changemechangeme", "CHANGEME-changeme-0123", "0123456789-changeme-abcdef"]
            accepted = ["0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", "Zm9vYmFyYmF6cXV4cXV1eA=="]
            let_through = [s for s in refused if rx.fullmatch(s) and len(s) >= (min_len or 0)]
            blocked = [s for s in accepted if not rx.fullmatch(s)]
            self.check(not let_through, f"{name}: AllowedPattern refuses keys containing 'changeme'",
                       f"{name}: AllowedPattern {pattern!r} accepts {let_through}")
            self.check(not blocked, f"{name}: AllowedPattern accepts generated keys (hex, base64)",
                       f"{name}: AllowedPattern {pattern!r} refuses the generated keys {blocked}")
        outputs = self.tpl.get("Outputs") or {}
        for name in REQUIRED_OUTPUTS:
            self.check(name in outputs, f"output {name} exists", f"output {name} is missing")

    # ------------------------------------------------------------------ table
    def _tables(self) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::DynamoDB::Table"}

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
            self.check(
                projection(g.get("Projection")) == projection(w.get("Projection")),
                f"{lid}: GSI {name} projection {projection(w.get('Projection'))[0]}",
                f"{lid}: GSI {name} projection differs: template {projection(g.get('Projection'))} vs "
                f"table-definition.json {projection(w.get('Projection'))}",
            )
        want_lsi = want.get("LocalSecondaryIndexes") or []
        got_lsi = props.get("LocalSecondaryIndexes") or []
        self.check(
            len(want_lsi) == len(got_lsi),
            f"{lid}: local secondary indexes agree ({len(want_lsi)})",
            f"{lid}: LocalSecondaryIndexes differ: template {len(got_lsi)} vs table-definition.json {len(want_lsi)}",
        )
        self.check(
            props.get("BillingMode") == "PAY_PER_REQUEST",
            f"{lid}: BillingMode PAY_PER_REQUEST (on-demand)",
            f"{lid}: BillingMode must be PAY_PER_REQUEST, found {props.get('BillingMode')!r}",
        )
        pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        self.check(pitr is True, f"{lid}: point-in-time recovery enabled",
                   f"{lid}: PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled must be true")
        protected = props.get("DeletionProtectionEnabled") is True or res.get("DeletionPolicy") == "Retain"
        self.check(
            protected,
            f"{lid}: protected from deletion (DeletionProtectionEnabled={props.get('DeletionProtectionEnabled')}, "
            f"DeletionPolicy={res.get('DeletionPolicy')})",
            f"{lid}: needs DeletionProtectionEnabled: true or DeletionPolicy: Retain",
        )

    # ------------------------------------------------------------------ routes
    def check_routes(self, binaries: dict[str, str]) -> None:
        self.section(f"routes: {self.openapi_path} vs HttpApi events")
        http_apis = {k for k, v in self.resources.items() if v.get("Type") == "AWS::Serverless::HttpApi"}
        events: dict[tuple[str, str], list[tuple[str, str]]] = {}
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
        expected = {(m, _norm(p)): b for (m, p), b in EXPECTED_ROUTES.items()}
        for key in sorted(contract):
            method, _ = key
            shown = f"{method} {contract[key]}"
            want_bin = expected.get(key)
            if want_bin is None:
                self.fail(
                    f"{shown} is in the OpenAPI document but check_template.py does not know which function "
                    f"serves it: add it to EXPECTED_ROUTES"
                )
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
                    f"function serves it",
                )
        for key in sorted(set(events) - set(contract)):
            for lid, ename in events[key]:
                self.fail(f"{lid}.Events.{ename} routes {key[0]} {key[1]}, which the OpenAPI document does not list")

    # ------------------------------------------------------------------ HTTP API settings
    def check_http_api(self) -> None:
        self.section("HTTP API: CORS and throttling")
        apis = {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::Serverless::HttpApi"}
        if len(apis) != 1:
            self.fail(f"expected exactly one AWS::Serverless::HttpApi, found {sorted(apis)}")
            return
        lid, res = next(iter(apis.items()))
        props = res.get("Properties") or {}
        cors = props.get("CorsConfiguration")
        if not isinstance(cors, dict):
            self.fail(f"{lid}: CorsConfiguration must be set (the dashboard calls the API from another origin)")
        else:
            headers = {h.lower() for h in cors.get("AllowHeaders") or [] if isinstance(h, str)}
            self.check({"x-api-key", "content-type"} <= headers,
                       f"{lid}: CORS allows the x-api-key and content-type headers",
                       f"{lid}: CorsConfiguration.AllowHeaders must include x-api-key and content-type, "
                       f"found {sorted(headers)}")
            methods = {m.upper() for m in cors.get("AllowMethods") or [] if isinstance(m, str)}
            used = {m for (m, _) in EXPECTED_ROUTES}
            self.check(used <= methods or "*" in methods,
                       f"{lid}: CORS allows {', '.join(sorted(used))}",
                       f"{lid}: CorsConfiguration.AllowMethods lacks {sorted(used - methods)}")
            self.check("AllowOrigins" in cors, f"{lid}: CORS AllowOrigins set",
                       f"{lid}: CorsConfiguration.AllowOrigins must be set")
        throttle = props.get("DefaultRouteSettings") or {}
        self.check(
            "ThrottlingRateLimit" in throttle and "ThrottlingBurstLimit" in throttle,
            f"{lid}: default route throttling set",
            f"{lid}: DefaultRouteSettings needs ThrottlingRateLimit and ThrottlingBurstLimit",
        )

    # ------------------------------------------------------------------ policies
    def check_policies(self, binaries: dict[str, str]) -> None:
        self.section("IAM: one least-privilege DynamoDB policy per function")
        tables = self._tables()
        for lid, res in sorted(self.functions().items()):
            binary = binaries.get(lid)
            if binary not in FUNCTION_ACTIONS:
                if binary is not None:
                    self.fail(f"{lid}: Binary {binary!r} is not one of {sorted(FUNCTION_ACTIONS)}; "
                              f"no known action list for it")
                continue
            needed = FUNCTION_ACTIONS[binary]
            policies = self.effective_props(res).get("Policies")
            if isinstance(policies, (str, dict)):
                policies = [policies]
            if not policies:
                self.fail(f"{lid}: has no Policies; the {binary} function needs {sorted(needed)}")
                continue
            granted: set[str] = set()
            before = len(self.failures)
            for i, pol in enumerate(policies):
                where = f"{lid}.Policies[{i}]"
                if not (isinstance(pol, dict) and "Statement" in pol):
                    self.fail(f"{where}: must be an inline policy document; managed policies and SAM policy "
                              f"templates grant more than the {binary} function needs (found {pol!r})")
                    continue
                stmts = pol["Statement"]
                stmts = [stmts] if isinstance(stmts, dict) else stmts
                for j, st in enumerate(stmts):
                    sw = f"{where}.Statement[{j}]"
                    if st.get("Effect") != "Allow":
                        continue
                    if "NotAction" in st or "NotResource" in st:
                        self.fail(f"{sw}: NotAction/NotResource grant too much")
                        continue
                    actions = st.get("Action")
                    actions = [actions] if isinstance(actions, str) else list(actions or [])
                    extra = [a for a in actions if a not in needed]
                    if extra:
                        self.fail(f"{sw}: grants {extra}, which the {binary} function does not need "
                                  f"(allowed: {sorted(needed)})")
                    granted |= {a for a in actions if a in needed}
                    resources = st.get("Resource")
                    resources = resources if isinstance(resources, list) else [resources]
                    for r in resources:
                        kind = _table_resource_kind(r, tables)
                        if kind is None:
                            self.fail(f"{sw}: Resource {r!r} is not the table ARN (!GetAtt <table>.Arn) or "
                                      f"its index ARN (!Sub \"${{<table>.Arn}}/index/...\")")
                        elif kind == "index":
                            if binary not in QUERIES_INDEXES:
                                self.fail(f"{sw}: grants access to the table's indexes, but the {binary} "
                                          f"function queries none")
                            elif set(actions) - {"dynamodb:Query"}:
                                self.fail(f"{sw}: on index ARNs only dynamodb:Query is meaningful, found "
                                          f"{sorted(set(actions) - {'dynamodb:Query'})}")
            missing = needed - granted
            if missing:
                self.fail(f"{lid}: policy lacks {sorted(missing)}, which the {binary} function's code calls")
            if len(self.failures) == before:
                self.ok(f"{lid}: grants exactly {', '.join(sorted(a.split(':')[1] for a in needed))} "
                        f"on the table" + (" (+ Query on its indexes)" if binary in QUERIES_INDEXES else ""))

    # ------------------------------------------------------------------ logs
    def check_logs(self) -> None:
        self.section("logs: one log group with retention per function")
        groups = {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::Logs::LogGroup"}
        for lid, res in sorted(self.functions().items()):
            props = self.effective_props(res)
            target = ((props.get("LoggingConfig") or {}).get("LogGroup"))
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

    # ------------------------------------------------------------------ dashboard
    def check_dashboard(self) -> None:
        self.section("dashboard: private bucket behind CloudFront with origin access control")
        buckets = {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::S3::Bucket"}
        dists = {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::CloudFront::Distribution"}
        policies = {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::S3::BucketPolicy"}
        if len(buckets) != 1 or len(dists) != 1:
            self.fail(f"expected one S3 bucket and one CloudFront distribution, found {sorted(buckets)} and "
                      f"{sorted(dists)}")
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

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        print(f"check_template.py: root {self.root}")
        if self.load_template():
            binaries = self.check_functions()
            self.check_references()
            self.check_parameters_outputs()
            self.check_table()
            self.check_http_api()
            self.check_routes(binaries)
            self.check_policies(binaries)
            self.check_logs()
            self.check_dashboard()
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


def _table_resource_kind(r: Any, tables: dict[str, Any]) -> str | None:
    """'table' for !GetAtt <table>.Arn, 'index' for !Sub "${<table>.Arn}/index/<name or *>", else None."""
    if isinstance(r, dict) and "Fn::GetAtt" in r:
        v = r["Fn::GetAtt"]
        parts = v.split(".", 1) if isinstance(v, str) else v
        if isinstance(parts, list) and len(parts) == 2 and parts[0] in tables and parts[1] == "Arn":
            return "table"
    if isinstance(r, dict) and "Fn::Sub" in r and isinstance(r["Fn::Sub"], str):
        m = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}/index/([A-Za-z0-9_.*-]+)", r["Fn::Sub"])
        if m and m.group(1) in tables:
            index = m.group(2)
            names = {g.get("IndexName") for g in (tables[m.group(1)].get("Properties") or {}).get(
                "GlobalSecondaryIndexes") or []}
            if index == "*" or index in names:
                return "index"
    return None


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
