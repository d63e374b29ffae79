"""Registering a trained candidate: its lineage record (append-only) and its registry entry."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass

from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import LineageRecord, write_lineage
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.registry import RegisteredSkill, SkillRegistry

SKILL_FILE = "skill.json"
LINEAGE_FILE = "lineage.json"


@dataclass(frozen=True)
class RegisterDeps:
    store: BlobStore
    registry: SkillRegistry
    artifacts_bucket: str


def register_candidate(
    manifest: SkillManifest, lineage: LineageRecord, artifact_uri: str, deps: RegisterDeps
) -> RegisteredSkill:
    if (lineage.skill, lineage.skill_version) != (manifest.skill, manifest.skill_version):
        raise ValueError(
            f"lineage is for {lineage.skill} v{lineage.skill_version}, "
            f"the manifest for {manifest.skill} v{manifest.skill_version}"
        )
    write_lineage(lineage, deps.store, deps.artifacts_bucket)
    return deps.registry.register(manifest, artifact_uri)


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def register_model_archive(model_uri: str, deps: RegisterDeps) -> RegisteredSkill:
    """A SageMaker model.tar.gz → its skill.json and lineage.json → registered candidate."""
    bucket, key = split_uri(model_uri)
    archive = deps.store.get(bucket, key).data
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("./")
            if member.isfile() and name in {SKILL_FILE, LINEAGE_FILE}:
                extracted = tar.extractfile(member)
                if extracted is not None:
                    members[name] = extracted.read()
    missing = sorted({SKILL_FILE, LINEAGE_FILE} - set(members))
    if missing:
        raise ValueError(f"{model_uri} lacks {missing}: not the output of training/train.py")
    manifest = SkillManifest.model_validate(json.loads(members[SKILL_FILE]))
    lineage = LineageRecord.model_validate(json.loads(members[LINEAGE_FILE]))
    return register_candidate(manifest, lineage, model_uri, deps)
