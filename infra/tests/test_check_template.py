"""Self-tests of infra/check_template.py: the real template passes, mutated copies fail precisely.

Every check the script makes has at least one test here that breaks the template (or the code it is compared
with) in that one respect and asserts the failure message names it.
"""

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


def cut(tree, start: str, end: str) -> None:
    """Remove the template text from `start` (inclusive) to `end` (exclusive)."""
    text = tree.template.read_text()
    i = text.index(start)
    j = text.index(end, i)
    tree.template.write_text(text[:i] + text[j:])


def test_real_template_passes(tree, capsys):
    rc, out = tree.run(capsys)
    assert rc == 0, out
    assert failures(out) == []
    assert "all " in out and "checks passed" in out
    # it says what it checked
    for fragment in (
        "PostbackFunction: Metadata.BuildMethod is rust-cargolambda",
        "all 6 functions present: analytics, counters, leads, postback, stage, webhooks",
        "WebhookQueue: to WebhookDeadLetterQueue after 5 receives",
        "WebhooksEventSourceMapping: ReportBatchItemFailures (only unhandled messages come back)",
        "PUT /api/leads/{id}/stage -> StageFunction",
        "GET /api/analytics/breakdown -> AnalyticsFunction",
        "GSI by_created projection INCLUDE ['cmp', 'em', 'q', 'qr', 'se', 'src', 'st']",
        "LeadsTable: stream NEW_AND_OLD_IMAGES",
        "LeadsTable: table design version 2",
        "AnalyticsFunction: grants exactly BatchGetItem, BatchWriteItem, DeleteItem, GetItem, PutItem, Query, UpdateItem "
        "on the table; Query on index by_revenue",
        "GSI by_revenue projection INCLUDE ['ck', 'cmp', 'em', 'q', 'qr', 'se', 'src', 'st']",
        "PostbackFunction: ssm:GetParameter(s) on exactly the parameters its API_KEY_PARAMETER, ADMIN_API_KEY_PARAMETER, "
        "PUBLIC_API_KEY_PARAMETER name",
        "CountersEventSourceMapping: TumblingWindowInSeconds 60",
        "HttpApi: POST /api/postback throttled at 10000/s, burst 5000",
        "HttpApi: GET /api/postback shares the ingest throttle",
        "GET /api/postback -> PostbackFunction",
        "CountersIteratorAgeAlarm: CountersFunction IteratorAge Maximum > 60000 ms for 5 minutes",
        "store.rs: DeleteItem, GetItem, PutItem, Query, UpdateItem, each granted",
    ):
        assert fragment in out, fragment


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


def test_missing_consumer_function_fails(tree, capsys):
    tree.mutate("Binary: counters", "Binary: analytics")
    assert_fails(tree, capsys, "no function builds counters", "CountersFunction and AnalyticsFunction both build")


def test_code_uri_not_workspace_root_fails(tree, capsys):
    tree.mutate("CodeUri: ..", "CodeUri: ../functions/leads")
    assert_fails(tree, capsys, "CodeUri '../functions/leads' resolves to")


# ---------------------------------------------------------------- references

def test_missing_ref_in_environment_fails(tree, capsys):
    tree.mutate("TABLE_NAME: !Ref LeadsTable", "TABLE_NAME: !Ref LeadTable")
    assert_fails(tree, capsys, "Globals.Function.Environment.Variables.TABLE_NAME: !Ref LeadTable names no")


def test_missing_getatt_in_policy_fails(tree, capsys):
    tree.mutate("Resource: !GetAtt LeadsTable.Arn", "Resource: !GetAtt LeadsTabel.Arn")
    assert_fails(tree, capsys, "Resources.PostbackFunction.Properties.Policies[1].Statement[0].Resource: "
                               "!GetAtt LeadsTabel.* names no resource")


def test_missing_sub_variable_in_policy_fails(tree, capsys):
    tree.mutate('Resource: !Sub "${LeadsTable.Arn}/index/by_email"', 'Resource: !Sub "${LeadsTbl.Arn}/index/by_email"')
    assert_fails(tree, capsys, "${LeadsTbl.Arn} in !Sub names no resource LeadsTbl")


def test_missing_parameter_in_environment_fails(tree, capsys):
    tree.mutate("RUST_LOG: !Ref LogLevel", "RUST_LOG: !Ref RustLog")
    assert_fails(tree, capsys, "!Ref RustLog names no parameter, resource or pseudo parameter")


def test_missing_condition_fails(tree, capsys):
    tree.mutate("- HasExtraOrigins", "- HasOrigins")
    assert_fails(tree, capsys, "condition 'HasOrigins' is not defined")


def test_missing_parameter_in_rule_fails(tree, capsys):
    tree.mutate("!Equals [!Ref ApiWebAclArn, \"\"]", "!Equals [!Ref WebAclArn, \"\"]")
    assert_fails(tree, capsys, "Rules.WebAclInUsEast1.RuleCondition", "!Ref WebAclArn names no parameter")


# ---------------------------------------------------------------- keys: never in plain text, narrow reads

def test_plain_key_in_environment_fails(tree, capsys):
    tree.mutate("        KEYS_REVISION: !Ref KeysRevision\n",
                "        KEYS_REVISION: !Ref KeysRevision\n        ADMIN_API_KEY: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n")
    assert_fails(tree, capsys, "PostbackFunction: environment sets ADMIN_API_KEY: keys must come from the key store")


def test_noecho_parameter_in_environment_fails(tree, capsys):
    tree.mutate("  KeysRevision:\n", "  LegacyKey:\n    Type: String\n    NoEcho: true\n    Default: x\n  KeysRevision:\n")
    tree.mutate("        KEYS_REVISION: !Ref KeysRevision\n",
                "        KEYS_REVISION: !Ref KeysRevision\n        LEGACY: !Sub \"k=${LegacyKey}\"\n")
    assert_fails(tree, capsys, "StageFunction: environment references the NoEcho parameter(s) ['LegacyKey']")


def test_http_function_without_key_contract_fails(tree, capsys):
    tree.mutate("        KEYS_SECRET_ARN: !If [UseSecretsManagerKeys, !Ref KeysSecretArn, !Ref AWS::NoValue]\n", "")
    assert_fails(tree, capsys, "LeadsFunction: serves routes but its environment lacks KEYS_SECRET_ARN")


def test_key_variable_holding_a_value_fails(tree, capsys):
    tree.mutate('!Sub "/leadpipe/${AWS::StackName}/api-key"]\n          - !Ref AWS::NoValue',
                '"0f1e2d3c4b5a69788796a5b4c3d2e1f0"]\n          - !Ref AWS::NoValue')
    assert_fails(tree, capsys, "AnalyticsFunction: API_KEY_PARAMETER must be an SSM parameter name")


