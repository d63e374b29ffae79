"""Zero-loss accounting: reconcile the raw bucket with the catalog, the crops and the dead-letter queues."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

from functions.core.base.records import CropRecord, ImageRecord


class AuditReport(BaseModel):
    uploads: int
    terminal: dict[str, int] = Field(description="uploads per terminal state")
    quarantine_reasons: dict[str, int]
    missing: list[str] = Field(description="raw keys with no catalog record (lost or still in flight)")
    orphan_records: list[str] = Field(description="catalog records whose raw object is gone")
    duplicate_records: list[str] = Field(description="raw keys catalogued more than once")
    crops: int
    missing_crops: list[str] = Field(description="crop records whose object is not in the crops bucket")
    orphan_crops: list[str] = Field(description="crop objects no record points to (duplicates)")
    served: dict[str, int] = Field(
        default_factory=dict,
        description="crops per serving state: classified, not_classified (a recorded outcome, with a "
        "reason), unserved (no answer: serving was off when the crop was made; `skillforge reprocess`)",
    )
    not_classified_reasons: dict[str, int] = Field(default_factory=dict)
    dead_letters: int = Field(description="messages waiting in dead-letter queues")
    dead_letter_keys: list[str]
    dead_letter_reasons: dict[str, int] = Field(
        default_factory=dict, description="dead letters per reason (what the function that gave up wrote)"
    )

    @property
    def clean(self) -> bool:
        return not (
            self.missing
            or self.duplicate_records
            or self.missing_crops
            or self.orphan_crops
            or self.dead_letters
        )


def reconcile(
    raw_keys: Iterable[str],
    images: Iterable[ImageRecord],
    crops: Iterable[CropRecord],
    crop_object_keys: Iterable[str],
    dead_letter_keys: Iterable[str] = (),
    dead_letter_reasons: Iterable[str] = (),
) -> AuditReport:
    """Every upload must be in exactly one terminal state; anything else is listed by name."""
    raw = set(raw_keys)
    image_list = list(images)
    # A re-upload to a key supersedes the older record explicitly: only the current ones count per key.
    current = [record for record in image_list if record.superseded_by is None]
    per_key = Counter(record.key for record in current)
    by_key = {record.key: record for record in current}
    crop_list = list(crops)
    referenced = {crop.crop_key for crop in crop_list}
    stored_crops = set(crop_object_keys)
    dead = sorted(set(dead_letter_keys))
    return AuditReport(
        uploads=len(raw),
        terminal=dict(Counter(by_key[k].status.value for k in raw if k in by_key)),
        quarantine_reasons=dict(Counter(str(r.reason) for r in image_list if r.reason is not None)),
        missing=sorted(k for k in raw if k not in by_key),
        orphan_records=sorted(k for k in by_key if k not in raw),
        duplicate_records=sorted(k for k, n in per_key.items() if n > 1),
        crops=len(crop_list),
        served=dict(Counter(c.served.status if c.served else "unserved" for c in crop_list)),
        not_classified_reasons=dict(
            Counter(
                str(c.served.reason) for c in crop_list if c.served and c.served.status == "not_classified"
            )
        ),
        missing_crops=sorted(referenced - stored_crops),
        orphan_crops=sorted(stored_crops - referenced),
        dead_letters=len(dead),
        dead_letter_keys=dead,
        dead_letter_reasons=dict(Counter(dead_letter_reasons)),
    )
