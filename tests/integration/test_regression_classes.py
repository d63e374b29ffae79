"""Harness and replay cases take their expected class from the skill's data-set spec (glob classes)."""

from __future__ import annotations

from typing import Any

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord, CropStatus, ImageRecord, ImageStatus
from functions.core.dataset.spec import DatasetSpec
from functions.core.gate.regression import replay_cases

CAR_MAKE = DatasetSpec.model_validate(
    {"classes": [{"name": "Audi", "match": ["audi-*"]}, {"name": "BMW", "match": ["bmw-*"]}]}
)


def _verified(catalog: DynamoCatalog, crop_id: str, label: str) -> None:
    catalog.put_image_if_absent(
        ImageRecord(
            image_id=f"img-{crop_id}", bucket="raw", key=f"uploads/{crop_id}.jpg", group_id=f"g-{crop_id}",
            status=ImageStatus.CARS_FOUND, skill="car-detector", skill_version=1, code_version="test",
        )
    )  # fmt: skip
    catalog.put_crop(
        CropRecord(
            crop_id=crop_id, image_id=f"img-{crop_id}", crop_bucket="crops", crop_key=f"crops/{crop_id}.jpg",
            index=0, box=Box(x1=0, y1=0, x2=10, y2=10), confidence=0.9, label="car", group_id=f"g-{crop_id}",
            status=CropStatus.VERIFIED, skill="car-detector", skill_version=1, code_version="test",
            final_class=label, split="test",
        )
    )  # fmt: skip


def test_replay_maps_verified_variant_labels_to_the_skills_glob_classes(moto_aws: dict[str, Any]) -> None:
    # GIVEN verified test-split crops labelled with variants, and one label no class of car-make uses
    catalog = DynamoCatalog(moto_aws["table"])
    _verified(catalog, "c1", "audi-tts-coupe-2012")
    _verified(catalog, "c2", "bmw-m3-coupe-2012")
    _verified(catalog, "c3", "ford-f-150-regular-cab-2012")
    # WHEN the replay cases of car-make are gathered with its spec's mapping
    cases = replay_cases(catalog, CAR_MAKE.class_of)
    # THEN each variant counts as its make, and the unused label is left out
    assert sorted((case.case_id, case.expected) for case in cases) == [
        ("replay-c1", "Audi"),
        ("replay-c2", "BMW"),
    ]