def test_key_parameter_name_without_leading_slash_fails(tree, capsys):
    tree.mutate("AllowedPattern: '^$|^(/[A-Za-z0-9_.-]+)+$'", "AllowedPattern: '^$|^[A-Za-z0-9_./-]+$'")
    assert_fails(tree, capsys, "ApiKeyParameterName: AllowedPattern must admit only SSM parameter names starting with /",
                 "PostbackFunction: API_KEY_PARAMETER must be an SSM parameter name")


def test_consumer_with_key_variable_fails(tree, capsys):
    tree.mutate("          KEYS_SECRET_ARN: !Ref AWS::NoValue\n", "")
    assert_fails(tree, capsys, "CountersFunction: serves no route but gets KEYS_SECRET_ARN")


def test_consumer_with_key_policy_fails(tree, capsys):
    tree.mutate("""      Policies:
        - Version: "2012-10-17"
          Statement:
            - Sid: LeadsTableDerivedItems""", """      Policies:
        - !Ref KeysReadPolicy
        - Version: "2012-10-17"
          Statement:
            - Sid: LeadsTableDerivedItems""")
    assert_fails(tree, capsys, "to CountersFunction, which serves no route and checks no key")


def test_ssm_grant_on_all_parameters_fails(tree, capsys):
    tree.mutate("""              Resource:
                - !Sub
                  - "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}"
""", """              Resource:
                - !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/*"
                - !Sub
                  - "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}"
""")
    assert_fails(tree, capsys, "parameter/*'} is not !Sub")


def test_ssm_grant_missing_a_key_fails(tree, capsys):
    tree.mutate("""                - !Sub
                  - "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}"
                  - Name: !If [HasPublicApiKeyParameterName, !Ref PublicApiKeyParameterName, !Sub "/leadpipe/${AWS::StackName}/public-api-key"]
""", "")
    assert_fails(tree, capsys, "LeadsFunction: the SSM grant must cover exactly the parameters", "public-api-key")


def test_ssm_extra_action_fails(tree, capsys):
    tree.mutate("                - ssm:GetParameters\n", "                - ssm:GetParameters\n                - ssm:GetParametersByPath\n")
    assert_fails(tree, capsys, "grants ['ssm:GetParametersByPath']; reading the keys needs ssm:GetParameter(s) only")


def test_kms_without_via_service_fails(tree, capsys):
    tree.mutate('                  kms:ViaService: !Sub "ssm.${AWS::Region}.${AWS::URLSuffix}"\n', "")
    assert_fails(tree, capsys, "kms:Decrypt needs Condition StringEquals kms:ViaService",
                 "StageFunction: no kms:Decrypt statement conditioned on kms:ViaService ssm")


def test_secret_grant_on_any_secret_fails(tree, capsys):
    tree.mutate("              Resource: !Ref KeysSecretArn", '              Resource: "*"')
    assert_fails(tree, capsys, "Resource '*' is not the secret KEYS_SECRET_ARN names",
                 "PostbackFunction: needs secretsmanager:GetSecretValue on exactly")


def test_key_source_values_fail(tree, capsys):
    tree.mutate("AllowedValues: [ssm, secretsmanager]", "AllowedValues: [ssm, secretsmanager, environment]")
    assert_fails(tree, capsys, "KeySource: AllowedValues must be [ssm, secretsmanager]")


# ---------------------------------------------------------------- table

def test_gsi_projection_drift_fails(tree, capsys):
    tree.mutate("Projection: { ProjectionType: KEYS_ONLY }", "Projection: { ProjectionType: ALL }")
    assert_fails(tree, capsys, "GSI by_email projection differs")


def test_include_projection_drift_fails(tree, capsys):
    tree.mutate("NonKeyAttributes: [st, se, src, cmp, q, em, qr]", "NonKeyAttributes: [st, se, src, cmp, q, em]")
    assert_fails(tree, capsys, "GSI by_created projection differs")


def test_missing_gsi_fails(tree, capsys):
    cut(tree, "        - IndexName: by_created", "      StreamSpecification:")
    assert_fails(tree, capsys, "GSI names differ")


def test_table_definition_drift_fails(tree, capsys):
    path = tree.root / "infra" / "table-definition.json"
    d = json.loads(path.read_text())
    d["GlobalSecondaryIndexes"][1]["KeySchema"][1]["AttributeName"] = "created_at"
    d["AttributeDefinitions"].append({"AttributeName": "created_at", "AttributeType": "S"})
    path.write_text(json.dumps(d))
    assert_fails(tree, capsys, "AttributeDefinitions differ", "GSI by_created KeySchema differs")


def test_table_definition_with_unknown_field_fails(tree, capsys):
    path = tree.root / "infra" / "table-definition.json"
    d = json.loads(path.read_text())
    d["SSESpecification"] = {"SSEEnabled": True}
    path.write_text(json.dumps(d))
    assert_fails(tree, capsys, "table-definition.json has ['SSESpecification'], which check_template.py does not compare")


def test_missing_table_definition_fails(tree, capsys):
    (tree.root / "infra" / "table-definition.json").unlink()
    assert_fails(tree, capsys, "table-definition.json does not exist")


def test_stream_view_type_fails(tree, capsys):
    tree.mutate("StreamViewType: NEW_AND_OLD_IMAGES", "StreamViewType: NEW_IMAGE")
    assert_fails(tree, capsys, "StreamSpecification.StreamViewType must be 'NEW_AND_OLD_IMAGES'")


def test_table_without_stream_fails(tree, capsys):
    tree.mutate("      StreamSpecification:\n        StreamViewType: NEW_AND_OLD_IMAGES\n", "")
    assert_fails(tree, capsys, "StreamSpecification.StreamViewType must be 'NEW_AND_OLD_IMAGES' as in table-definition.json, found None")


def test_ttl_on_other_attribute_fails(tree, capsys):
    tree.mutate("        AttributeName: ttl\n", "        AttributeName: expires\n")
    assert_fails(tree, capsys, "TimeToLiveSpecification must be enabled on 'ttl'")


def test_ttl_disabled_fails(tree, capsys):
    tree.mutate("        AttributeName: ttl\n        Enabled: true", "        AttributeName: ttl\n        Enabled: false")
    assert_fails(tree, capsys, "TimeToLiveSpecification must be enabled on 'ttl'")


def test_table_without_pitr_fails(tree, capsys):
    tree.mutate("PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false")
    assert_fails(tree, capsys, "PointInTimeRecoveryEnabled must be true")


