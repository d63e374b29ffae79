from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from functions.core.base.records import Box
from functions.core.detection.crops import FILL, crop, crop_id, crop_key, crop_window, main_car_index
from functions.core.detection.yolo_numpy import classify_input


def _photo(width: int = 320, height: int = 200) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), mode="RGB")


def test_crop_window_is_a_square_around_the_box_with_context() -> None:
    # GIVEN a wide car box (2:1)
    box = Box(x1=100, y1=100, x2=300, y2=200)
    # WHEN its window is taken with 10% context
    left, top, right, bottom = crop_window(box, padding=0.1)
    # THEN it is a square of the long side x 1.2, centred on the box
    assert right - left == bottom - top == 240
    assert (left + right) / 2 == 200 and (top + bottom) / 2 == 150


def test_crop_fills_what_lies_outside_the_photo_with_grey() -> None:
    # GIVEN a box filling the whole width of a photo
    photo = _photo(320, 200)
    box = Box(x1=0, y1=50, x2=320, y2=150)
    # WHEN it is cropped
    out = crop(photo, box, padding=0.1)
    # THEN the crop is square, the photo sits in the middle, and the outside is the letterbox grey
    assert out.size == (384, 384)
    assert out.getpixel((0, 0)) == FILL
    assert out.getpixel((32, 200)) == photo.getpixel((0, 108))


def test_train_test_and_serving_see_the_same_geometry_for_one_crop() -> None:
    # GIVEN the square crop of a wide car (what is stored, trained on, tested and served)
    pytest.importorskip("torch")
    from ultralytics.data.augment import classify_transforms

    car = crop(_photo(), Box(x1=20, y1=60, x2=300, y2=180), padding=0.1)
    size = 96
    # WHEN serving (numpy preprocessing) and training's test transform (Ultralytics) prepare it
    served = classify_input(car, size)[0]
    tested = classify_transforms(size)(car).numpy()
    whole = np.asarray(car.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255
    # THEN both keep the whole crop (a plain resize: nothing cut from a square) and agree
    assert served.shape == tested.shape == (3, size, size)
    assert np.abs(served - whole.transpose(2, 0, 1)).max() < 1e-6
    assert np.abs(served - tested).mean() < 0.02


def test_the_largest_car_is_the_main_car() -> None:
    # GIVEN a small car in the centre and a large car at the edge
    boxes = [Box(x1=140, y1=90, x2=180, y2=110), Box(x1=0, y1=0, x2=150, y2=150)]
    # WHEN the largest rule picks the main car
    # THEN the large one is the main car; the central rule weighs closeness to the centre
    assert main_car_index(boxes, 320, 200, "largest") == 1
    assert (
        main_car_index(
            [Box(x1=0, y1=0, x2=110, y2=110), Box(x1=110, y1=50, x2=210, y2=150)], 320, 200, "central"
        )
        == 1
    )
    assert main_car_index([], 320, 200) is None


def test_an_unknown_main_car_rule_is_refused() -> None:
    # GIVEN a rule that does not exist
    # WHEN it is used THEN the error names it
    with pytest.raises(ValueError, match="nearest"):
        main_car_index([Box(x1=0, y1=0, x2=10, y2=10)], 10, 10, "nearest")


def test_crop_keys_are_deterministic_and_unique_per_index() -> None:
    # GIVEN one image id
    # THEN each index has its own stable key and id
    assert crop_key("abcdef", 0) == crop_key("abcdef", 0)
    assert crop_key("abcdef", 0) != crop_key("abcdef", 1)
    assert crop_id("abcdef", 3) == "abcdef-03"
