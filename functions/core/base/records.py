"""Typed records that cross every boundary: S3 uploads, detections, catalog items."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utc_now() -> datetime:
    return datetime.now(UTC)


class ImageStatus(StrEnum):
    """Terminal states of an uploaded image: exactly one per upload."""

    CARS_FOUND = "cars_found"
    NO_CAR = "no_car"
    QUARANTINED = "quarantined"


class CropStatus(StrEnum):
    """Life of one crop from detection to a verified training example."""

    NEW = "new"  # detected, not yet sent to people
    LABELLING = "labelling"  # in a crowd labelling job
    LABELLED = "labelled"  # crowd answered, not eligible for review (wrong view or quality)
    BACKGROUND = "background"  # crowd unsure / tie: kept for a later relabel
    IN_REVIEW = "in_review"  # waiting for the expert
    VERIFIED = "verified"  # expert confirmed or corrected the class
    REJECTED = "rejected"  # expert said: not a usable example of any class
    SUPERSEDED = "superseded"  # its photo was replaced by a new upload to the same key before labelling
    MODEL_LABELLED = "model_labelled"  # confident model answer agreeing with the hint: unverified, no crowd


class QuarantineReason(StrEnum):
    EMPTY_FILE = "empty_file"
    FILE_TOO_LARGE = "file_too_large"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    DECOMPRESSION_BOMB = "decompression_bomb"
    TRUNCATED_OR_CORRUPT = "truncated_or_corrupt"
    TOO_SMALL = "too_small"
    OBJECT_MISSING = "object_missing"


class QualityFlag(StrEnum):
    """Data-quality flags raised at ingest (functions/core/quality)."""

    BLURRED = "blurred"
    OVER_EXPOSED = "over_exposed"
    UNDER_EXPOSED = "under_exposed"
    TOO_SMALL = "too_small"


class ImageStats(BaseModel):
    """What an image looks like: measured at ingest for quality flags, near-duplicates and drift."""

    width: int = Field(ge=0)
    height: int = Field(ge=0)
    aspect: float = Field(ge=0.0, description="width / height")
    brightness: float = Field(ge=0.0, le=255.0, description="mean grey level")
    contrast: float = Field(ge=0.0, description="standard deviation of the grey level")
    sharpness: float = Field(ge=0.0, description="variance of the Laplacian (low = blurred)")
    phash: str = Field(pattern=r"^[0-9a-f]{16}$", description="64-bit perceptual (DCT) hash, hex")
    flags: list[QualityFlag] = Field(default_factory=list)


class Upload(BaseModel):
    """One object that landed in the raw bucket (from an S3 event), key already URL-decoded."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    event_time: datetime | None = None

    @property
    def revision(self) -> str | None:
        """Which version of the key this is: the S3 version id (versioned bucket), else the ETag."""
        if self.version_id and self.version_id != "null":
            return self.version_id
        return self.etag.strip('"') if self.etag else None


class Box(BaseModel):
    model_config = ConfigDict(frozen=True)

    x1: float
    y1: float
    x2: float
    y2: float

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)


class Detection(BaseModel):
    model_config = ConfigDict(frozen=True)

    box: Box
    confidence: float = Field(ge=0.0, le=1.0)
    label: str


class SkillRef(BaseModel):
    """Which skill produced an answer: travels with every detection/classification result."""

    model_config = ConfigDict(frozen=True)

    skill: str
    skill_version: int = Field(ge=1)
    code_version: str


class Scored(BaseModel):
    """One class and its probability."""

    label: str
    score: float


class StageAnswer(BaseModel):
    """One stage of the served cascade for one crop: who answered (versions) and the ranked classes."""

    skill: str
    skill_version: int
    code_version: str
    label: str = Field(description="top-1 class")
    score: float = Field(description="top-1 probability")
    top_k: list[Scored] = Field(description="best first (k <= 5)")


ServedStatus = Literal["classified", "not_classified"]


class ServedAnswer(BaseModel):
    """What the deployed cascade answered for one crop (CropRecord.served)."""

    status: ServedStatus
    reason: str | None = Field(default=None, description="why not classified, e.g. skill_artifact_missing")
    stages: list[StageAnswer] = Field(default_factory=list, description="cascade order")
    final_label: str | None = Field(default=None, description="the last stage's label")
    margin: float | None = Field(default=None, description="top1 - top2 score of the last stage")
    served_at: datetime = Field(default_factory=utc_now)

    def answered_by(self, skill: str) -> StageAnswer | None:
        return next((stage for stage in self.stages if stage.skill == skill), None)


class ImageRecord(BaseModel):
    """Catalog item for one uploaded image."""

    image_id: str
    bucket: str
    key: str
    source: str = "upload"
    group_id: str
    variant_hint: str | None = None
    uploaded_at: datetime = Field(default_factory=utc_now)
    processed_at: datetime = Field(default_factory=utc_now)
    status: ImageStatus
    reason: QuarantineReason | None = None
    reason_detail: str | None = None
    width: int | None = None
    height: int | None = None
    content_sha256: str | None = None
    etag: str | None = None
    revision: str | None = Field(default=None, description="S3 version id or ETag of the processed upload")
    supersedes: str | None = Field(default=None, description="image id of the older upload to this key")
    superseded_by: str | None = Field(default=None, description="image id of a newer upload to this key")
    cars: list[Detection] = Field(default_factory=list)
    crop_ids: list[str] = Field(default_factory=list)
    stats: ImageStats | None = None
    skill: str
    skill_version: int
    code_version: str
    split: str | None = None
    served_summary: dict[str, int] | None = Field(
        default=None, description='served cascade per image, e.g. {"cars": 2, "classified": 2}'
    )


class CropRecord(BaseModel):
    """Catalog item for one crop of one car: what people label and experts verify."""

    crop_id: str
    image_id: str
    crop_bucket: str
    crop_key: str
    index: int = Field(ge=0)
    box: Box
    confidence: float
    label: str
    group_id: str
    variant_hint: str | None = None
    # the car the photo is about (main-car rule of the detector settings); only it inherits the hint
    main_car: bool = True
    main_car_rule: str | None = None
    content_sha256: str | None = None  # of the photo: byte-identical photos give the same crops
    status: CropStatus = CropStatus.NEW
    created_at: datetime = Field(default_factory=utc_now)
    stats: ImageStats | None = None
    skill: str
    skill_version: int
    code_version: str
    # filled by labelling / review / dataset extraction
    view: str | None = None
    quality: str | None = None
    agreement: float | None = None
    labelling_job: str | None = None
    final_class: str | None = None
    review_note: str | None = None  # why the crop is (back) in review, e.g. a user correction
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    split: str | None = None
    served: ServedAnswer | None = None  # the deployed cascade's answer (None until served)

    @field_validator("crop_id")
    @classmethod
    def _crop_id_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("crop_id must not be empty")
        return value
