#!/usr/bin/env python3
"""Runs checkov (the IaC security scanner) on infra/template.yaml and on its SAM-transformed output, and fails on
anything it does not accept.

A check checkov fails is either fixed in the template or skipped on that resource, with its reason, in the
resource's Metadata (the form checkov reads in CloudFormation):

    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_117
            comment: why this check does not apply here

This script exits 1 when checkov reports a failed check (a new finding), a parsing error, a skip without a real
reason (shorter than MIN_REASON characters), or a skip that no longer matches a finding (a stale skip, e.g. a
check since fixed: remove it).

The transformed output (infra/sam_transform.py) is what CloudFormation receives: resources SAM generates from a
SAM resource (the HTTP API's stage from AWS::Serverless::HttpApi, a function's role) carry no Metadata, so the
skips of the SAM resource they come from are copied onto them first (a generated resource's logical id starts
with its SAM resource's).

Usage:  python3 infra/checkov_scan.py --checkov PATH [--template FILE] [--transformed FILE.json]
Runs with the interpreter that has cfn-lint (it parses the template with cfn-lint's decoder); checkov itself runs
from its own venv (PATH), as it pins dependencies that conflict with pytest's. No network call (--skip-download).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MIN_REASON = 40


def run_checkov(checkov: str, path: Path) -> dict[str, Any]:
    """checkov's JSON report for one CloudFormation file (raises RuntimeError when there is none)."""
    proc = subprocess.run(
        [checkov, "-f", str(path), "--framework", "cloudformation", "--skip-download", "--output", "json"],
        capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"checkov gave no JSON report for {path} (exit status {proc.returncode}): {e}\n"
                           f"{proc.stderr[-2000:]}") from e
    if isinstance(report, list):  # one report per framework
        report = next((r for r in report if r.get("check_type") == "cloudformation"), {})
    if not isinstance(report, dict) or "summary" not in report:
        raise RuntimeError(f"checkov's report for {path} has no summary (exit status {proc.returncode})")
    report.setdefault("results", {})
    return report


def declared_skips(resources: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """logical id -> the skips in its Metadata.checkov.skip."""
    out: dict[str, list[dict[str, Any]]] = {}
    for lid, res in resources.items():
        meta = res.get("Metadata") if isinstance(res, dict) else None
        skips = ((meta or {}).get("checkov") or {}).get("skip") if isinstance(meta, dict) else None
        if skips:
            out[lid] = list(skips)
    return out


def load_sam_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import decode

    tpl, matches = decode(str(path))
    if matches or tpl is None:
        raise RuntimeError(f"cannot parse {path}: {matches}")
    return json.loads(json.dumps(tpl))  # plain dicts and lists


def with_inherited_skips(transformed: dict[str, Any], sam: dict[str, Any]) -> dict[str, Any]:
    """The transformed template, each resource SAM generated carrying the skips of the SAM resource it came from."""
    sam_resources = sam.get("Resources") or {}
    sources = {lid: skips for lid, skips in declared_skips(sam_resources).items()
               if str((sam_resources[lid] or {}).get("Type", "")).startswith("AWS::Serverless::")}
    out = json.loads(json.dumps(transformed))
    for lid, res in (out.get("Resources") or {}).items():
        if lid in sam_resources or not isinstance(res, dict):
            continue
        parents = [p for p in sources if lid.startswith(p)]
        if not parents:
            continue
        parent = max(parents, key=len)
        meta = res.setdefault("Metadata", {})
        skips = meta.setdefault("checkov", {}).setdefault("skip", [])
        skips.extend(s for s in sources[parent] if s not in skips)
    return out


def resource_id(entry: dict[str, Any]) -> str:
    """'LeadsTable' from checkov's 'AWS::DynamoDB::Table.LeadsTable'."""
    return str(entry.get("resource", "")).rsplit(".", 1)[-1]


def judge(name: str, report: dict[str, Any], skips: dict[str, list[dict[str, Any]]] | None) -> list[str]:
    """Problems with one report; `skips` (the declared ones) also checks their reasons and staleness."""
    problems: list[str] = []
    summary = report["summary"]
    results = report["results"]
    print(f"  checkov on {name}: passed {summary.get('passed', 0)}, failed {summary.get('failed', 0)}, "
          f"skipped {summary.get('skipped', 0)} ({summary.get('resource_count', 0)} resources)")
    for f in results.get("failed_checks") or []:
        problems.append(f"{name}: {f.get('check_id')} fails on {f.get('resource')}: {f.get('check_name')} "
                        f"(fix it, or skip it on the resource with its reason in Metadata.checkov.skip)")
    if summary.get("parsing_errors"):
        problems.append(f"{name}: checkov could not parse it ({summary['parsing_errors']} parsing error(s))")
    if skips is None:
        return problems
    used = {(resource_id(s), s.get("check_id")) for s in results.get("skipped_checks") or []}
    for lid, entries in sorted(skips.items()):
        for s in entries:
            sid = s.get("id") if isinstance(s, dict) else None
            reason = " ".join(str((s or {}).get("comment") or "").split()) if isinstance(s, dict) else ""
            if not sid:
                problems.append(f"{name}: {lid}: a Metadata.checkov.skip entry has no id: {s!r}")
                continue
            if len(reason) < MIN_REASON:
                problems.append(f"{name}: {lid}: skip of {sid} needs its reason in comment (at least {MIN_REASON} "
                                f"characters), found {reason!r}")
            if (lid, sid) not in used:
                problems.append(f"{name}: {lid}: skip of {sid} matches no finding of checkov (stale: the check "
                                f"passes or does not apply; remove the skip)")
            else:
                print(f"  skip  {lid} {sid}: {reason[:90]}{'...' if len(reason) > 90 else ''}")
    return problems


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkov", required=True, help="the checkov executable")
    ap.add_argument("--template", type=Path, default=root / "infra" / "template.yaml")
    ap.add_argument("--transformed", type=Path, help="the SAM transform's output (infra/sam_transform.py)")
    args = ap.parse_args(argv)
    problems: list[str] = []
    try:
        sam = load_sam_template(args.template)
        problems += judge(str(args.template.name), run_checkov(args.checkov, args.template),
                          declared_skips(sam.get("Resources") or {}))
        if args.transformed:
            transformed = json.loads(args.transformed.read_text())
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / "template.cfn.json"
                target.write_text(json.dumps(with_inherited_skips(transformed, sam), indent=1))
                problems += judge("the transformed template", run_checkov(args.checkov, target), None)
    except (RuntimeError, OSError, json.JSONDecodeError) as e:
        problems.append(str(e))
    if problems:
        print(f"checkov_scan.py: {len(problems)} problem(s):")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("checkov_scan.py: no failed check; every skip has its reason and matches a finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
