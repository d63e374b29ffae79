"""Reading the catalog back: images with their crops, the answers and every version that gave them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropRecord, ImageRecord


class CatalogEntry(BaseModel):
    """One uploaded image with its crop records (each with its served answer, if any)."""

    image: ImageRecord
    crops: list[CropRecord]


def read_records(
    catalog: DynamoCatalog,
    image_id: str | None = None,
    since: datetime | None = None,
    skill: str | None = None,
) -> Iterator[CatalogEntry]:
    """Images (one, or all: parallel scan) oldest first, filtered by time and by the skill that answered.

    `since`: the image was processed, or one of its crops answered, at or after it.
    `skill`: only crops answered by that skill, and only images with such a crop.
    """
    if image_id is not None:
        image = catalog.get_image(image_id)
        if image is None:
            raise ValueError(f"no image {image_id!r} in the catalog")
        found = catalog.get_crops(image.crop_ids)
        entries = [CatalogEntry(image=image, crops=[found[c] for c in image.crop_ids if c in found])]
    else:
        by_image: dict[str, list[CropRecord]] = defaultdict(list)
        for crop in catalog.iter_crops():
            by_image[crop.image_id].append(crop)
        entries = [
            CatalogEntry(image=image, crops=sorted(by_image.get(image.image_id, []), key=lambda c: c.index))
            for image in catalog.iter_images()
        ]
    entries.sort(key=lambda e: (e.image.processed_at, e.image.image_id))
    for entry in entries:
        if since is not None and not _touched_since(entry, since):
            continue
        if skill is not None:
            crops = [c for c in entry.crops if c.served is not None and c.served.answered_by(skill)]
            if crops:
                yield CatalogEntry(image=entry.image, crops=crops)
            continue
        yield entry


def _touched_since(entry: CatalogEntry, since: datetime) -> bool:
    if entry.image.processed_at >= since:
        return True
    return any(c.served is not None and c.served.served_at >= since for c in entry.crops)
