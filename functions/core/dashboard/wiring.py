"""Builds the dashboard of the review Lambda (cloud: no Make skill button, see jobs.py)."""

from __future__ import annotations

from functions.core.base.aws import client, resource
from functions.core.base.settings import AwsSettings
from functions.core.base.storage import BlobStore
from functions.core.dashboard.api import Dashboard


class DashboardSettings(AwsSettings):
    catalog_table: str
    stage: str = "local"


def build_dashboard(settings: DashboardSettings | None = None) -> Dashboard:
    settings = settings or DashboardSettings()  # type: ignore[call-arg]
    return Dashboard(
        resource("dynamodb", settings).Table(settings.catalog_table),
        client("ssm", settings),
        BlobStore(client("s3", settings)),
        jobs=None,
        stage=settings.stage,
    )
