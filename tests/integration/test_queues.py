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
