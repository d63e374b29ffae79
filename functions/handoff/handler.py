"""Hand-off Lambda (scheduled): the next batch of new crops → a Ground Truth labelling job."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.labelling import HandoffDeps, hand_off
from functions.core.labelling_wiring import build_handoff_deps

logger, metrics = Logger(), Metrics()


@cache
def deps() -> HandoffDeps:
    return build_handoff_deps()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = hand_off(deps(), force=bool(event.get("force")))
    if result is None:
        return {"job": None, "crops": 0}
    metrics.add_metric(name="crops_sent_to_labelling", unit=MetricUnit.Count, value=result.crops)
    return {"job": result.job_name, "crops": result.crops, "reward_usd": result.reward_usd}
