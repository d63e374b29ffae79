"""Car detectors: a small protocol and the Ultralytics implementation (any YOLO model path or hub name)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from functions.core.base.offline import configure_offline
from functions.core.base.records import Box, Detection
from functions.core.detection.settings import DetectorSettings


class Detector(Protocol):
    """Finds vehicles in an upright RGB image."""

    def detect(self, image: Image.Image) -> list[Detection]: ...


def resolve_model(ref: str, models_dir: Path | None) -> str:
    """A local path if `ref` is one (absolute, relative, or inside models_dir), else `ref` as a hub name."""
    candidates = [Path(ref)]
    if models_dir is not None:
        candidates.insert(0, Path(models_dir) / ref)
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    return ref


def default_models_dir() -> Path | None:
    env = os.environ.get("SKILLFORGE_MODELS_DIR")
    return Path(env) if env else None


class UltralyticsDetector:
    """YOLO COCO detector through Ultralytics (PyTorch, ONNX or OpenVINO weights alike)."""

    def __init__(self, settings: DetectorSettings) -> None:
        configure_offline()
        from ultralytics import YOLO  # type: ignore[attr-defined]

        self.settings = settings
        self.model_path = resolve_model(settings.detector_model, settings.models_dir)
        self._model: Any = YOLO(self.model_path, task="detect")
        names: dict[int, str] = dict(self._model.names)
        by_name = {name: index for index, name in names.items()}
        unknown = [name for name in settings.vehicle_classes if name not in by_name]
        if unknown:
            raise ValueError(f"vehicle_classes {unknown} are not classes of {self.model_path}")
        self._class_ids = [by_name[name] for name in settings.vehicle_classes]
        self._names = names
        self.detect(Image.new("RGB", (64, 64)))  # warm-up: the first predict sets up the runtime

    def detect(self, image: Image.Image) -> list[Detection]:
        results = self._model.predict(
            image,
            conf=self.settings.detection_floor,
            classes=self._class_ids,
            imgsz=self.settings.imgsz,
            iou=self.settings.nms_iou,
            max_det=self.settings.max_detections,
            agnostic_nms=True,  # vehicle classes are one class for NMS: one box per vehicle
            verbose=False,
        )
        found: list[Detection] = []
        boxes = results[0].boxes
        for xyxy, conf, cls in zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist(), strict=True):
            x1, y1, x2, y2 = (float(v) for v in xyxy)
            found.append(
                Detection(
                    box=Box(x1=x1, y1=y1, x2=x2, y2=y2), confidence=float(conf), label=self._names[int(cls)]
                )
            )
        return found
