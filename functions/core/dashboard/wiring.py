"""Builds the dashboard of the review Lambda: the Make skill button starts the make-skill state machine
when the stack gives its ARN (SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN), and is off otherwise."""

from __future__ import annotations

from pydantic import model_validator

from functions.core.base.aws import client, resource
from functions.core.base.settings import AwsSettings
from functions.core.base.storage import BlobStore
from functions.core.dashboard.api import Dashboard
from functions.core.dashboard.jobs import StepFunctionsMakeSkillJobs
from functions.core.skills.registry import SkillRegistry


class DashboardSettings(AwsSettings):
    catalog_table: str
    stage: str = "local"
    artifacts_bucket: str | None = None
    make_skill_state_machine_arn: str | None = None

    @model_validator(mode="after")
    def _launches_need_the_bucket(self) -> DashboardSettings:
        if self.make_skill_state_machine_arn and not self.artifacts_bucket:
            raise ValueError(
                "SKILLFORGE_ARTIFACTS_BUCKET is required with SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN"
            )
        return self


def build_dashboard(settings: DashboardSettings | None = None) -> Dashboard:
    settings = settings or DashboardSettings()  # type: ignore[call-arg]
    table = resource("dynamodb", settings).Table(settings.catalog_table)
    store = BlobStore(client("s3", settings))
    jobs = None
    if settings.make_skill_state_machine_arn and settings.artifacts_bucket:
        jobs = StepFunctionsMakeSkillJobs(
            client("stepfunctions", settings),
            store,
            SkillRegistry(table),
            settings.artifacts_bucket,
            settings.make_skill_state_machine_arn,
        )
    return Dashboard(table, client("ssm", settings), store, jobs=jobs, stage=settings.stage)
