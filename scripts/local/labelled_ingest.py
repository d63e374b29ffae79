"""Feeding labelled photos through the pipeline as a user would, for training runs and the demo.

Photos are uploaded as `<class>/<group>/<file>` (the prefix is the seed's per-variant "bucket"
hint), detection crops them (the photo's main car inherits the hint), and review accepts the hint:
the main car of each photo is verified with the hinted class, other cars in the photo are rejected.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from functions.core.base.catalog import Catalog
from functions.core.base.records import CropRecord, CropStatus, utc_now
from scripts.local.delivery import drain_queue
from scripts.local.emulator import Emulator

AUTO_REVIEWER = "auto-accept-hint"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    label: str  # slug of the class, e.g. bmw-m3-coupe-2012
    group: str

    @property
    def key(self) -> str:
        return f"{self.label}/{self.group}/{self.path.name}"


def stanford_photos(
    subset: Path, label_prefixes: Iterable[str] | None = None, per_class: int | None = None
) -> list[LabelledPhoto]:
    """Photos of the Stanford Cars subset (labels.csv), each its own group (no advert ids there)."""
    labels = subset / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"{labels} does not exist")
    prefixes = tuple(label_prefixes) if label_prefixes else None
    taken: Counter[str] = Counter()
    photos: list[LabelledPhoto] = []
    with labels.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            label = slug(row["class_name"])
            if prefixes and not label.startswith(prefixes):
                continue
            if per_class is not None and taken[label] >= per_class:
                continue
            taken[label] += 1
            path = subset / row["file"]
            photos.append(LabelledPhoto(path=path, label=label, group=f"stanford-{path.stem}"))
    return photos


def upload_and_detect(emulator: Emulator, photos: list[LabelledPhoto]) -> int:
    """Upload to the raw bucket and deliver the S3 events to the detect handler; returns failures."""
    from functions.detect import handler as detect_handler

    s3 = emulator.client("s3")
    for photo in photos:
        s3.put_object(Bucket=emulator.names.raw_bucket, Key=photo.key, Body=photo.path.read_bytes())
    stats = drain_queue(emulator.client("sqs"), emulator.queues["detect_queue_url"], detect_handler.handler)
    return stats.failures


def accept_hints(catalog: Catalog, statuses: tuple[CropStatus, ...] = (CropStatus.NEW,)) -> Counter[str]:
    """Review by hint: the main car of each photo (the one crop that inherited the hint) → verified with
    the hinted class; the other cars of those photos → rejected (background cars)."""
    by_image: dict[str, list[CropRecord]] = {}
    for status in statuses:
        for crop in catalog.crops_by_status(status):
            by_image.setdefault(crop.image_id, []).append(crop)
    outcome: Counter[str] = Counter()
    for crops in by_image.values():
        if not any(c.variant_hint and c.main_car for c in crops):
            continue  # no hint on this photo: its cars wait for people
        for crop in crops:
            main = bool(crop.main_car and crop.variant_hint)
            previous = crop.status
            crop.status = CropStatus.VERIFIED if main else CropStatus.REJECTED
            crop.final_class = crop.variant_hint if main else None
            crop.reviewer = AUTO_REVIEWER
            crop.reviewed_at = utc_now()
            if catalog.update_crop(crop, expected_status=previous):
                outcome[crop.status.value] += 1
    return outcome
