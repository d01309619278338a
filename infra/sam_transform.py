#!/usr/bin/env python3
"""Runs the AWS SAM transform on infra/template.yaml offline and writes the CloudFormation it produces.

cfn-lint checks the SAM template against SAM's schemas but does not run the transform, so it cannot see what
CloudFormation will actually receive: the functions' environments after the Globals merge, the roles SAM
generates (with the managed policies it attaches), the HTTP API stage with its route settings. This script runs
the transform (aws-sam-translator, the library `sam deploy` uses) so that cfn-lint can check the result, and so
that the self-tests can assert on it.

Usage:  python3 infra/sam_transform.py [--template FILE] [--region REGION] OUTPUT.json

Nothing is uploaded and no AWS call is made: local CodeUri paths (which `sam package` would upload) are replaced
by a placeholder S3 URI, and the few AWS managed policy ARNs SAM may attach come from a fixed table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

#: AWS managed policies SAM attaches by name (it looks their ARNs up with IAM when online).
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/service-role/{name}"
    for name in ("AWSLambdaBasicExecutionRole", "AWSLambdaDynamoDBExecutionRole", "AWSLambdaKinesisExecutionRole",
                 "AWSLambdaSQSQueueExecutionRole", "AWSLambdaVPCAccessExecutionRole")
}
PLACEHOLDER_CODE = "s3://leadpipe-offline-check/code.zip"


class _PolicyLoader:
    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam package` would leave it: local CodeUri replaced by an S3 URI."""
    out = copy.deepcopy(template)
    for res in (out.get("Resources") or {}).values():
        props = res.get("Properties") if isinstance(res, dict) else None
        if isinstance(props, dict) and isinstance(props.get("CodeUri"), str) \
                and not props["CodeUri"].startswith("s3://"):
            props["CodeUri"] = PLACEHOLDER_CODE
    return out


def transform_file(template_path: Path, region: str = "us-east-1") -> dict[str, Any]:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    template = yaml_parse(template_path.read_text())
    return transform(packaged(template), {}, _PolicyLoader())


def main(argv: list[str] | None = None) -> int:
    default = Path(__file__).resolve().parent / "template.yaml"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", type=Path)
    ap.add_argument("--template", type=Path, default=default)
    ap.add_argument("--region", default="us-east-1")
    args = ap.parse_args(argv)
    try:
        result = transform_file(args.template, args.region)
    except Exception as e:  # the translator reports template errors as exceptions
        causes = getattr(e, "causes", None) or [e]
        for c in causes:
            print(f"SAM transform: {c}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(result, indent=1, sort_keys=True))
    print(f"SAM transform: {len(result.get('Resources') or {})} CloudFormation resources written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
