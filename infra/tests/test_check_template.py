"""Self-tests of infra/check_template.py: the real template passes, mutated copies fail precisely."""

from __future__ import annotations

import json

import pytest


def failures(out: str) -> list[str]:
    return [line.strip()[len("FAIL"):].strip() for line in out.splitlines() if line.strip().startswith("FAIL")]


def assert_fails(tree, capsys, *needles: str) -> list[str]:
    rc, out = tree.run(capsys)
    found = failures(out)
    assert rc == 1, f"checker passed a broken template:\n{out}"
    for needle in needles:
        assert any(needle in f for f in found), f"no failure mentions {needle!r}; failures: {found}"
    return found


def test_real_template_passes(tree, capsys):
    rc, out = tree.run(capsys)
    assert rc == 0, out
    assert failures(out) == []
    assert "all " in out and "checks passed" in out
    # it says what it checked
    for fragment in ("PostbackFunction: Metadata.BuildMethod is rust-cargolambda", "PUT /api/leads/{id}/stage -> StageFunction",
                     "GSI by_stage KeySchema equal", "AnalyticsFunction: grants exactly Query"):
        assert fragment in out


# ---------------------------------------------------------------- functions

def test_misspelt_build_method_fails(tree, capsys):
    tree.mutate("BuildMethod: rust-cargolambda", "BuildMethod: rust-cargolamda")
    assert_fails(tree, capsys, "PostbackFunction: Metadata.BuildMethod must be 'rust-cargolambda'", "rust-cargolamda")


def test_unknown_architecture_fails(tree, capsys):
    tree.mutate("Architectures: [arm64]", "Architectures: [x86_64]")
    assert_fails(tree, capsys, "PostbackFunction: Architectures must be ['arm64']")


def test_wrong_runtime_fails(tree, capsys):
    tree.mutate("Runtime: provided.al2023", "Runtime: provided.al2")
    assert_fails(tree, capsys, "Runtime must be 'provided.al2023'")


def test_binary_without_package_fails(tree, capsys):
    tree.mutate("Binary: stage", "Binary: stages")
    assert_fails(tree, capsys, "BuildProperties.Binary 'stages' names no package: functions/stages/Cargo.toml",
                 "no function builds stage")


def test_code_uri_not_workspace_root_fails(tree, capsys):
    tree.mutate("CodeUri: ..", "CodeUri: ../functions/leads")
    assert_fails(tree, capsys, "CodeUri '../functions/leads' resolves to")


# ---------------------------------------------------------------- references

def test_missing_ref_in_environment_fails(tree, capsys):
    tree.mutate("TABLE_NAME: !Ref LeadsTable", "TABLE_NAME: !Ref LeadTable")
    assert_fails(tree, capsys, "Globals.Function.Environment.Variables.TABLE_NAME: !Ref LeadTable names no")


def test_missing_getatt_in_policy_fails(tree, capsys):
    tree.mutate("Resource: !GetAtt LeadsTable.Arn", "Resource: !GetAtt LeadsTabel.Arn")
    assert_fails(tree, capsys, "Resources.PostbackFunction.Properties.Policies[0].Statement[0].Resource: "
                               "!GetAtt LeadsTabel.* names no resource")


def test_missing_sub_variable_in_policy_fails(tree, capsys):
    tree.mutate('Resource: !Sub "${LeadsTable.Arn}/index/*"', 'Resource: !Sub "${LeadsTbl.Arn}/index/*"')
    assert_fails(tree, capsys, "${LeadsTbl.Arn} in !Sub names no resource LeadsTbl")


def test_missing_parameter_in_environment_fails(tree, capsys):
    tree.mutate("RUST_LOG: !Ref LogLevel", "RUST_LOG: !Ref RustLog")
    assert_fails(tree, capsys, "!Ref RustLog names no parameter, resource or pseudo parameter")


def test_missing_condition_fails(tree, capsys):
    tree.mutate("- HasExtraOrigins", "- HasOrigins")
    assert_fails(tree, capsys, "condition 'HasOrigins' is not defined")


# ---------------------------------------------------------------- parameters

