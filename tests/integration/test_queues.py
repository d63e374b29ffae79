from __future__ import annotations

import json
from typing import Any

from functions.core.audit.queues import peek_keys, redrive


def _s3_body(key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "raw"}, "object": {"key": key}}}
            ]
        }
    )


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_peek_reads_dead_letters_without_consuming_them(moto_aws: dict[str, Any]) -> None:
    # GIVEN two dead letters, one of them garbage
    sqs, dlq = moto_aws["sqs"], moto_aws["queues"]["detect_dlq_url"]
    sqs.send_message(QueueUrl=dlq, MessageBody=_s3_body("a b.jpg"))
    sqs.send_message(QueueUrl=dlq, MessageBody="garbage")
    # WHEN peeked
    keys = peek_keys(sqs, dlq)
    # THEN both are named and both are still there
    assert keys[0] == "a b.jpg" and keys[1].startswith("<unparseable:")
    assert _count(sqs, dlq) == 2


def test_redrive_moves_every_dead_letter_back(moto_aws: dict[str, Any]) -> None:
    # GIVEN 12 dead letters
    sqs, dlq, queue = (
        moto_aws["sqs"],
        moto_aws["queues"]["detect_dlq_url"],
        moto_aws["queues"]["detect_queue_url"],
    )
    sqs.purge_queue(QueueUrl=queue)  # drop the S3 test event
    for i in range(12):
        sqs.send_message(QueueUrl=dlq, MessageBody=_s3_body(f"k{i}.jpg"))
    # WHEN redriven
    moved = redrive(sqs, dlq, queue)
    # THEN all are in the source queue and none in the DLQ
    assert moved == 12
    assert _count(sqs, dlq) == 0
    assert sorted(peek_keys(sqs, queue)) == sorted(f"k{i}.jpg" for i in range(12))


def test_cloud_redrive_starts_an_sqs_message_move_task() -> None:
    import boto3
    from botocore.stub import Stubber

    from functions.core.audit.queues import start_redrive_task

    # GIVEN an SQS client (moto has no StartMessageMoveTask: botocore's Stubber checks the exact calls)
    sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    dlq_arn, queue_arn = "arn:aws:sqs:eu-west-1:1:detect-dlq", "arn:aws:sqs:eu-west-1:1:detect"
    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": dlq_arn, "ApproximateNumberOfMessages": "7"}},
            {"QueueUrl": "https://dlq", "AttributeNames": ["QueueArn", "ApproximateNumberOfMessages"]},
        )
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": queue_arn}},
            {"QueueUrl": "https://queue", "AttributeNames": ["QueueArn"]},
        )
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": dlq_arn, "DestinationArn": queue_arn},
        )
        # WHEN the cloud redrive starts
        started = start_redrive_task(sqs, "https://dlq", "https://queue")
        # THEN SQS is asked to move the DLQ into the detect queue, and the waiting count is reported
        stub.assert_no_pending_responses()
    assert started == {"task_handle": "task-1", "messages": 7}
