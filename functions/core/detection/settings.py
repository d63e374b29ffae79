"""Detection settings: how the car detector is found and run, and the resources the detect function uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from functions.core.base.settings import AwsSettings
from functions.core.detection.crops import DEFAULT_CROP_PADDING
from functions.core.detection.images import ImageLimits

DetectorBackend = Literal["ultralytics", "openvino", "onnx"]


VEHICLE_CLASSES = ("car", "truck", "bus")  # COCO classes that count as a vehicle (vans often score as bus)
CONFIDENCE = 0.35
FALLBACK_CONFIDENCE = 0.15


class DetectorSettings(BaseSettings):
    """How the car detector is found and run.

    `detector_backend`: `openvino` (default) runs an OpenVINO IR on the OpenVINO runtime and `onnx` an
    ONNX export on ONNX Runtime, both without torch/Ultralytics; `ultralytics` runs any Ultralytics
    model path or hub name (e.g. `yolo11n.pt`) through Ultralytics.
    """

    model_config = SettingsConfigDict(env_prefix="SKILLFORGE_", extra="ignore")

    models_dir: Path | None = None
    detector_backend: DetectorBackend = "openvino"
    detector_model: str = "yolo11n_int8_openvino_model"
    detector_skill: str = "car-detector"
    detector_version: int = Field(default=1, ge=1)
    vehicle_classes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(VEHICLE_CLASSES), description="COCO classes that are one vehicle for NMS"
    )
    confidence: float = Field(default=CONFIDENCE, gt=0.0, lt=1.0)
    fallback_confidence: float = Field(
        default=FALLBACK_CONFIDENCE,
        gt=0.0,
        lt=1.0,
        description="when no vehicle reaches `confidence`, the most confident one at or above this is the "
        "photo's one car (a close-up or an odd angle still gets an answer); at or above `confidence`: off",
    )
    imgsz: int = Field(default=640, ge=32, le=2048)
    nms_iou: float = Field(default=0.7, gt=0.0, le=1.0)
    max_detections: int = Field(default=300, ge=1)
    crop_padding: float = Field(default=DEFAULT_CROP_PADDING, ge=0.0, le=0.5)
    min_box_side: int = Field(default=24, ge=1)
    main_car_rule: Literal["largest", "central"] = Field(
        default="largest", description="which car of a photo inherits its label hint"
    )
    max_file_bytes: int = Field(default=30 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=60_000_000, ge=1)
    min_image_side: int = Field(default=16, ge=1)

    @field_validator("vehicle_classes", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("vehicle_classes")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("vehicle_classes must name at least one COCO class, e.g. 'car'")
        return value

    @property
    def detection_floor(self) -> float:
        """The lowest score a detector must report: the fallback's, where it lies below `confidence`."""
        return min(self.confidence, self.fallback_confidence)

    def image_limits(self) -> ImageLimits:
        return ImageLimits(
            max_bytes=self.max_file_bytes, max_pixels=self.max_pixels, min_side=self.min_image_side
        )


class PipelineSettings(AwsSettings):
    """Names of the resources a function talks to."""

    raw_bucket: str
    crops_bucket: str
    quarantine_bucket: str
    catalog_table: str
    artifacts_bucket: str | None = None
    detect_queue: str | None = None
    detect_dlq: str | None = None


class DeadLetterSettings(AwsSettings):
    """Where the detect function puts a message it gives up on, with the reason (base/dead_letters.py);
    no URL: failed messages are left to the detect queue's redrive policy."""

    detect_dlq_url: str | None = None
    detect_max_receive_count: int = Field(
        default=3, ge=1, le=1000, description="the detect queue's maxReceiveCount"
    )
