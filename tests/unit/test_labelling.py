"""Hand-off rules: price per task, batching by size or age, settings validation, no EXIF to workers."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from pydantic import ValidationError

from functions.core.base.records import Box, CropRecord
from functions.core.detection.images import encode_jpeg
from functions.core.labelling.handoff import reward_per_task, select_batch, split_s3_uri, task_template
from functions.core.labelling.settings import LabellingSettings

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def crop(n: int, age_minutes: float) -> CropRecord:
    return CropRecord(
        crop_id=f"img-{n:02d}",
        image_id="img",
        crop_bucket="crops",
        crop_key=f"crops/{n}.jpg",
        index=n,
        box=Box(x1=0, y1=0, x2=10, y2=10),
        confidence=0.9,
        label="car",
        group_id="g",
        created_at=NOW - timedelta(minutes=age_minutes),
        skill="car-detector",
        skill_version=1,
        code_version="abc",
    )


def test_reward_from_seconds_and_hourly_rate_snaps_to_an_allowed_price() -> None:
    # GIVEN 3 s per task at $15/h (exact $0.0125) / WHEN priced
    reward = reward_per_task(3.0, 15.0)
    # THEN the nearest Ground Truth price is $0.012 = $14.40/h, encoded in dollars/cents/tenths
    assert reward.exact_usd == Decimal("0.01250")
    assert reward.price_usd == Decimal("0.012")
    assert reward.effective_hourly_usd == Decimal("14.40")
    assert reward.amount_in_usd() == {"Dollars": 0, "Cents": 1, "TenthFractionsOfACent": 2}


def test_slower_tasks_pay_more() -> None:
    # GIVEN 10 s per task at $15/h (exact $0.0417) / WHEN priced / THEN $0.036 (nearest allowed)
    assert reward_per_task(10.0, 15.0).price_usd == Decimal("0.036")
    assert reward_per_task(60.0, 15.0).amount_in_usd() == {
        "Dollars": 0,
        "Cents": 24,
        "TenthFractionsOfACent": 0,
    }


def test_batch_is_sent_when_full() -> None:
    # GIVEN more fresh crops than a batch holds
    settings = LabellingSettings(batch_size=3, max_age_minutes=60)
    waiting = [crop(n, age_minutes=1) for n in range(5)]
    # WHEN selecting / THEN the oldest batch_size crops go
    assert [c.crop_id for c in select_batch(waiting, settings, NOW)] == ["img-00", "img-01", "img-02"]


def test_small_batch_waits_until_the_oldest_crop_is_old_enough() -> None:
    # GIVEN two crops, the oldest 10 minutes old, max age 30 minutes
    settings = LabellingSettings(batch_size=100, max_age_minutes=30)
    waiting = [crop(0, 10), crop(1, 5)]
    # WHEN selecting now, then 25 minutes later
    # THEN nothing now; everything once the oldest passed the age limit
    assert select_batch(waiting, settings, NOW) == []
    assert len(select_batch(waiting, settings, NOW + timedelta(minutes=25))) == 2
    assert len(select_batch(waiting, settings, NOW, force=True)) == 2


def test_private_workforce_needs_a_workteam() -> None:
    # GIVEN a private workforce without a team / WHEN validated / THEN the field is named
    with pytest.raises(ValidationError, match="workteam_arn"):
        LabellingSettings(workforce="private")


def test_split_s3_uri_refuses_non_s3() -> None:
    assert split_s3_uri("s3://b/k/x.json") == ("b", "k/x.json")
    with pytest.raises(ValueError, match="s3://"):
        split_s3_uri("https://b/k")


def test_template_asks_exactly_the_two_questions_with_presigned_access() -> None:
    # GIVEN the custom task template / THEN both questions, all answers, grant_read_access, no public URL
    text = task_template()
    assert "What does the picture show?" in text and "What is the image quality?" in text
    assert text.count("<crowd-radio-group>") == 2
    assert text.count("<crowd-radio-button") == 11
    assert "grant_read_access" in text
    for label in ("exterior, more than half of the car", "too dark or too bright", "wheel close-up"):
        assert label in text


def test_crops_sent_to_workers_carry_no_exif() -> None:
    # GIVEN an image whose source has EXIF (GPS-like data)
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}
    source = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(source, format="JPEG", exif=exif)
    assert Image.open(io.BytesIO(source.getvalue())).getexif()  # the source does carry EXIF
    # WHEN the crop is encoded the way detection stores it
    crop_bytes = encode_jpeg(Image.open(io.BytesIO(source.getvalue())))
    # THEN no EXIF block is left
    reopened = Image.open(io.BytesIO(crop_bytes))
    assert not reopened.getexif()
    assert b"Exif" not in crop_bytes
