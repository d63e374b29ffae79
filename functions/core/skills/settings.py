"""Skills settings: the deployment stage read (SSM, TTL cache); where the registry and artifacts are."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from functions.core.base.settings import AwsSettings


class DeploymentSettings(AwsSettings):
    stage: str = "local"
    deployment_ttl_s: float = Field(
        default=60.0, ge=0.0, description="cache of the SSM deployment parameters"
    )
    auto_promote_stages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["local", "dev", "staging"],
        description="stages the pipeline may promote by itself; production is never one of them",
    )

    @field_validator("auto_promote_stages", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class RegistrySettings(DeploymentSettings):
    """Where registered skill versions are: the catalog table (registry items) and the artifacts bucket."""

    catalog_table: str
    artifacts_bucket: str
