"""Settings every function shares, validated once from the environment (prefix SKILLFORGE_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class AwsSettings(BaseSettings):
    """Where the AWS APIs are: the real endpoints, or the local emulator's URL."""

    model_config = SettingsConfigDict(env_prefix="SKILLFORGE_", extra="ignore")

    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
