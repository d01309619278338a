"""Self-tests of infra/checkov_scan.py against a stub checkov: what it accepts and what makes it fail.

The real checkov runs in scripts/check-infra.sh (step 3) from its own venv; here a stub prints a canned JSON
report, so the rules (no failed check, every skip with a reason and matching a finding, skips inherited by the
resources SAM generates) are tested without it.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import checkov_scan  # noqa: E402

REASON = "invoked synchronously by the HTTP API only: no asynchronous invocation ever reaches it"

TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_95
            comment: the access log is a parameter, off by default, as each line records a client IP address
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_116
            comment: "{REASON}"
    Properties:
      Handler: bootstrap
      Runtime: provided.al2023
      CodeUri: .
  Queue:
    Type: AWS::SQS::Queue
"""


def report(passed=3, failed=(), skipped=(("Fn", "AWS::Serverless::Function", "CKV_AWS_116"),
                                          ("Api", "AWS::Serverless::HttpApi", "CKV_AWS_95"))):
    return {
        "check_type": "cloudformation",
        "summary": {"passed": passed, "failed": len(failed), "skipped": len(skipped), "parsing_errors": 0,
                    "resource_count": 3},
        "results": {
            "failed_checks": [{"check_id": c, "check_name": "a check", "resource": f"{t}.{r}"} for r, t, c in failed],
            "skipped_checks": [{"check_id": c, "resource": f"{t}.{r}"} for r, t, c in skipped],
        },
    }


@pytest.fixture
def stub(tmp_path: Path):
    """A stub checkov printing the report in reports[<file name>] (or reports['*']), recording what it scanned."""
    reports: dict[str, object] = {}
    seen = tmp_path / "seen"
    seen.mkdir()
    exe = tmp_path / "checkov"

    def write():
        (tmp_path / "reports.json").write_text(json.dumps(reports))
        exe.write_text(f"""#!{sys.executable}
import json, shutil, sys
args = sys.argv[1:]
path = args[args.index("-f") + 1]
assert "--skip-download" in args and args[args.index("--framework") + 1] == "cloudformation"
shutil.copy(path, {str(seen)!r})
reports = json.load(open({str(tmp_path / 'reports.json')!r}))
name = path.rsplit("/", 1)[-1]
out = reports.get(name, reports.get("*"))
print(out if isinstance(out, str) else json.dumps(out))
sys.exit(1 if isinstance(out, dict) and out["summary"]["failed"] else 0)
""")
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)

    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)

    def run(capsys, transformed: dict | None = None):
        write()
        argv = ["--checkov", str(exe), "--template", str(template)]
        if transformed is not None:
            tf = tmp_path / "transformed.json"
            tf.write_text(json.dumps(transformed))
            argv += ["--transformed", str(tf)]
        rc = checkov_scan.main(argv)
        return rc, capsys.readouterr().out

    return reports, template, seen, run


def test_clean_report_passes(stub, capsys):
    reports, _, _, run = stub
    reports["*"] = report()
    rc, out = run(capsys)
    assert rc == 0, out
    assert "checkov on template.yaml: passed 3, failed 0, skipped 2" in out
    assert "skip  Fn CKV_AWS_116: invoked synchronously" in out


def test_failed_check_fails(stub, capsys):
    reports, _, _, run = stub
    reports["*"] = report(failed=[("Queue", "AWS::SQS::Queue", "CKV_AWS_27")])
    rc, out = run(capsys)
    assert rc == 1
    assert "CKV_AWS_27 fails on AWS::SQS::Queue.Queue" in out


def test_skip_without_reason_fails(stub, capsys):
    reports, template, _, run = stub
    template.write_text(TEMPLATE.replace(f'comment: "{REASON}"', "comment: n/a"))
    reports["*"] = report()
    rc, out = run(capsys)
    assert rc == 1
    assert "Fn: skip of CKV_AWS_116 needs its reason in comment" in out


def test_stale_skip_fails(stub, capsys):
    reports, _, _, run = stub
    # checkov no longer reports CKV_AWS_116 on Fn: the check passes now, the skip must go
    reports["*"] = report(skipped=[("Api", "AWS::Serverless::HttpApi", "CKV_AWS_95")])
    rc, out = run(capsys)
    assert rc == 1
    assert "Fn: skip of CKV_AWS_116 matches no finding of checkov (stale" in out


def test_no_report_fails(stub, capsys):
    reports, _, _, run = stub
    reports["*"] = "Traceback (most recent call last): ..."
    rc, out = run(capsys)
    assert rc == 1
    assert "checkov gave no JSON report" in out


def test_transformed_template_failure_fails(stub, capsys):
    reports, _, _, run = stub
    reports["template.yaml"] = report()
    reports["template.cfn.json"] = report(failed=[("ApiApiGatewayDefaultStage", "AWS::ApiGatewayV2::Stage",
                                                   "CKV_AWS_95")])
    rc, out = run(capsys, transformed={"Resources": {}})
    assert rc == 1
    assert "the transformed template: CKV_AWS_95 fails on AWS::ApiGatewayV2::Stage.ApiApiGatewayDefaultStage" in out


def test_generated_resources_inherit_their_sam_resources_skips(stub, capsys):
    reports, _, seen, run = stub
    reports["*"] = report()
    transformed = {"Resources": {
        "ApiApiGatewayDefaultStage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {}},
        "Fn": {"Type": "AWS::Lambda::Function", "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_116",
                                                                                  "comment": REASON}]}}},
        "FnRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Other": {"Type": "AWS::SNS::Topic", "Properties": {}},
    }}
    rc, out = run(capsys, transformed=transformed)
    assert rc == 0, out
    scanned = json.loads((seen / "template.cfn.json").read_text())["Resources"]
    skips = {lid: [s["id"] for s in ((r.get("Metadata") or {}).get("checkov") or {}).get("skip", [])]
             for lid, r in scanned.items()}
    assert skips == {"ApiApiGatewayDefaultStage": ["CKV_AWS_95"], "Fn": ["CKV_AWS_116"], "FnRole": ["CKV_AWS_116"],
                     "Queue": [], "Other": []}


def test_the_real_template_declares_a_reason_for_every_skip():
    """Offline, without checkov: every skip in infra/template.yaml has an id and a real reason."""
    sam = checkov_scan.load_sam_template(Path(__file__).resolve().parents[1] / "template.yaml")
    skips = checkov_scan.declared_skips(sam["Resources"])
    assert skips, "the template declares no checkov skip"
    for lid, entries in skips.items():
        for s in entries:
            assert s.get("id", "").startswith("CKV"), (lid, s)
            assert len(" ".join(str(s.get("comment", "")).split())) >= checkov_scan.MIN_REASON, (lid, s)
