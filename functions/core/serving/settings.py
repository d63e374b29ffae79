"""Serving settings, validated once from the environment (prefix SKILLFORGE_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from functions.core.base.settings import AwsSettings
from functions.core.serving.config import CascadeConfig, load_cascade_config


class ServingSettings(AwsSettings):
    """Which cascade answers uploads, and where its deployed versions are found.

    `cascade` (SKILLFORGE_CASCADE: inline JSON or a file path) unset = serving off (detection only).
    """

    stage: str = "local"
    cascade: CascadeConfig | None = None
    deployment_ttl_s: float = Field(
        default=60.0,
        ge=0.0,
        description="how long a deployed version is cached: a promotion is served within it",
    )
    skills_cache_dir: Path = Field(
        default=Path("/tmp/skillforge-skills"), description="per-container cache of skill.json + ONNX"
    )

    @field_validator("cascade", mode="before")
    @classmethod
    def _json_or_path(cls, value: object) -> object:
        if isinstance(value, str):
            return load_cascade_config(value) if value.strip() else None
        return value


class CatalogSettings(AwsSettings):
    """Reading the catalog back (`skillforge records`): the table only."""

    catalog_table: str


class ReprocessSettings(ServingSettings):
    """The reprocess batch function and command: the catalog, the crops, and the run's shape."""

    catalog_table: str
    crops_bucket: str
    reprocess_batch_size: int = Field(default=100, ge=1, le=1000, description="crops per batch")
    reprocess_max_concurrency: int = Field(default=10, ge=1, le=1000, description="batches at once")
    reprocess_ms_per_crop: float = Field(
        default=60.0, gt=0, description="cost estimate: measured classify + I/O time per crop"
    )
    reprocess_memory_mb: int = Field(default=2048, ge=128, le=10240)
    reprocess_state_machine_arn: str | None = None
