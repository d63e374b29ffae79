from __future__ import annotations

from functions.core.audit.reconcile import reconcile
from functions.core.base.records import (
    Box,
    CropRecord,
    ImageRecord,
    ImageStatus,
    QuarantineReason,
    ServedAnswer,
    StageAnswer,
)


def _image(key: str, status: ImageStatus, reason: QuarantineReason | None = None) -> ImageRecord:
    return ImageRecord(
        image_id=key,
        bucket="raw",
        key=key,
        group_id="g",
        status=status,
        reason=reason,
        skill="car-detector",
        skill_version=1,
        code_version="abc",
    )


def _crop(key: str) -> CropRecord:
    return CropRecord(
        crop_id=key,
        image_id="i",
        crop_bucket="crops",
        crop_key=key,
        index=0,
        box=Box(x1=0, y1=0, x2=1, y2=1),
        confidence=0.9,
        label="car",
        group_id="g",
        skill="car-detector",
        skill_version=1,
        code_version="abc",
    )


def test_a_clean_pipeline_accounts_for_every_upload() -> None:
    # GIVEN three uploads, each in one terminal state, and one crop stored once
    images = [
        _image("a.jpg", ImageStatus.CARS_FOUND),
        _image("b.jpg", ImageStatus.NO_CAR),
        _image("c.jpg", ImageStatus.QUARANTINED, QuarantineReason.EMPTY_FILE),
    ]
    # WHEN reconciled
    report = reconcile(["a.jpg", "b.jpg", "c.jpg"], images, [_crop("k0")], ["k0"])
    # THEN it is clean, with the counts per state and reason
    assert report.clean
    assert report.terminal == {"cars_found": 1, "no_car": 1, "quarantined": 1}
    assert report.quarantine_reasons == {"empty_file": 1}


def test_losses_duplicates_and_dead_letters_are_listed_by_name() -> None:
    # GIVEN an upload without record, a crop object nobody references, and a message in the DLQ
    report = reconcile(
        ["a.jpg", "lost.jpg"],
        [_image("a.jpg", ImageStatus.CARS_FOUND)],
        [_crop("k0")],
        ["k0", "k0-copy"],
        ["lost.jpg"],
    )
    # THEN each problem is named and the audit is not clean
    assert report.missing == ["lost.jpg"]
    assert report.orphan_crops == ["k0-copy"]
    assert report.dead_letter_keys == ["lost.jpg"]
    assert not report.clean


def test_the_serving_stage_is_accounted_per_crop() -> None:
    # GIVEN three crops: one classified, one not classified (missing artifact), one never served
    stage = StageAnswer(
        skill="car-make", skill_version=2, code_version="c", label="Audi", score=0.9, top_k=[]
    )
    classified, broken, unserved = _crop("k0"), _crop("k1"), _crop("k2")
    classified.served = ServedAnswer(status="classified", stages=[stage], final_label="Audi", margin=0.8)
    broken.served = ServedAnswer(status="not_classified", reason="skill_artifact_missing")
    # WHEN reconciled
    report = reconcile(
        ["a.jpg"],
        [_image("a.jpg", ImageStatus.CARS_FOUND)],
        [classified, broken, unserved],
        ["k0", "k1", "k2"],
    )
    # THEN each crop is counted in one serving state, with the reasons; a recorded outcome is no loss
    assert report.served == {"classified": 1, "not_classified": 1, "unserved": 1}
    assert report.not_classified_reasons == {"skill_artifact_missing": 1}
    assert report.clean


def test_a_re_upload_that_superseded_the_older_record_is_not_a_duplicate() -> None:
    # GIVEN one key uploaded twice: the older record superseded by the newer one
    older = _image("a.jpg", ImageStatus.CARS_FOUND)
    older = older.model_copy(update={"image_id": "v1", "superseded_by": "v2"})
    newer = _image("a.jpg", ImageStatus.NO_CAR).model_copy(update={"image_id": "v2", "supersedes": "v1"})
    # WHEN reconciled / THEN the key is in one terminal state (the newer one's), and nothing is duplicated
    report = reconcile(["a.jpg"], [older, newer], [], [])
    assert report.clean and report.duplicate_records == []
    assert report.terminal == {"no_car": 1}
