"""Label-noise candidates: confident learning (cleanlab) on out-of-fold predictions.

Each verified example gets predicted probabilities from a model that never saw it (k-fold cross
validation of a logistic regression on backbone embeddings, training/embed.py); cleanlab's
`find_label_issues` lists the examples whose given label the out-of-fold model finds implausible,
ranked by self-confidence. Candidates go back to the expert (`send_to_review`), never silently
relabelled; the dataset report counts the ones waiting (quality/screen.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.quality.screen import LABEL_NOISE_NOTE


class NoiseCandidate(BaseModel):
    id: str
    given: str
    suggested: str
    self_confidence: float  # out-of-fold probability of the given label


def out_of_fold_probabilities(
    features: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], folds: int = 5, seed: int = 0
) -> npt.NDArray[np.float64]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    counts = np.bincount(labels)
    folds = max(2, min(folds, int(counts[counts > 0].min())))
    model = LogisticRegression(max_iter=3000, C=10.0)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probabilities: npt.NDArray[np.float64] = cross_val_predict(
        model, features, labels, cv=splitter, method="predict_proba"
    )
    return probabilities


def label_noise_candidates(
    features: npt.NDArray[np.float32], names: Sequence[str], ids: Sequence[str], folds: int = 5
) -> list[NoiseCandidate]:
    """The examples whose label looks wrong to an out-of-fold model, most suspicious first."""
    from cleanlab.filter import find_label_issues

    classes = sorted(set(names))
    labels = np.asarray([classes.index(n) for n in names], dtype=np.int64)
    probabilities = out_of_fold_probabilities(features, labels, folds)
    ranked = find_label_issues(
        labels=labels, pred_probs=probabilities, return_indices_ranked_by="self_confidence"
    )
    return [
        NoiseCandidate(
            id=ids[i],
            given=names[i],
            suggested=classes[int(np.argmax(probabilities[i]))],
            self_confidence=round(float(probabilities[i][labels[i]]), 4),
        )
        for i in ranked
    ]


def send_to_review(catalog: DynamoCatalog, candidates: Sequence[NoiseCandidate]) -> int:
    """Verified crops among `candidates` → back in review, proposing their label, the suspicion noted."""
    moved = 0
    for candidate in candidates:
        crop = catalog.get_crop(candidate.id)
        if crop is None or crop.status is not CropStatus.VERIFIED:
            continue
        reopened = crop.model_copy(
            update={
                "status": CropStatus.IN_REVIEW,
                "variant_hint": crop.final_class or crop.variant_hint,
                "review_note": LABEL_NOISE_NOTE,
                "reviewer": None,
                "reviewed_at": None,
            }
        )
        moved += catalog.update_crop(reopened, expected_status=CropStatus.VERIFIED)
    return moved