def test_table_without_deletion_protection_fails(tree, capsys):
    tree.mutate("DeletionProtectionEnabled: true", "DeletionProtectionEnabled: false")
    assert_fails(tree, capsys, "LeadsTable: DeletionProtectionEnabled must be true")


def test_table_not_retained_fails(tree, capsys):
    tree.mutate("    DeletionPolicy: Retain\n", "    DeletionPolicy: Delete\n")
    assert_fails(tree, capsys, "LeadsTable: DeletionPolicy and UpdateReplacePolicy must be Retain")


def test_design_version_tag_drift_fails(tree, capsys):
    tree.mutate('          Value: "2"\n', '          Value: "1"\n')
    assert_fails(tree, capsys, "tag leadpipe:table-design-version ('1')", "DESIGN_VERSION in shared/dynamo/src/keys.rs (2)")


def test_design_version_of_the_code_moves_on_fails(tree, capsys):
    tree.edit("shared/dynamo/src/keys.rs", "pub const DESIGN_VERSION: u32 = 2;", "pub const DESIGN_VERSION: u32 = 3;")
    assert_fails(tree, capsys, "must equal DESIGN_VERSION in shared/dynamo/src/keys.rs (3)",
                 "output TableDesignVersion is '2', DESIGN_VERSION is 3")


# ---------------------------------------------------------------- routes

BREAKDOWN_EVENT = """        Breakdown:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/analytics/breakdown
            Method: GET
"""


GET_POSTBACK_EVENT = """        GetPostback:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/postback
            Method: GET
"""


def test_get_postback_unrouted_fails(tree, capsys):
    # the code and the contract serve GET /api/postback; without its event (and route settings) the check fails
    tree.mutate(GET_POSTBACK_EVENT, "")
    tree.mutate('        "GET /api/postback":\n', '        "GET /api/postback-gone":\n')
    assert_fails(tree, capsys, "GET /api/postback (OpenAPI) is routed by no HttpApi event; it belongs on the postback")


def test_get_postback_on_the_admin_throttle_fails(tree, capsys):
    # GET postbacks routed, but throttled differently from the ingest route
    tree.mutate('        "GET /api/postback":\n          ThrottlingRateLimit: !Ref PostbackThrottlingRateLimit',
                '        "GET /api/postback":\n          ThrottlingRateLimit: !Ref AdminThrottlingRateLimit')
    assert_fails(tree, capsys, "GET /api/postback must use the ingest route's throttle")


def test_route_on_wrong_function_fails(tree, capsys):
    # move GET /api/analytics/breakdown from the analytics function to the leads function
    tree.mutate(BREAKDOWN_EVENT, "")
    tree.mutate("        ListLeads:\n", BREAKDOWN_EVENT + "        ListLeads:\n")
    assert_fails(tree, capsys, "GET /api/analytics/breakdown is routed to LeadsFunction (leads)",
                 "but the analytics function serves it")


def test_route_moved_in_the_code_fails(tree, capsys):
    # the code moves the breakdown route to the leads function; the template still routes it to analytics
    tree.edit("functions/analytics/src/lib.rs", '.route("/api/analytics/breakdown", get(breakdown))', "")
    tree.edit("functions/leads/src/lib.rs", '.route("/api/leads", get(list_leads))',
              '.route("/api/analytics/breakdown", get(list_leads)).route("/api/leads", get(list_leads))')
    assert_fails(tree, capsys, "GET /api/analytics/breakdown is routed to AnalyticsFunction (analytics)",
                 "but the leads function serves it")


def test_public_route_may_be_served_by_any_function(tree, capsys):
    stages = """        Stages:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/stages
            Method: GET
"""
    tree.mutate(stages, "")
    tree.mutate("        ListLeads:\n", stages + "        ListLeads:\n")
    rc, out = tree.run(capsys)
    assert rc == 0, out
    assert "GET /api/stages -> LeadsFunction (leads; a public route every function answers)" in out


def test_unrouted_contract_route_fails(tree, capsys):
    tree.mutate("""        DeleteLead:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/leads/{id}
            Method: DELETE
""", "")
    assert_fails(tree, capsys, "DELETE /api/leads/{id} (OpenAPI) is routed by no HttpApi event; it belongs on the leads")


def test_new_analytics_route_unrouted_fails(tree, capsys):
    tree.mutate("""        Abandonment:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/analytics/abandonment
            Method: GET
""", "")
    assert_fails(tree, capsys, "GET /api/analytics/abandonment (OpenAPI) is routed by no HttpApi event; it belongs "
                               "on the analytics function")


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
    assert_fails(tree, capsys, "GET /api/export is in the OpenAPI document but no function's router declares it",
                 "GET /api/export (OpenAPI) is routed by no HttpApi event")


