"""Light car detectors: the YOLO model run by the OpenVINO runtime or ONNX Runtime, with numpy around it.

No torch, no Ultralytics at run time: the pre/post-processing of `yolo_numpy` reproduces what Ultralytics
does, and the runtimes are imported lazily (only the configured one is loaded).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from functions.core.base.records import Box, Detection
from functions.core.detection.detector import resolve_model
from functions.core.detection.settings import DetectorSettings
from functions.core.detection.yolo_numpy import FloatArray, decode_detections, letterbox

Runner = Callable[[FloatArray], FloatArray]


class ModelFileError(ValueError):
    """The configured model is missing or is not what the chosen backend can read."""


def class_names_from_metadata_yaml(path: Path) -> dict[int, str]:
    """Class names of an Ultralytics export from its metadata.yaml (`names: {0: person, ...}`)."""
    import yaml

    metadata = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = metadata.get("names")
    if not isinstance(names, dict) or not names:
        raise ModelFileError(f"{path} has no 'names' mapping of class ids to names")
    return {int(index): str(name) for index, name in names.items()}


class YoloDetector:
    """Shared by the light backends: letterbox → runtime → decode → Detection list."""

    def __init__(self, settings: DetectorSettings, runner: Runner, names: dict[int, str], imgsz: int) -> None:
        self.settings = settings
        self._run = runner
        self._names = names
        self._imgsz = imgsz
        by_name = {name: index for index, name in names.items()}
        unknown = [name for name in settings.vehicle_classes if name not in by_name]
        if unknown:
            raise ValueError(f"vehicle_classes {unknown} are not classes of the detector model")
        self._class_ids = [by_name[name] for name in settings.vehicle_classes]

    def detect(self, image: Image.Image) -> list[Detection]:
        tensor, geometry = letterbox(image, self._imgsz)
        raw = decode_detections(
            self._run(tensor),
            geometry,
            confidence=self.settings.detection_floor,
            class_ids=self._class_ids,
            iou_threshold=self.settings.nms_iou,
            max_detections=self.settings.max_detections,
            agnostic=True,  # vehicle classes are one class for NMS: one box per vehicle
        )
        return [
            Detection(
                box=Box(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2)),
                confidence=float(score),
                label=self._names[int(class_id)],
            )
            for (x1, y1, x2, y2), score, class_id in zip(
                raw.boxes.tolist(), raw.scores.tolist(), raw.class_ids.tolist(), strict=True
            )
        ]


def _static_square_size(shape: list[Any], path: Path, fallback: int) -> int:
    """The model's fixed input side (1 × 3 × S × S), or the configured imgsz for a dynamic model."""
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int) and height > 0:
        if height != width:
            raise ModelFileError(f"{path} expects a {width}×{height} input; only square inputs are supported")
        return height
    return fallback


def openvino_detector(settings: DetectorSettings) -> YoloDetector:
    """A YOLO OpenVINO IR (an Ultralytics `*_openvino_model/` folder or its .xml) on OpenVINO."""
    import openvino as ov

    located = Path(resolve_model(settings.detector_model, settings.models_dir))
    xml = located if located.suffix == ".xml" else next(iter(sorted(located.glob("*.xml"))), None)
    if xml is None or not xml.is_file():
        raise ModelFileError(
            f"detector_model {settings.detector_model!r} is not an OpenVINO IR "
            f"(.xml/.bin or a folder with one; looked at {located})"
        )
    core = ov.Core()
    model = core.read_model(model=str(xml), weights=str(xml.with_suffix(".bin")))
    shape = [d.get_length() if d.is_static else None for d in model.input().get_partial_shape()]
    compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def run(tensor: FloatArray) -> FloatArray:
        result: FloatArray = request.infer({0: tensor})[output]
        return np.asarray(result, dtype=np.float32)

    metadata = xml.parent / "metadata.yaml"
    names = (
        class_names_from_metadata_yaml(metadata) if metadata.is_file() else _names_from_rt_info(model, xml)
    )
    return YoloDetector(settings, run, names, _static_square_size(shape, xml, settings.imgsz))


def _names_from_rt_info(model: Any, xml: Path) -> dict[int, str]:
    """Ultralytics also writes the labels (spaces as underscores) into the IR's runtime info."""
    if not model.has_rt_info(["model_info", "labels"]):
        raise ModelFileError(f"{xml} has neither a metadata.yaml beside it nor labels in its runtime info")
    labels = str(model.get_rt_info(["model_info", "labels"])).split()
    return {index: label.replace("_", " ") for index, label in enumerate(labels)}


def onnx_detector(settings: DetectorSettings) -> YoloDetector:
    """A YOLO detection ONNX export (Ultralytics `format=onnx`) on ONNX Runtime (CPU)."""
    session, shape, metadata = onnx_session(settings.detector_model, settings.models_dir)
    names = names_from_onnx_metadata(metadata, settings.detector_model)
    input_name = session.get_inputs()[0].name

    def run(tensor: FloatArray) -> FloatArray:
        return np.asarray(session.run(None, {input_name: tensor})[0], dtype=np.float32)

    return YoloDetector(
        settings, run, names, _static_square_size(shape, Path(settings.detector_model), settings.imgsz)
    )


def onnx_session(
    ref: str, models_dir: Path | None, threads: int | None = None
) -> tuple[Any, list[Any], dict[str, str]]:
    """An ONNX Runtime CPU session, its input shape and the model's metadata properties.

    `threads`: intra-op threads, with no spin-waiting (for a small model beside another runtime in the
    same process); None = ONNX Runtime's default (all cores, spinning).
    """
    import onnxruntime as ort

    path = Path(resolve_model(ref, models_dir))
    if path.suffix != ".onnx" or not path.is_file():
        raise ModelFileError(f"model {ref!r} is not an .onnx file (looked for {path})")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    shape = list(session.get_inputs()[0].shape)
    return session, shape, dict(session.get_modelmeta().custom_metadata_map)


def names_from_onnx_metadata(metadata: dict[str, str], ref: str) -> dict[int, str]:
    """Ultralytics stores `names` as a Python dict literal in the ONNX metadata."""
    text = metadata.get("names")
    if not text:
        raise ModelFileError(f"{ref} has no 'names' metadata; export it with Ultralytics (format='onnx')")
    names = ast.literal_eval(text)
    if not isinstance(names, dict):
        raise ModelFileError(f"{ref} 'names' metadata is not a mapping: {text[:80]}")
    return {int(index): str(name) for index, name in names.items()}
