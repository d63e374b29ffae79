"""Dead letters with their reason: when a failed SQS record goes to the DLQ, and what if the DLQ is down."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.core.base.dead_letters import DeadLetteringBatchProcessor, DeadLetters


class PermanentError(ValueError):
    """An error no retry can fix."""


class RecordingSqs:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send_message(self, **request: Any) -> dict[str, str]:
        if self.fail:
            raise ConnectionError("sqs unreachable")
        self.sent.append(request)
        return {"MessageId": "m"}


def _event(receive_count: int) -> dict[str, Any]:
    record = {
        "messageId": "id-1",
        "receiptHandle": "h",
        "body": '{"not": "an s3 event"}',
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:detect",
        "awsRegion": "us-east-1",
    }
    return {"Records": [record]}


def _run(sqs: RecordingSqs, error: Exception, receive_count: int) -> list[str]:
    """The ids of the records reported failed (retried by SQS); a batch whose every record failed
    raises in powertools, which fails (and retries) the whole batch."""
    letters = DeadLetters(sqs=sqs, queue_url="https://dlq", max_receive_count=3, permanent=(PermanentError,))
    processor = DeadLetteringBatchProcessor(lambda: letters)

    def fail(record: Any) -> None:
        raise error

    event = _event(receive_count)
    try:
        response = process_partial_response(
            event=event, record_handler=fail, processor=processor, context=None
        )
    except BatchProcessingError:
        return [record["messageId"] for record in event["Records"]]
    return [str(item["itemIdentifier"]) for item in response["batchItemFailures"]]


def test_a_permanent_error_goes_to_the_dlq_on_the_first_receive_with_its_reason() -> None:
    # GIVEN a record whose handling raises a permanent error, on its first receive
    sqs = RecordingSqs()
    # WHEN the batch is processed
    failed = _run(sqs, PermanentError("not an S3 event: no 'Records' list"), receive_count=1)
    # THEN the record is reported handled, and the DLQ got its body with the reason
    assert failed == []
    [sent] = sqs.sent
    assert sent["QueueUrl"] == "https://dlq" and sent["MessageBody"] == '{"not": "an s3 event"}'
    attributes = {k: v["StringValue"] for k, v in sent["MessageAttributes"].items()}
    assert attributes == {
        "error_type": "PermanentError",
        "error_message": "not an S3 event: no 'Records' list",
        "source_message_id": "id-1",
        "receive_count": "1",
        "source_queue": "arn:aws:sqs:us-east-1:123456789012:detect",
    }


@pytest.mark.parametrize(("receive_count", "dead_lettered"), [(1, False), (2, False), (3, True)])
def test_another_error_is_retried_until_the_last_receive(receive_count: int, dead_lettered: bool) -> None:
    # GIVEN a record whose handling raises a transient error, on its Nth receive of 3
    sqs = RecordingSqs()
    # WHEN the batch is processed
    failed = _run(sqs, RuntimeError("throttled"), receive_count)
    # THEN before the last receive it is reported failed (SQS retries it); on the last it is dead-lettered
    assert failed == ([] if dead_lettered else ["id-1"])
    assert len(sqs.sent) == (1 if dead_lettered else 0)


def test_when_the_dlq_cannot_be_reached_the_record_stays_in_its_queue() -> None:
    # GIVEN a permanent error, and a DLQ that cannot be reached
    sqs = RecordingSqs(fail=True)
    # WHEN the batch is processed
    failed = _run(sqs, PermanentError("malformed"), receive_count=1)
    # THEN the record is reported failed: SQS keeps it, nothing is lost
    assert failed == ["id-1"] and sqs.sent == []
