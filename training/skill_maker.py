"""Skill Maker, local: extract → train on this machine → register the candidate skill version.

The same steps as the cloud state machine (extract Lambda → SageMaker job → register Lambda), with
the crops downloaded from the crops bucket into a cache folder instead of a ManifestFile channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from functions.core.base.storage import BlobStore
from functions.core.base.versions import code_version
from functions.core.dataset.build import DataFile
from functions.core.dataset.extract import DatasetManifest, ExtractDeps, extract_from_catalog, lineage_record
from functions.core.dataset.registration import RegisterDeps, register_candidate, split_uri
from functions.core.dataset.split import SPLIT_ORDER
from functions.core.skills.registry import RegisteredSkill, SkillRegistry
from training.config import ProfileKind, SkillConfig


@dataclass(frozen=True)
class LocalMakerDeps:
    extract: ExtractDeps
    registry: SkillRegistry
    runs_dir: Path
    models_dir: Path | None


class MadeSkill(BaseModel):
    skill: RegisteredSkill
    dataset: DatasetManifest | None
    model_dir: str


def load_data_file(uri: str, store: BlobStore) -> DataFile:
    if uri.startswith("s3://"):
        bucket, key = split_uri(uri)
        return DataFile.model_validate_json(store.get(bucket, key).data)
    return DataFile.model_validate_json(Path(uri).read_text(encoding="utf-8"))


def download_crops(data: DataFile, store: BlobStore, cache: Path) -> int:
    """Fetch every crop the data file names into `cache/<key>` (kept between runs); returns how many new."""
    fetched = 0
    for split in SPLIT_ORDER:
        for _, entry in data.entries(split):
            bucket, key = split_uri(entry.uri)
            target = cache / key
            if target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(store.get(bucket, key).data)
            fetched += 1
    return fetched


def make_skill_local(config: SkillConfig, profile: str | None, deps: LocalMakerDeps) -> MadeSkill:
    from training.train import TrainRequest, train_skill

    profile_name, hardware = config.profile(profile)
    if hardware.kind is not ProfileKind.LOCAL:
        raise ValueError(
            f"profile {profile_name!r} is a {hardware.kind.value} profile; --local needs a local one"
        )
    store = deps.extract.store
    manifest: DatasetManifest | None = None
    if config.dataset_file:
        data = load_data_file(config.dataset_file, store)
    else:
        extraction, manifest = extract_from_catalog(config.skill, config.dataset, deps.extract)
        data = extraction.data
    version = deps.registry.next_version(config.skill)
    download_crops(data, store, deps.runs_dir / "crops")
    run_dir = deps.runs_dir / config.skill / f"v{version:06d}"
    model_dir = run_dir / "model"
    trained = train_skill(
        TrainRequest(
            config=config,
            profile=profile_name,
            skill_version=version,
            code_version=code_version(),
            dataset=data,
            crops_root=deps.runs_dir / "crops",
            work_dir=run_dir / "work",
            model_dir=model_dir,
            models_dir=deps.models_dir,
        )
    )
    bucket = deps.extract.artifacts_bucket
    prefix = f"skills/{config.skill}/v{version:06d}/"
    for path in sorted(model_dir.iterdir()):
        if path.is_file():
            store.put(bucket, prefix + path.name, path.read_bytes())
    store.put(bucket, prefix + "skill-config.json", config.model_dump_json(indent=1).encode("utf-8"))
    registered = register_candidate(
        trained,
        lineage_record(data, config.skill, version),
        f"s3://{bucket}/{prefix}",
        RegisterDeps(store=store, registry=deps.registry, artifacts_bucket=bucket),
    )
    (run_dir / "registered.json").write_text(json.dumps(registered.model_dump(mode="json"), indent=1))
    return MadeSkill(skill=registered, dataset=manifest, model_dir=str(model_dir))
