"""Real car photos tinted by class: a data set a one-minute training run learns, that a real detector sees.

Class `red-tinted` is a Stanford Cars photo blended with red, `blue-tinted` another photo blended
with blue. The photos stay real (the detector finds their cars, the crops are real crops), while the
class is a colour that a small network learns in a few epochs: the end-to-end pipeline can be run
with a real gate decision in a test's time budget.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from functions.core.base.artifacts import Artifacts
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord
from functions.core.detection.crops import crop_id, crop_key
from functions.core.detection.upload_keys import image_id_for
from functions.core.gate.regression import Harness, HarnessCase, HarnessStore
from scripts.local.labelled_ingest import accept_hints, stanford_photos

TINTS: dict[str, tuple[int, int, int]] = {"red-tinted": (220, 30, 30), "blue-tinted": (30, 60, 220)}


def tinted(path: Path, colour: tuple[int, int, int], max_side: int) -> bytes:
    with Image.open(path) as opened:
        photo = opened.convert("RGB")
    photo.thumbnail((max_side, max_side))
    blended = Image.blend(photo, Image.new("RGB", photo.size, colour), 0.45)
    buffer = io.BytesIO()
    blended.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def photos(subset: Path, count: int) -> list[Path]:
    found = [photo.path for photo in stanford_photos(subset)][:count]
    assert len(found) == count, f"{subset} holds {len(found)} photos, {count} needed"
    return found


def seed_verified_crops(
    table: Any, s3: Any, crops_bucket: str, sources: list[Path], per_class: int
) -> dict[str, int]:
    """`per_class` verified crops of each tint in the catalog (crops in the crops bucket, one group each),
    reviewed the way the demo's review accepts hints. Returns verified counts."""
    catalog = DynamoCatalog(table)
    for offset, (name, colour) in enumerate(TINTS.items()):
        for path in sources[offset * per_class : (offset + 1) * per_class]:
            image_id = image_id_for(f"{name}/{path.name}")
            key = crop_key(image_id, 0)
            data = tinted(path, colour, max_side=160)
            s3.put_object(Bucket=crops_bucket, Key=key, Body=data, ContentType="image/jpeg")
            with Image.open(io.BytesIO(data)) as crop:
                width, height = crop.size
            catalog.put_crop(
                CropRecord(
                    crop_id=crop_id(image_id, 0),
                    image_id=image_id,
                    crop_bucket=crops_bucket,
                    crop_key=key,
                    index=0,
                    box=Box(x1=0, y1=0, x2=width, y2=height),
                    confidence=0.9,
                    label="car",
                    group_id=f"{name}-{path.stem}",
                    variant_hint=name,
                    skill="car-detector",
                    skill_version=1,
                    code_version="test",
                )
            )
    return dict(accept_hints(catalog))


def freeze_harness(
    artifacts: Artifacts, bucket: str, skill: str, sources: list[Path], per_class: int
) -> Harness:
    """A frozen harness of whole tinted photos (`per_class` of each tint), as `skillforge harness freeze`
    keeps one: images under harness/<skill>/images/, the case list in harness/<skill>/."""
    cases: list[HarnessCase] = []
    for offset, (name, colour) in enumerate(TINTS.items()):
        for path in sources[offset * per_class : (offset + 1) * per_class]:
            uri = f"s3://{bucket}/harness/{skill}/images/{name}/{path.name}"
            artifacts.write_bytes(uri, tinted(path, colour, max_side=640), "image/jpeg")
            cases.append(HarnessCase(case_id=f"{name}-{path.stem}", image_uri=uri, expected=name))
    harness = Harness.freeze(skill, cases, description="tinted Stanford Cars photos")
    HarnessStore(artifacts, f"s3://{bucket}/harness").save(harness)
    return harness


def skill_config(pretrained: str | None, epochs: int, imgsz: int) -> dict[str, Any]:
    """The tint skill's config, with a SageMaker profile (what make-skill in the cloud runs)."""
    return {
        "skill": "tint",
        "description": "which tint a car photo has (end-to-end test skill)",
        "dataset": {
            "classes": [{"name": name, "match": [name]} for name in TINTS],
            "min_images_per_class": 6,
            "test_fraction": 0.25,
            "val_fraction": 0.0,
            "balance": {"strategy": "none"},
        },
        "network": {"pretrained": pretrained, "freeze": 0},
        "training": {"imgsz": imgsz, "epochs": epochs, "patience": epochs, "batch": 8, "lr0": 0.005},
        "augment": {"hue_saturation": False, "random_erasing": False},
        "profiles": {
            "cloud": {"kind": "sagemaker", "instance_type": "ml.m5.xlarge", "max_runtime_s": 900, "batch": 8}
        },
        "default_profile": "cloud",
    }
