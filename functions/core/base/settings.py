"""Settings every function shares, validated once from the environment (prefix SKILLFORGE_)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AwsSettings(BaseSettings):
    """Where the AWS APIs are: the real endpoints, or the local emulator's URL."""

    model_config = SettingsConfigDict(env_prefix="SKILLFORGE_", extra="ignore")

    aws_endpoint_url: str | None = None
    # SKILLFORGE_AWS_REGION wins; otherwise the region Lambda (and the AWS CLI setup) sets.
    aws_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("SKILLFORGE_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
