"""Builds the drift monitor's adapters from validated settings (once per cold start)."""

from __future__ import annotations

from functions.core.base.aws import client, resource
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.settings import AwsSettings
from functions.core.base.storage import BlobStore
from functions.core.monitoring.monitor import DriftDeps
from functions.core.monitoring.reference import DeployedLineage
from functions.core.monitoring.settings import DriftSettings
from functions.core.skills.deployment import DeploymentStore


class DriftResources(AwsSettings):
    """What the monitor reads and how its series is named (SKILLFORGE_CATALOG_TABLE, ...)."""

    catalog_table: str
    artifacts_bucket: str  # the lineage records of the skill versions (the reference)
    stage: str = "dev"
    drift_skill: str = "car-make"


def build_drift_deps(res: DriftResources | None = None, settings: DriftSettings | None = None) -> DriftDeps:
    res = res or DriftResources()  # type: ignore[call-arg]
    return DriftDeps(
        catalog=DynamoCatalog(resource("dynamodb", res).Table(res.catalog_table)),
        reference=DeployedLineage(
            DeploymentStore(client("ssm", res), res.stage), BlobStore(client("s3", res)), res.artifacts_bucket
        ),
        settings=settings or DriftSettings(),
        deployment=res.stage,
        skill=res.drift_skill,
    )
