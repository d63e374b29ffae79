"""Reprocess Lambda: one Distributed Map batch of crop objects → re-answered with the pinned skill version.

Parse, delegate, return the counts (the map's result writer collects them). An error fails the batch:
the state machine retries it, and a failed execution is redriven (Step Functions redrive) —
re-running is safe, every crop already answered by the version is skipped.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.serving.reprocess import ReprocessBatch, ReprocessDeps, reprocess_batch
from functions.core.serving.wiring import build_reprocess_deps

logger, metrics, tracer = Logger(), Metrics(), Tracer()


@cache
def deps() -> ReprocessDeps:
    return build_reprocess_deps()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = ReprocessBatch.model_validate(event)
    result = reprocess_batch([item.Key for item in batch.Items], batch.BatchInput, deps())
    for name in ("updated", "unchanged", "missing", "not_classified"):
        metrics.add_metric(name=f"reprocess_{name}", unit=MetricUnit.Count, value=getattr(result, name))
    logger.info("batch reprocessed", extra=result.model_dump())
    return result.model_dump()
