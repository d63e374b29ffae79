"""Test support for serving: tiny real skills exported to ONNX, registered and promoted on moto."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from functions.core.base.artifacts import Artifacts
from functions.core.base.storage import BlobStore
from functions.core.skills.deployment import DeploymentStore, promote
from functions.core.skills.model import MANIFEST_FILE, read_manifest
from functions.core.skills.registry import RegisteredSkill, SkillRegistry
from tests.support.tiny_skill import build_tiny_skill

ONNX_FILE = "model.onnx"


def export_onnx(folder: Path) -> Path:
    """Add the ONNX export of the skill in `folder` (what training ships) and name it in skill.json."""
    from ultralytics import YOLO  # type: ignore[attr-defined]

    from functions.core.base.offline import configure_offline

    configure_offline()
    manifest = read_manifest(folder)
    exported = Path(
        YOLO(str(folder / manifest.weights), task="classify").export(
            format="onnx", imgsz=manifest.imgsz, simplify=False, verbose=False
        )
    )
    shutil.move(str(exported), folder / ONNX_FILE)
    (folder / MANIFEST_FILE).write_text(
        manifest.model_copy(update={"onnx": ONNX_FILE}).model_dump_json(indent=2), encoding="utf-8"
    )
    return folder


def as_version(source: Path, target: Path, version: int) -> Path:
    """The same weights registered as another version."""
    shutil.copytree(source, target)
    manifest = read_manifest(target).model_copy(update={"skill_version": version})
    (target / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return target


def register_and_promote(
    table: Any, s3: Any, ssm: Any, bucket: str, folder: Path, stage: str = "test"
) -> RegisteredSkill:
    """Upload the folder to the artifacts bucket, register it, and deploy it in `stage`."""
    manifest = read_manifest(folder)
    registry = SkillRegistry(table)
    uri = f"s3://{bucket}/skills/{manifest.skill}/v{manifest.skill_version:06d}"
    Artifacts(BlobStore(s3)).upload_folder(folder, uri)
    entry = registry.register(manifest, uri)
    promote(
        registry,
        DeploymentStore(ssm, stage, ttl_s=0),
        manifest.skill,
        manifest.skill_version,
        actor="test",
        write_mapping=False,
    )
    return entry


@pytest.fixture(scope="session")
def onnx_colour_skill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny 'colour' skill (red/green/blue synthetic images), version 1, with its ONNX export."""
    folder = tmp_path_factory.mktemp("onnx-skill") / "colour-v1"
    build_tiny_skill(folder, "colour", 1, steps=12, seed=0, code_version="colour-code")
    return export_onnx(folder)
