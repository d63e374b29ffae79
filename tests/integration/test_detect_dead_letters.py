"""Detect's dead letters carry their reason: a message it gives up on lands in the DLQ with the error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest

from functions.core.audit.queues import NO_REASON, peek
from functions.core.base.resources import ResourceNames
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.detection.wiring import build_detect_deps
from functions.detect import handler as detect_handler
from scripts.local import corpus as images
from scripts.local.delivery import drain_queue
from scripts.local.provision import DETECT_MAX_RECEIVE_COUNT
from tests.support.fakes import FakeDetector


@pytest.fixture
def detect(moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The detect handler on moto, configured as the stack configures it (DLQ URL, max receive count)."""
    names: ResourceNames = moto_aws["names"]
    env = {
        "SKILLFORGE_RAW_BUCKET": names.raw_bucket,
        "SKILLFORGE_CROPS_BUCKET": names.crops_bucket,
        "SKILLFORGE_QUARANTINE_BUCKET": names.quarantine_bucket,
        "SKILLFORGE_CATALOG_TABLE": names.catalog_table,
        "SKILLFORGE_DETECT_DLQ_URL": moto_aws["queues"]["detect_dlq_url"],
        "SKILLFORGE_DETECT_MAX_RECEIVE_COUNT": str(DETECT_MAX_RECEIVE_COUNT),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    detector = FakeDetector()
    deps = build_detect_deps(PipelineSettings(), DetectorSettings(min_box_side=4), detector=detector)  # type: ignore[call-arg]
    monkeypatch.setattr(detect_handler, "deps", lambda: deps)
    detect_handler.dead_letters.cache_clear()
    yield {**moto_aws, "detector": detector}
    detect_handler.dead_letters.cache_clear()


def _drain(aws: dict[str, Any], rounds: int = DETECT_MAX_RECEIVE_COUNT + 1) -> None:
    """The event source mapping: deliver, let failures become visible again, deliver again."""
    for _ in range(rounds):
        drain_queue(aws["sqs"], aws["queues"]["detect_queue_url"], detect_handler.handler, max_empty_polls=1)


def _dead_letters(aws: dict[str, Any]) -> list[dict[str, Any]]:
    response = aws["sqs"].receive_message(
        QueueUrl=aws["queues"]["detect_dlq_url"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,  # looked at, left in the queue
    )
    return list(response.get("Messages", []))


def _reason(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}


def _nothing_written(aws: dict[str, Any]) -> None:
    names: ResourceNames = aws["names"]
    for bucket in (names.crops_bucket, names.quarantine_bucket):
        assert aws["s3"].list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0, bucket
    assert aws["table"].scan()["Items"] == []


def _queue_empty(aws: dict[str, Any]) -> bool:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queues"]["detect_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(value == "0" for value in attributes.values())


def test_a_malformed_s3_event_goes_to_the_dlq_at_once_with_the_reason(detect: dict[str, Any]) -> None:
    # GIVEN a message on the detect queue whose S3 record has no object key
    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "raw"}}}]})
    detect["sqs"].send_message(QueueUrl=detect["queues"]["detect_queue_url"], MessageBody=body)

    # WHEN the event source mapping delivers it once
    _drain(detect, rounds=1)

    # THEN it is in the DLQ unchanged, with the error that names the problem, and gone from the queue
    [letter] = _dead_letters(detect)
    assert letter["Body"] == body
    reason = _reason(letter)
    assert reason["error_type"] == "EventParseError"
    assert "malformed S3 record" in reason["error_message"] and "Field required" in reason["error_message"]
    assert reason["receive_count"] == "1" and reason["source_queue"].endswith(detect["names"].detect_queue)
    assert _queue_empty(detect)
    # AND nothing was written: no crop, no quarantine copy, no catalog record
    _nothing_written(detect)
    assert detect["detector"].calls == []


def test_an_upload_that_keeps_failing_reaches_the_dlq_on_its_last_receive_with_the_reason(
    detect: dict[str, Any],
) -> None:
    # GIVEN an upload whose detection raises every time
    detect["detector"].fail_on_width = 321
    detect["s3"].put_object(
        Bucket=detect["names"].raw_bucket, Key="hint/advert/photo.jpg", Body=images.jpeg(321, 200)
    )

    # WHEN the event source mapping delivers it until it is given up on
    _drain(detect)

    # THEN it was tried max-receive-count times, then put into the DLQ with the error, once
    letters = [m for m in _dead_letters(detect) if "s3:TestEvent" not in m["Body"]]
    assert len(letters) == 1
    key = json.loads(letters[0]["Body"])["Records"][0]["s3"]["object"]["key"]
    assert unquote_plus(key) == "hint/advert/photo.jpg"
    reason = _reason(letters[0])
    assert reason["error_type"] == "RuntimeError"
    assert reason["error_message"] == "detector crashed (injected)"
    assert reason["receive_count"] == str(DETECT_MAX_RECEIVE_COUNT)
    assert len(detect["detector"].calls) == DETECT_MAX_RECEIVE_COUNT
    assert _queue_empty(detect)
    # AND the audit's look into the DLQ shows the upload with its reason
    assert peek(detect["sqs"], detect["queues"]["detect_dlq_url"]) == [
        ("hint/advert/photo.jpg", "RuntimeError: detector crashed (injected)")
    ]


def test_without_a_dlq_url_failures_are_left_to_the_redrive_policy(
    detect: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the detect function with no DLQ URL configured
    monkeypatch.delenv("SKILLFORGE_DETECT_DLQ_URL")
    detect_handler.dead_letters.cache_clear()
    detect["sqs"].send_message(QueueUrl=detect["queues"]["detect_queue_url"], MessageBody="not json")

    # WHEN it is delivered until the queue gives up on it
    _drain(detect)

    # THEN the queue's redrive policy moved it to the DLQ as it was: without a reason
    [letter] = _dead_letters(detect)
    assert letter["Body"] == "not json"
    assert _reason(letter) == {}
    assert [reason for _, reason in peek(detect["sqs"], detect["queues"]["detect_dlq_url"])] == [NO_REASON]
