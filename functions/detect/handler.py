"""Detect Lambda: SQS batch of S3 notifications → detect_and_catalog per upload.

Parse, delegate, report. A record that raises is reported back as a partial-batch failure
(SQS retries it, then the DLQ keeps it); bad images never raise, they are quarantined.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.detection.detect import DetectDeps, detect_and_catalog
from functions.core.detection.s3events import parse_s3_notification
from functions.core.detection.wiring import build_detect_deps

logger, metrics, tracer = Logger(), Metrics(), Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def deps() -> DetectDeps:
    return build_detect_deps()


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    for upload in parse_s3_notification(record.body):
        outcome = detect_and_catalog(upload, deps())
        if not outcome.duplicate:
            metrics.add_metric(name=f"images_{outcome.status.value}", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="cars_found", unit=MetricUnit.Count, value=outcome.cars)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
