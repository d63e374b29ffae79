"""Parsing S3 event notifications (direct, or wrapped in an SQS message body)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ValidationError

from functions.core.base.records import Upload


class EventParseError(ValueError):
    """The message is not an S3 event we understand."""


class _S3Object(BaseModel):
    key: str
    size: int | None = None
    eTag: str | None = None  # noqa: N815 - AWS field name
    versionId: str | None = None  # noqa: N815


class _S3Bucket(BaseModel):
    name: str


class _S3Entity(BaseModel):
    bucket: _S3Bucket
    object: _S3Object


class _S3Record(BaseModel):
    eventSource: str | None = None  # noqa: N815
    eventName: str = ""  # noqa: N815
    eventTime: datetime | None = None  # noqa: N815
    s3: _S3Entity


def parse_s3_notification(body: str | dict[str, Any]) -> list[Upload]:
    """Uploads in one S3 notification; keys URL-decoded (S3 encodes spaces as '+').

    `s3:TestEvent` messages (sent when a notification is configured) give no uploads.
    Raises EventParseError for anything else that is not an S3 event.
    """
    try:
        payload = json.loads(body) if isinstance(body, str) else body
    except json.JSONDecodeError as exc:
        raise EventParseError(f"message body is not JSON: {exc.msg}") from exc
    if not isinstance(payload, dict):
        raise EventParseError("message body is not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise EventParseError("no 'Records' list in the S3 event")
    uploads: list[Upload] = []
    for raw in records:
        try:
            record = _S3Record.model_validate(raw)
        except ValidationError as exc:
            raise EventParseError(f"malformed S3 record: {exc.errors()[0]['msg']}") from exc
        if not record.eventName.startswith("ObjectCreated"):
            continue
        uploads.append(
            Upload(
                bucket=record.s3.bucket.name,
                key=unquote_plus(record.s3.object.key),
                size=record.s3.object.size,
                etag=record.s3.object.eTag,
                version_id=record.s3.object.versionId,
                event_time=record.eventTime,
            )
        )
    return uploads
