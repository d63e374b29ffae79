"""Extraction against the catalog table and buckets in moto: persisted splits, files in S3, handler."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord, CropStatus
from functions.core.base.storage import BlobStore
from functions.core.dataset.build import Extraction
from functions.core.dataset.extract import ExtractDeps, extract_from_catalog
from functions.core.dataset.spec import DatasetSpec


def _verified(catalog: DynamoCatalog, label: str, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        catalog.put_crop(
            CropRecord(
                crop_id=f"{label}-{i}-00",
                image_id=f"{label}-{i}",
                crop_bucket="skillforge-test-crops",
                crop_key=f"crops/{label}/{i}.jpg",
                index=0,
                box=Box(x1=0, y1=0, x2=10, y2=10),
                confidence=0.9,
                label="car",
                group_id=f"advert-{label}-{i // 2}",
                variant_hint=label,
                status=CropStatus.VERIFIED,
                final_class=label,
                skill="car-detector",
                skill_version=1,
                code_version="t",
            )
        )


def _sides(extraction: Extraction) -> dict[str, str]:
    splits = extraction.data.splits
    return {c: s for s, per in splits.items() for class_list in per.values() for c in class_list.crop_ids}


@pytest.fixture
def deps(moto_aws: dict[str, Any]) -> ExtractDeps:
    return ExtractDeps(
        catalog=DynamoCatalog(moto_aws["table"]),
        store=BlobStore(moto_aws["s3"]),
        artifacts_bucket=moto_aws["names"].artifacts_bucket,
        salt="test",
    )


def test_splits_are_persisted_and_survive_a_new_fraction(deps):
    # GIVEN verified crops of two classes, extracted once
    _verified(deps.catalog, "audi", 40)
    _verified(deps.catalog, "bmw", 40)
    spec = DatasetSpec(min_images_per_class=10)
    first, _ = extract_from_catalog("car-make", spec, deps)
    persisted = deps.catalog.group_splits()
    # THEN every group's split is in the catalog
    assert len(persisted) == 40
    # WHEN more crops arrive and the test fraction is changed
    _verified(deps.catalog, "audi", 20, start=40)
    second, _ = extract_from_catalog(
        "car-make", DatasetSpec(min_images_per_class=10, test_fraction=0.5), deps
    )
    # THEN no earlier crop changed side
    before, after = _sides(first), _sides(second)
    assert all(after[c] == s for c, s in before.items() if s == "test")
    assert {c for c, s in after.items() if s == "test"} >= {c for c, s in before.items() if s == "test"}
    assert deps.catalog.group_splits().items() >= persisted.items()


def test_the_four_files_are_written_and_the_handler_returns_their_uris(deps, moto_aws, monkeypatch):
    from functions.extract import handler

    # GIVEN verified crops and the function's environment
    _verified(deps.catalog, "audi", 12)
    _verified(deps.catalog, "bmw", 12)
    monkeypatch.setattr(handler, "deps", lambda: deps)

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "extract", 512, "req"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:extract"

    # WHEN the extract Lambda is invoked with the dataset part of a skill config
    result = handler.handler({"skill": "car-make", "dataset": {"min_images_per_class": 5}}, Context())
    # THEN it answers the dataset version and the S3 files exist, the manifest carrying the version
    bucket = moto_aws["names"].artifacts_bucket
    body = (
        moto_aws["s3"].get_object(Bucket=bucket, Key=result["manifest_uri"].split("/", 3)[3])["Body"].read()
    )
    manifest = json.loads(body)
    assert manifest["dataset_version"] == result["dataset_version"]
    for uri in (result["data_uri"], result["crops_manifest_uri"]):
        moto_aws["s3"].head_object(Bucket=bucket, Key=uri.split("/", 3)[3])
    crops_manifest = json.loads(
        moto_aws["s3"]
        .get_object(Bucket=bucket, Key=result["crops_manifest_uri"].split("/", 3)[3])["Body"]
        .read()
    )
    assert crops_manifest[0] == {"prefix": "s3://skillforge-test-crops/"}
    assert len(crops_manifest) == 1 + 24
