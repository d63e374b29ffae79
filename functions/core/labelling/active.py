"""Active learning at the hand-off: people label first what the served cascade is least sure of.

Each waiting crop gets an uncertainty from its served answer (the last cascade stage): 1 − margin
(top-1 minus top-2 probability) or the normalised entropy of its top-k; a crop the cascade did not
classify (or that was never served) is maximally uncertain. The most uncertain crops fill the job up
to the per-job budget; the rest wait for the next job. Optionally, a crop whose answer is confident
and agrees with the upload's hint skips the crowd: it is recorded `model_labelled` (unverified,
reviewer `model:<skill>@v<version>`), never verified, so extraction never puts it in any split
(once test, always test stays a human-verified set). docs/labelling.md has the measured saving.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from functions.core.base.catalog import Catalog
from functions.core.base.records import CropRecord, CropStatus, utc_now
from functions.core.labelling.settings import LabellingSettings, UncertaintyMeasure

MODEL_LABELLED_NOTE = "model-labelled, unverified"


def uncertainty(crop: CropRecord, measure: UncertaintyMeasure = "margin") -> float:
    """0 (sure) … 1 (no idea) from the served answer's last stage."""
    served = crop.served
    if served is None or served.status != "classified" or not served.stages:
        return 1.0
    ranked = [s.score for s in served.stages[-1].top_k] or [served.stages[-1].score]
    if measure == "margin":
        margin = (
            served.margin if served.margin is not None else ranked[0] - (ranked[1] if len(ranked) > 1 else 0)
        )
        return min(1.0, max(0.0, 1.0 - margin))
    rest = max(0.0, 1.0 - sum(ranked))
    probabilities = [p for p in [*ranked, rest] if p > 0]
    if len(probabilities) < 2:
        return 0.0
    entropy = -sum(p * math.log(p) for p in probabilities)
    return min(1.0, entropy / math.log(len(probabilities)))


def confidently_agrees(crop: CropRecord, min_score: float) -> bool:
    """The served answer is sure enough and names the class the upload hinted."""
    served = crop.served
    return (
        served is not None
        and served.status == "classified"
        and bool(served.stages)
        and crop.variant_hint is not None
        and served.final_label == crop.variant_hint
        and served.stages[-1].score >= min_score
    )


@dataclass
class JobPlan:
    crowd: list[CropRecord] = field(default_factory=list)  # most uncertain first
    model_labelled: list[CropRecord] = field(default_factory=list)
    deferred: list[CropRecord] = field(default_factory=list)  # stay new, for the next job


def plan_job(candidates: Iterable[CropRecord], settings: LabellingSettings) -> JobPlan:
    plan = JobPlan()
    rest: list[CropRecord] = []
    for crop in candidates:
        if settings.skip_crowd_when_confident and confidently_agrees(crop, settings.confident_score):
            plan.model_labelled.append(crop)
        else:
            rest.append(crop)
    if settings.order == "uncertainty":
        rest.sort(key=lambda c: (-uncertainty(c, settings.uncertainty), c.created_at, c.crop_id))
    else:
        rest.sort(key=lambda c: (c.created_at, c.crop_id))
    budget = min(settings.budget_per_job or settings.batch_size, settings.batch_size)
    plan.crowd, plan.deferred = rest[:budget], rest[budget:]
    return plan


def record_model_labels(catalog: Catalog, crops: Iterable[CropRecord]) -> int:
    """new → model_labelled with the model's class (only while still new); returns how many moved."""
    moved = 0
    for crop in crops:
        served = crop.served
        if served is None or not served.stages:
            continue
        last = served.stages[-1]
        updated = crop.model_copy(
            update={
                "status": CropStatus.MODEL_LABELLED,
                "final_class": served.final_label,
                "reviewer": f"model:{last.skill}@v{last.skill_version}",
                "reviewed_at": utc_now(),
                "review_note": MODEL_LABELLED_NOTE,
            }
        )
        moved += catalog.update_crop(updated, expected_status=CropStatus.NEW)
    return moved
