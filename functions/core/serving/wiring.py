"""Builds the serving adapters from validated settings (once per cold start)."""

from __future__ import annotations

from dataclasses import replace

from functions.core.base.artifacts import Artifacts
from functions.core.base.aws import client, resource
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore
from functions.core.detection.detect import DetectDeps
from functions.core.detection.detector import Detector
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.detection.wiring import build_detect_deps
from functions.core.serving.reprocess import ReprocessDeps
from functions.core.serving.serve import ServeDeps, annotator
from functions.core.serving.settings import ReprocessSettings, ServingSettings
from functions.core.serving.skills import DeployedSkills, load_onnx_skill
from functions.core.skills.deployment import DeploymentStore
from functions.core.skills.registry import SkillRegistry


def build_deployed_skills(settings: ServingSettings) -> DeployedSkills:
    artifacts = Artifacts(BlobStore(client("s3", settings)), cache_dir=settings.skills_cache_dir)
    deployments = DeploymentStore(client("ssm", settings), settings.stage, ttl_s=settings.deployment_ttl_s)
    return DeployedSkills(
        deployments,
        lambda uri: load_onnx_skill(artifacts, uri, settings.skills_cache_dir),
    )


def build_serve_deps(settings: ServingSettings | None = None) -> ServeDeps | None:
    """The deployed cascade, or None when no cascade is configured (serving off)."""
    settings = settings or ServingSettings()
    if settings.cascade is None:
        return None
    return ServeDeps(config=settings.cascade, skills=build_deployed_skills(settings))


def build_detect_and_serve_deps(
    pipeline: PipelineSettings | None = None,
    detector_settings: DetectorSettings | None = None,
    detector: Detector | None = None,
    serving: ServingSettings | None = None,
) -> DetectDeps:
    """The detect function's dependencies, with every crop served by the cascade when one is configured."""
    deps = build_detect_deps(pipeline, detector_settings, detector)
    serve = build_serve_deps(serving)
    return deps if serve is None else replace(deps, annotate=annotator(serve))


def build_reprocess_deps(settings: ReprocessSettings | None = None) -> ReprocessDeps:
    settings = settings or ReprocessSettings()  # type: ignore[call-arg]
    if settings.cascade is None:
        raise ValueError("reprocessing needs the served cascade: set SKILLFORGE_CASCADE (JSON or a file)")
    table = resource("dynamodb", settings).Table(settings.catalog_table)
    return ReprocessDeps(
        serve=ServeDeps(config=settings.cascade, skills=build_deployed_skills(settings)),
        catalog=DynamoCatalog(table),
        store=BlobStore(client("s3", settings)),
        registry=SkillRegistry(table),
    )
