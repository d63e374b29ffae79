"""Upload → S3 notification → SQS (with DLQ) → detect container Lambda, and its alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from functions.core.detection.settings import DetectorSettings, PipelineSettings
from infra.artifacts import DETECT_IMAGE, EVALUATE_IMAGE
from infra.constructs.detection import IMAGE_MODELS_DIR, MODELS_BUILD_CONTEXT
from tests.infra.conftest import STAGE, Synthesized

DOCKERFILE = str(DETECT_IMAGE.dockerfile)


def _function(synthesized: Synthesized) -> dict[str, Any]:
    props: dict[str, Any] = synthesized.resources[
        synthesized.logical_id(synthesized.stack.detection.function)
    ]["Properties"]
    return props


def test_raw_bucket_object_created_events_go_to_the_detect_queue(synthesized: Synthesized) -> None:
    # GIVEN the raw bucket and the detect queue
    raw_id = synthesized.logical_id(synthesized.stack.raw_bucket)
    queue_id = synthesized.logical_id(synthesized.stack.ingest.queue)
    # THEN CDK's notification resource sends every ObjectCreated event of the raw bucket to the queue
    synthesized.template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": raw_id},
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {"Events": ["s3:ObjectCreated:*"], "QueueArn": {"Fn::GetAtt": [queue_id, "Arn"]}}
                ]
            },
        },
    )
    # AND the queue policy lets S3 (and only S3, from this bucket) send messages
    synthesized.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sqs:SendMessage"]),
                                "Effect": "Allow",
                                "Principal": {"Service": "s3.amazonaws.com"},
                                "Condition": {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [raw_id, "Arn"]}}},
                            }
                        )
                    ]
                )
            },
            "Queues": [{"Ref": queue_id}],
        },
    )


def test_detect_queue_has_a_dead_letter_queue_and_outlasts_the_function(synthesized: Synthesized) -> None:
    # GIVEN the stage config and the queues
    config = synthesized.stack.config
    queue = synthesized.resources[synthesized.logical_id(synthesized.stack.ingest.queue)]["Properties"]
    dlq_id = synthesized.logical_id(synthesized.stack.ingest.dlq)
    # THEN failed messages move to the DLQ after the configured receive count
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": config.detect_max_receive_count,
    }
    # AND the visibility timeout is at least six times the function timeout (AWS's advice)
    assert queue["VisibilityTimeout"] >= 6 * config.detect_timeout_seconds
    # AND both queues are encrypted
    for queue_id in (synthesized.logical_id(synthesized.stack.ingest.queue), dlq_id):
        assert synthesized.resources[queue_id]["Properties"]["SqsManagedSseEnabled"] is True


def test_every_queue_refuses_requests_without_tls(synthesized: Synthesized) -> None:
    # GIVEN the queue policies
    denied: set[str] = set()
    for policy in synthesized.of_type("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            ):
                denied.update(queue["Ref"] for queue in policy["Properties"]["Queues"])
    # THEN every queue of the stage (detect queue, its DLQ, the labelling DLQ) denies plain-HTTP requests
    ingest = synthesized.stack.ingest
    assert denied == set(synthesized.of_type("AWS::SQS::Queue"))
    assert {synthesized.logical_id(ingest.queue), synthesized.logical_id(ingest.dlq)} <= denied


def test_detect_is_fed_in_batches_with_partial_batch_failure_reporting(synthesized: Synthesized) -> None:
    # GIVEN the stage config
    config = synthesized.stack.config
    # THEN the SQS event source uses the configured batching and reports failed items only
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.ingest.queue), "Arn"]},
            "BatchSize": config.detect_batch_size,
            "MaximumBatchingWindowInSeconds": config.detect_max_batching_window_seconds,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": config.detect_max_concurrency},
        },
    )


def test_detect_is_a_traced_container_image_function_sized_by_config(synthesized: Synthesized) -> None:
    # GIVEN the detect function and the stage config
    function = _function(synthesized)
    config = synthesized.stack.config
    # THEN it is a container image with X-Ray tracing, sized as configured
    assert function["PackageType"] == "Image"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["MemorySize"] == config.detect_memory_mb
    assert function["Timeout"] == config.detect_timeout_seconds
    # AND it logs to its own log group with the configured retention
    log_group_id = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert synthesized.resources[log_group_id]["Properties"]["RetentionInDays"] == config.log_retention_days


def test_function_environment_satisfies_the_function_settings(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the function's environment, with CloudFormation references replaced by their resource's name
    env = _function(synthesized)["Environment"]["Variables"]
    for key, value in env.items():
        monkeypatch.setenv(key, value if isinstance(value, str) else f"<{next(iter(value.values()))}>")
    # WHEN the handler's settings models read it
    pipeline = PipelineSettings()  # type: ignore[call-arg]
    detector = DetectorSettings()
    config = synthesized.stack.config
    # THEN every resource name is wired to the right resource
    stack = synthesized.stack
    assert pipeline.raw_bucket == f"<{synthesized.logical_id(stack.raw_bucket)}>"
    assert pipeline.crops_bucket == f"<{synthesized.logical_id(stack.crops_bucket)}>"
    assert pipeline.quarantine_bucket == f"<{synthesized.logical_id(stack.quarantine_bucket)}>"
    assert pipeline.artifacts_bucket == f"<{synthesized.logical_id(stack.artifacts_bucket)}>"
    assert pipeline.catalog_table == f"<{synthesized.logical_id(stack.catalog_table)}>"
    assert pipeline.aws_region == "<AWS::Region>"
    # AND the detector settings are the stage's
    assert detector.models_dir == Path(IMAGE_MODELS_DIR)
    assert detector.detector_model == config.detector_model
    assert detector.vehicle_classes == config.vehicle_classes
    assert detector.confidence == config.confidence
    assert detector.fallback_confidence == config.fallback_confidence
    # AND powertools knows the service, the namespace and the log level
    assert env["POWERTOOLS_SERVICE_NAME"] == "skillforge-detect"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == f"skillforge-{STAGE}"
    assert env["POWERTOOLS_LOG_LEVEL"] == config.log_level


def test_detect_image_is_built_from_the_repo_dockerfile_with_model_and_code_version(
    synthesized: Synthesized,
) -> None:
    # GIVEN the assets manifest written by synthesis
    images = synthesized.assets()["dockerImages"]
    # THEN three images are built at deploy time: detect (light runtime), evaluate (torch), training
    sources = {image["source"]["dockerFile"]: image["source"] for image in images.values()}
    assert sorted(sources) == sorted([DOCKERFILE, str(EVALUATE_IMAGE.dockerfile), "training/Dockerfile"])
    source = sources[DOCKERFILE]
    # AND each installs its declared requirement set
    assert source["dockerBuildArgs"]["REQUIREMENTS"] == DETECT_IMAGE.requirements
    assert (
        sources[str(EVALUATE_IMAGE.dockerfile)]["dockerBuildArgs"]["REQUIREMENTS"]
        == "requirements-evaluate.txt"
    )
    assert source["platform"] == "linux/amd64"
    # AND the model folder is a named build context, the code version a build argument
    assert source["dockerBuildContexts"][MODELS_BUILD_CONTEXT].endswith(
        f"/{synthesized.stack.config.detector_model}"
    )
    assert source["dockerBuildArgs"]["CODE_VERSION"]
    assert source["dockerBuildArgs"]["MODELS_DIR"] == IMAGE_MODELS_DIR
    # AND the staged build context holds only what the Dockerfile copies
    staged = synthesized.outdir / source["directory"]
    top_level = sorted(path.name for path in staged.iterdir())
    assert top_level == [
        "constraints.txt",
        "functions",
        "requirements-detect.txt",
        "requirements-evaluate.txt",
        "requirements-lambda-light.txt",
        "requirements-lambda.txt",
    ]
    assert (staged / DOCKERFILE).is_file()
    assert (staged / "functions" / "detect" / "handler.py").is_file()
    assert not list(staged.rglob("__pycache__"))


def test_dlq_depth_and_function_errors_alarm_to_the_encrypted_topic(synthesized: Synthesized) -> None:
    # GIVEN the alarm topic
    topic_id = synthesized.logical_id(synthesized.stack.alarm_topic)
    dlq_name = synthesized.resources[synthesized.logical_id(synthesized.stack.ingest.dlq)]["Properties"]
    # THEN the topic is KMS-encrypted
    assert "KmsMasterKeyId" in synthesized.resources[topic_id]["Properties"]
    alarms = list(synthesized.of_type("AWS::CloudWatch::Alarm").values())
    by_metric = {alarm["Properties"]["MetricName"]: alarm["Properties"] for alarm in alarms}
    # AND one message in the DLQ raises an alarm to the topic
    dlq_alarm = by_metric["ApproximateNumberOfMessagesVisible"]
    assert dlq_alarm["Threshold"] == 1
    assert dlq_alarm["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.ingest.dlq), "QueueName"]},
        }
    ]
    assert dlq_name["QueueName"].endswith("-dlq")
    # AND so does a failed invocation of detect
    errors_alarm = by_metric["Errors"]
    assert errors_alarm["Dimensions"] == [
        {
            "Name": "FunctionName",
            "Value": {"Ref": synthesized.logical_id(synthesized.stack.detection.function)},
        }
    ]
    for alarm in (dlq_alarm, errors_alarm):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_dockerfile_uses_the_build_args_and_context_the_construct_passes(synthesized: Synthesized) -> None:
    # GIVEN the Dockerfile and the build arguments of the synthesized image asset
    dockerfile = (Path(__file__).resolve().parents[2] / DOCKERFILE).read_text(encoding="utf-8")
    images = synthesized.assets()["dockerImages"].values()
    source = next(i["source"] for i in images if i["source"]["dockerFile"] == DOCKERFILE)
    # THEN it declares every build argument it is given
    for arg in source["dockerBuildArgs"]:
        assert f"ARG {arg}=" in dockerfile, arg
    # AND copies the model from the named build context and bakes the code version
    assert f"COPY --from={MODELS_BUILD_CONTEXT} " in dockerfile
    assert "functions/core/base/CODE_VERSION" in dockerfile
    # AND starts the detect handler, which exists
    assert 'CMD ["functions.detect.handler.handler"]' in dockerfile
    from functions.detect import handler

    assert callable(handler.handler)
