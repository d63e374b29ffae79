"""Labelling settings: how crops are batched, priced and sent to people; what the functions talk to."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.core.base.settings import AwsSettings

ConsolidationMethod = Literal["majority", "dawid-skene"]
HandoffOrder = Literal["uncertainty", "upload"]
UncertaintyMeasure = Literal["margin", "entropy"]


class LabellingSettings(BaseSettings):
    """How crops are batched, priced and sent to people (environment prefix SKILLFORGE_LABELLING_)."""

    model_config = SettingsConfigDict(env_prefix="SKILLFORGE_LABELLING_", extra="ignore")

    workforce: Literal["public", "private"] = "public"
    workteam_arn: str | None = Field(default=None, description="private work team ARN (workforce=private)")
    role_arn: str | None = Field(default=None, description="execution role Ground Truth assumes")
    pre_lambda_arn: str | None = None
    post_lambda_arn: str | None = None
    workers_per_crop: int = Field(default=3, ge=1, le=9)
    seconds_per_task: float = Field(default=3.0, gt=0.0, le=3600.0)
    hourly_rate_usd: float = Field(default=15.0, gt=0.0, le=200.0)
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    max_age_minutes: float = Field(default=60.0, ge=0.0)
    jobs_per_run: int = Field(default=10, ge=1, le=100, description="jobs one scheduled hand-off may create")
    task_time_limit_s: int = Field(default=120, ge=30, le=28_800)
    task_availability_s: int = Field(default=6 * 3600, ge=60, le=864_000)
    max_concurrent_tasks: int = Field(default=1000, ge=1, le=5000)
    job_prefix: str = Field(default="skillforge", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,30}$")
    order: HandoffOrder = Field(
        default="uncertainty", description="which waiting crops go first: most uncertain answer, or oldest"
    )
    uncertainty: UncertaintyMeasure = Field(default="margin", description="1 − (top1 − top2), or entropy")
    budget_per_job: int | None = Field(
        default=None, ge=1, description="at most this many crops per job go to people (None: the batch)"
    )
    skip_crowd_when_confident: bool = Field(
        default=False, description="confident answers agreeing with the upload hint skip the crowd"
    )
    confident_score: float = Field(default=0.9, gt=0.0, le=1.0, description="top-1 probability to skip")
    consolidation: ConsolidationMethod = Field(
        default="dawid-skene", description="how workers' answers are combined (docs/labelling.md compares)"
    )

    @model_validator(mode="after")
    def _workforce_complete(self) -> LabellingSettings:
        if self.workforce == "private" and not self.workteam_arn:
            raise ValueError("workteam_arn is required when workforce is 'private'")
        if self.workforce == "public" and self.task_availability_s > 43_200:
            raise ValueError("task_availability_s must be at most 43200 (12 h) for the public workforce")
        return self


class LabellingResources(AwsSettings):
    """What the labelling/review functions talk to (SKILLFORGE_CROPS_BUCKET, ...)."""

    crops_bucket: str
    catalog_table: str
    artifacts_bucket: str
    review_login_url: str | None = None
    review_allowed_origin: str | None = None  # cloud: the API's own origin; writes from others → 403
    local_labelling_jobs: bool = False  # local mode: jobs kept in the artifacts bucket, simulated crowd
