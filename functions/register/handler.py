"""Register Lambda (last step of the make-skill state machine): model.tar.gz → candidate skill version."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.core.base.aws import client, resource
from functions.core.base.settings import AwsSettings
from functions.core.base.storage import BlobStore
from functions.core.dataset.registration import RegisterDeps, register_model_archive
from functions.core.skills.registry import SkillRegistry

logger, tracer = Logger(), Tracer()


class RegisterSettings(AwsSettings):
    catalog_table: str
    artifacts_bucket: str


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model_artifacts: str  # s3://…/model.tar.gz of the training job


@cache
def deps() -> RegisterDeps:
    settings = RegisterSettings()  # type: ignore[call-arg]
    return RegisterDeps(
        store=BlobStore(client("s3", settings)),
        registry=SkillRegistry(resource("dynamodb", settings).Table(settings.catalog_table)),
        artifacts_bucket=settings.artifacts_bucket,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = RegisterRequest.model_validate(event)
    entry = register_model_archive(request.model_artifacts, deps())
    logger.info("candidate registered", extra=entry.ref())
    return {**entry.ref(), "dataset_version": entry.dataset_version, "artifact_uri": entry.artifact_uri}
