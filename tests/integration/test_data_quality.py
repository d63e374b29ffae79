"""Data quality at ingest and extraction (moto): copies of a test photo never reach train, counts."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus, Upload
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import ExtractDeps, extract_from_catalog
from functions.core.dataset.spec import DatasetSpec
from functions.core.dataset.split import Split, SplitPolicy, hashed_split
from functions.core.detection.detect import detect_and_catalog
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.detection.wiring import build_detect_deps
from tests.support.fakes import FakeDetector

SALT = "test"


def photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A smooth random scene (low-frequency colour blobs): distinct per seed, like distinct photos."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def groups_on(side: Split, n: int, prefix: str) -> list[str]:
    policy = SplitPolicy(salt=SALT)
    found = [g for g in (f"{prefix}-{i}" for i in range(500)) if hashed_split(g, policy) is side]
    return found[:n]


@pytest.fixture
def world(moto_aws: dict[str, Any]) -> dict[str, Any]:
    names = moto_aws["names"]
    pipeline = PipelineSettings(
        raw_bucket=names.raw_bucket,
        crops_bucket=names.crops_bucket,
        quarantine_bucket=names.quarantine_bucket,
        catalog_table=names.catalog_table,
    )
    detect = build_detect_deps(pipeline, DetectorSettings(min_box_side=4), detector=FakeDetector())
    extract = ExtractDeps(
        catalog=DynamoCatalog(moto_aws["table"]),
        store=BlobStore(moto_aws["s3"]),
        artifacts_bucket=names.artifacts_bucket,
        salt=SALT,
    )
    return {"s3": moto_aws["s3"], "raw": names.raw_bucket, "detect": detect, "extract": extract}


def upload(world: dict[str, Any], key: str, data: bytes) -> str:
    world["s3"].put_object(Bucket=world["raw"], Key=key, Body=data)
    return detect_and_catalog(Upload(bucket=world["raw"], key=key), world["detect"]).image_id


def verify_all(catalog: DynamoCatalog) -> None:
    for crop in list(catalog.crops_by_status(CropStatus.NEW)):
        crop.status, crop.final_class = CropStatus.VERIFIED, crop.variant_hint
        catalog.update_crop(crop)


def test_exact_and_resized_copies_of_a_test_photo_never_land_in_train(world):
    # GIVEN a photo in a group the split puts on the test side, and other photos on both sides
    test_group = groups_on(Split.TEST, 1, "advert-t")[0]
    train_groups = groups_on(Split.TRAIN, 12, "advert-r")
    original = photo(1)
    upload(world, f"audi/{test_group}/original.jpg", jpeg(original))
    for n, group in enumerate(train_groups[2:]):
        upload(world, f"audi/{group}/other-{n}.jpg", jpeg(photo(100 + n)))
    # WHEN an exact copy and a resized copy are uploaded under two other (train-side) adverts
    exact = upload(world, f"audi/{train_groups[0]}/copy.jpg", jpeg(original))
    resized = upload(
        world,
        f"audi/{train_groups[1]}/small.jpg",
        jpeg(original.resize((200, 150), Image.Resampling.LANCZOS)),
    )
    verify_all(world["extract"].catalog)
    extraction, manifest = extract_from_catalog(
        "car-make", DatasetSpec(min_images_per_class=3), world["extract"]
    )
    # THEN neither copy is in any split, the original is on the test side
    listed = {
        image_id: split
        for split, per_class in extraction.data.splits.items()
        for class_list in per_class.values()
        for image_id in class_list.image_ids
    }
    assert exact not in listed and resized not in listed
    assert "test" in listed.values() and len([s for s in listed.values() if s != "test"]) == 10
    # AND the dataset report counts them
    quality = manifest.report.data_quality
    assert quality is not None
    assert quality.blocked_near_duplicates_of_test == 2
    assert quality.near_duplicate_pairs == 3  # original-exact, original-resized, exact-resized


def test_ingest_records_stats_and_flags_a_dark_photo(world):
    # GIVEN a very dark photo
    dark = Image.fromarray((np.asarray(photo(3)) * 0.08).astype(np.uint8))
    # WHEN it is ingested
    image_id = upload(world, "audi/advert-dark/dark.jpg", jpeg(dark))
    record = world["extract"].catalog.get_image(image_id)
    # THEN the image record holds its statistics, hash and the under-exposure flag
    assert record.stats is not None
    assert record.stats.brightness < 35 and "under_exposed" in record.stats.flags
    assert len(record.stats.phash) == 16
    crop = world["extract"].catalog.get_crop(record.crop_ids[0])
    assert crop.stats is not None and "under_exposed" in crop.stats.flags
