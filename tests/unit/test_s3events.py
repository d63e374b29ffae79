from __future__ import annotations

import json

import pytest

from functions.core.detection.s3events import EventParseError, parse_s3_notification


def _event(key: str, name: str = "ObjectCreated:Put") -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": name,
                    "eventTime": "2026-11-23T10:00:00.000Z",
                    "s3": {"bucket": {"name": "raw"}, "object": {"key": key, "size": 12, "eTag": "abc"}},
                }
            ]
        }
    )


def test_keys_are_url_decoded_with_spaces_and_unicode() -> None:
    # GIVEN an event for "Audi A4/advert 7/Außen ansicht.jpg", encoded the way S3 encodes keys
    body = _event("Audi+A4/advert+7/Au%C3%9Fen+ansicht.jpg")
    # WHEN parsed
    uploads = parse_s3_notification(body)
    # THEN the key is the real object key
    assert [u.key for u in uploads] == ["Audi A4/advert 7/Außen ansicht.jpg"]
    assert uploads[0].bucket == "raw"
    assert uploads[0].size == 12


def test_test_event_yields_nothing() -> None:
    # GIVEN the s3:TestEvent S3 sends when notifications are configured
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "raw"})
    # WHEN parsed / THEN there is nothing to process
    assert parse_s3_notification(body) == []


def test_non_create_events_are_skipped() -> None:
    # GIVEN a delete event
    # WHEN parsed / THEN it yields no upload
    assert parse_s3_notification(_event("a.jpg", name="ObjectRemoved:Delete")) == []


@pytest.mark.parametrize(
    "body", ["not json", "[]", json.dumps({"foo": 1}), json.dumps({"Records": [{"s3": {}}]})]
)
def test_garbage_is_a_clear_parse_error(body: str) -> None:
    # GIVEN a message that is not an S3 event
    # WHEN parsed / THEN a named parse error is raised
    with pytest.raises(EventParseError):
        parse_s3_notification(body)
