"""Detect Lambda: SQS batch of S3 notifications → detect (and serve) every upload of the batch.

Parse, delegate, report. The uploads of the whole batch go to `detect_batch` at once (downloads and
writes overlap the detector); each message is then reported on its own: one whose upload raised is
a partial-batch failure (SQS retries it); on its last receive, or at once when it is not an S3 event,
the function puts it into the DLQ with the reason (functions/core/base/dead_letters.py). Bad images
never raise, they are quarantined. Each car crop is answered by the deployed cascade when
SKILLFORGE_CASCADE is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.base.dead_letters import DeadLetteringBatchProcessor, DeadLetters
from functions.core.detection.detect import DetectDeps, DetectOutcome, detect_batch
from functions.core.detection.s3events import EventParseError, parse_s3_notification
from functions.core.detection.wiring import build_detect_dead_letters
from functions.core.serving.wiring import build_detect_and_serve_deps

logger, metrics, tracer = Logger(), Metrics(), Tracer()


@cache
def deps() -> DetectDeps:
    return build_detect_and_serve_deps()


@cache
def dead_letters() -> DeadLetters | None:
    return build_detect_dead_letters()


processor = DeadLetteringBatchProcessor(dead_letters)


def detect_messages(records: Iterable[dict[str, Any]]) -> dict[str, list[DetectOutcome | Exception]]:
    """Every upload of the batch through detect_batch; outcomes per message id (unparseable ones left out)."""
    per_message: list[tuple[str, int]] = []
    uploads = []
    for record in records:
        try:
            parsed = parse_s3_notification(record["body"])
        except EventParseError:
            continue  # reported as a failure by the record handler, which parses it again
        per_message.append((record["messageId"], len(parsed)))
        uploads.extend(parsed)
    outcomes = detect_batch(uploads, deps()) if uploads else []
    found: dict[str, list[DetectOutcome | Exception]] = {}
    start = 0
    for message_id, count in per_message:
        found[message_id] = outcomes[start : start + count]
        start += count
    return found


def _report(outcomes: list[DetectOutcome | Exception]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
        if not outcome.duplicate:
            metrics.add_metric(name=f"images_{outcome.status.value}", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="cars_found", unit=MetricUnit.Count, value=outcome.cars)
            for name, value in (outcome.served or {}).items():
                if name != "cars":
                    metrics.add_metric(name=f"crops_{name}", unit=MetricUnit.Count, value=value)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes = detect_messages(event.get("Records", []))

    def record_handler(record: SQSRecord) -> None:
        if record.message_id not in outcomes:
            parse_s3_notification(record.body)  # raises the parse error of this message
        _report(outcomes.get(record.message_id, []))

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
