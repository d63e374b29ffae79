"""The trained-skill manifest (`skill.json`): what a skill version is and where it came from."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from functions.core.base.records import utc_now

# Test-time augmentation: "hflip" averages the class probabilities of the crop and its mirror image
# (cars are left-right symmetric; a mirrored car is the same make). Serving and evaluation do the same.
TestTimeAugmentation = Literal["none", "hflip"]
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
    metrics: dict[str, Any] = Field(default_factory=dict)
    train_seconds: float = 0.0
    epochs_run: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    parent_skill_version: int | None = None

    @field_validator("skill")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return validate_skill_name(value)

    def ref(self) -> dict[str, Any]:
        return {"skill": self.skill, "skill_version": self.skill_version, "code_version": self.code_version}
