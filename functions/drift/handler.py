"""Drift monitor Lambda (daily schedule): yesterday's photos and answers against the training reference.

Each scored day is printed as a CloudWatch embedded-metric-format record (metric `DriftScore`,
namespace `skillforge/drift`, dimensions Deployment and Skill); an alarm on it notifies.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.base.records import utc_now
from functions.core.monitoring.monitor import DriftDeps, days_before, monitor
from functions.core.monitoring.wiring import build_drift_deps

logger = Logger()


@cache
def deps() -> DriftDeps:
    return build_drift_deps()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = utc_now()
    run = monitor(deps(), days_before(now, int(event.get("days", 1))), now, emit=print)
    for row in run.rows:
        logger.info("drift", extra=row.model_dump())
    return {"days": [row.model_dump() for row in run.rows]}
