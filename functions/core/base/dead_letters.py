"""Dead letters with their reason, for queue-fed functions.

An SQS event source has no on-failure destination (Lambda destinations cover asynchronous invokes and
streams), and a queue's redrive policy moves a message to its DLQ as it is, without the error. So a
queue-fed function puts a message it gives up on into the DLQ itself, the body unchanged and the reason
in message attributes, and reports it handled; the source queue then deletes it:

* at once for a permanent error (a message that can never succeed, e.g. not an S3 event);
* on its last receive (`ApproximateReceiveCount` ≥ the queue's maxReceiveCount) for any other error,
  which is retried until then.

The send comes first: if it fails, the message is reported failed and stays in the source queue, so
nothing is lost. The redrive policy stays as the backstop for what a handler cannot report (a timeout,
running out of memory); those messages arrive without a reason. `skillforge redrive` sends dead
letters back to the source queue with their body unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from pydantic import BaseModel, Field

logger = Logger(child=True)

REASON = "error_message"
ERROR_TYPE = "error_type"
SOURCE_MESSAGE_ID = "source_message_id"
RECEIVE_COUNT = "receive_count"
SOURCE_QUEUE = "source_queue"
MAX_REASON_CHARS = 1000


class DeadLetterReason(BaseModel):
    """Why a message was given up on: what the DLQ message carries in its attributes."""

    error_type: str = Field(min_length=1)
    error_message: str = Field(min_length=1, max_length=MAX_REASON_CHARS)
    source_message_id: str
    receive_count: int = Field(ge=1)
    source_queue: str

    @classmethod
    def of(cls, record: dict[str, Any], error: BaseException) -> DeadLetterReason:
        message = str(error).strip() or type(error).__name__
        return cls(
            error_type=type(error).__name__,
            error_message=message[:MAX_REASON_CHARS],
            source_message_id=str(record.get("messageId", "")),
            receive_count=receive_count(record),
            source_queue=str(record.get("eventSourceARN", "")),
        )

    def attributes(self) -> dict[str, dict[str, str]]:
        return {
            name: {"DataType": "Number" if isinstance(value, int) else "String", "StringValue": str(value)}
            for name, value in self.model_dump().items()
            if value != ""
        }


def receive_count(record: dict[str, Any]) -> int:
    return int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)


@dataclass(frozen=True)
class DeadLetters:
    """The DLQ of one source queue, and when a failed message goes there."""

    sqs: Any
    queue_url: str
    max_receive_count: int
    permanent: tuple[type[BaseException], ...] = ()

    def gives_up(self, record: dict[str, Any], error: BaseException) -> bool:
        return isinstance(error, self.permanent) or receive_count(record) >= self.max_receive_count

    def send(self, record: dict[str, Any], error: BaseException) -> DeadLetterReason:
        reason = DeadLetterReason.of(record, error)
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=record["body"], MessageAttributes=reason.attributes()
        )
        return reason


class DeadLetteringBatchProcessor(BatchProcessor):
    """powertools' SQS batch processor whose failed records go to the DLQ with their reason when
    `DeadLetters.gives_up` (the others are reported as batch item failures and retried)."""

    def __init__(self, dead_letters: Callable[[], DeadLetters | None]) -> None:
        super().__init__(event_type=EventType.SQS)
        self.dead_letters = dead_letters
        self.dead_lettered: list[DeadLetterReason] = []

    def failure_handler(self, record: Any, exception: Any) -> Any:
        error = exception[1]
        letters = self.dead_letters()
        if letters is None or not isinstance(error, BaseException) or not letters.gives_up(record, error):
            return super().failure_handler(record, exception)
        try:
            reason = letters.send(record, error)
        except Exception:  # the DLQ is unreachable: keep the message in its queue (retried, never lost)
            logger.exception("dead letter not sent; the message stays in its queue")
            return super().failure_handler(record, exception)
        logger.warning("message sent to the dead-letter queue", extra=reason.model_dump())
        self.dead_lettered.append(reason)
        return self.success_handler(record, {"dead_lettered": reason.error_message})

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]
        self.dead_lettered.clear()
