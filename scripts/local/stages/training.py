"""Demo training stages: labelled photos in (before labelling), then after labelling:
verified crops → extraction → local transfer-learning training → candidate skill registered.

The bundled demo photos give only a few car crops, so when ../shared/data/stanford-cars-subset is
there, `ingest` (run before the labelling stage) uploads every photo of 3 classes (a pickup, a
convertible and a van; about 100 photos) as `<class>/<group>/<file>`: detection crops them like any
upload and the labelling stage hands them to the crowd and review. The skill is a real one: the
pretrained backbone fine-tuned for a couple of minutes. Without the subset, `run` catalogues
synthetic crops of 3 classes (the detector finds no car in synthetic shapes) and says that its skill
is synthetic. Crops still `new` when `run` starts (synthetic ones, or all when no labelling stage
ran) are reviewed by accepting their hint.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord, CropStatus
from functions.core.base.versions import code_version
from functions.core.detection.crops import crop_id, crop_key
from functions.core.detection.upload_keys import image_id_for
from scripts.local.demo_run import DemoRun
from scripts.local.labelled_ingest import LabelledPhoto, accept_hints, stanford_photos, upload_and_detect

REPO = Path(__file__).resolve().parents[3]
DEMO_CONFIG = REPO / "training" / "configs" / "demo.json"
DEMO_CLASSES = (
    "dodge-ram-pickup-3500-quad-cab-2009",
    "bmw-z4-convertible-2012",
    "dodge-sprinter-cargo-van-2009",
)


def shared_subset() -> Path | None:
    root = os.environ.get("SKILLFORGE_SHARED_DATA")
    candidates = [Path(root)] if root else []
    candidates.append(REPO.parent / "shared" / "data")
    for base in candidates:
        if (base / "stanford-cars-subset" / "labels.csv").is_file():
            return base / "stanford-cars-subset"
    return None


# The last photos of each demo class are kept for the serving stage, never trained on.
SERVING_PHOTOS_PER_CLASS = 2


def demo_photos(subset: Path) -> tuple[list[LabelledPhoto], list[LabelledPhoto]]:
    """The demo classes' photos: (for training, held out for the serving stage)."""
    by_class: dict[str, list[LabelledPhoto]] = {}
    for photo in stanford_photos(subset):
        if photo.label in DEMO_CLASSES:
            by_class.setdefault(photo.label, []).append(photo)
    train = [p for photos in by_class.values() for p in photos[:-SERVING_PHOTOS_PER_CLASS]]
    held_out = [p for photos in by_class.values() for p in photos[-SERVING_PHOTOS_PER_CLASS:]]
    return train, held_out


def _ingest_real(demo: DemoRun, subset: Path) -> dict[str, Any]:
    photos, _ = demo_photos(subset)
    failures = upload_and_detect(demo.emulator, photos)
    return {"source": "stanford-cars-subset", "photos": len(photos), "delivery_failures": failures}


def _ingest_synthetic(demo: DemoRun, catalog: DynamoCatalog) -> dict[str, Any]:
    """No real photos: catalogue synthetic crops as if detected (the detector finds no car in them)."""
    from training.synthetic import write_synthetic_set

    s3 = demo.emulator.client("s3")
    bucket = demo.emulator.names.crops_bucket
    with tempfile.TemporaryDirectory() as tmp:
        files = write_synthetic_set(Path(tmp), ["synthetic-red", "synthetic-blue", "synthetic-green"], 12)
        for path in files:
            image_id = image_id_for(f"{path.parent.name}/{path.name}")
            key = crop_key(image_id, 0)
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="image/jpeg")
            catalog.put_crop(
                CropRecord(
                    crop_id=crop_id(image_id, 0),
                    image_id=image_id,
                    crop_bucket=bucket,
                    crop_key=key,
                    index=0,
                    box=Box(x1=0, y1=0, x2=64, y2=64),
                    confidence=1.0,
                    label="car",
                    group_id=f"synthetic-{image_id}",
                    variant_hint=path.parent.name,
                    skill="synthetic",
                    skill_version=1,
                    code_version=code_version(),
                )
            )
    return {"source": "synthetic", "photos": len(files), "delivery_failures": 0}


