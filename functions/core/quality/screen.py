"""Extraction's data-quality screen: keep test photos out of training, count the flags.

A verified crop whose photo nearly duplicates a photo of a test group (an exact copy, a resized or
re-encoded copy uploaded under another advert) is left out of the data set: its own group may be on
the train side, and training on it would leak the test photo. Everything else is counted for the
dataset report; flagged crops stay in (the crowd's quality question already filters them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from pydantic import BaseModel, Field

from functions.core.base.records import CropRecord, CropStatus, ImageRecord
from functions.core.quality.duplicates import HashedImage, near_duplicates, test_leaks
from functions.core.quality.settings import QualitySettings

LABEL_NOISE_NOTE = "suspected label noise"  # how a review note of a label-noise candidate starts


def suspected_label_noise(crop: CropRecord) -> bool:
    return (crop.review_note or "").startswith(LABEL_NOISE_NOTE)


class DataQualityReport(BaseModel):
    images_hashed: int = Field(description="catalogued photos with a perceptual hash")
    near_duplicate_pairs: int = Field(description="photo pairs of different groups within the hash distance")
    blocked_near_duplicates_of_test: int = Field(description="verified crops kept out: copies of test photos")
    blocked_crop_ids: list[str] = Field(default_factory=list)
    flagged_images: dict[str, int] = Field(description="photos of the verified crops, per quality flag")
    flagged_crops: dict[str, int] = Field(description="verified crops, per quality flag")
    label_noise_in_review: int = Field(
        default=0, description="crops in expert review as suspected label noise (`skillforge label-noise`)"
    )


def hashed_images(images: Iterable[ImageRecord]) -> list[HashedImage]:
    return [
        HashedImage(image_id=i.image_id, group_id=i.group_id, phash=i.stats.phash)
        for i in images
        if i.stats is not None
    ]


def screen_crops(
    crops: Iterable[CropRecord],
    images: Iterable[ImageRecord],
    split_of_group: Callable[[str], str],
    settings: QualitySettings,
    in_review: Iterable[CropRecord] = (),
) -> tuple[list[CropRecord], DataQualityReport]:
    """(the crops that may enter the data set, the report of what was found)."""
    catalogued = list(images)
    hashed = hashed_images(catalogued)
    pairs = near_duplicates(hashed, settings.near_duplicate_bits)
    leaks = test_leaks(pairs, split_of_group)
    crops = list(crops)
    kept = [c for c in crops if c.image_id not in leaks]
    blocked = sorted(c.crop_id for c in crops if c.image_id in leaks)
    used_images = {c.image_id for c in crops}
    image_flags: Counter[str] = Counter(
        flag.value for i in catalogued if i.image_id in used_images and i.stats for flag in i.stats.flags
    )
    crop_flags: Counter[str] = Counter(flag.value for c in crops if c.stats for flag in c.stats.flags)
    noise = sum(1 for c in in_review if c.status is CropStatus.IN_REVIEW and suspected_label_noise(c))
    report = DataQualityReport(
        images_hashed=len(hashed),
        near_duplicate_pairs=len(pairs),
        blocked_near_duplicates_of_test=len(blocked),
        blocked_crop_ids=blocked,
        flagged_images=dict(sorted(image_flags.items())),
        flagged_crops=dict(sorted(crop_flags.items())),
        label_noise_in_review=noise,
    )
    return kept, report
