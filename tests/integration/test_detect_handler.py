"""S3 upload → (real S3 notification in moto's queue) → detect handler → crops + catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus, ImageStatus, QuarantineReason
from functions.core.base.resources import ResourceNames
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.detection.wiring import build_detect_deps
from functions.detect import handler as detect_handler
from scripts.local import corpus as images
from scripts.local.delivery import FakeLambdaContext, _sqs_event
from tests.support.fakes import FakeDetector


@pytest.fixture
def detector() -> FakeDetector:
    return FakeDetector()


@pytest.fixture
def pipeline(
    moto_aws: dict[str, Any], detector: FakeDetector, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    names: ResourceNames = moto_aws["names"]
    settings = PipelineSettings(
        raw_bucket=names.raw_bucket,
        crops_bucket=names.crops_bucket,
        quarantine_bucket=names.quarantine_bucket,
        catalog_table=names.catalog_table,
    )
    deps = build_detect_deps(settings, DetectorSettings(min_box_side=4), detector=detector)
    monkeypatch.setattr(detect_handler, "deps", lambda: deps)
    yield moto_aws


def _upload(aws: dict[str, Any], key: str, data: bytes, **metadata: str) -> None:
    aws["s3"].put_object(Bucket=aws["names"].raw_bucket, Key=key, Body=data, Metadata=metadata)


def _queued_messages(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """The S3 notifications moto delivered to the detect queue (the real message shape)."""
    sqs, url = aws["sqs"], aws["queues"]["detect_queue_url"]
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(m for m in batch if "s3:TestEvent" not in m["Body"])
    return messages


def _invoke(messages: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = detect_handler.handler(
        _sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:detect"), FakeLambdaContext()
    )
    return result


def _catalog(aws: dict[str, Any]) -> DynamoCatalog:
    return DynamoCatalog(aws["table"])


def _crop_keys(aws: dict[str, Any]) -> list[str]:
    listing = aws["s3"].list_objects_v2(Bucket=aws["names"].crops_bucket)
    return [obj["Key"] for obj in listing.get("Contents", [])]


def test_upload_with_a_car_gives_crops_and_a_versioned_record(pipeline: dict[str, Any]) -> None:
    # GIVEN a photo uploaded under "<hint>/<group>/<file>"
    _upload(pipeline, "Audi A4 Sedan 2012/advert-1/front.jpg", images.jpeg(200, 120))
    # WHEN its S3 notification reaches the handler
    result = _invoke(_queued_messages(pipeline))
    # THEN the batch succeeds, one crop is stored and both records carry the versions
    assert result == {"batchItemFailures": []}
    records = list(_catalog(pipeline).iter_images())
    assert len(records) == 1
    record = records[0]
    assert record.status is ImageStatus.CARS_FOUND
    assert (record.group_id, record.variant_hint) == ("advert-1", "Audi A4 Sedan 2012")
    assert record.skill == "car-detector" and record.skill_version == 1 and record.code_version
    assert len(_crop_keys(pipeline)) == 1
    crop = _catalog(pipeline).get_crop(record.crop_ids[0])
    assert crop is not None and crop.skill_version == 1 and crop.code_version == record.code_version


def test_photo_without_car_is_kept_as_no_car(pipeline: dict[str, Any]) -> None:
    # GIVEN a photo the detector finds nothing in
    _upload(pipeline, "odometer.jpg", images.jpeg(100, 80, color=(255, 255, 255)))
    # WHEN handled
    _invoke(_queued_messages(pipeline))
    # THEN it is catalogued as no_car and stays in the raw bucket
    (record,) = _catalog(pipeline).iter_images()
    assert record.status is ImageStatus.NO_CAR
    assert pipeline["s3"].head_object(Bucket=pipeline["names"].raw_bucket, Key="odometer.jpg")


def test_duplicate_events_create_no_duplicates(pipeline: dict[str, Any], detector: FakeDetector) -> None:
    # GIVEN one upload whose notification is delivered three times (twice in one batch)
    _upload(pipeline, "dup/photo.jpg", images.jpeg(200, 120))
    (message,) = _queued_messages(pipeline)
    twin = {**message, "MessageId": "twin"}
    # WHEN handled in two batches
    _invoke([message, twin])
    _invoke([{**message, "MessageId": "again"}])
    # THEN there is one record, one crop object, one crop record, and the model ran once
    assert len(list(_catalog(pipeline).iter_images())) == 1
    assert len(_crop_keys(pipeline)) == 1
    assert len(list(_catalog(pipeline).iter_crops())) == 1
    assert len(detector.calls) == 1


def test_bad_inputs_are_quarantined_with_reasons_and_never_fail_the_batch(pipeline: dict[str, Any]) -> None:
    # GIVEN a batch mixing the bad-input corpus, odd-but-valid images and a unicode key with spaces
    corpus = {
        **images.BAD_INPUTS,
        **images.ODD_BUT_GOOD,
        "Käfer 1970/ad 5/Seite links.jpg": images.jpeg(120, 90),
    }
    for key, data in corpus.items():
        _upload(pipeline, key, data)
    # WHEN handled as one batch (10 max per SQS batch → several)
    messages = _queued_messages(pipeline)
    failures = [
        f for i in range(0, len(messages), 10) for f in _invoke(messages[i : i + 10])["batchItemFailures"]
    ]
    # THEN nothing failed, every upload has exactly one terminal record
    assert failures == []
    records = {r.key: r for r in _catalog(pipeline).iter_images()}
    assert set(records) == set(corpus)
    expected_reasons = {
        "empty.jpg": QuarantineReason.EMPTY_FILE,
        "notes.txt.jpg": QuarantineReason.NOT_AN_IMAGE,
        "truncated.jpg": QuarantineReason.TRUNCATED_OR_CORRUPT,
        "bomb.png": QuarantineReason.DECOMPRESSION_BOMB,
        "animated.gif": QuarantineReason.UNSUPPORTED_FORMAT,
    }
    for key, reason in expected_reasons.items():
        assert records[key].status is ImageStatus.QUARANTINED
        assert records[key].reason is reason
        copy = pipeline["s3"].head_object(Bucket=pipeline["names"].quarantine_bucket, Key=key)
        assert copy["Metadata"]["reason"] == reason.value
    for key in [*images.ODD_BUT_GOOD, "Käfer 1970/ad 5/Seite links.jpg"]:
        assert records[key].status is ImageStatus.CARS_FOUND
    assert records["Käfer 1970/ad 5/Seite links.jpg"].group_id == "ad 5"
    assert records["rotated.jpg"].width == 40 and records["rotated.jpg"].height == 80


def test_a_crashing_record_is_reported_alone_for_retry(
    pipeline: dict[str, Any], detector: FakeDetector
) -> None:
    # GIVEN two uploads, the model crashes on one of them
    detector.fail_on_width = 333
    _upload(pipeline, "ok.jpg", images.jpeg(200, 120))
    _upload(pipeline, "crash.jpg", images.jpeg(333, 120))
    messages = _queued_messages(pipeline)
    # WHEN the batch is handled
    result = _invoke(messages)
    # THEN only the crashing message is returned for retry, the other is catalogued, nothing half-written
    crash_id = next(m["MessageId"] for m in messages if "crash.jpg" in m["Body"])
    assert result["batchItemFailures"] == [{"itemIdentifier": crash_id}]
    assert [r.key for r in _catalog(pipeline).iter_images()] == ["ok.jpg"]


def test_object_deleted_before_processing_is_recorded_not_lost(pipeline: dict[str, Any]) -> None:
    # GIVEN an upload deleted before its event is handled
    _upload(pipeline, "gone.jpg", images.jpeg())
    messages = _queued_messages(pipeline)
    pipeline["s3"].delete_object(Bucket=pipeline["names"].raw_bucket, Key="gone.jpg")
    # WHEN handled
    result = _invoke(messages)
    # THEN the batch succeeds and the upload is quarantined as missing
    assert result["batchItemFailures"] == []
    (record,) = _catalog(pipeline).iter_images()
    assert record.reason is QuarantineReason.OBJECT_MISSING


def test_malformed_message_is_reported_as_a_failure(pipeline: dict[str, Any]) -> None:
    # GIVEN a batch with a good upload and a message that is not an S3 event
    _upload(pipeline, "fine.jpg", images.jpeg())
    garbage = {"MessageId": "m1", "ReceiptHandle": "r", "Body": '{"hello": 1}'}
    # WHEN handled
    result = _invoke([*_queued_messages(pipeline), garbage])
    # THEN only the garbage goes back for retry (and to the DLQ after maxReceiveCount)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    assert [r.key for r in _catalog(pipeline).iter_images()] == ["fine.jpg"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    garbage=st.lists(
        st.text(max_size=80) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")), max_size=4
    )
)
def test_fuzzed_message_bodies_only_fail_themselves(pipeline: dict[str, Any], garbage: list[str]) -> None:
    # GIVEN a batch with one real upload event and random garbage bodies
    _upload(pipeline, "fuzz/real.jpg", images.jpeg())
    real = _queued_messages(pipeline)
    junk = [{"MessageId": f"junk-{i}", "ReceiptHandle": "r", "Body": body} for i, body in enumerate(garbage)]
    # WHEN handled
    result = _invoke([*real, *junk])
    # THEN every garbage message that is not a valid S3 event is failed alone; the upload is catalogued
    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    assert failed <= {m["MessageId"] for m in junk}
    assert not {m["MessageId"] for m in real} & failed
    assert [record.key for record in _catalog(pipeline).iter_images()] == ["fuzz/real.jpg"]


def test_a_new_upload_to_an_existing_key_is_a_new_version_that_supersedes_the_old(
    pipeline: dict[str, Any],
) -> None:
    # GIVEN a photo uploaded and catalogued
    key = "Audi A4 Sedan 2012/advert-9/front.jpg"
    _upload(pipeline, key, images.jpeg(200, 120))
    _invoke(_queued_messages(pipeline))
    (first,) = _catalog(pipeline).iter_images()
    # WHEN a different photo is uploaded to the same key, and its event arrives twice
    _upload(pipeline, key, images.jpeg(240, 160, color=(30, 90, 200)))
    messages = _queued_messages(pipeline)
    _invoke(messages)
    _invoke(messages)
    # THEN it is processed as a new image record (the duplicate event is still a no-op) ...
    records = {record.image_id: record for record in _catalog(pipeline).iter_images()}
    assert len(records) == 2 and first.image_id in records
    (second_id,) = set(records) - {first.image_id}
    second = records[second_id]
    assert second.key == first.key and second.revision != first.revision
    # ... which supersedes the old one explicitly, and the old photo's unlabelled crops leave the queue
    old = _catalog(pipeline).get_image(first.image_id)
    assert old is not None and old.superseded_by == second.image_id and second.supersedes == first.image_id
    old_crop = _catalog(pipeline).get_crop(first.crop_ids[0])
    assert old_crop is not None and old_crop.status is CropStatus.SUPERSEDED
    new_crop = _catalog(pipeline).get_crop(second.crop_ids[0])
    assert new_crop is not None and new_crop.status is CropStatus.NEW


def test_only_the_main_car_of_a_photo_inherits_its_label(
    pipeline: dict[str, Any], detector: FakeDetector
) -> None:
    # GIVEN a labelled photo with a large car and a small, more confident background car
    detector.background_car = True
    _upload(pipeline, "Audi A4 Sedan 2012/advert-2/side.jpg", images.jpeg(200, 120))
    # WHEN handled
    _invoke(_queued_messages(pipeline))
    # THEN both cars are cropped, but only the largest (the main car) carries the photo's hint
    (record,) = _catalog(pipeline).iter_images()
    crops = [_catalog(pipeline).get_crop(crop_id) for crop_id in record.crop_ids]
    assert len(crops) == 2
    main = [c for c in crops if c is not None and c.main_car]
    others = [c for c in crops if c is not None and not c.main_car]
    assert len(main) == 1 and len(others) == 1
    assert main[0].variant_hint == "Audi A4 Sedan 2012" and main[0].main_car_rule == "largest"
    assert main[0].box.area > others[0].box.area
    assert others[0].variant_hint is None
