"""Delivers queued S3 events to the same Lambda handler code, in-process (what the Lambda service does)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class FakeLambdaContext:
    function_name: str = "skillforge-local"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:skillforge-local"
    aws_request_id: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for message in messages
        ]
    }


@dataclass
class DeliveryStats:
    batches: int = 0
    messages: int = 0
    failures: int = 0


def drain_queue(
    sqs: Any,
    queue_url: str,
    handler: Handler,
    batch_size: int = 10,
    on_batch: Callable[[int], None] | None = None,
    max_empty_polls: int = 2,
    deadline: float | None = None,
) -> DeliveryStats:
    """Poll the queue like the SQS event source mapping: batches in, failed items left for retry.

    Successful and reported-failed items are handled as Lambda does with ReportBatchItemFailures:
    successes are deleted, failures become visible again (and reach the DLQ after maxReceiveCount).
    """
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stats = DeliveryStats()
    empty = 0
    while empty < max_empty_polls and (deadline is None or time.perf_counter() < deadline):
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=0, AttributeNames=["All"]
        )
        messages = response.get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        try:
            result = handler(_sqs_event(messages, arn), FakeLambdaContext())
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        except Exception:  # the whole invocation failed: Lambda retries every message
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        stats.batches += 1
        stats.messages += len(messages)
        stats.failures += len(failed)
        if on_batch:
            on_batch(len(done))
    return stats
