"""Which detections count as the photo's vehicles: the confident ones, else the single best one."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from functions.core.base.records import Box, Detection, ImageStatus
from functions.core.detection.detect import analyse_image, confident_or_best
from functions.core.detection.settings import DetectorSettings


def _car(confidence: float, x1: float = 10.0) -> Detection:
    return Detection(box=Box(x1=x1, y1=10, x2=x1 + 100, y2=60), confidence=confidence, label="car")


class _Fixed:
    """A detector that reports what it is given, whatever the image."""

    def __init__(self, found: list[Detection]) -> None:
        self.found = found

    def detect(self, image: Image.Image) -> list[Detection]:
        return list(self.found)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 120), (90, 90, 90)).save(out, format="JPEG")
    return out.getvalue()


def test_only_the_confident_vehicles_count_when_there_are_any() -> None:
    # GIVEN one confident car and one below the threshold
    found = [_car(0.2, x1=50), _car(0.8)]
    # WHEN the photo's vehicles are chosen at 0.35
    cars = confident_or_best(found, 0.35)
    # THEN only the confident one is kept
    assert [c.confidence for c in cars] == [0.8]


def test_without_a_confident_vehicle_the_single_best_one_is_kept() -> None:
    # GIVEN two boxes, both below the threshold (a close-up the detector is unsure about)
    found = [_car(0.18, x1=50), _car(0.3)]
    # WHEN the photo's vehicles are chosen at 0.35
    cars = confident_or_best(found, 0.35)
    # THEN the best one alone is the photo's car
    assert [c.confidence for c in cars] == [0.3]
    assert confident_or_best([], 0.35) == []


def test_the_detector_reports_down_to_the_fallback_and_no_lower() -> None:
    # GIVEN the default settings, one with the fallback switched off (at the threshold), one above it
    default = DetectorSettings()
    off = DetectorSettings(confidence=0.35, fallback_confidence=0.35)
    above = DetectorSettings(confidence=0.1, fallback_confidence=0.15)
    # THEN the detector's floor is the lower of the two scores
    assert (default.detection_floor, off.detection_floor, above.detection_floor) == (0.15, 0.35, 0.1)
    # AND vans, which the COCO detector often calls a bus, count as vehicles by default
    assert default.vehicle_classes == ["car", "truck", "bus"]


def test_a_photo_with_only_an_unsure_box_is_a_car_photo_with_one_car() -> None:
    # GIVEN a detector that finds only boxes below the threshold
    detector = _Fixed([_car(0.2), _car(0.16, x1=60)])
    # WHEN the upload is analysed with the default settings
    analysis = analyse_image(_jpeg(), detector, DetectorSettings())
    # THEN it has one car, the best box
    assert analysis.status is ImageStatus.CARS_FOUND
    assert [c.confidence for c in analysis.cars] == [0.2]


def test_a_bad_fallback_score_is_refused_with_its_name() -> None:
    # WHEN the fallback is not a score in (0, 1) THEN the error names the field
    with pytest.raises(ValueError, match="fallback_confidence"):
        DetectorSettings(fallback_confidence=1.5)