def test_new_route_in_code_and_contract_needs_an_event(tree, capsys):
    doc = json.loads((tree.root / "docs" / "openapi.json").read_text())
    doc["paths"]["/api/leads/summary"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    tree.write_openapi(doc)
    tree.edit("functions/leads/src/lib.rs", '.route("/api/leads", get(list_leads))',
              '.route("/api/leads/summary", get(list_leads)).route("/api/leads", get(list_leads))')
    assert_fails(tree, capsys, "GET /api/leads/summary (OpenAPI) is routed by no HttpApi event; it belongs on the leads")


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


# ---------------------------------------------------------------- throttling and access logs

def test_postback_route_without_its_own_throttle_fails(tree, capsys):
    cut(tree, "      # The ingest route: sized", "      AccessLogSettings:")
    assert_fails(tree, capsys, "RouteSettings has no \"POST /api/postback\" entry: the ingest route would share the "
                               "default (admin) throttle")


def test_postback_throttle_too_low_fails(tree, capsys):
    tree.mutate("    Default: 10000\n", "    Default: 50\n")
    assert_fails(tree, capsys, "POST /api/postback must allow at least 10000/s with burst 5000 by default, found rate 50")


def test_admin_routes_as_open_as_postback_fail(tree, capsys):
    tree.mutate("    Default: 50\n", "    Default: 10000\n")
    assert_fails(tree, capsys, "every route but the postback route needs a throttle below 1000/s",
                 "GET /api/leads (rate 10000")


def test_route_settings_for_unknown_route_fail(tree, capsys):
    tree.mutate('"POST /api/postback":', '"POST /api/postbacks":')
    assert_fails(tree, capsys, "RouteSettings names route 'POST /api/postbacks', which no HttpApi event routes",
                 "RouteSettings has no \"POST /api/postback\" entry")


def test_access_log_always_on_fails(tree, capsys):
    tree.mutate("      AccessLogSettings: !If\n        - ApiAccessLogsOn\n        - DestinationArn:",
                "      AccessLogSettings:\n          DestinationArn:")
    tree.mutate("""            "integrationError":"$context.integrationErrorMessage"}
        - !Ref AWS::NoValue
""", """            "integrationError":"$context.integrationErrorMessage"}
""")
    assert_fails(tree, capsys, "HttpApi: AccessLogSettings is always on")


def test_access_log_on_by_default_fails(tree, capsys):
    tree.mutate('    Default: "off"\n', '    Default: "on"\n')
    assert_fails(tree, capsys, "AccessLogSettings must be !If [<condition off by default>",
                 "condition 'ApiAccessLogsOn' is True at the defaults")


# ---------------------------------------------------------------- policies

def test_extra_action_fails(tree, capsys):
    tree.mutate("""                - dynamodb:BatchGetItem
              Resource: !GetAtt LeadsTable.Arn
            # A rate change""", """                - dynamodb:BatchGetItem
                - dynamodb:Scan
              Resource: !GetAtt LeadsTable.Arn
            # A rate change""")
    assert_fails(tree, capsys, "AnalyticsFunction.Policies[1].Statement[1]: grants ['dynamodb:Scan'] on the table")


def test_wildcard_action_fails(tree, capsys):
    tree.mutate("                - dynamodb:BatchWriteItem\n", "                - dynamodb:*\n")
    assert_fails(tree, capsys, "grants ['dynamodb:*']", "CountersFunction: policy lacks ['dynamodb:BatchWriteItem']")


def test_missing_action_fails(tree, capsys):
    tree.mutate("                - dynamodb:DeleteItem\n", "")
    assert_fails(tree, capsys, "PostbackFunction: policy lacks ['dynamodb:DeleteItem'] on the table")


def test_transact_write_items_is_no_iam_action(tree, capsys):
    tree.mutate("                - dynamodb:Query\n                - dynamodb:UpdateItem\n",
                "                - dynamodb:Query\n                - dynamodb:TransactWriteItems\n")
    assert_fails(tree, capsys, "grants ['dynamodb:TransactWriteItems'] on the table",
                 "CountersFunction: policy lacks ['dynamodb:UpdateItem']")


def test_sam_policy_template_fails(tree, capsys):
    tree.mutate("""        - Version: "2012-10-17"
          Statement:
            # Ad spend (S#<day>) and exchange rates (X#<currency>, registry X): admin data (docs/DYNAMODB.md).
            - Sid: SpendAndRates
              Effect: Allow
              Action: [dynamodb:Query, dynamodb:GetItem, dynamodb:BatchWriteItem, dynamodb:UpdateItem, dynamodb:DeleteItem]
              Resource: !GetAtt LeadsTable.Arn
            - Sid: CounterBuckets
              Effect: Allow
              Action:
                - dynamodb:BatchGetItem
              Resource: !GetAtt LeadsTable.Arn
            # A rate change re-ranks the leads with orders: it lists them by revenue and rewrites the lead items
            # whose rank moved (a PutItem conditioned on the version).
            - Sid: RevenueRanks
              Effect: Allow
              Action:
                - dynamodb:PutItem
              Resource: !GetAtt LeadsTable.Arn
            - Sid: LeadsByRevenue
              Effect: Allow
              Action:
                - dynamodb:Query
              Resource: !Sub "${LeadsTable.Arn}/index/by_revenue\"""", """        - DynamoDBCrudPolicy:
            TableName: !Ref LeadsTable""")
    assert_fails(tree, capsys, "AnalyticsFunction.Policies[1]: must be an inline policy document")


def test_index_grant_for_function_without_index_query_fails(tree, capsys):
    tree.mutate("""                - dynamodb:BatchGetItem
              Resource: !GetAtt LeadsTable.Arn
            # A rate change""", """                - dynamodb:BatchGetItem
              Resource:
                - !GetAtt LeadsTable.Arn
                - !Sub "${LeadsTable.Arn}/index/by_created"
            # A rate change""")
    assert_fails(tree, capsys, "grants ['dynamodb:BatchGetItem'] on index by_created, which the analytics function "
                               "does not call there")


def test_every_index_grant_fails(tree, capsys):
    tree.mutate('Resource: !Sub "${LeadsTable.Arn}/index/by_email"', 'Resource: !Sub "${LeadsTable.Arn}/index/*"')
    assert_fails(tree, capsys, "grants every index of the table (index/*)",
                 "PostbackFunction: policy lacks ['dynamodb:Query'] on index by_email")


def test_wrong_index_fails(tree, capsys):
    tree.mutate('Resource: !Sub "${LeadsTable.Arn}/index/by_email"', 'Resource: !Sub "${LeadsTable.Arn}/index/by_created"')
    assert_fails(tree, capsys, "grants ['dynamodb:Query'] on index by_created, which the postback function does not call")


def test_resource_star_fails(tree, capsys):
    tree.mutate("Resource: !GetAtt LeadsTable.Arn", "Resource: '*'")
    assert_fails(tree, capsys, "Resource '*' is not one of this template's table ARN")


def test_stream_read_on_every_stream_fails(tree, capsys):
    tree.mutate("              Resource: !GetAtt LeadsTable.StreamArn\n", "              Resource: '*'\n")
    assert_fails(tree, capsys, "CountersFunction: policy lacks ['dynamodb:DescribeStream', 'dynamodb:GetRecords', "
                               "'dynamodb:GetShardIterator'] on the table's stream")


def test_star_for_an_action_with_resource_types_fails(tree, capsys):
    tree.mutate("                - dynamodb:ListStreams\n", "                - dynamodb:ListStreams\n                - dynamodb:GetRecords\n")
    assert_fails(tree, capsys, "CountersFunction.Policies[0].Statement[2]: Resource '*' is not one of this template's")


def test_list_streams_on_the_stream_arn_grants_nothing(tree, capsys):
    tree.mutate('                - dynamodb:ListStreams\n              Resource: "*"',
                "                - dynamodb:ListStreams\n              Resource: !GetAtt LeadsTable.StreamArn")
    assert_fails(tree, capsys, "grants ['dynamodb:ListStreams'] on the table's stream",
                 "CountersFunction: policy lacks ['dynamodb:ListStreams']")


def test_consumer_without_dlq_permission_fails(tree, capsys):
    tree.mutate("""            - Sid: FailedBatchesToTheDeadLetterQueue
              Effect: Allow
              Action:
                - sqs:SendMessage
              Resource: !GetAtt CountersDeadLetterQueue.Arn
""", "")
    assert_fails(tree, capsys, "CountersFunction: policy lacks ['sqs:SendMessage'] on the consumer's dead-letter queue")


def test_dlq_permission_for_api_function_fails(tree, capsys):
    tree.mutate("""            - Sid: LeadsByEmail""", """            - Sid: Queue
              Effect: Allow
              Action: sqs:SendMessage
              Resource: !GetAtt CountersDeadLetterQueue.Arn
            - Sid: LeadsByEmail""")
    assert_fails(tree, capsys, "grants ['sqs:SendMessage'] on the consumer's dead-letter queue, which the postback "
                               "function does not call there")


# ---------------------------------------------------------------- IAM vs the code's DynamoDB calls

def test_code_calling_an_ungranted_operation_fails(tree, capsys):
    tree.edit("shared/dynamo/src/listing.rs", "pub(crate) async fn list(",
              "async fn scan_all(c: &Client) { let _ = c.scan()\n        .table_name(\"t\"); }\n\npub(crate) async fn list(")
    assert_fails(tree, capsys, "listing.rs calls ['dynamodb:Scan'], which no function is granted")


def test_consumer_calling_an_ungranted_operation_fails(tree, capsys):
    tree.edit("shared/dynamo/src/consumer.rs", "impl Consumer {",
              "fn scan(c: &aws_sdk_dynamodb::Client) { let _ = c.scan()\n    .table_name(\"t\"); }\n\nimpl Consumer {")
    assert_fails(tree, capsys, "consumer.rs calls ['dynamodb:Scan'], which the counters function is not granted")


def test_unknown_sdk_call_fails(tree, capsys):
    tree.edit("shared/dynamo/src/store.rs", "impl DynamoStore {",
              "fn x(c: &Client) { let _ = c.batch_execute_statement()\n    .statements(s); }\n\nimpl DynamoStore {")
    assert_fails(tree, capsys, "has no IAM action for: ['store.rs: batch_execute_statement']")


def test_operations_in_tests_do_not_count(tree, capsys):
    text = (tree.root / "shared/dynamo/src/consumer.rs").read_text()
    assert "#[cfg(test)]" in text
    (tree.root / "shared/dynamo/src/consumer.rs").write_text(
        text + "\n#[cfg(test)]\nmod more_tests {\n    fn t(c: &Client) { let _ = c.scan()\n        .x(); }\n}\n")
    rc, out = tree.run(capsys)
    assert rc == 0, out


# ---------------------------------------------------------------- stream consumer

@pytest.mark.parametrize("old,new,message", [
    ("      BatchSize: 10000\n", "      BatchSize: 100\n", "BatchSize must be 10000, found 100"),
    ("      MaximumBatchingWindowInSeconds: !Ref StreamBatchingWindowSeconds\n", "      MaximumBatchingWindowInSeconds: 1\n",
     "MaximumBatchingWindowInSeconds must be 5, found 1"),
    ("      TumblingWindowInSeconds: 60\n", "", "TumblingWindowInSeconds must be 60, found None"),
    ("      ParallelizationFactor: 1\n", "      ParallelizationFactor: 4\n", "ParallelizationFactor must be 1, found 4"),
    ("      BisectBatchOnFunctionError: true\n", "      BisectBatchOnFunctionError: false\n",
     "BisectBatchOnFunctionError must be True, found False"),
    ("      StartingPosition: TRIM_HORIZON\n", "      StartingPosition: LATEST\n",
     "StartingPosition must be 'TRIM_HORIZON', found 'LATEST'"),
    ("      MaximumRetryAttempts: 10\n", "      MaximumRetryAttempts: -1\n", "MaximumRetryAttempts must be 10, found -1"),
    ("      MaximumRecordAgeInSeconds: 86400\n", "      MaximumRecordAgeInSeconds: -1\n",
     "MaximumRecordAgeInSeconds must be 86400, found -1"),
])
def test_event_source_mapping_setting_drift_fails(tree, capsys, old, new, message):
    tree.mutate(old, new)
    assert_fails(tree, capsys, f"CountersEventSourceMapping: {message}")


def test_filter_letting_other_items_through_fails(tree, capsys):
    tree.mutate('"S": ["L"]', '"S": ["L", "K"]')
    assert_fails(tree, capsys, "FilterCriteria must be exactly one pattern")


def test_mapping_without_filter_fails(tree, capsys):
    cut(tree, "      # Only lead items (sk", "      DestinationConfig:")
    assert_fails(tree, capsys, "FilterCriteria must be exactly one pattern", "found []")


def test_mapping_without_dead_letter_queue_fails(tree, capsys):
    tree.mutate("""      DestinationConfig:
        OnFailure:
          Destination: !GetAtt CountersDeadLetterQueue.Arn
""", "")
    assert_fails(tree, capsys, "DestinationConfig.OnFailure.Destination must be !GetAtt <an SQS queue")


def test_mapping_on_the_wrong_function_fails(tree, capsys):
    tree.mutate("      FunctionName: !Ref CountersFunction\n", "      FunctionName: !Ref AnalyticsFunction\n")
    assert_fails(tree, capsys, "FunctionName must be !Ref CountersFunction")


def test_sam_stream_event_fails(tree, capsys):
    tree.mutate("""      Description: Leadpipe stream consumer (stage-change items and counters from the table's stream)
""", """      Description: Leadpipe stream consumer (stage-change items and counters from the table's stream)
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt LeadsTable.StreamArn
            StartingPosition: TRIM_HORIZON
""")
    assert_fails(tree, capsys, "CountersFunction.Events.Stream: a SAM DynamoDB event attaches the managed policy")


def test_unencrypted_dead_letter_queue_fails(tree, capsys):
    # KmsKey none: no KMS key, and no SQS-managed encryption either
    tree.mutate("SqsManagedSseEnabled: !If [UseKmsKey, false, true]", "SqsManagedSseEnabled: false")
    assert_fails(tree, capsys, "CountersDeadLetterQueue: needs SqsManagedSseEnabled: true or KmsMasterKeyId")


def test_short_dead_letter_retention_fails(tree, capsys):
    tree.mutate("MessageRetentionPeriod: 1209600", "MessageRetentionPeriod: 345600")
    assert_fails(tree, capsys, "CountersDeadLetterQueue: MessageRetentionPeriod must be 1209600 (14 days)")


def test_consumer_timeout_fails(tree, capsys):
    tree.mutate("      Timeout: 60\n", "")
    assert_fails(tree, capsys, "CountersFunction: needs Timeout 60 and MemorySize 256")


# ---------------------------------------------------------------- alarms

def test_iterator_age_alarm_threshold_fails(tree, capsys):
    tree.mutate("Threshold: 60000", "Threshold: 600000")
    assert_fails(tree, capsys, "no alarm on AWS/Lambda IteratorAge of CountersFunction")


def test_iterator_age_alarm_window_fails(tree, capsys):
    tree.mutate("      DatapointsToAlarm: 5\n", "      DatapointsToAlarm: 2\n")
    assert_fails(tree, capsys, "no alarm on AWS/Lambda IteratorAge of CountersFunction")


def test_missing_errors_alarm_fails(tree, capsys):
    tree.mutate("      MetricName: Errors\n", "      MetricName: Throttles\n")
    assert_fails(tree, capsys, "no alarm on AWS/Lambda Errors of CountersFunction")


def test_missing_dead_letter_alarm_fails(tree, capsys):
    tree.mutate("MetricName: ApproximateNumberOfMessagesVisible", "MetricName: NumberOfMessagesSent")
    assert_fails(tree, capsys, "no alarm on AWS/SQS ApproximateNumberOfMessagesVisible of CountersDeadLetterQueue")


# ---------------------------------------------------------------- logs and cost

def test_text_log_format_fails(tree, capsys):
    tree.mutate("LogFormat: JSON", "LogFormat: Text")
    assert_fails(tree, capsys, "PostbackFunction: LoggingConfig must set LogFormat JSON")


def test_platform_lines_fail(tree, capsys):
    tree.mutate("SystemLogLevel: WARN", "SystemLogLevel: INFO")
    assert_fails(tree, capsys, "PostbackFunction: LoggingConfig must set", "'INFO'")


def test_log_level_info_by_default_fails(tree, capsys):
    tree.mutate("    Default: WARN\n", "    Default: INFO\n")
    assert_fails(tree, capsys, "ApplicationLogLevel WARN (by default)", "RUST_LOG is 'INFO' by default")


def test_postback_memory_fails(tree, capsys):
    tree.mutate("      MemorySize: 128\n", "")
    assert_fails(tree, capsys, "PostbackFunction: serves POST /api/postback and must have MemorySize 128")


def test_log_group_without_retention_fails(tree, capsys):
    tree.mutate("""      LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-stage"
      RetentionInDays: !Ref LogRetentionDays""", """      LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-stage\"""")
    assert_fails(tree, capsys, "StageFunction: log group StageLogGroup has no RetentionInDays")


def test_consumer_log_group_missing_fails(tree, capsys):
    tree.mutate("        LogGroup: !Ref CountersLogGroup\n", "")
    assert_fails(tree, capsys, "CountersFunction: no AWS::Logs::LogGroup for it")


# ---------------------------------------------------------------- abuse limits and budget

def test_web_acl_without_region_rule_fails(tree, capsys):
    cut(tree, "  WebAclInUsEast1:\n", "  SecretArnWithSecretsManager:\n")
    assert_fails(tree, capsys, "ApiWebAcl: a CLOUDFRONT-scope web ACL can only be created in us-east-1")


def test_regional_web_acl_fails(tree, capsys):
    tree.mutate("Scope: CLOUDFRONT", "Scope: REGIONAL")
    assert_fails(tree, capsys, "ApiWebAcl: Scope must be CLOUDFRONT")


def test_edge_on_by_default_fails(tree, capsys):
    text = tree.template.read_text()
    i = text.index("  ApiEdge:\n")
    tree.template.write_text(text[:i] + text[i:].replace('    Default: "off"\n', '    Default: "on"\n', 1))
    assert_fails(tree, capsys, "ApiWebAcl: must be behind a condition that is off",
                 "ApiDistribution: the API distribution must be off")


def test_rate_rule_not_per_ip_fails(tree, capsys):
    tree.mutate("AggregateKeyType: IP", "AggregateKeyType: CONSTANT")
    assert_fails(tree, capsys, "ApiWebAcl: needs a Block rule with a RateBasedStatement (AggregateKeyType IP)")


def test_api_distribution_caching_fails(tree, capsys):
    tree.mutate("""          CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad # managed CachingDisabled
          OriginRequestPolicyId""", """          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
          OriginRequestPolicyId""")
    assert_fails(tree, capsys, "ApiDistribution: the API behaviour needs CachingDisabled")


def test_budget_always_on_fails(tree, capsys):
    tree.mutate("    Condition: HasBudget\n", "")
    assert_fails(tree, capsys, "MonthlyBudget: must be behind a condition that is off")


# ---------------------------------------------------------------- dashboard and outputs

def test_public_bucket_fails(tree, capsys):
    tree.mutate("RestrictPublicBuckets: true", "RestrictPublicBuckets: false")
    assert_fails(tree, capsys, "PublicAccessBlockConfiguration must set")


@pytest.mark.parametrize("key", ["ApiUrl", "PostbackUrl", "DashboardUrl", "DashboardBucket", "DistributionId",
                                 "TableName", "KeySource"])
def test_missing_output_fails(tree, capsys, key):
    head, outputs = tree.template.read_text().split("\nOutputs:\n")
    assert f"\n  {key}:\n" in "\n" + outputs
    outputs = ("\n" + outputs).replace(f"\n  {key}:\n", f"\n  {key}Renamed:\n")
    tree.template.write_text(head + "\nOutputs:" + outputs)
    assert_fails(tree, capsys, f"output {key} is missing")


# ---------------------------------------------------------------- webhook delivery

def test_webhook_queue_without_dead_letter_queue_fails(tree, capsys):
    tree.mutate("        deadLetterTargetArn: !GetAtt WebhookDeadLetterQueue.Arn\n", "        deadLetterTargetArn: !GetAtt WebhookQueue.Arn\n")
    assert_fails(tree, capsys, "WebhookQueue: RedrivePolicy.deadLetterTargetArn must be")


def test_webhook_visibility_shorter_than_the_function_fails(tree, capsys):
    tree.mutate("      VisibilityTimeout: 360\n", "      VisibilityTimeout: 30\n")
    assert_fails(tree, capsys, "WebhookQueue: VisibilityTimeout must be at least 6 times")


def test_webhook_mapping_without_partial_batch_failures_fails(tree, capsys):
    tree.mutate("      FunctionResponseTypes: [ReportBatchItemFailures]\n", "")
    assert_fails(tree, capsys, "WebhooksEventSourceMapping: FunctionResponseTypes must include ReportBatchItemFailures")


def test_webhook_queue_url_missing_on_the_consumer_fails(tree, capsys):
    tree.mutate("          # Fan-out: the deliveries a batch's lead changes trigger are queued here (docs/DYNAMODB.md, \"Webhooks\").\n"
                "          WEBHOOK_QUEUE_URL: !Ref WebhookQueue\n", "")
    assert_fails(tree, capsys, "CountersFunction: WEBHOOK_QUEUE_URL must be !Ref WebhookQueue")


def test_webhook_dead_letter_alarm_missing_fails(tree, capsys):
    cut(tree, "  WebhookDeadLetterAlarm:", "  # ---------------------------------------------------------------- abuse limits")
    assert_fails(tree, capsys, "no alarm on AWS/SQS ApproximateNumberOfMessagesVisible of WebhookDeadLetterQueue")


def test_webhook_function_reading_another_queue_fails(tree, capsys):
    tree.mutate("                - sqs:GetQueueAttributes\n                - sqs:SendMessage\n              Resource: !GetAtt WebhookQueue.Arn",
                "                - sqs:GetQueueAttributes\n                - sqs:SendMessage\n              Resource: !GetAtt CountersDeadLetterQueue.Arn")
    assert_fails(tree, capsys, "WebhooksFunction: policy lacks")


# ---------------------------------------------------------------- CORS (issue 24, finding 2)

def test_cors_configuration_on_the_api_fails(tree, capsys):
    tree.mutate("      FailOnWarnings: true\n",
                "      FailOnWarnings: true\n      CorsConfiguration:\n        AllowOrigins: [\"*\"]\n")
    assert_fails(tree, capsys, "HttpApi: CorsConfiguration must not be set")


def test_missing_postback_preflight_route_fails(tree, capsys):
    cut(tree, "        # CORS preflight of landing pages", "  LeadsFunction:")
    tree.mutate('        "OPTIONS /api/postback":\n', '        "OPTIONS /api/leads":\n')
    assert_fails(tree, capsys, "OPTIONS /api/postback must be routed (once) to the function serving POST")


def test_postback_preflight_on_another_function_fails(tree, capsys):
    tree.mutate("            Path: /api/postback\n            Method: OPTIONS\n",
                "            Path: /api/postback\n            Method: OPTIONS\n"
                "        Preflight2:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n"
                "            Path: /{proxy+}\n            Method: OPTIONS\n")
    cut(tree, "        # CORS preflight of landing pages", "        Preflight2:")
    assert_fails(tree, capsys, "OPTIONS /api/postback must be routed (once)", "an OPTIONS /{proxy+} route")


def test_missing_catch_all_preflight_fails(tree, capsys):
    tree.mutate("            Path: /{proxy+}\n            Method: OPTIONS\n",
                "            Path: /api/leads\n            Method: OPTIONS\n")
    assert_fails(tree, capsys, "an OPTIONS /{proxy+} route to one HTTP function")


def test_postback_preflight_on_the_admin_throttle_fails(tree, capsys):
    tree.mutate('        "OPTIONS /api/postback":\n          ThrottlingRateLimit: !Ref PostbackThrottlingRateLimit\n',
                '        "OPTIONS /api/postback":\n          ThrottlingRateLimit: !Ref AdminThrottlingRateLimit\n')
    assert_fails(tree, capsys, 'RouteSettings "OPTIONS /api/postback" must use the ingest route\'s throttle')


@pytest.mark.parametrize("old, new, needle", [
    ("HeaderName::from_static(leadpipe_core::idempotency::IDEMPOTENCY_HEADER),", "",
     "allow_headers lacks ['idempotency-key']"),
    ("HeaderName::from_static(API_KEY_HEADER),", "", "allow_headers lacks ['x-api-key']"),
    ('.expose_headers([HeaderName::from_static("idempotent-replayed")])', "",
     "must expose_headers idempotent-replayed"),
    ('|| parts.uri.path() == "/api/postback" ', "", "must allow any origin on /api/postback only"),
])
def test_cors_layer_without_what_landing_pages_need_fails(tree, capsys, old, new, needle):
    tree.edit("shared/http/src/app.rs", old, new)
    assert_fails(tree, capsys, needle)


# ---------------------------------------------------------------- reserved concurrency, names (issue 24, 6 and 7)

@pytest.mark.parametrize("line, lid", [
    ("      ReservedConcurrentExecutions: !If [ReserveCounters, !Ref CountersReservedConcurrency, !Ref AWS::NoValue]\n",
     "CountersFunction"),
    ("      ReservedConcurrentExecutions: !If [ReserveWebhooks, !Ref WebhooksReservedConcurrency, !Ref AWS::NoValue]\n",
     "WebhooksFunction"),
    ("      ReservedConcurrentExecutions: !If [ReservePostback, !Ref PostbackReservedConcurrency, !Ref AWS::NoValue]\n",
     "PostbackFunction"),
])
def test_function_without_reserved_concurrency_fails(tree, capsys, line, lid):
    tree.mutate(line, "")
    assert_fails(tree, capsys, f"{lid}: ReservedConcurrentExecutions must be")


def test_reservations_leaving_too_little_unreserved_fail(tree, capsys):
    tree.mutate("  CountersReservedConcurrency:\n    Type: Number\n    Default: 50\n",
                "  CountersReservedConcurrency:\n    Type: Number\n    Default: 400\n")
    assert_fails(tree, capsys, "reserved concurrency at the defaults is 910")


def test_postback_cap_too_low_fails(tree, capsys):
    tree.mutate("  PostbackReservedConcurrency:\n    Type: Number\n    Default: 500\n",
                "  PostbackReservedConcurrency:\n    Type: Number\n    Default: 50\n")
    assert_fails(tree, capsys, "the postback function's default cap 50 is below 200")


@pytest.mark.parametrize("old, new, needle", [
    ('Name: !Sub "${AWS::StackName}-${AWS::Region}-dashboard-oac"', 'Name: !Sub "${AWS::StackName}-dashboard-oac"',
     "DashboardOriginAccessControl: Name is account-wide"),
    ('BudgetName: !Sub "${AWS::StackName}-${AWS::Region}-monthly"', 'BudgetName: !Sub "${AWS::StackName}-monthly"',
     "MonthlyBudget: BudgetName is account-wide"),
])
def test_account_wide_name_without_region_fails(tree, capsys, old, new, needle):
    tree.mutate(old, new)
    assert_fails(tree, capsys, needle)


# ---------------------------------------------------------------- ApiEdge origin secret (issue 24, finding 4)

def test_origin_secret_missing_from_the_functions_fails(tree, capsys):
    tree.mutate('        ORIGIN_SECRET: !If [ApiEdgeOn, !Select [2, !Split ["/", !Ref AWS::StackId]], !Ref AWS::NoValue]\n',
                "")
    assert_fails(tree, capsys, "Globals: ORIGIN_SECRET must be")


def test_distribution_without_the_origin_header_fails(tree, capsys):
    tree.mutate("              - HeaderName: x-leadpipe-origin-secret\n", "              - HeaderName: x-other\n")
    assert_fails(tree, capsys, "ApiDistribution: the API origin must add OriginCustomHeaders x-leadpipe-origin-secret")


def test_code_believing_forwarded_headers_without_the_secret_fails(tree, capsys):
    tree.edit("shared/http/src/extract.rs", "&& from_trusted_proxy(&parts.headers, origin_secret())", "")
    assert_fails(tree, capsys, "ClientOrigin must check x-leadpipe-origin-secret")


# ---------------------------------------------------------------- at rest and in backups (KmsKey, PITR)

KEY = "!If [CreateKmsKey, !GetAtt DataKey.Arn, !Ref KmsKey]"


def test_encryption_checks_are_reported(tree, capsys):
    rc, out = tree.run(capsys)
    assert rc == 0, out
    for fragment in (
        "KmsKey: default create",
        "KmsKey=none: UseKmsKey False, CreateKmsKey False",
        "KmsKey=<key ARN>: UseKmsKey True, CreateKmsKey False",
        "DataKey: DeletionPolicy and UpdateReplacePolicy Retain",
        "LeadsTable: SSE with the customer-managed key when UseKmsKey",
        "LeadsTable: point-in-time recovery keeps 35 days by default",
        "WebhookQueue: the customer-managed key when UseKmsKey, SQS-managed keys with none",
        "PostbackLogGroup: the customer-managed key when UseKmsKey",
        "AlarmTopic: the customer-managed key when UseKmsKey",
    ):
        assert fragment in out, fragment


def test_table_without_the_key_fails(tree, capsys):
    tree.mutate(f"KMSMasterKeyId: !If [UseKmsKey, {KEY}, !Ref AWS::NoValue]", "KMSMasterKeyId: !Ref AWS::NoValue")
    assert_fails(tree, capsys, "LeadsTable: SSESpecification must be SSEEnabled true, SSEType KMS")


def test_table_with_the_aws_managed_key_fails(tree, capsys):
    tree.mutate(f"KMSMasterKeyId: !If [UseKmsKey, {KEY}, !Ref AWS::NoValue]",
                "KMSMasterKeyId: !If [UseKmsKey, alias/aws/dynamodb, !Ref AWS::NoValue]")
    assert_fails(tree, capsys, "LeadsTable: SSESpecification must be")


def test_table_naming_a_key_with_kms_none_fails(tree, capsys):
    tree.mutate(f"KMSMasterKeyId: !If [UseKmsKey, {KEY}, !Ref AWS::NoValue]", f"KMSMasterKeyId: {KEY}")
    assert_fails(tree, capsys, "LeadsTable: with KmsKey=none SSESpecification must name no key")


def test_short_pitr_window_by_default_fails(tree, capsys):
    tree.mutate("  PitrRecoveryPeriodDays:\n    Type: Number\n    Default: 35",
                "  PitrRecoveryPeriodDays:\n    Type: Number\n    Default: 7")
    assert_fails(tree, capsys, "LeadsTable: PointInTimeRecoverySpecification.RecoveryPeriodInDays must be")


def test_queue_without_the_key_fails(tree, capsys):
    tree.mutate(f"KmsMasterKeyId: !If [UseKmsKey, {KEY}, !Ref AWS::NoValue]", "KmsMasterKeyId: !Ref AWS::NoValue")
    # the first queue of the template is the consumer's dead-letter queue
    assert_fails(tree, capsys, "CountersDeadLetterQueue: KmsMasterKeyId must be")


def test_log_group_without_the_key_fails(tree, capsys):
    tree.mutate(f"      KmsKeyId: !If [UseKmsKey, {KEY}, !Ref AWS::NoValue]\n", "")
    assert_fails(tree, capsys, "ApiAccessLogGroup: KmsKeyId must be")


def test_alarm_topic_without_the_key_fails(tree, capsys):
    tree.mutate(f"      DisplayName: Leadpipe alarms\n      KmsMasterKeyId: !If [UseKmsKey, {KEY}, !Ref AWS::NoValue]\n",
                "      DisplayName: Leadpipe alarms\n")
    assert_fails(tree, capsys, "AlarmTopic: KmsMasterKeyId must be")


def test_key_deleted_with_the_stack_fails(tree, capsys):
    tree.mutate("  DataKey:\n    Type: AWS::KMS::Key\n    Condition: CreateKmsKey\n    DeletionPolicy: Retain",
                "  DataKey:\n    Type: AWS::KMS::Key\n    Condition: CreateKmsKey\n    DeletionPolicy: Delete")
    assert_fails(tree, capsys, "DataKey: DeletionPolicy and UpdateReplacePolicy must be Retain")


def test_key_without_rotation_fails(tree, capsys):
    tree.mutate("      EnableKeyRotation: true", "      EnableKeyRotation: false")
    assert_fails(tree, capsys, "DataKey: EnableKeyRotation must be true")


def test_key_policy_without_cloudwatch_logs_fails(tree, capsys):
    tree.mutate('Service: !Sub "logs.${AWS::Region}.${AWS::URLSuffix}"', "Service: lambda.amazonaws.com")
    assert_fails(tree, capsys, "DataKey: KeyPolicy lets no logs.<region> service principal use it")


def test_key_policy_without_the_account_fails(tree, capsys):
    tree.mutate('Action: "kms:*"', "Action: kms:DescribeKey")
    assert_fails(tree, capsys, "DataKey: KeyPolicy needs an Allow of kms:* to the account's root principal")


def test_no_customer_key_by_default_fails(tree, capsys):
    tree.mutate("  KmsKey:\n    Type: String\n    Default: create", "  KmsKey:\n    Type: String\n    Default: none")
    assert_fails(tree, capsys, "KmsKey: Default must be create")


def test_kms_alias_accepted_fails(tree, capsys):
    tree.mutate(":key/[A-Za-z0-9-]+)$'", ":key/[A-Za-z0-9-]+|alias/.+)$'")
    assert_fails(tree, capsys, "KmsKey: AllowedPattern must accept create, none and a key ARN and refuse an alias")


def test_kms_condition_that_ignores_a_given_key_fails(tree, capsys):
    tree.mutate("UseKmsKey: !Not [!Equals [!Ref KmsKey, none]]", "UseKmsKey: !Equals [!Ref KmsKey, create]")
    assert_fails(tree, capsys, "KmsKey=" + "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                 + ": conditions UseKmsKey must be True")
