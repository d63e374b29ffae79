"""Label-noise candidates go back to the expert: verified crops whose label an out-of-fold model finds
implausible (found by `skillforge label-noise`, training/label_noise.py) are put back in review with
their current label proposed and a note "suspected label noise: ..." that the review page shows.

Nothing is relabelled silently: the expert confirms the label (the crop is verified again) or corrects
it. While a crop waits in review it is in no data set (extraction reads verified crops only); the
dataset report counts the ones waiting (quality/screen.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.quality.screen import LABEL_NOISE_NOTE


class NoiseCandidate(BaseModel):
    crop_id: str
    given: str = Field(description="the class the crop is labelled with")
    suggested: str = Field(description="the class the out-of-fold model finds most likely")
    self_confidence: float = Field(description="out-of-fold probability of the given class (low: suspect)")

    def note(self, checked_by: str) -> str:
        return (
            f"{LABEL_NOISE_NOTE}: labelled {self.given!r}, {checked_by} suggests {self.suggested!r} "
            f"(p({self.given}) = {self.self_confidence:.2f} out of fold)"
        )


def send_to_review(
    catalog: DynamoCatalog, candidates: Sequence[NoiseCandidate], checked_by: str
) -> list[str]:
    """Verified crops among `candidates` → back in review, their label proposed, the suspicion noted.

    Returns the ids moved; a crop no longer verified (already in review, rejected) is left as it is.
    """
    moved: list[str] = []
    for candidate in candidates:
        crop = catalog.get_crop(candidate.crop_id)
        if crop is None or crop.status is not CropStatus.VERIFIED:
            continue
        reopened = crop.model_copy(
            update={
                "status": CropStatus.IN_REVIEW,
                "variant_hint": crop.final_class or crop.variant_hint,
                "review_note": candidate.note(checked_by),
                "reviewer": None,
                "reviewed_at": None,
            }
        )
        if catalog.update_crop(reopened, expected_status=CropStatus.VERIFIED):
            moved.append(crop.crop_id)
    return moved
