"""Drift monitor Lambda (daily schedule): yesterday's photos and answers against the training reference.

Each scored day is printed as a CloudWatch embedded-metric-format record (metric `DriftScore`,
namespace `skillforge/drift`, dimensions Deployment and Skill); an alarm on it notifies.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.core.base.records import utc_now
from functions.core.monitoring.monitor import DriftDeps, days_before, monitor
from functions.core.monitoring.wiring import build_drift_deps

logger = Logger()


class DriftRequest(BaseModel):
    """The schedule's event (its other fields ignored); `days` back from today, yesterday by default."""

    model_config = ConfigDict(extra="ignore")

    days: int = Field(default=1, ge=1, le=366)


@cache
def deps() -> DriftDeps:
    return build_drift_deps()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DriftRequest.model_validate(event)
    now = utc_now()
    run = monitor(deps(), days_before(now, request.days), now, emit=print)
    for row in run.rows:
        logger.info("drift", extra=row.model_dump())
    return {"days": [row.model_dump() for row in run.rows]}
