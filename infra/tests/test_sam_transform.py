"""The template through the real SAM transform (aws-sam-translator, installed by scripts/check-infra.sh): what
CloudFormation receives matches what check_template.py assumes about SAM (the Globals merge, the roles SAM
generates, the HTTP API stage)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("samtranslator", reason="aws-sam-translator is installed by scripts/check-infra.sh")

import check_template  # noqa: E402  (conftest puts infra/ on sys.path)
import sam_transform  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "template.yaml"


@pytest.fixture(scope="module")
def cfn() -> dict:
    return sam_transform.transform_file(TEMPLATE)


@pytest.fixture(scope="module")
def checker() -> check_template.Checker:
    c = check_template.Checker(REPO, TEMPLATE, REPO / "infra" / "table-definition.json", REPO / "docs" / "openapi.json")
    assert c.load_template()
    return c


def test_rules_and_conditions_survive_the_transform(cfn):
    assert {"WebAclInUsEast1", "SecretArnWithSecretsManager", "BudgetNeedsEmail"} <= set(cfn["Rules"])
    assert "UseSsmKeys" in cfn["Conditions"]


def test_environment_after_the_globals_merge_is_what_the_checker_sees(cfn, checker):
    for lid, res in checker.functions().items():
        variables = cfn["Resources"][lid]["Properties"]["Environment"]["Variables"]
        present = {k: v for k, v in variables.items() if v != {"Ref": "AWS::NoValue"}}
        assert check_template._plain(present) == checker.env(res), lid


def test_consumer_gets_no_key_variable_and_no_broad_managed_policy(cfn):
    res = cfn["Resources"]
    # the stream consumer and the webhook delivery function serve no route and check no key
    for fn in ("CountersFunction", "WebhooksFunction"):
        variables = res[fn]["Properties"]["Environment"]["Variables"]
        for var in check_template.KEY_ENV + ["ALLOWED_ORIGINS"]:
            assert variables.get(var) == {"Ref": "AWS::NoValue"}, (fn, var)
        role = res[f"{fn}Role"]["Properties"]
        assert role["ManagedPolicyArns"] == [sam_transform.MANAGED_POLICIES["AWSLambdaBasicExecutionRole"]], fn
    # only the template's own event source mappings (no SAM event adding a managed policy with Resource "*")
    mappings = {lid for lid, r in res.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    assert mappings == {"CountersEventSourceMapping", "WebhooksEventSourceMapping"}


def test_http_functions_get_the_keys_policy(cfn, checker):
    for lid in checker.http_functions():
        arns = cfn["Resources"][f"{lid}Role"]["Properties"]["ManagedPolicyArns"]
        assert {"Ref": "KeysReadPolicy"} in arns, lid


def test_stage_throttles_the_postback_route_on_its_own(cfn):
    stages = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert len(stages) == 1
    props = stages[0]["Properties"]
    assert props["RouteSettings"]["POST /api/postback"]["ThrottlingRateLimit"] == {"Ref": "PostbackThrottlingRateLimit"}
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "AdminThrottlingRateLimit"}
    assert props["AccessLogSettings"]["Fn::If"][0] == "ApiAccessLogsOn"


def test_a_broken_template_is_reported(tmp_path, capsys):
    bad = tmp_path / "template.yaml"
    bad.write_text(TEMPLATE.read_text().replace("Method: POST", "Method: [POST]", 1))
    assert sam_transform.main(["--template", str(bad), str(tmp_path / "out.json")]) == 1
    assert "SAM transform:" in capsys.readouterr().err
