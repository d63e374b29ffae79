"""Hand-off Lambda (scheduled): due batches of new crops → Ground Truth labelling jobs."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.core.labelling.handoff import HandoffDeps, hand_off
from functions.core.labelling.wiring import build_handoff_deps

logger, metrics = Logger(), Metrics()


class HandoffRequest(BaseModel):
    """The schedule's event (its other fields ignored); `force` hands off batches before they are due."""

    model_config = ConfigDict(extra="ignore")

    force: bool = False


@cache
def deps() -> HandoffDeps:
    return build_handoff_deps()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Up to SKILLFORGE_LABELLING_JOBS_PER_RUN jobs per run (each at most batch_size crops)."""
    request = HandoffRequest.model_validate(event)
    jobs: list[dict[str, Any]] = []
    for _ in range(deps().settings.jobs_per_run):
        result = hand_off(deps(), force=request.force)
        if result is None or result.crops == 0:
            break
        metrics.add_metric(name="crops_sent_to_labelling", unit=MetricUnit.Count, value=result.crops)
        jobs.append({"job": result.job_name, "crops": result.crops, "reward_usd": result.reward_usd})
    return {"jobs": jobs}
