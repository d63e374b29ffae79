"""Registering a trained candidate from a SageMaker model.tar.gz (the register Lambda's use case)."""

from __future__ import annotations

import io
import tarfile

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord, CropStatus
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import LineageRecord
from functions.core.dataset.registration import RegisterDeps, register_model_archive
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.registry import SkillRegistry
from scripts.local.labelled_ingest import accept_hints


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_model_archive_becomes_a_registered_candidate_with_lineage(moto_aws):
    # GIVEN a training job's model.tar.gz with skill.json and lineage.json, version reserved beforehand
    bucket = moto_aws["names"].artifacts_bucket
    registry = SkillRegistry(moto_aws["table"])
    version = registry.next_version("car-make")
    manifest = SkillManifest(
        skill="car-make", skill_version=version, code_version="abc", dataset_version="d1", config_hash="c1",
        hardware_profile="gpu", classes=["Audi", "BMW"], imgsz=224, weights="weights.pt",
    )  # fmt: skip
    lineage = LineageRecord(
        skill="car-make", skill_version=version, dataset_version="d1",
        crop_ids={"train": ["a"], "val": [], "test": ["b"]},
        image_ids={"train": ["ia"], "val": [], "test": ["ib"]},
        created_at="2026-01-01T00:00:00Z",
    )  # fmt: skip
    key = "skills/car-make/job-1/output/model.tar.gz"
    moto_aws["s3"].put_object(
        Bucket=bucket,
        Key=key,
        Body=_archive(
            {
                "skill.json": manifest.model_dump_json().encode(),
                "lineage.json": lineage.model_dump_json().encode(),
            }
        ),
    )
    deps = RegisterDeps(store=BlobStore(moto_aws["s3"]), registry=registry, artifacts_bucket=bucket)
    # WHEN registered
    entry = register_model_archive(f"s3://{bucket}/{key}", deps)
    # THEN the registry has the version with the archive as its artifact, and the lineage file exists
    registered = registry.get("car-make", version)
    assert registered is not None
    assert registered.artifact_uri == f"s3://{bucket}/{key}"
    assert entry.dataset_version == "d1"
    body = (
        moto_aws["s3"].get_object(Bucket=bucket, Key=f"lineage/car-make/v{version:06d}.json")["Body"].read()
    )
    assert LineageRecord.model_validate_json(body).crop_ids["test"] == ["b"]
    # AND registering the same version again is refused (lineage is append-only)
    with pytest.raises(ValueError, match="append-only"):
        register_model_archive(f"s3://{bucket}/{key}", deps)


def test_review_by_hint_verifies_the_largest_car_and_rejects_the_others(moto_aws):
    # GIVEN two crops of one photo with a hint, as detection writes them: the big car is the main car
    # (it inherits the hint), the small background car is not
    catalog = DynamoCatalog(moto_aws["table"])
    for index, side in enumerate((50, 200)):
        main = side == 200
        catalog.put_crop(
            CropRecord(
                crop_id=f"img1-{index:02d}", image_id="img1", crop_bucket="b", crop_key=f"k{index}",
                index=index,
                box=Box(x1=0, y1=0, x2=side, y2=side), confidence=0.9, label="car", group_id="g1",
                variant_hint="bmw-m3" if main else None, main_car=main, main_car_rule="largest",
                skill="car-detector", skill_version=1, code_version="t",
            )
        )  # fmt: skip
    # WHEN hints are accepted
    outcome = accept_hints(catalog)
    # THEN the big one is verified with the hinted class, the small one rejected
    assert outcome == {"verified": 1, "rejected": 1}
    big, small = catalog.get_crop("img1-01"), catalog.get_crop("img1-00")
    assert big is not None and small is not None
    assert (big.status, big.final_class) == (CropStatus.VERIFIED, "bmw-m3")
    assert small.status is CropStatus.REJECTED
