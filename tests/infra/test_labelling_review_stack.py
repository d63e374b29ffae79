"""Crowd labelling and expert review composed into the stage: wiring, authentication, least privilege."""

from __future__ import annotations

import json
from typing import Any

from functions.core.labelling.label_import import JOB_STATE_CHANGE
from infra.config import CONTEXT_KEY, cdk_json_context
from tests.infra.conftest import STAGE, Synthesized

XRAY = {json.dumps("*"): {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}}


def _stage_context() -> dict[str, Any]:
    stage: dict[str, Any] = cdk_json_context()[CONTEXT_KEY]["stages"][STAGE]
    return stage


def _props(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    props: dict[str, Any] = synthesized.resources[synthesized.logical_id(construct)]["Properties"]
    return props


def _labeling_jobs_arn() -> str:
    arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":labeling-job/skillforge-{STAGE}-*",
            ],
        ]
    }
    return json.dumps(arn, sort_keys=True)


def test_every_review_api_method_but_the_static_page_requires_the_cognito_authorizer(
    synthesized: Synthesized,
) -> None:
    # GIVEN the stage's user pool, its one authorizer and the review API's methods
    review = synthesized.stack.review
    (pool_id,) = synthesized.of_type("AWS::Cognito::UserPool")
    assert pool_id == synthesized.logical_id(review.user_pool)
    (authorizer_id, authorizer), *others = synthesized.of_type("AWS::ApiGateway::Authorizer").items()
    assert others == []
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["ProviderARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
    methods = list(synthesized.of_type("AWS::ApiGateway::Method").values())
    # WHEN they are split into authorized and open ones
    authorized = [m for m in methods if m["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS"]
    open_methods = [m for m in methods if m["Properties"]["AuthorizationType"] == "NONE"]
    # THEN every method is one or the other, authorized ones use the stage's authorizer,
    assert len(authorized) + len(open_methods) == len(methods)
    assert authorized and all(m["Properties"]["AuthorizerId"] == {"Ref": authorizer_id} for m in authorized)
    # AND the open ones are the GETs of the page shells (review page and dashboard, no data)
    assert len(open_methods) == 9 and all(m["Properties"]["HttpMethod"] == "GET" for m in open_methods)
    api_root = {"Fn::GetAtt": [synthesized.logical_id(review.api), "RootResourceId"]}
    resources = synthesized.of_type("AWS::ApiGateway::Resource")
    assert {
        resources[m["Properties"]["ResourceId"]["Ref"]]["Properties"]["PathPart"]
        if "Ref" in m["Properties"]["ResourceId"]
        else "/"
        for m in open_methods
    } == {
        "/",
        "index.html",
        "session.js",
        "review.js",
        "review.css",
        "config.json",
        "dashboard.html",
        "dashboard.js",
        "dashboard.css",
    }
    assert any(m["Properties"]["ResourceId"] == api_root for m in open_methods)


def test_finished_labelling_jobs_reach_the_import_with_retries_and_a_dead_letter_queue(
    synthesized: Synthesized,
) -> None:
    # GIVEN the labelling construct of the stage
    labelling = synthesized.stack.labelling
    # WHEN the job-state rule is read
    rule = _props(synthesized, labelling.job_state_rule)
    # THEN it matches Ground Truth's state-change events in a final state
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": [JOB_STATE_CHANGE],
        "detail": {"LabelingJobStatus": ["Completed", "Failed", "Stopped"]},
    }
    # AND targets the import function, retrying, then parking the event in the labelling DLQ
    (target,) = rule["Targets"]
    dlq_arn = {"Fn::GetAtt": [synthesized.logical_id(labelling.dead_letter_queue), "Arn"]}
    assert target["Arn"] == {"Fn::GetAtt": [synthesized.logical_id(labelling.import_function), "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4


def test_handoff_runs_on_the_configured_schedule_with_a_dead_letter_queue(synthesized: Synthesized) -> None:
    # GIVEN the configured hand-off interval
    every = _stage_context()["labellingHandoffEveryMinutes"]
    labelling = synthesized.stack.labelling
    # WHEN the schedule rule is read
    rule = _props(synthesized, labelling.schedule)
    # THEN it invokes the hand-off every interval, failed deliveries kept in the DLQ
    assert rule["ScheduleExpression"] == f"rate({every} minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synthesized.logical_id(labelling.handoff_function), "Arn"]}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [synthesized.logical_id(labelling.dead_letter_queue), "Arn"]}
    }


def test_labelling_config_of_cdk_json_reaches_the_handoff_environment(synthesized: Synthesized) -> None:
    # GIVEN the stage's labelling keys in cdk.json
    stage = _stage_context()
    # WHEN the hand-off function's environment is read
    env = _props(synthesized, synthesized.stack.labelling.handoff_function)["Environment"]["Variables"]
    # THEN the workforce, price inputs and batching are the configured ones
    assert env["SKILLFORGE_LABELLING_WORKFORCE"] == stage["labellingWorkforce"]
    assert float(env["SKILLFORGE_LABELLING_SECONDS_PER_TASK"]) == stage["labellingSecondsPerTask"]
    assert float(env["SKILLFORGE_LABELLING_HOURLY_RATE_USD"]) == stage["labellingHourlyRateUsd"]
    assert int(env["SKILLFORGE_LABELLING_WORKERS_PER_CROP"]) == stage["labellingWorkersPerCrop"]
    assert int(env["SKILLFORGE_LABELLING_BATCH_SIZE"]) == stage["labellingBatchSize"]
    assert float(env["SKILLFORGE_LABELLING_MAX_AGE_MINUTES"]) == stage["labellingMaxAgeMinutes"]
    assert int(env["SKILLFORGE_LABELLING_JOBS_PER_RUN"]) == stage["labellingJobsPerRun"]
    assert env["SKILLFORGE_LABELLING_JOB_PREFIX"] == f"skillforge-{STAGE}"
    assert env["SKILLFORGE_CODE_VERSION"] == synthesized.stack.code_version


def test_zip_functions_share_the_code_asset_and_the_dependencies_layer(synthesized: Synthesized) -> None:
    # GIVEN the stage's zip functions and its dependencies layer
    stack = synthesized.stack
    functions = [*stack.labelling.functions(), stack.review.function]
    layer_ref = {"Ref": synthesized.logical_id(stack.zip_dependencies.layer)}
    layer = _props(synthesized, stack.zip_dependencies.layer)
    # THEN every function runs Python 3.11 on arm64 with that layer and one shared code asset
    props = [_props(synthesized, f) for f in functions]
    assert {p["Runtime"] for p in props} == {"python3.11"}
    assert all(p["Architectures"] == ["arm64"] and p["Layers"] == [layer_ref] for p in props)
    assert len({json.dumps(p["Code"], sort_keys=True) for p in props}) == 1
    assert layer["CompatibleRuntimes"] == ["python3.11"]
    assert layer["CompatibleArchitectures"] == ["arm64"]


def test_labelling_dlq_and_every_labelling_and_review_function_have_alarms(synthesized: Synthesized) -> None:
    # GIVEN the alarms of the stage and the alarm topic
    stack = synthesized.stack
    topic = {"Ref": synthesized.logical_id(stack.alarm_topic)}
    alarms = list(synthesized.of_type("AWS::CloudWatch::Alarm").values())

    def watching(metric: str, dimension: str, construct: Any) -> list[dict[str, Any]]:
        ref: dict[str, Any] = {"Ref": synthesized.logical_id(construct)}
        if dimension == "QueueName":
            ref = {"Fn::GetAtt": [synthesized.logical_id(construct), "QueueName"]}
        return [
            a["Properties"]
            for a in alarms
            if a["Properties"]["MetricName"] == metric
            and {"Name": dimension, "Value": ref} in a["Properties"]["Dimensions"]
        ]

    # THEN one alarm watches the labelling DLQ and one the errors of each function, all to the topic
    watched = watching("ApproximateNumberOfMessagesVisible", "QueueName", stack.labelling.dead_letter_queue)
    for function in [*stack.labelling.functions(), stack.review.function]:
        watched += watching("Errors", "FunctionName", function)
    assert len(watched) == 1 + len(stack.labelling.functions()) + 1
    assert all(topic in alarm["AlarmActions"] and topic in alarm["OKActions"] for alarm in watched)


def test_crops_answer_cross_origin_gets_for_ground_truth_workers(synthesized: Synthesized) -> None:
    # GIVEN the crops bucket (private: presigned URLs only)
    props = _props(synthesized, synthesized.stack.crops_bucket)
    # THEN it answers cross-origin GETs only (the worker UI loads crops from the browser)
    (rule,) = props["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["GET"]
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_each_labelling_function_and_the_ground_truth_role_get_only_what_they_use(
    synthesized: Synthesized,
) -> None:
    # GIVEN the stage's resources as they appear in policies
    stack, s = synthesized.stack, synthesized
    labelling = stack.labelling
    table, index = s.arn(stack.catalog_table), s.arn(stack.catalog_table, "/index/by_status")
    artifacts = s.arn(stack.artifacts_bucket)
    jobs, templates = (
        s.arn(stack.artifacts_bucket, "/labelling/jobs/*"),
        s.arn(stack.artifacts_bucket, "/labelling/templates/*"),
    )
    output = s.arn(stack.artifacts_bucket, "/labelling/output/*")
    dlq = s.arn(labelling.dead_letter_queue)
    to_dlq = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    # THEN pre-annotation touches no data; post-annotation reads the consolidation requests only
    assert s.granted(labelling.pre_function.role) == XRAY
    assert s.granted(labelling.post_function.role) == {**XRAY, output: {"s3:GetObject"}}
    # AND the hand-off reads new crops, writes manifests/templates, creates this stage's jobs
    assert s.granted(labelling.handoff_function.role) == {
        **XRAY,
        table: {"dynamodb:GetItem", "dynamodb:PutItem"},
        index: {"dynamodb:Query"},
        jobs: {"s3:PutObject"},
        templates: {"s3:GetObject", "s3:PutObject"},
        artifacts: {"s3:ListBucket"},
        _labeling_jobs_arn(): {"sagemaker:CreateLabelingJob", "sagemaker:AddTags"},
        s.arn(labelling.ground_truth_role): {"iam:PassRole"},
        dlq: to_dlq,
    }
    # AND the import reads job outputs and updates the catalog
    assert s.granted(labelling.import_function.role) == {
        **XRAY,
        table: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        index: {"dynamodb:Query"},
        output: {"s3:GetObject"},
        _labeling_jobs_arn(): {"sagemaker:DescribeLabelingJob"},
        dlq: to_dlq,
    }
    # AND Ground Truth's role reads crops and job inputs and writes only the output prefix
    gt = s.granted(labelling.ground_truth_role)
    assert gt[s.arn(stack.crops_bucket, "/*")] == {"s3:GetObject"}
    assert gt[jobs] == gt[templates] == {"s3:GetObject"}
    assert gt[output] == {"s3:GetObject", "s3:PutObject"}
    assert gt[artifacts] == gt[s.arn(stack.crops_bucket)] == {"s3:ListBucket", "s3:GetBucketLocation"}
    assert not any("s3:PutObject" in actions for key, actions in gt.items() if key != output)


def test_review_function_reads_crops_and_decides_on_the_catalog_only(synthesized: Synthesized) -> None:
    # GIVEN the review function's role
    stack, s = synthesized.stack, synthesized
    # THEN it reads crop images and reads/writes catalog items (transactions are Put/Update); for the
    # dashboard it lists the registry (Scan), reads deployed versions and the gate reports, and for its
    # Make skill button reads the launch templates and starts/reads make-skill executions; nothing else
    granted = s.granted(stack.review.function.role)
    reports = s.arn(stack.artifacts_bucket, "/skills/*/evaluation/report.pdf")
    parameters = next(key for key in granted if ":parameter/skillforge/*" in key)
    executions = next(key for key in granted if ":execution:skillforge-dev-make-skill:*" in key)
    make_skill = json.dumps({"Ref": s.logical_id(stack.training.state_machine)})
    assert granted == {
        **XRAY,
        s.arn(stack.catalog_table): {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Scan",
        },
        s.arn(stack.catalog_table, "/index/by_status"): {"dynamodb:Query"},
        s.arn(stack.crops_bucket, "/*"): {"s3:GetObject"},
        reports: {"s3:GetObject"},
        parameters: {"ssm:GetParametersByPath"},
        s.arn(stack.artifacts_bucket, "/launch/*"): {"s3:GetObject"},
        s.arn(stack.artifacts_bucket): {"s3:ListBucket"},
        make_skill: {"states:StartExecution"},
        executions: {"states:DescribeExecution", "states:GetExecutionHistory"},
    }


def test_no_labelling_or_review_role_can_touch_raw_uploads_or_quarantine(synthesized: Synthesized) -> None:
    # GIVEN the roles of the labelling and review capabilities
    stack, s = synthesized.stack, synthesized
    roles = [f.role for f in [*stack.labelling.functions(), stack.review.function]]
    roles.append(stack.labelling.ground_truth_role)
    forbidden = {s.logical_id(stack.raw_bucket), s.logical_id(stack.quarantine_bucket)}
    # THEN none of their resources names the raw or the quarantine bucket
    for role in roles:
        for resource in s.granted(role):
            assert not any(bucket in resource for bucket in forbidden), (role.node.path, resource)


def test_labelling_and_review_acknowledgments_are_in_the_report_with_reasons(
    synthesized: Synthesized,
) -> None:
    # GIVEN the acknowledged findings of the synthesis, by construct path
    suppressed = [
        (construct["constructPath"], violation["reason"])
        for plugin in synthesized.validation_report()["pluginReports"]
        for violation in plugin["suppressedViolations"]
        for construct in violation["violatingConstructs"]
    ]
    # THEN findings of both capabilities are listed (not silently dropped), each with its reason
    for capability in ("Labelling", "Review"):
        reasons = [reason for path, reason in suppressed if f"/{capability}/" in path]
        assert reasons and all(len(reason.split()) >= 6 for reason in reasons), capability


def test_the_review_page_url_and_user_pool_are_stack_outputs(synthesized: Synthesized) -> None:
    # GIVEN the stage's outputs
    outputs = synthesized.template.to_json()["Outputs"]
    # THEN the operator finds the page and the pool to create expert users in
    assert outputs["ReviewUserPoolId"]["Value"] == {
        "Ref": synthesized.logical_id(synthesized.stack.review.user_pool)
    }
    assert "ReviewPageUrl" in outputs


def test_review_function_allows_writes_only_from_the_api_s_own_origin(synthesized: Synthesized) -> None:
    # GIVEN the review function's environment
    env = _props(synthesized, synthesized.stack.review.function)["Environment"]["Variables"]
    # THEN the allowed origin is the API's execute-api host (no path), the page's own origin
    origin = json.dumps(env["SKILLFORGE_REVIEW_ALLOWED_ORIGIN"])
    assert origin.startswith('{"Fn::Join"') and '"https://"' in origin and ".execute-api." in origin
    assert "/prod" not in origin and '"*"' not in origin
