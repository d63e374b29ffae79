"""Builds the skills adapters (deployment mapping, registry-backed skill resolver) once per cold start."""

from __future__ import annotations

from functions.core.base.artifacts import Artifacts
from functions.core.base.aws import client, resource
from functions.core.base.storage import BlobStore
from functions.core.skills.deployment import DeploymentStore
from functions.core.skills.registry import SkillRegistry
from functions.core.skills.resolver import RegistrySkills
from functions.core.skills.settings import DeploymentSettings, RegistrySettings


def build_deployments(settings: DeploymentSettings | None = None) -> DeploymentStore:
    settings = settings or DeploymentSettings()
    return DeploymentStore(client("ssm", settings), settings.stage, ttl_s=settings.deployment_ttl_s)


def build_registry_skills(settings: RegistrySettings | None = None) -> RegistrySkills:
    settings = settings or RegistrySettings()  # type: ignore[call-arg]
    table = resource("dynamodb", settings).Table(settings.catalog_table)
    return RegistrySkills(
        SkillRegistry(table), build_deployments(settings), Artifacts(BlobStore(client("s3", settings)))
    )
