"""The labelling and review constructs synthesized alone in a small stack, with the cdk-nag checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, RemovalPolicy, Stack, Validations
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template
    from cdk_nag import AwsSolutionsChecks

    from infra.constructs.labelling import Labelling, LabellingConfig
    from infra.constructs.python_code import FunctionDefaults
    from infra.constructs.review import Review, ReviewConfig

    code_dir = tmp_path_factory.mktemp("code")
    (code_dir / "functions").mkdir()
    (code_dir / "functions" / "__init__.py").write_text("")
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir))
    stack = Stack(app, "LabellingTest")

    def bucket(name: str) -> s3.Bucket:
        access_logs = s3.Bucket.from_bucket_name(stack, f"{name}Logs", f"{name.lower()}-logs")
        return s3.Bucket(
            stack,
            name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            server_access_logs_bucket=access_logs,
        )

    crops, artifacts = bucket("Crops"), bucket("Artifacts")
    table = dynamodb.Table(
        stack,
        "Catalog",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=RemovalPolicy.DESTROY,
    )
    defaults = FunctionDefaults(code=lambda_.Code.from_asset(str(code_dir)), stage="test")
    labelling = Labelling(
        stack,
        "Labelling",
        defaults=defaults,
        config=LabellingConfig(),
        crops_bucket=crops,
        artifacts_bucket=artifacts,
        table=table,
    )
    review = Review(
        stack,
        "Review",
        defaults=defaults,
        config=ReviewConfig(domain_prefix="skillforge-test-review"),
        crops_bucket=crops,
        artifacts_bucket=artifacts,
        table=table,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    error = None
    try:
        app.synth()
    except RuntimeError as exc:
        error = str(exc)
    template = json.loads((Path(outdir) / "LabellingTest.template.json").read_text())
    return {
        "template": Template.from_json(template),
        "resources": template["Resources"],
        "error": error,
        "stack": stack,
        "labelling": labelling,
        "review": review,
        "outdir": Path(outdir),
    }


def of_type(resources: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == cfn_type}


def test_no_unacknowledged_cdk_nag_findings(synthesized: dict[str, Any]) -> None:
    # GIVEN both constructs with the AwsSolutions checks / THEN synthesis reports no finding
    assert synthesized["error"] is None, synthesized["error"]


def test_job_state_change_rule_targets_the_import_with_a_dead_letter_queue(
    synthesized: dict[str, Any],
) -> None:
    rules = of_type(synthesized["resources"], "AWS::Events::Rule")
    state = [r for r in rules.values() if "EventPattern" in r["Properties"]]
    assert len(state) == 1
    pattern = state[0]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["SageMaker Ground Truth Labeling Job State Change"]
    assert pattern["source"] == ["aws.sagemaker"]
    target = state[0]["Properties"]["Targets"][0]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 4
    scheduled = [r for r in rules.values() if "ScheduleExpression" in r["Properties"]]
    assert scheduled[0]["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    assert "DeadLetterConfig" in scheduled[0]["Properties"]["Targets"][0]


def test_ground_truth_role_is_assumed_by_sagemaker_and_may_invoke_the_two_lambdas(
    synthesized: dict[str, Any],
) -> None:
    stack = synthesized["stack"]
    labelling = synthesized["labelling"]
    role_id = stack.get_logical_id(labelling.ground_truth_role.node.default_child)
    role = synthesized["resources"][role_id]
    principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "sagemaker.amazonaws.com"}
    policies = [
        p
        for p in of_type(synthesized["resources"], "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    invoked = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert len(invoked) == 2
    # and nobody else can pass it: the hand-off's PassRole is bound to SageMaker
    passes = [
        s
        for p in of_type(synthesized["resources"], "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "iam:PassRole"
    ]
    assert passes and all(
        s["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}} for s in passes
    )


def test_handoff_environment_carries_the_lambda_arns_and_price_inputs(synthesized: dict[str, Any]) -> None:
    functions = of_type(synthesized["resources"], "AWS::Lambda::Function")
    handoff = next(
        f for f in functions.values() if f["Properties"]["Handler"] == "functions.handoff.handler.handler"
    )
    env = handoff["Properties"]["Environment"]["Variables"]
    for key in (
        "SKILLFORGE_LABELLING_PRE_LAMBDA_ARN",
        "SKILLFORGE_LABELLING_POST_LAMBDA_ARN",
        "SKILLFORGE_LABELLING_ROLE_ARN",
    ):
        assert key in env
    assert env["SKILLFORGE_LABELLING_SECONDS_PER_TASK"] == "3.0"
    assert env["SKILLFORGE_LABELLING_HOURLY_RATE_USD"] == "15.0"
    assert env["SKILLFORGE_LABELLING_WORKERS_PER_CROP"] == "3"
    handlers = sorted(
        f["Properties"]["Handler"] for f in functions.values() if "functions." in f["Properties"]["Handler"]
    )
    assert handlers == [
        "functions.gt_post.handler.handler",
        "functions.gt_pre.handler.handler",
        "functions.handoff.handler.handler",
        "functions.label_import.handler.handler",
        "functions.review_api.handler.handler",
    ]


def test_review_api_uses_the_cognito_authorizer_for_every_api_route(synthesized: dict[str, Any]) -> None:
    resources = synthesized["resources"]
    authorizers = of_type(resources, "AWS::ApiGateway::Authorizer")
    assert [a["Properties"]["Type"] for a in authorizers.values()] == ["COGNITO_USER_POOLS"]
    api_resources = of_type(resources, "AWS::ApiGateway::Resource")
    proxy = next(k for k, r in api_resources.items() if r["Properties"]["PathPart"] == "{proxy+}")
    methods = of_type(resources, "AWS::ApiGateway::Method")
    proxy_methods = [m for m in methods.values() if m["Properties"]["ResourceId"] == {"Ref": proxy}]
    assert proxy_methods and all(
        m["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS" for m in proxy_methods
    )
    public = [m for m in methods.values() if m["Properties"]["AuthorizationType"] == "NONE"]
    assert all(m["Properties"]["HttpMethod"] == "GET" for m in public) and len(public) == 9


def test_user_pool_is_closed_with_mfa(synthesized: dict[str, Any]) -> None:
    pools = of_type(synthesized["resources"], "AWS::Cognito::UserPool")
    (pool,) = pools.values()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["MfaConfiguration"] == "ON"