def ingest(demo: DemoRun) -> None:
    """Upload the real labelled photos (if available) so that labelling and review see them."""
    subset = shared_subset()
    if subset is None:
        demo.summary["training_data"] = {"source": "synthetic (added by the training stage)"}
        return
    demo.summary["training_data"] = _ingest_real(demo, subset)
    demo.progress(f"training data: uploaded {demo.summary['training_data']['photos']} labelled photos")


def run(demo: DemoRun) -> None:
    from functions.core.dataset.wiring import build_extract_deps
    from functions.core.skills.registry import SkillRegistry
    from training.config import load_config
    from training.skill_maker import LocalMakerDeps, make_skill_local
    from training.transfer import models_folder

    table = demo.emulator.resource("dynamodb").Table(demo.emulator.names.catalog_table)
    catalog = DynamoCatalog(table)
    reviewed_before = sum(1 for _ in catalog.crops_by_status(CropStatus.VERIFIED))
    ingested = demo.summary.get("training_data", {})
    if ingested.get("source") == "stanford-cars-subset":
        extra = ingested
    else:
        extra = _ingest_synthetic(demo, catalog)
        demo.progress(f"training: catalogued {extra['photos']} synthetic verified crops")
    review = accept_hints(catalog)
    demo.progress(f"training: review accepted hints: {dict(review)}")

    config = load_config(DEMO_CONFIG)
    models_dir = models_folder()
    pretrained_found = models_dir is not None and (models_dir / str(config.network.pretrained)).is_file()
    if not pretrained_found:  # no offline weights here: train the tiny skill from scratch instead
        config = config.model_copy(
            update={"network": config.network.model_copy(update={"pretrained": None, "freeze": 0})}
        )
    started = time.perf_counter()
    made = make_skill_local(
        config,
        None,
        LocalMakerDeps(build_extract_deps(), SkillRegistry(table), demo.out_dir / "training", models_dir),
    )
    seconds = time.perf_counter() - started
    dataset = made.dataset
    demo.summary["dataset"] = {
        "dataset_version": made.skill.dataset_version,
        "classes": made.skill.classes,
        "per_class_counts": dataset.counts if dataset else None,
        "excluded_classes": dataset.report.excluded_classes if dataset else None,
        "balance": dataset.report.balance.model_dump(mode="json") if dataset else None,
        "manifest": dataset.files["manifest"] if dataset else None,
        "extra_examples": extra,
        "review": {
            "verified_by_labelling_stage": reviewed_before,
            "auto_accepted_hints": dict(review),
            "mode": "labelling stage + hints" if reviewed_before else "hints accepted in this stage",
        },
    }
    synthetic = extra.get("source") == "synthetic"
    demo.summary["training"] = {
        "data": "synthetic shapes (no ../shared/data): not a car skill" if synthetic else "real photos",
        "skill": made.skill.skill,
        "skill_version": made.skill.skill_version,
        "code_version": made.skill.code_version,
        "config_hash": made.skill.config_hash,
        "hardware_profile": made.skill.hardware_profile,
        "pretrained": config.network.pretrained,
        "top1": made.skill.metrics.get("top1"),
        "test_images": made.skill.metrics.get("test_images"),
        "epochs_run": made.skill.epochs_run,
        "train_seconds": made.skill.train_seconds,
        "stage_seconds": round(seconds, 1),
        "artifact_uri": made.skill.artifact_uri,
        "model_dir": made.model_dir,
    }
    kind = (
        "SYNTHETIC skill (no ../shared/data: trained on generated shapes, not cars)" if synthetic else "skill"
    )
    print(
        f"\n  training: {kind} {made.skill.skill} v{made.skill.skill_version} "
        f"on dataset {made.skill.dataset_version} "
        f"({len(made.skill.classes)} classes), test top-1 {made.skill.metrics.get('top1')}, "
        f"{made.skill.train_seconds} s\n"
    )
