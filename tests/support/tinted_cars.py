"""Real car photos tinted by class: a data set a one-minute training run learns, that a real detector sees.

Class `red-tinted` is a Stanford Cars photo blended with red, `blue-tinted` another photo blended
with blue. The photos stay real (the real detector finds their cars and crops them, for training as
for the gate's harness), while the class is a colour that a small network learns in a few epochs:
the end-to-end pipeline can be run with a real gate decision in a test's time budget.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from functions.core.base.artifacts import Artifacts
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Upload
from functions.core.base.resources import ResourceNames
from functions.core.detection.detect import detect_batch
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.detection.wiring import build_detect_deps
from functions.core.gate.regression import Harness, HarnessCase, HarnessStore
from scripts.local.labelled_ingest import accept_hints, stanford_photos

TINTS: dict[str, tuple[int, int, int]] = {"red-tinted": (220, 30, 30), "blue-tinted": (30, 60, 220)}


def tinted(path: Path, colour: tuple[int, int, int], max_side: int) -> bytes:
    with Image.open(path) as opened:
        photo = opened.convert("RGB")
    photo.thumbnail((max_side, max_side))
    blended = Image.blend(photo, Image.new("RGB", photo.size, colour), 0.55)
    buffer = io.BytesIO()
    blended.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def photos(subset: Path, count: int) -> list[Path]:
    found = [photo.path for photo in stanford_photos(subset)][:count]
    assert len(found) == count, f"{subset} holds {len(found)} photos, {count} needed"
    return found


def seed_verified_crops(
    table: Any, s3: Any, names: ResourceNames, sources: list[Path], per_class: int, models_dir: Path
) -> dict[str, int]:
    """`per_class` tinted photos of each class uploaded as `<tint>/<group>/<file>`, run through the real
    detection (the OpenVINO detector: crops, catalog records), then reviewed the way the demo's review
    accepts hints. Returns the review's counts (verified main cars, rejected background cars)."""
    deps = build_detect_deps(
        PipelineSettings(
            raw_bucket=names.raw_bucket,
            crops_bucket=names.crops_bucket,
            quarantine_bucket=names.quarantine_bucket,
            catalog_table=names.catalog_table,
        ),
        DetectorSettings(models_dir=models_dir),
    )
    uploads: list[Upload] = []
    for offset, (name, colour) in enumerate(TINTS.items()):
        for path in sources[offset * per_class : (offset + 1) * per_class]:
            key = f"{name}/{name}-{path.stem}/{path.name}"
            s3.put_object(Bucket=names.raw_bucket, Key=key, Body=tinted(path, colour, max_side=640))
            uploads.append(Upload(bucket=names.raw_bucket, key=key))
    failed = [outcome for outcome in detect_batch(uploads, deps) if isinstance(outcome, Exception)]
    assert not failed, failed
    return dict(accept_hints(DynamoCatalog(table)))


def freeze_harness(
    artifacts: Artifacts,
    bucket: str,
    skill: str,
    sources: list[Path],
    per_class: int,
    mislabelled: bool = False,
) -> Harness:
    """A frozen harness of whole tinted photos (`per_class` of each tint), as `skillforge harness freeze`
    keeps one: images under harness/<skill>/images/, the case list in harness/<skill>/. `mislabelled`:
    every case expects the other tint (a harness no honest model passes)."""
    names = list(TINTS)
    cases: list[HarnessCase] = []
    for offset, (name, colour) in enumerate(TINTS.items()):
        expected = names[1 - offset] if mislabelled else name
        for path in sources[offset * per_class : (offset + 1) * per_class]:
            uri = f"s3://{bucket}/harness/{skill}/images/{name}/{path.name}"
            artifacts.write_bytes(uri, tinted(path, colour, max_side=640), "image/jpeg")
            cases.append(HarnessCase(case_id=f"{name}-{path.stem}", image_uri=uri, expected=expected))
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
        "training": {"imgsz": imgsz, "epochs": epochs, "patience": epochs, "batch": 8, "lr0": 0.003},
        "augment": {"hue_saturation": False, "brightness_contrast": False, "random_erasing": False},
        "profiles": {
            "cloud": {"kind": "sagemaker", "instance_type": "ml.m5.xlarge", "max_runtime_s": 900, "batch": 8}
        },
        "default_profile": "cloud",
    }
