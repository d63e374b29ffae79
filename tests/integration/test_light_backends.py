"""Parity of the light backends (OpenVINO runtime, ONNX Runtime) with Ultralytics on the real photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from functions.core.base.records import Box, Detection
from functions.core.detection.settings import DetectorSettings
from functions.core.detection.wiring import build_detector
from tests.conftest import REPO, shared_data, shared_models

pytestmark = pytest.mark.slow

PHOTO_FOLDERS = ("cars", "samples", "notcars")
MIN_IOU = 0.9


def _photos() -> list[Path]:
    root = shared_data()
    return sorted(p for folder in PHOTO_FOLDERS for p in (root / folder).iterdir() if p.is_file())


def _open(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def _iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    ih = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = iw * ih
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def _unmatched(reference: list[Detection], candidate: list[Detection]) -> list[str]:
    """Greedy one-to-one matching by IoU; what fails to pair up (same label, IoU ≥ MIN_IOU)."""
    problems: list[str] = []
    free = list(candidate)
    for ref in reference:
        best = max(free, key=lambda d: _iou(ref.box, d.box), default=None)
        if best is None or _iou(ref.box, best.box) < MIN_IOU or best.label != ref.label:
            problems.append(f"{ref.label} {ref.box} has no match")
            continue
        free.remove(best)
    return problems


@pytest.fixture(scope="module")
def detectors() -> dict[str, Any]:
    models = shared_models()
    return {
        backend: build_detector(DetectorSettings(models_dir=models, detector_backend=backend))  # type: ignore[arg-type]
        for backend in ("ultralytics", "openvino")
    }


def test_openvino_backend_finds_the_same_vehicles_as_ultralytics_on_every_real_photo(
    detectors: dict[str, Any],
) -> None:
    # GIVEN the shipped YOLO11n IR run by Ultralytics and by the bare OpenVINO runtime
    photos = _photos()
    assert len(photos) >= 20
    differences: dict[str, Any] = {}
    for path in photos:
        image = _open(path)
        # WHEN both detect vehicles in the same photo
        reference = detectors["ultralytics"].detect(image)
        candidate = detectors["openvino"].detect(image)
        # THEN the count, the classes and the boxes (IoU ≥ 0.9) agree
        problems = _unmatched(reference, candidate)
        if len(reference) != len(candidate) or problems:
            differences[path.name] = {
                "ultralytics": len(reference),
                "openvino": len(candidate),
                "problems": problems,
            }
    assert differences == {}


def test_openvino_backend_finds_cars_in_car_photos_and_none_in_non_car_photos(
    detectors: dict[str, Any],
) -> None:
    # GIVEN the real photos
    root = shared_data()
    detector = detectors["openvino"]
    # WHEN the light backend detects
    cars = {p.name: len(detector.detect(_open(p))) for p in sorted((root / "cars").iterdir())}
    notcars = {p.name: len(detector.detect(_open(p))) for p in sorted((root / "notcars").iterdir())}
    # THEN every car photo has a vehicle and no non-car photo has one
    assert all(cars.values()), cars
    assert not any(notcars.values()), notcars


@pytest.fixture(scope="module")
def test_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.classifier_model import build_test_classifier

    calibration = sorted((shared_data() / "cars").iterdir())
    return build_test_classifier(tmp_path_factory.mktemp("classifier"), calibration)


def test_onnx_classifier_gives_the_same_top1_as_ultralytics(test_classifier: Path) -> None:
    from functions.core.skills.model import load_classifier

    # GIVEN a 3-class YOLO11n-cls skill version with its checkpoint and its ONNX export
    reference, light = load_classifier(test_classifier, "torch"), load_classifier(test_classifier, "onnx")
    labels = []
    for path in _photos():
        image = _open(path)
        # WHEN the torch (Ultralytics transforms) and ONNX Runtime backends classify the same photo
        expected, got = reference.classify(image), light.classify(image)
        # THEN the top-1 class is the same and the probabilities agree closely
        assert got[0].label == expected[0].label, path.name
        assert light.probabilities(image) == pytest.approx(reference.probabilities(image), abs=2e-3), (
            path.name
        )
        labels.append(got[0].label)
    assert len(set(labels)) > 1  # the test model really depends on the image


@pytest.mark.parametrize("square", [False, True], ids=["whole-photo", "square-crop"])
def test_flip_test_time_augmentation_averages_the_crop_and_its_mirror_on_both_backends(
    test_classifier: Path, square: bool
) -> None:
    from functions.core.skills.model import load_classifier

    # GIVEN the skill version loaded on both runtimes, once as published and once with flip TTA, and a
    # photo, whole or as a square crop (whose mirror input is the flipped tensor, not a second resize)
    photo = _open(sorted((shared_data() / "cars").iterdir())[0])
    if square:
        side = min(photo.size)
        photo = photo.crop((0, 0, side, side))
    mirror = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for backend in ("torch", "onnx"):
        plain = load_classifier(test_classifier, backend)  # type: ignore[arg-type]
        flipped = load_classifier(test_classifier, backend)  # type: ignore[arg-type]
        flipped.manifest = flipped.manifest.model_copy(update={"tta": "hflip"})
        # WHEN the TTA version scores a photo
        got = flipped.probabilities(photo)
        # THEN it is the mean of the plain scores of the photo and of its mirror image
        expected = [
            (a + b) / 2 for a, b in zip(plain.probabilities(photo), plain.probabilities(mirror), strict=True)
        ]
        assert got == pytest.approx(expected, abs=1e-5), backend
        assert got != pytest.approx(plain.probabilities(photo), abs=1e-5), backend


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_confident_crop_runs_once_and_an_uncertain_one_also_runs_its_mirror(
    test_classifier: Path, backend: str
) -> None:
    from functions.core.skills.model import load_classifier

    # GIVEN the skill version with flip TTA, and a photo whose plain top probability is p
    photo = _open(sorted((shared_data() / "cars").iterdir())[0])
    mirror = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    plain = load_classifier(test_classifier, backend)  # type: ignore[arg-type]
    alone, mirrored = plain.probabilities(photo), plain.probabilities(mirror)
    top = max(alone)
    mean = [(a + b) / 2 for a, b in zip(alone, mirrored, strict=True)]
    for confidence, expected, runs in ((top - 0.01, alone, 1), (min(1.0, top + 0.01), mean, 2)):
        skill = load_classifier(test_classifier, backend)  # type: ignore[arg-type]
        skill.manifest = skill.manifest.model_copy(update={"tta": "hflip", "tta_confidence": confidence})
        # WHEN it is served with a confidence just below p, then just above p
        got = skill.probabilities(photo)
        # THEN below p the plain answer is kept after one run; above p it is the mean with the mirror's
        assert got == pytest.approx(expected, abs=1e-5), (backend, confidence)
        assert skill.runs == runs, (backend, confidence)
    assert mean != pytest.approx(alone, abs=1e-5)  # the two answers differ: the test can tell them apart


def test_light_backends_never_import_torch_or_ultralytics(test_classifier: Path) -> None:
    # GIVEN a fresh interpreter with the detect and reprocess handlers (serving), the default detector
    # backend and the ONNX classifier
    photo = next(iter(sorted((shared_data() / "samples").iterdir())))
    script = f"""
