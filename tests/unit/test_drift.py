"""Drift monitor: a darkened batch crosses the alarm threshold, an unshifted one does not (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image, ImageEnhance

from functions.core.base.records import (
    CropRecord,
    ImageRecord,
    ImageStatus,
    Scored,
    ServedAnswer,
    StageAnswer,
)
from functions.core.monitoring.drift import (
    DayDrift,
    TrainingReference,
    drift_table,
    emf_record,
    psi,
    render_table,
)
from functions.core.monitoring.settings import DriftSettings
from functions.core.quality.measure import measure
from tests.conftest import shared_data

DAY0 = datetime(2030, 5, 1, 12, tzinfo=UTC)


def scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    size = (int(rng.integers(200, 360)), int(rng.integers(150, 260)))
    coarse = rng.integers(0, 255, size=(8, 10, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def record(image: Image.Image, n: int, group: str, day: int) -> ImageRecord:
    return ImageRecord(
        image_id=f"img-{group}-{n}",
        bucket="raw",
        key=f"x/{group}/{n}.jpg",
        group_id=group,
        uploaded_at=DAY0 + timedelta(days=day),
        status=ImageStatus.CARS_FOUND,
        stats=measure(image),
        skill="car-detector",
        skill_version=1,
        code_version="t",
    )


def darker(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(0.45)


def table_for(
    reference: list[Image.Image], today: list[Image.Image], tomorrow: list[Image.Image]
) -> list[DayDrift]:
    images = [record(im, n, f"train-{n}", day=-10) for n, im in enumerate(reference)]
    images += [record(im, n, f"new-a-{n}", day=0) for n, im in enumerate(today)]
    images += [record(im, n, f"new-b-{n}", day=1) for n, im in enumerate(tomorrow)]
    days = [(DAY0 + timedelta(days=d)).date() for d in (0, 1, 2)]
    return drift_table(images, [], learnt_from(images[: len(reference)]), days, DriftSettings()).rows


def learnt_from(images: list[ImageRecord]) -> TrainingReference:
    """The reference of a deployed version trained on `images` (its lineage's train split)."""
    return TrainingReference(
        skill="car-make", skill_version=1, dataset_version="d1", image_ids=[i.image_id for i in images]
    )


def test_a_darkened_batch_raises_the_score_past_the_threshold_an_unshifted_one_does_not():
    # GIVEN 200 reference photos, a day of 80 new photos like them and a day of 80 darkened ones
    reference = [scene(s) for s in range(200)]
    today = [scene(s) for s in range(1000, 1080)]
    tomorrow = [darker(scene(s)) for s in range(2000, 2080)]
    # WHEN the drift table is computed for those days and the day after (no uploads)
    same, dark, empty = table_for(reference, today, tomorrow)
    threshold = DriftSettings().alarm_threshold
    # THEN only the darkened day crosses the alarm threshold, on brightness
    assert same.status == "ok" and same.score is not None and same.score < threshold
    assert dark.status == "drift" and dark.score is not None and dark.score >= threshold
    assert dark.features["brightness"] == dark.score
    # AND a day without uploads is "no data", not an error, and emits no metric
    assert (empty.status, empty.score, empty.images) == ("no data", None, 0)
    assert emf_record(empty, "dev", "car-make", 0) is None
    assert render_table([same, dark, empty]).splitlines()[3].split()[:4] == ["2030-05-03", "0", "0", "no"]


def test_darkened_real_photos_drift_and_unshifted_ones_do_not():
    # GIVEN the shared labelled photos: 300 as the reference, 100 others as a day, darkened as another
    photos = sorted((shared_data() / "stanford-cars-subset" / "images").glob("*.jpg"))
    opened = [Image.open(p).convert("RGB") for p in random.Random(1).sample(photos, 400)]
    same, dark, _ = table_for(opened[:300], opened[300:], [darker(im) for im in opened[300:]])
    # THEN the unshifted day stays under the threshold and the darkened day crosses it
    threshold = DriftSettings().alarm_threshold
    assert same.score is not None and same.score < threshold, same
    assert dark.score is not None and dark.score >= threshold, dark


def test_served_answers_drift_shows_in_class_mix_and_unclassified_rate():
    # GIVEN reference crops answered "audi" or "bmw", and a day where most crops are not classified
    reference = [record(scene(s), s, f"train-{s}", day=-10) for s in range(40)]
    day = [record(scene(s), s, f"new-{s}", day=0) for s in range(100, 140)]

    def crop(image: ImageRecord, label: str | None) -> CropRecord:
        stage = StageAnswer(
            skill="car-make",
            skill_version=1,
            code_version="t",
            label=label or "audi",
            score=0.9,
            top_k=[Scored(label=label or "audi", score=0.9)],
        )
        served = ServedAnswer(
            status="classified" if label else "not_classified",
            reason=None if label else "skill_artifact_missing",
            stages=[stage] if label else [],
            final_label=label,
            margin=0.8 if label else None,
            served_at=image.uploaded_at,
        )
        return CropRecord(
            crop_id=f"{image.image_id}-00",
            image_id=image.image_id,
            crop_bucket="c",
            crop_key="k",
            index=0,
            box={"x1": 0, "y1": 0, "x2": 1, "y2": 1},
            confidence=0.9,
            label="car",
            group_id=image.group_id,
            skill="car-detector",
            skill_version=1,
            code_version="t",
            served=served,
        )

    crops = [crop(im, "audi" if n % 2 else "bmw") for n, im in enumerate(reference)]
    crops += [crop(im, None if n % 4 else "audi") for n, im in enumerate(day)]
    # WHEN the day is scored
    (row,) = drift_table(reference + day, crops, learnt_from(reference), [DAY0.date()], DriftSettings()).rows
    # THEN the unclassified rate drifts past the threshold; the EMF record carries the score
    assert row.features["unclassified"] is not None and row.features["unclassified"] > 1.0
    emf = emf_record(row, "dev", "car-make", 1)
    assert emf is not None and emf["DriftScore"] == row.score
    assert (emf["SkillVersion"], emf["DatasetVersion"]) == (1, "d1")
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Deployment", "Skill"]]


def test_psi_of_identical_samples_is_zero():
    values = [float(v) for v in range(100)]
    assert psi(values, values) == 0.0


def test_without_a_reference_a_day_is_no_reference_and_emits_no_metric():
    # GIVEN a day of uploads and a skill with no deployed version (no lineage, so no reference)
    day = [record(scene(s), s, f"new-{s}", day=0) for s in range(30)]
    missing = TrainingReference(skill="car-make", missing="no version of car-make is deployed in stage dev")
    # WHEN the day is scored
    run = drift_table(day, [], missing, [DAY0.date()], DriftSettings())
    (row,) = run.rows
    # THEN the day says why there is no reference, has no score and emits no metric
    assert (row.status, row.score, row.images) == ("no reference", None, 30)
    assert row.note == "no version of car-make is deployed in stage dev"
    assert emf_record(row, "dev", "car-make", 0) is None
    assert run.reference_text().startswith("no reference: no version of car-make")
