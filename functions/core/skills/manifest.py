"""The trained-skill manifest (`skill.json`): what a skill version is and where it came from."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field, field_validator, model_validator

from functions.core.base.records import utc_now

# Test-time augmentation: "hflip" averages the class probabilities of the crop and its mirror image
# (cars are left-right symmetric; a mirrored car is the same make). Serving and evaluation do the same.
TestTimeAugmentation = Literal["none", "hflip"]
TTA_CONFIDENCE_DESCRIPTION = (
    "with 'hflip': the mirror image is run only for crops whose plain view's top probability is below "
    "this (a confident crop keeps its plain answer and costs one network run); none: every crop"
)


def mirror_needed(
    tta: TestTimeAugmentation, confidence: float | None, top: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which crops also run their mirror image, given the plain view's top probability of each: every one
    with 'hflip', or with a confidence only those below it; none without TTA."""
    top_probability = np.asarray(top)
    if tta != "hflip":
        return np.zeros(top_probability.shape, dtype=bool)
    if confidence is None:
        return np.ones(top_probability.shape, dtype=bool)
    needed: npt.NDArray[np.bool_] = top_probability < confidence
    return needed


def check_tta(tta: TestTimeAugmentation, confidence: float | None) -> None:
    if confidence is not None and tta != "hflip":
        raise ValueError(f"tta_confidence {confidence} needs tta 'hflip' (tta is {tta!r}): nothing to skip")


_SKILL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def validate_skill_name(value: str) -> str:
    if not _SKILL_NAME.match(value):
        raise ValueError(f"skill name {value!r} must be lowercase letters, digits and dashes (max 63)")
    return value


class SkillManifest(BaseModel):
    """Written next to the weights of every trained skill version; travels into reports and messages."""

    skill: str
    skill_version: int = Field(ge=1)
    code_version: str
    dataset_version: str
    config_hash: str
    hardware_profile: str
    task: str = "classify"
    classes: list[str]
    imgsz: int = Field(ge=32)
    weights: str = Field(description="weights file, relative to the skill version folder")
    onnx: str | None = Field(default=None, description="ONNX export, relative to the skill version folder")
    tta: TestTimeAugmentation = Field(
        default="none", description="test-time augmentation applied by every runtime that serves this version"
    )
    tta_confidence: float | None = Field(default=None, gt=0.0, le=1.0, description=TTA_CONFIDENCE_DESCRIPTION)
    metrics: dict[str, Any] = Field(default_factory=dict)
    train_seconds: float = 0.0
    epochs_run: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    parent_skill_version: int | None = None

    @field_validator("skill")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return validate_skill_name(value)

    @model_validator(mode="after")
    def _tta_confidence_needs_hflip(self) -> SkillManifest:
        check_tta(self.tta, self.tta_confidence)
        return self

    def ref(self) -> dict[str, Any]:
        return {"skill": self.skill, "skill_version": self.skill_version, "code_version": self.code_version}