import json, sys
from pathlib import Path
from PIL import Image
import functions.detect.handler
import functions.reprocess.handler
from functions.core.skills.model import load_classifier
from functions.core.detection.settings import DetectorSettings
from functions.core.detection.wiring import build_detector
image = Image.open({str(photo)!r}).convert("RGB")
settings = DetectorSettings()
cars = build_detector(settings).detect(image)
label = load_classifier(Path({str(test_classifier)!r}), "onnx").classify(image)[0].label
heavy = sorted(m for m in ("torch", "torchvision", "ultralytics") if m in sys.modules)
print(json.dumps({{"backend": settings.detector_backend, "cars": len(cars), "label": label, "heavy": heavy}}))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SKILLFORGE_MODELS_DIR": str(shared_models())}
    env.pop("SKILLFORGE_DETECTOR_BACKEND", None)
    # WHEN it detects and classifies one photo
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=REPO,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it worked on the default (light) backend, and none of torch/Ultralytics/OpenCV was imported
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == "openvino"
    assert report["cars"] >= 1
    assert report["heavy"] == []


def test_backend_is_chosen_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN SKILLFORGE_DETECTOR_BACKEND=ultralytics
    monkeypatch.setenv("SKILLFORGE_DETECTOR_BACKEND", "ultralytics")
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(shared_models()))
    # WHEN the detector is built from settings
    detector = build_detector(DetectorSettings())
    # THEN it is the Ultralytics one
    assert type(detector).__name__ == "UltralyticsDetector"


def test_openvino_backend_names_a_model_it_cannot_read(tmp_path: Path) -> None:
    from functions.core.detection.light_detector import ModelFileError

    # GIVEN a models folder without the IR
    settings = DetectorSettings(models_dir=tmp_path, detector_model="missing_openvino_model")
    # WHEN / THEN building the light detector fails with a message naming the model
    with pytest.raises(ModelFileError, match="missing_openvino_model"):
        build_detector(settings)


def test_onnx_backend_rejects_a_non_onnx_model(tmp_path: Path) -> None:
    from functions.core.detection.light_detector import ModelFileError

    # GIVEN the onnx backend pointed at the OpenVINO folder
    settings = DetectorSettings(models_dir=shared_models(), detector_backend="onnx")
    # WHEN / THEN it says the model is not an .onnx file
    with pytest.raises(ModelFileError, match=r"not an \.onnx file"):
        build_detector(settings)


def test_no_vehicle_is_cropped_twice_on_the_real_photos() -> None:
    # GIVEN the real car photos and the first 150 photos of the Stanford subset, where per-class NMS
    # boxed one vehicle as both car and truck, and the detector with car, truck and bus
    root = shared_data()
    subset = sorted((root / "stanford-cars-subset" / "images").glob("*.jpg"))[:150]
    photos = sorted((root / "cars").iterdir()) + subset
    settings = DetectorSettings(models_dir=shared_models(), vehicle_classes=["car", "truck", "bus"])
    detector = build_detector(settings)
    # WHEN every photo is detected
    doubles: list[str] = []
    for path in photos:
        found = detector.detect(_open(path))
        for i, a in enumerate(found):
            doubles.extend(
                f"{path.name}: {a.label} and {b.label} ({_iou(a.box, b.box):.2f})"
                for b in found[i + 1 :]
                if _iou(a.box, b.box) > settings.nms_iou
            )
    # THEN no two boxes of a photo overlap past the NMS threshold: each vehicle is one box (one crop)
    assert len(photos) >= 150
    assert doubles == []
