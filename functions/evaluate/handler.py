"""Evaluate Lambda (a train-and-gate task): candidate vs deployed on the harness → gate decision + report.

Input: {"skill", "skill_version"} of a registered version, or {"skill", "model_artifacts"} with the
training job's model.tar.gz; optional "gate" overrides the configured gate rule. Output: the
evaluation summary the Choice state reads (`outcome` = promote | investigate).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.gate.evaluation import EvaluateDeps, EvaluateRequest, evaluate_candidate, summarize
from functions.core.gate.wiring import build_evaluate_deps

logger, metrics, tracer = Logger(), Metrics(), Tracer()


@cache
def deps() -> EvaluateDeps:
    return build_evaluate_deps()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = EvaluateRequest.model_validate(event)
    summary = summarize(evaluate_candidate(request, deps()))
    metrics.add_metric(name=f"gate_{summary.outcome.value}", unit=MetricUnit.Count, value=1)
    logger.info(
        "gate decided",
        extra={"skill": summary.skill, "version": summary.skill_version, "outcome": summary.outcome.value},
    )
    return summary.model_dump(mode="json")
