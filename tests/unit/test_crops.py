from __future__ import annotations

from functions.core.base.records import Box
from functions.core.detection.crops import crop_id, crop_key, padded_box


def test_padding_is_clamped_to_the_image() -> None:
    # GIVEN a box touching the image border
    box = Box(x1=0, y1=10, x2=100, y2=60)
    # WHEN padded by 10%
    left, top, right, bottom = padded_box(box, width=105, height=100, padding=0.1)
    # THEN it grows but never leaves the image
    assert (left, top, right, bottom) == (0, 5, 105, 65)


def test_crop_keys_are_deterministic_and_unique_per_index() -> None:
    # GIVEN one image id
    # THEN each index has its own stable key and id
    assert crop_key("abcdef", 0) == crop_key("abcdef", 0)
    assert crop_key("abcdef", 0) != crop_key("abcdef", 1)
    assert crop_id("abcdef", 3) == "abcdef-03"
