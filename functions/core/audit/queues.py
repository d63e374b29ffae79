"""Dead-letter queue helpers: look without consuming, and redrive to the source queue."""

from __future__ import annotations

from typing import Any

from functions.core.base.dead_letters import ERROR_TYPE, REASON
from functions.core.detection.s3events import EventParseError, parse_s3_notification

NO_REASON = "no reason (moved by the redrive policy: a timeout or a crash)"


def peek(sqs: Any, queue_url: str, max_messages: int = 1000) -> list[tuple[str, str]]:
    """(upload key, reason) of every message waiting in a queue: garbage shows as `<unparseable:ID>`; the
    reason is what the function that gave up on it wrote (`error_type: error_message`, dead_letters.py).

    Messages are hidden while they are read, then made visible again: nothing is consumed.
    """
    found: list[tuple[str, str]] = []
    handles: list[str] = []
    try:
        while len(handles) < max_messages:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=60,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                handles.append(message["ReceiptHandle"])
                reason = _reason(message.get("MessageAttributes") or {})
                try:
                    found.extend((upload.key, reason) for upload in parse_s3_notification(message["Body"]))
                except EventParseError:
                    found.append((f"<unparseable:{message['MessageId']}>", reason))
    finally:
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


def peek_keys(sqs: Any, queue_url: str, max_messages: int = 1000) -> list[str]:
    """Upload keys of the messages waiting in a queue (see `peek`)."""
    return [key for key, _ in peek(sqs, queue_url, max_messages)]


def _reason(attributes: dict[str, Any]) -> str:
    values = {name: str(value.get("StringValue", "")) for name, value in attributes.items()}
    if REASON not in values:
        return NO_REASON
    return f"{values.get(ERROR_TYPE, 'error')}: {values[REASON]}"


def start_redrive_task(sqs: Any, dlq_url: str, target_url: str) -> dict[str, Any]:
    """The cloud's redrive: SQS moves the DLQ's messages itself (`StartMessageMoveTask`), keeping their
    attributes, at SQS's own pace; returns the task handle and how many messages were waiting."""
    dlq = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"]
    )["Attributes"]
    target = sqs.get_queue_attributes(QueueUrl=target_url, AttributeNames=["QueueArn"])["Attributes"]
    task = sqs.start_message_move_task(SourceArn=dlq["QueueArn"], DestinationArn=target["QueueArn"])
    return {"task_handle": task["TaskHandle"], "messages": int(dlq.get("ApproximateNumberOfMessages", 0))}


def redrive(sqs: Any, dlq_url: str, target_url: str, limit: int | None = None) -> int:
    """Move messages from the DLQ back to the queue they came from; returns how many moved.

    Used in local mode (the emulator, moto, has no StartMessageMoveTask) and for `--limit`, which
    the move task cannot do. Each message is sent before it is deleted, so a crash in between
    duplicates it (harmless: handlers are idempotent) but never loses it.
    """
    moved = 0
    while limit is None or moved < limit:
        want = 10 if limit is None else min(10, limit - moved)
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=want, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not batch:
            break
        for message in batch:
            sqs.send_message(QueueUrl=target_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
