"""Bad input to any function: a malformed event gives an error that names the problem, and nothing is
written. (The queue-fed detect function does not raise: it sends the message to its DLQ with the
reason, tests/integration/test_detect_dead_letters.py.)"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.core.base.resources import ResourceNames
from scripts.local.delivery import FakeLambdaContext
from tests.conftest import REPO

# A malformed event per function, and what the error must say about it.
MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "drift": ({"days": "many"}, "days"),
    "evaluate": ({"model_artifacts": "s3://b/skills/x/model.tar.gz"}, "skill"),
    "extract": ({"skill": "colour", "dataset": {"min_images_per_class": -1}}, "min_images_per_class"),
    "gt_post": ({"payload": {"s3Uri": "s3://b/p.json"}}, "labelAttributeName"),
    "gt_pre": ({"dataObject": {"source-ref": "s3://elsewhere/x.jpg"}}, "source-ref"),
    "handoff": ({"force": "sometimes"}, "force"),
    "label_import": (
        {"detail-type": "SageMaker Ground Truth Labeling Job State Change", "resources": [], "detail": {}},
        "labeling-job",
    ),
    "notify": ({"kind": "gate"}, "evaluation"),
    "promote": ({"skill": "colour", "skill_version": 0}, "skill_version"),
    "register": ({"model_artifacts": ["s3://b/k"]}, "model_artifacts"),
    "reprocess": ({"Items": "crops/", "BatchInput": {"skill": "colour"}}, "Items"),
    "review_api": ({"resource": "/api/crops", "path": "/api/crops"}, "httpMethod"),
}
QUEUE_FED = {"detect"}
UNCLEAR = (KeyError, AttributeError, TypeError, IndexError)


def test_every_function_has_a_malformed_event_case() -> None:
    # GIVEN the function folders
    handlers = {p.parent.name for p in (REPO / "functions").glob("*/handler.py")}
    # THEN each one is checked here (or, fed by a queue, by its dead-letter test)
    assert set(MALFORMED) | QUEUE_FED == handlers


@pytest.fixture
def aws(moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the stack's resources, and the environment every function reads its names from."""
    names: ResourceNames = moto_aws["names"]
    for name, value in {
        "SKILLFORGE_STAGE": names.stage,
        "SKILLFORGE_RAW_BUCKET": names.raw_bucket,
        "SKILLFORGE_CROPS_BUCKET": names.crops_bucket,
        "SKILLFORGE_QUARANTINE_BUCKET": names.quarantine_bucket,
        "SKILLFORGE_ARTIFACTS_BUCKET": names.artifacts_bucket,
        "SKILLFORGE_CATALOG_TABLE": names.catalog_table,
        "SKILLFORGE_LABELLING_ROLE_ARN": "arn:aws:iam::123456789012:role/labelling",
    }.items():
        monkeypatch.setenv(name, value)
    yield moto_aws


def _written(aws: dict[str, Any]) -> dict[str, Any]:
    """Everything a function could have written: objects, catalog items, parameters, queued messages."""
    names: ResourceNames = aws["names"]
    s3, sqs = aws["s3"], aws["sqs"]
    objects = {
        bucket: [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        for bucket in names.buckets()
    }
    queued = {
        url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        for url in aws["queues"].values()
    }
    parameters = boto3.client("ssm", region_name="us-east-1").describe_parameters()["Parameters"]
    return {"objects": objects, "items": aws["table"].scan()["Items"], "queued": queued, "ssm": parameters}


@pytest.mark.parametrize("function", sorted(MALFORMED))
def test_a_malformed_event_gives_an_error_naming_the_problem_and_writes_nothing(
    aws: dict[str, Any], function: str
) -> None:
    # GIVEN a function and an event that is not what it takes
    event, named = MALFORMED[function]
    module = importlib.import_module(f"functions.{function}.handler")
    for name in ("deps", "api", "settings"):
        cached = getattr(module, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()  # type: ignore[union-attr]
    before = _written(aws)

    # WHEN it is invoked
    with pytest.raises(Exception) as raised:
        module.handler(json.loads(json.dumps(event)), FakeLambdaContext(function_name=function))

    # THEN the error is a validation or domain error whose message names the problem
    error = raised.value
    assert not isinstance(error, UNCLEAR), f"{function}: {type(error).__name__}: {error}"
    assert named in str(error), f"{function}: {type(error).__name__}: {error}"
    # AND nothing was written
    assert _written(aws) == before