def test_pattern_accepting_changeme_fails(tree, capsys):
    tree.mutate("AllowedPattern: '^(?!.*[Cc][Hh][Aa][Nn][Gg][Ee][Mm][Ee])[A-Za-z0-9._~+/=-]{16,128}$'",
                "AllowedPattern: '^[A-Za-z0-9._~+/=-]{16,128}$'")
    assert_fails(tree, capsys, "ApiKey: AllowedPattern")


def test_key_without_noecho_fails(tree, capsys):
    tree.mutate("    NoEcho: true\n", "    NoEcho: false\n")
    assert_fails(tree, capsys, "ApiKey: must be NoEcho")


# ---------------------------------------------------------------- table

def test_gsi_projection_drift_fails(tree, capsys):
    tree.mutate("Projection: { ProjectionType: ALL }", "Projection: { ProjectionType: KEYS_ONLY }")
    assert_fails(tree, capsys, "GSI by_email projection differs")


def test_missing_gsi_fails(tree, capsys):
    text = tree.template.read_text()
    start = text.index("        - IndexName: by_stage")
    end = text.index("  # ---------------------------------------------------------------- HTTP API")
    tree.template.write_text(text[:start] + "\n" + text[end:])
    assert_fails(tree, capsys, "GSI names differ")


def test_table_definition_drift_fails(tree, capsys):
    path = tree.root / "infra" / "table-definition.json"
    d = json.loads(path.read_text())
    d["GlobalSecondaryIndexes"][1]["KeySchema"][1]["AttributeName"] = "created_at"
    d["AttributeDefinitions"].append({"AttributeName": "created_at", "AttributeType": "S"})
    path.write_text(json.dumps(d))
    assert_fails(tree, capsys, "AttributeDefinitions differ", "GSI by_created KeySchema differs")


def test_missing_table_definition_fails(tree, capsys):
    (tree.root / "infra" / "table-definition.json").unlink()
    assert_fails(tree, capsys, "table-definition.json does not exist")


def test_table_without_pitr_fails(tree, capsys):
    tree.mutate("PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false")
    assert_fails(tree, capsys, "PointInTimeRecoveryEnabled must be true")


# ---------------------------------------------------------------- routes

def test_route_on_wrong_function_fails(tree, capsys):
    # move GET /api/stages from the analytics function to the leads function
    tree.mutate("""        Stages:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/stages
            Method: GET
""", "")
    tree.mutate("""        ListLeads:
""", """        Stages:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/stages
            Method: GET
        ListLeads:
""")
    assert_fails(tree, capsys, "GET /api/stages is routed to LeadsFunction (leads)", "the analytics function serves it")


def test_unrouted_contract_route_fails(tree, capsys):
    tree.mutate("""        DeleteLead:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/leads/{id}
            Method: DELETE
""", "")
    assert_fails(tree, capsys, "DELETE /api/leads/{id} (OpenAPI) is routed by no HttpApi event; it belongs on the leads")


def test_route_absent_from_openapi_fails(tree, capsys):
    doc = json.loads((tree.root / "docs" / "openapi.json").read_text())
    del doc["paths"]["/api/openapi.json"]
    tree.write_openapi(doc)
    assert_fails(tree, capsys, "AnalyticsFunction.Events.OpenApi routes GET /api/openapi.json, which the OpenAPI "
                               "document does not list")


def test_duplicate_route_fails(tree, capsys):
    tree.mutate("""        Health:
""", """        Health2:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/health
            Method: get
        Health:
""")
    assert_fails(tree, capsys, "GET /api/health is routed by 2 HttpApi events")


