"""Settings of the gate side of the pipeline (evaluate, promote, notify, classify), from SKILLFORGE_* env."""

from __future__ import annotations

import json

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.core.base.settings import AwsSettings
from functions.core.gate.rule import GateConfig
from functions.core.serving.config import CascadeConfig, load_cascade_config
from functions.core.skills.settings import RegistrySettings


class GateSettings(RegistrySettings):
    """The evaluate function: where artifacts, harnesses and the catalog are; gate and cascade config."""

    cascade: CascadeConfig | None = None
    gate: GateConfig = Field(default_factory=GateConfig)

    @field_validator("cascade", mode="before")
    @classmethod
    def _cascade(cls, value: object) -> object:
        if isinstance(value, str) and value.strip():
            return load_cascade_config(value)
        return value or None

    @field_validator("gate", mode="before")
    @classmethod
    def _gate(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def harness_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/harness"

    @property
    def datasets_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/datasets"

    @property
    def skills_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/skills"


class NotifySettings(AwsSettings):
    """Where notifications go. The Slack webhook URL itself is only ever read from Secrets Manager
    (`slack_secret_id`) or, in local mode, from SLACK_WEBHOOK_URL; it is never logged."""

    model_config = SettingsConfigDict(env_prefix="SKILLFORGE_", extra="ignore")

    stage: str = "local"
    slack_secret_id: str | None = None
    email_topic_arn: str | None = None
    catalog_table: str | None = Field(default=None, description="for idempotency of failure notifications")
    slack_attempts: int = Field(default=3, ge=1, le=10)
    report_link_expiry_s: int = Field(
        default=3600, ge=60, le=3600, description="presigned report links in messages (at most 1 hour)"
    )
    slack_timeout_s: float = Field(default=5.0, gt=0)


class LocalSlackSettings(BaseSettings):
    """Local mode: post to this URL when set, else write the message to a file."""

    model_config = SettingsConfigDict(extra="ignore")

    slack_webhook_url: str | None = None
