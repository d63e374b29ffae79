"""The numpy YOLO pre/post-processing reproduces Ultralytics/OpenCV exactly where it matters."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from functions.core.detection.yolo_numpy import (
    classify_input,
    decode_detections,
    letterbox,
    mirrored_classify_input,
    nms,
    resize_bilinear,
)

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("shape", "size"),
    [
        ((720, 1280, 3), (640, 360)),
        ((541, 1488, 3), (640, 233)),
        ((303, 384, 3), (640, 505)),
        ((90, 60), (37, 55)),
    ],
)
def test_resize_is_bit_exact_with_opencv_inter_linear(shape: tuple[int, ...], size: tuple[int, int]) -> None:
    cv2 = pytest.importorskip("cv2")
    # GIVEN a random image (colour or grey), downscaled or upscaled
    image = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    # WHEN it is resized by numpy and by OpenCV
    ours = resize_bilinear(image, *size)
    theirs = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    # THEN every pixel is the same
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


def test_letterbox_centres_the_image_on_grey_and_reports_its_placement() -> None:
    # GIVEN a white 200 × 100 image
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    # WHEN it is letterboxed to 64
    tensor, geometry = letterbox(image, 64)
    # THEN it fills the width, sits in the middle rows, and the padding is grey 114
    assert tensor.shape == (1, 3, 64, 64)
    assert (geometry.pad_x, geometry.pad_y, geometry.gain_x) == (0, 16, 64 / 200)
    assert np.allclose(tensor[0, :, 16:48, :], 1.0)
    assert np.allclose(tensor[0, :, :16, :], 114 / 255)
    assert np.allclose(tensor[0, :, 48:, :], 114 / 255)


def test_nms_drops_overlapping_boxes_and_keeps_the_best_first() -> None:
    # GIVEN two heavily overlapping boxes and one apart
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.6, 0.9, 0.7], dtype=np.float32)
    # WHEN suppressed at IoU 0.5
    kept = nms(boxes, scores, 0.5)
    # THEN the weaker of the overlapping pair goes; order is by score
    assert kept.tolist() == [1, 2]


def _head_output(
    anchors: list[tuple[float, float, float, float, dict[int, float]]], nc: int = 8
) -> np.ndarray:
    output = np.zeros((1, 4 + nc, len(anchors)), dtype=np.float32)
    for index, (cx, cy, w, h, scores) in enumerate(anchors):
        output[0, :4, index] = (cx, cy, w, h)
        for class_id, score in scores.items():
            output[0, 4 + class_id, index] = score
    return output


def test_decode_keeps_best_class_only_then_filters_classes_and_threshold() -> None:
    # GIVEN anchors: a car, a person that is also a weaker car, a faint car, a truck over the car
    output = _head_output(
        [
            (100, 100, 40, 20, {2: 0.9}),
            (300, 300, 40, 20, {0: 0.8, 2: 0.7}),
            (500, 500, 40, 20, {2: 0.2}),
            (100, 100, 40, 20, {7: 0.6}),
        ]
    )
    _, geometry = letterbox(Image.new("RGB", (640, 640)), 640)
    # WHEN decoded for cars and trucks at 0.35
    found = decode_detections(output, geometry, confidence=0.35, class_ids=[2, 7])
    # THEN the person anchor is not reported as a car, the faint one is dropped, and NMS is per class
    assert found.class_ids.tolist() == [2, 7]
    assert found.scores.tolist() == pytest.approx([0.9, 0.6])
    assert found.boxes[0].tolist() == pytest.approx([80, 90, 120, 110])


def test_agnostic_decode_keeps_one_box_per_vehicle_with_the_best_label() -> None:
    # GIVEN one vehicle seen as a car (0.6) and as a truck (0.8) with nearly the same box, and a car elsewhere
    output = _head_output(
        [
            (100, 100, 40, 20, {2: 0.6}),
            (101, 100, 40, 20, {7: 0.8}),
            (400, 400, 40, 20, {2: 0.7}),
        ]
    )
    _, geometry = letterbox(Image.new("RGB", (640, 640)), 640)
    # WHEN decoded with vehicle classes as one class for NMS
    found = decode_detections(output, geometry, confidence=0.35, class_ids=[2, 7], agnostic=True)
    # THEN the vehicle is one box, labelled truck (its best score), and the other car stays
    assert found.class_ids.tolist() == [7, 2]
    assert found.scores.tolist() == pytest.approx([0.8, 0.7])


def test_decode_maps_boxes_back_to_the_original_image_and_clips_them() -> None:
    # GIVEN a 1280 × 640 image (gain 0.5, 160 px of padding top and bottom) and a box over its left edge
    _, geometry = letterbox(Image.new("RGB", (1280, 640)), 640)
    output = _head_output([(10, 320, 40, 100, {2: 0.9})])
    # WHEN decoded
    found = decode_detections(output, geometry, confidence=0.25, class_ids=None)
    # THEN the box is in original pixels, clipped at x = 0
    assert found.boxes[0].tolist() == pytest.approx([0, 220, 60, 420])


def test_decode_rejects_an_output_that_is_not_a_yolo_head() -> None:
    # GIVEN a classifier-shaped output
    _, geometry = letterbox(Image.new("RGB", (64, 64)), 64)
    # WHEN / THEN decoding names the problem
    with pytest.raises(ValueError, match="YOLO detection output"):
        decode_detections(np.zeros((1, 3), dtype=np.float32), geometry, 0.5, None)


def test_classify_input_matches_torchvision_resize_and_centre_crop() -> None:
    transforms = pytest.importorskip("torchvision.transforms")
    # GIVEN a random landscape image
    image = Image.fromarray(RNG.integers(0, 256, size=(120, 200, 3), dtype=np.uint8))
    # WHEN preprocessed by numpy and by Ultralytics' torchvision pipeline (Resize, CenterCrop, ToTensor)
    ours = classify_input(image, 64)
    pipeline = transforms.Compose([transforms.Resize(64), transforms.CenterCrop(64), transforms.ToTensor()])
    theirs = pipeline(image).numpy()[None]
    # THEN they agree
    assert ours.shape == (1, 3, 64, 64)
    assert np.allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize(("height", "width"), [(97, 97), (120, 201), (201, 120)])
def test_mirrored_input_is_the_input_of_the_mirror_image(height: int, width: int) -> None:
    # GIVEN a random image, square or not (a centre-crop offset of an odd number of pixels included)
    image = Image.fromarray(RNG.integers(0, 256, size=(height, width, 3), dtype=np.uint8))
    tensor = classify_input(image, 64)
    # WHEN the mirror view's input is derived from the image's own input
    mirrored = mirrored_classify_input(image, tensor, 64)
    # THEN it has exactly the values of the mirror image preprocessed from scratch
    expected = classify_input(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 64)
    assert mirrored.flags["C_CONTIGUOUS"]
    assert np.array_equal(mirrored, expected)


def test_letterbox_is_the_same_with_and_without_opencv(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cv2")
    from functions.core.detection import yolo_numpy

    # GIVEN a random photo-sized image
    image = Image.fromarray(RNG.integers(0, 256, size=(541, 1488, 3), dtype=np.uint8))
    # WHEN letterboxed with OpenCV's resize and with the numpy twin
    with_cv2, _ = letterbox(image, 640)
    monkeypatch.setattr(yolo_numpy, "_CV2_RESIZE", None)
    without, _ = letterbox(image, 640)
    # THEN the model input is identical
    assert np.array_equal(with_cv2, without)
