"""Classifiers of trained skills: one protocol, an Ultralytics backend and a light ONNX Runtime backend.

The light backend reads the skill's ONNX export (`SkillManifest.onnx`) and preprocesses in numpy/Pillow
exactly as Ultralytics' classify predictor does, so it needs neither torch nor Ultralytics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from functions.core.light_detector import ModelFileError, names_from_onnx_metadata, onnx_session
from functions.core.skills import SkillManifest
from functions.core.yolo_numpy import classify_input

ClassifierBackend = Literal["ultralytics", "onnx"]


class Classification(BaseModel):
    """Top-1 class of one image and every class's probability."""

    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float]


class Classifier(Protocol):
    """Classifies an upright RGB image (a crop) into one of the skill's classes."""

    def classify(self, image: Image.Image) -> Classification: ...


def _classification(probabilities: list[float], names: dict[int, str]) -> Classification:
    best = int(np.argmax(probabilities))
    return Classification(
        label=names[best],
        confidence=min(1.0, max(0.0, float(probabilities[best]))),
        probabilities={names[index]: float(p) for index, p in enumerate(probabilities)},
    )


class OnnxClassifier:
    """An Ultralytics classification ONNX export on ONNX Runtime (CPU)."""

    def __init__(self, model: str | Path, imgsz: int | None = None) -> None:
        self._session, shape, metadata = onnx_session(str(model), None)
        self._names = names_from_onnx_metadata(metadata, str(model))
        self._input = self._session.get_inputs()[0].name
        fixed = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else None
        if fixed is not None and imgsz is not None and imgsz != fixed:
            raise ModelFileError(f"{model} takes {fixed}-px inputs, not the requested imgsz {imgsz}")
        size = fixed or imgsz
        if size is None:
            raise ModelFileError(f"{model} has a dynamic input size: pass imgsz")
        self.imgsz: int = size

    @property
    def names(self) -> dict[int, str]:
        """Class index → name, from the export's metadata."""
        return dict(self._names)

    def classify(self, image: Image.Image) -> Classification:
        output = self._session.run(None, {self._input: classify_input(image, self.imgsz)})[0]
        return _classification(np.asarray(output, dtype=np.float32)[0].tolist(), self._names)


class UltralyticsClassifier:
    """Any Ultralytics classification model (.pt, ONNX, OpenVINO) through Ultralytics."""

    def __init__(self, model: str | Path, imgsz: int) -> None:
        from functions.core.offline import configure_offline

        configure_offline()
        from ultralytics import YOLO  # type: ignore[attr-defined]

        self.imgsz = imgsz
        self._model: Any = YOLO(str(model), task="classify")
        self._names: dict[int, str] = dict(self._model.names)

    def classify(self, image: Image.Image) -> Classification:
        result = self._model.predict(image, imgsz=self.imgsz, verbose=False)[0]
        return _classification(result.probs.data.tolist(), self._names)


def skill_classifier(
    manifest: SkillManifest, folder: Path, backend: ClassifierBackend = "onnx"
) -> Classifier:
    """The classifier of one trained skill version stored in `folder` (beside its skill.json)."""
    if backend == "onnx":
        if manifest.onnx is None:
            raise ModelFileError(
                f"skill {manifest.skill} v{manifest.skill_version} has no ONNX export; "
                "use the 'ultralytics' classifier backend or export it"
            )
        return OnnxClassifier(folder / manifest.onnx, manifest.imgsz)
    return UltralyticsClassifier(folder / manifest.weights, manifest.imgsz)
