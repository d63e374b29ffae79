"""Dataset extraction use case with its I/O: catalog in, S3 files out, lineage per training run.

S3 layout in the artifacts bucket:
  datasets/<skill>/<dataset_version>/data.json        train/val/test lists per class (S3 URIs)
  datasets/<skill>/<dataset_version>/definition.json  files per class
  datasets/<skill>/<dataset_version>/crops.manifest   SageMaker ManifestFile channel of the crops
  datasets/<skill>/<dataset_version>/manifest.json    version = content hash, counts, report
  lineage/<skill>/v<000042>.json                      crop and image ids one training run used
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from functions.core.base.catalog import Catalog
from functions.core.base.records import CropStatus, utc_now
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.base.versions import code_version
from functions.core.dataset.build import (
    CROPS_MANIFEST_FILE,
    DATA_FILE,
    DEFINITION_FILE,
    MANIFEST_FILE,
    DataFile,
    Extraction,
    ExtractionReport,
    RecordTable,
    extract,
)
from functions.core.dataset.spec import DatasetSpec
from functions.core.dataset.split import SPLIT_ORDER, hashed_split, persist_new_assignments
from functions.core.quality.screen import DataQualityReport, screen_crops
from functions.core.quality.settings import QualitySettings
from functions.core.skills.manifest import validate_skill_name


class DatasetManifest(BaseModel):
    skill: str
    dataset_version: str
    content_sha256: str
    classes: list[str]
    spec: DatasetSpec | None = Field(
        default=None, description="the spec it was extracted with: maps verified labels to the classes"
    )
    counts: dict[str, dict[str, int]] = Field(description="examples per split per class, copies included")
    report: ExtractionReport
    split_policy: dict[str, float]
    files: dict[str, str]
    code_version: str
    created_at: str


class LineageRecord(BaseModel):
    """Exactly which crops and images one training run used (append-only, one file per run)."""

    skill: str
    skill_version: int
    dataset_version: str
    crop_ids: dict[str, list[str]]
    image_ids: dict[str, list[str]]
    created_at: str


@dataclass(frozen=True)
class ExtractDeps:
    catalog: Catalog
    store: BlobStore
    artifacts_bucket: str
    salt: str
    quality: QualitySettings = field(default_factory=QualitySettings)


def dataset_prefix(skill: str, dataset_version: str) -> str:
    return f"datasets/{validate_skill_name(skill)}/{dataset_version}/"


def screened_table(spec: DatasetSpec, deps: ExtractDeps) -> tuple[RecordTable, DataQualityReport]:
    """The verified crops, less the near-duplicates of test photos, and the data-quality report.

    A group not yet assigned is judged by the side the split policy will give it (the same hash)."""
    existing = deps.catalog.group_splits()
    policy = spec.split_policy(deps.salt)

    def split_of(group_id: str) -> str:
        return existing.get(group_id) or hashed_split(group_id, policy).value

    kept, report = screen_crops(
        deps.catalog.crops_by_status(CropStatus.VERIFIED),
        deps.catalog.iter_images(),
        split_of,
        deps.quality,
        in_review=deps.catalog.crops_by_status(CropStatus.IN_REVIEW),
    )
    return RecordTable.from_crops(kept), report


def extract_from_catalog(
    skill: str, spec: DatasetSpec, deps: ExtractDeps
) -> tuple[Extraction, DatasetManifest]:
    """Extract the data set of one skill, persist new group splits, write the four files to S3."""
    table, quality = screened_table(spec, deps)
    extraction, new = extract(table, spec, deps.catalog.group_splits(), deps.salt)
    if new:
        settled = persist_new_assignments(deps.catalog, new)
        if settled != new:  # another extraction assigned some groups first: theirs win, redo
            extraction, _ = extract(table, spec, deps.catalog.group_splits(), deps.salt)
    if not extraction.data.classes:
        raise ValueError(
            f"no class of skill {skill!r} has {spec.min_images_per_class} verified images "
            f"(found {extraction.report.images_per_class}); lower min_images_per_class or label more"
        )
    extraction.report.data_quality = quality
    manifest = write_dataset(skill, extraction, deps, spec)
    return extraction, manifest


def write_dataset(
    skill: str, extraction: Extraction, deps: ExtractDeps, spec: DatasetSpec | None = None
) -> DatasetManifest:
    prefix = dataset_prefix(skill, extraction.dataset_version)
    files = {
        "data": prefix + DATA_FILE,
        "definition": prefix + DEFINITION_FILE,
        "crops_manifest": prefix + CROPS_MANIFEST_FILE,
        "manifest": prefix + MANIFEST_FILE,
    }
    _put_json(deps, files["data"], extraction.data.model_dump(mode="json"))
    _put_json(deps, files["definition"], extraction.definition())
    _put_json(deps, files["crops_manifest"], extraction.sagemaker_manifest())
    manifest = DatasetManifest(
        skill=skill,
        dataset_version=extraction.dataset_version,
        content_sha256=extraction.content_sha256,
        classes=extraction.data.classes,
        spec=spec,
        counts=example_counts(extraction.data),
        report=extraction.report,
        split_policy={
            "test_fraction": extraction.policy.test_fraction,
            "val_fraction": extraction.policy.val_fraction,
        },
        files={k: f"s3://{deps.artifacts_bucket}/{v}" for k, v in files.items()},
        code_version=code_version(),
        created_at=utc_now().isoformat(),
    )
    _put_json(deps, files["manifest"], manifest.model_dump(mode="json"))
    return manifest


def example_counts(data: DataFile) -> dict[str, dict[str, int]]:
    return {
        split.value: {name: data.splits[split.value][name].examples() for name in data.classes}
        for split in SPLIT_ORDER
    }


def lineage_record(data: DataFile, skill: str, skill_version: int) -> LineageRecord:
    crop_ids: dict[str, list[str]] = {}
    image_ids: dict[str, list[str]] = {}
    for split in SPLIT_ORDER:
        entries = [entry for _, entry in data.entries(split)]
        crop_ids[split.value] = sorted(e.crop_id for e in entries)
        image_ids[split.value] = sorted({e.image_id for e in entries})
    return LineageRecord(
        skill=skill,
        skill_version=skill_version,
        dataset_version=data.dataset_version,
        crop_ids=crop_ids,
        image_ids=image_ids,
        created_at=utc_now().isoformat(),
    )


LINEAGE_PREFIX = "lineage/"


def lineage_key(skill: str, skill_version: int) -> str:
    return f"{LINEAGE_PREFIX}{validate_skill_name(skill)}/v{skill_version:06d}.json"


def write_lineage(record: LineageRecord, store: BlobStore, bucket: str) -> str:
    key = lineage_key(record.skill, record.skill_version)
    if store.exists(bucket, key):
        raise ValueError(f"lineage of {record.skill} v{record.skill_version} exists already (append-only)")
    store.put(bucket, key, record.model_dump_json(indent=1).encode("utf-8"), content_type="application/json")
    return f"s3://{bucket}/{key}"


def read_lineage(store: BlobStore, bucket: str, skill: str, skill_version: int) -> LineageRecord | None:
    """The lineage record of one trained version (None when it has none, e.g. registered by hand)."""
    try:
        data = store.get(bucket, lineage_key(skill, skill_version)).data
    except ObjectMissingError:
        return None
    return LineageRecord.model_validate_json(data)


def _put_json(deps: ExtractDeps, key: str, payload: Any) -> None:
    deps.store.put(
        deps.artifacts_bucket,
        key,
        json.dumps(payload, separators=(",", ":")).encode("utf-8"),
        content_type="application/json",
    )
