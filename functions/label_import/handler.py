"""Label import Lambda: EventBridge "Labeling Job State Change" → catalog, review queue, worker stats.

A Completed job with unreadable lines raises after importing every good line, so the event is
retried (idempotent) and then kept in the dead-letter queue for an operator.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.labelling.label_import import (
    FINAL_STATES,
    ImportDeps,
    LabelImportError,
    import_job,
    parse_job_event,
)
from functions.core.labelling.wiring import build_import_deps

logger, metrics = Logger(), Metrics()


@cache
def deps() -> ImportDeps:
    return build_import_deps()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = parse_job_event(event)
    if job.status not in FINAL_STATES:
        logger.info("labelling job not finished yet", extra=job.model_dump())
        return {"job": job.job_name, "status": job.status, "imported": False}
    result = import_job(job.job_name, deps())
    for status, count in result.updated.items():
        metrics.add_metric(name=f"crops_{status}", unit=MetricUnit.Count, value=count)
    if result.job_status == "Completed" and result.problems:
        raise LabelImportError(
            f"job {job.job_name}: {len(result.problems)} problems: " + " | ".join(result.problems[:20])
        )
    return result.summary()
