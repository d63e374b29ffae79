"""Fuzzing (hypothesis): event parsing and image decoding never fail in an unplanned way."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core.detection.images import BadImageError, decode_image
from functions.core.detection.s3events import EventParseError, parse_s3_notification
from functions.core.detection.upload_keys import upload_context
from scripts.local import corpus

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _records_like(value: Any) -> dict[str, Any]:
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": value}]}


@FUZZ
@given(
    st.one_of(
        st.text(max_size=200), json_values.map(json.dumps), json_values.map(_records_like).map(json.dumps)
    )
)
def test_event_parsing_only_ever_raises_a_parse_error(body: str) -> None:
    # GIVEN any message body WHEN parsed THEN it yields uploads or a named parse error, nothing else
    try:
        uploads = parse_s3_notification(body)
    except EventParseError:
        return
    assert all(upload.key is not None for upload in uploads)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_decode_or_get_a_reason(data: bytes) -> None:
    # GIVEN random bytes WHEN decoded THEN an RGB image or a reasoned refusal
    try:
        image = decode_image(data)
    except BadImageError as exc:
        assert exc.reason.value
    else:
        assert image.mode == "RGB"


SEEDS = [corpus.jpeg(64, 48), corpus.png("RGBA"), corpus.exif_rotated_jpeg(), corpus.cmyk_jpeg()]


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), min_size=1, max_size=12
    ),
    st.integers(min_value=0, max_value=100),
)
def test_garbled_real_images_decode_or_get_a_reason(
    seed: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    # GIVEN a valid image with bytes overwritten and its tail possibly cut off
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    data = data[: max(1, len(data) * (100 - cut) // 100)]
    # WHEN decoded THEN an RGB image or a reasoned refusal, never another exception
    try:
        image = decode_image(bytes(data))
    except BadImageError as exc:
        assert exc.reason.value
    else:
        assert image.mode == "RGB"


@FUZZ
@given(st.text(min_size=1, max_size=300))
def test_any_key_gives_a_usable_context(key: str) -> None:
    # GIVEN any object key WHEN its context is read THEN ids and group are never empty
    context = upload_context(key)
    assert len(context.image_id) == 24
    assert context.group_id
