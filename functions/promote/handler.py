"""Promote Lambda (a train-and-gate task): point the stage's run-time parameter at the gated version.

Only stages listed in SKILLFORGE_AUTO_PROMOTE_STAGES are promoted by the pipeline; for any other
(production) the answer is `promoted: false` and a person promotes with `skillforge promote`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.core.base.aws import resource
from functions.core.gate.settings import GateSettings
from functions.core.skills.deployment import DeploymentStore, promote
from functions.core.skills.registry import SkillRegistry
from functions.core.skills.wiring import build_deployments

logger, tracer = Logger(), Tracer()


class PromoteRequest(BaseModel):
    skill: str
    skill_version: int = Field(ge=1)
    reason: str = "passed the regression gate"


@cache
def deps() -> tuple[GateSettings, SkillRegistry, DeploymentStore]:
    settings = GateSettings()  # type: ignore[call-arg]
    registry = SkillRegistry(resource("dynamodb", settings).Table(settings.catalog_table))
    return settings, registry, build_deployments(settings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PromoteRequest.model_validate(event)
    settings, registry, deployments = deps()
    if settings.stage not in settings.auto_promote_stages:
        logger.info("stage needs a deliberate promotion", extra={"stage": settings.stage})
        return {
            "promoted": False,
            "stage": settings.stage,
            "skill": request.skill,
            "skill_version": request.skill_version,
        }
    result = promote(
        registry,
        deployments,
        request.skill,
        request.skill_version,
        actor="train-and-gate",
        reason=request.reason,
    )
    logger.info(
        "promoted", extra={"skill": request.skill, "version": request.skill_version, "stage": settings.stage}
    )
    return {
        "promoted": True,
        "stage": settings.stage,
        "skill": request.skill,
        "skill_version": request.skill_version,
        "previous_version": result.previous.version if result.previous else None,
    }
