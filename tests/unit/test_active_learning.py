"""Active learning at the hand-off: uncertainty, ranking within the budget, confident crops skip (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.core.base.records import Box, CropRecord, ServedAnswer
from functions.core.labelling.active import confidently_agrees, plan_job, uncertainty
from functions.core.labelling.settings import LabellingSettings
from tests.support.served import not_classified, served

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def crop(n: int, answer: ServedAnswer | None = None, hint: str | None = "audi") -> CropRecord:
    return CropRecord(
        crop_id=f"c{n:02d}",
        image_id=f"i{n:02d}",
        crop_bucket="b",
        crop_key=f"k{n}",
        index=0,
        box=Box(x1=0, y1=0, x2=1, y2=1),
        confidence=0.9,
        label="car",
        group_id=f"g{n}",
        variant_hint=hint,
        created_at=T0 + timedelta(minutes=n),
        skill="car-detector",
        skill_version=1,
        code_version="t",
        served=answer,
    )


def test_uncertainty_ranks_a_close_call_above_a_sure_answer_and_unserved_crops_first():
    sure = crop(1, served({"audi": 0.95, "bmw": 0.03}))
    close = crop(2, served({"audi": 0.48, "bmw": 0.44}))
    for measure in ("margin", "entropy"):
        assert uncertainty(crop(3, None), measure) == 1.0
        assert uncertainty(crop(4, not_classified()), measure) == 1.0
        assert uncertainty(close, measure) > uncertainty(sure, measure)


def test_the_job_takes_the_most_uncertain_crops_within_the_budget():
    # GIVEN six waiting crops, oldest most confident, and a budget of three
    crops = [crop(n, served({"audi": 0.95 - n * 0.1, "bmw": 0.02 + n * 0.05})) for n in range(6)]
    settings = LabellingSettings(budget_per_job=3)
    # WHEN the job is planned
    plan = plan_job(crops, settings)
    # THEN the three least certain go to people, the three others wait
    assert [c.crop_id for c in plan.crowd] == ["c05", "c04", "c03"]
    assert [c.crop_id for c in plan.deferred] == ["c02", "c01", "c00"]
    # AND in upload order the oldest go first
    upload = plan_job(crops, LabellingSettings(budget_per_job=3, order="upload"))
    assert [c.crop_id for c in upload.crowd] == ["c00", "c01", "c02"]


def test_only_confident_answers_that_agree_with_the_hint_skip_the_crowd():
    agrees = crop(1, served({"audi": 0.97, "bmw": 0.02}))
    disagrees = crop(2, served({"bmw": 0.97, "audi": 0.02}))
    unsure = crop(3, served({"audi": 0.6, "bmw": 0.3}))
    no_hint = crop(4, served({"audi": 0.97, "bmw": 0.02}), hint=None)
    assert [confidently_agrees(c, 0.9) for c in (agrees, disagrees, unsure, no_hint)] == [
        True,
        False,
        False,
        False,
    ]
    # WHEN skipping is off (the default) nothing skips; when on, only the agreeing one
    assert plan_job([agrees, disagrees], LabellingSettings()).model_labelled == []
    plan = plan_job([agrees, disagrees, unsure], LabellingSettings(skip_crowd_when_confident=True))
    assert [c.crop_id for c in plan.model_labelled] == ["c01"]
    assert {c.crop_id for c in plan.crowd} == {"c02", "c03"}