def test_unknown_contract_route_fails(tree, capsys):
    doc = json.loads((tree.root / "docs" / "openapi.json").read_text())
    doc["paths"]["/api/export"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    tree.write_openapi(doc)
    assert_fails(tree, capsys, "GET /api/export is in the OpenAPI document but check_template.py does not know",
                 "GET /api/export (OpenAPI) is routed by no HttpApi event")


def test_path_parameter_name_does_not_matter(tree, capsys):
    doc = json.loads((tree.root / "docs" / "openapi.json").read_text())
    doc["paths"]["/api/leads/{lead_id}"] = doc["paths"].pop("/api/leads/{id}")
    tree.write_openapi(doc)
    rc, out = tree.run(capsys)
    assert rc == 0, out


def test_event_without_api_id_fails(tree, capsys):
    tree.mutate("""            ApiId: !Ref HttpApi
            Path: /api/postback""", """            Path: /api/postback""")
    assert_fails(tree, capsys, "PostbackFunction.Events.Postback: ApiId must be !Ref")


def test_missing_openapi_fails_clearly(tree, capsys):
    (tree.root / "docs" / "openapi.json").unlink()
    assert_fails(tree, capsys, "docs/openapi.json does not exist: the OpenAPI document is written by the Rust code")


# ---------------------------------------------------------------- policies

def test_extra_action_fails(tree, capsys):
    tree.mutate("""              Action:
                - dynamodb:Query
              Resource: !GetAtt LeadsTable.Arn""", """              Action:
                - dynamodb:Query
                - dynamodb:Scan
              Resource: !GetAtt LeadsTable.Arn""")
    assert_fails(tree, capsys, "AnalyticsFunction.Policies[0].Statement[0]: grants ['dynamodb:Scan']")


def test_wildcard_action_fails(tree, capsys):
    tree.mutate("                - dynamodb:BatchWriteItem\n", "                - dynamodb:*\n")
    assert_fails(tree, capsys, "grants ['dynamodb:*']", "LeadsFunction: policy lacks ['dynamodb:BatchWriteItem']")


def test_missing_action_fails(tree, capsys):
    tree.mutate("                - dynamodb:ConditionCheckItem\n", "")
    assert_fails(tree, capsys, "PostbackFunction: policy lacks ['dynamodb:ConditionCheckItem']")


def test_sam_policy_template_fails(tree, capsys):
    tree.mutate("""      Policies:
        - Version: "2012-10-17"
          Statement:
            - Sid: LeadsTableItems
              Effect: Allow
              Action:
                - dynamodb:Query
              Resource: !GetAtt LeadsTable.Arn""", """      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref LeadsTable""")
    assert_fails(tree, capsys, "AnalyticsFunction.Policies[0]: must be an inline policy document")


def test_index_grant_for_function_without_index_query_fails(tree, capsys):
    tree.mutate("""                - dynamodb:Query
              Resource: !GetAtt LeadsTable.Arn
      Events:
        Analytics:""", """                - dynamodb:Query
              Resource:
                - !GetAtt LeadsTable.Arn
                - !Sub "${LeadsTable.Arn}/index/*"
      Events:
        Analytics:""")
    assert_fails(tree, capsys, "grants access to the table's indexes, but the analytics function queries none")


def test_resource_star_fails(tree, capsys):
    tree.mutate("Resource: !GetAtt LeadsTable.Arn", "Resource: '*'")
    assert_fails(tree, capsys, "Resource '*' is not the table ARN")


# ---------------------------------------------------------------- logs and dashboard

def test_log_group_without_retention_fails(tree, capsys):
    tree.mutate("""      LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-stage"
      RetentionInDays: !Ref LogRetentionDays""", """      LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-stage\"""")
    assert_fails(tree, capsys, "StageFunction: log group StageLogGroup has no RetentionInDays")


def test_public_bucket_fails(tree, capsys):
    tree.mutate("RestrictPublicBuckets: true", "RestrictPublicBuckets: false")
    assert_fails(tree, capsys, "PublicAccessBlockConfiguration must set")


@pytest.mark.parametrize("key", ["ApiUrl", "DashboardUrl", "DashboardBucket", "DistributionId"])
def test_missing_output_fails(tree, capsys, key):
    head, outputs = tree.template.read_text().split("\nOutputs:\n")
    assert f"\n  {key}:\n" in "\n" + outputs
    outputs = ("\n" + outputs).replace(f"\n  {key}:\n", f"\n  {key}Renamed:\n")
    tree.template.write_text(head + "\nOutputs:" + outputs)
    assert_fails(tree, capsys, f"output {key} is missing")
