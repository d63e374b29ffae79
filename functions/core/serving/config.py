"""The cascade as data: which skills run on a car, in which order, routed by the parent's answer.

Plain configuration (no runtime, no clients): the CDK app reads it at synth, the functions at run time.
A stage with `after` runs only when the parent stage's top-1 is one of `when` (e.g. make → the variant
skill of that make).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from functions.core.skills.manifest import validate_skill_name


class CascadeStage(BaseModel):
    skill: str
    after: str | None = Field(default=None, description="parent stage's skill; None = runs on every car")
    when: list[str] | None = Field(default=None, description="parent top-1 classes that route here")

    @model_validator(mode="after")
    def _check(self) -> CascadeStage:
        validate_skill_name(self.skill)
        if self.when is not None and self.after is None:
            raise ValueError(f"stage {self.skill!r}: 'when' needs 'after' (the parent stage)")
        return self


class CascadeConfig(BaseModel):
    stages: list[CascadeStage] = Field(min_length=1)
    top_k: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _parents_first(self) -> CascadeConfig:
        seen: set[str] = set()
        for stage in self.stages:
            if stage.skill in seen:
                raise ValueError(f"skill {stage.skill!r} appears twice in the cascade")
            if stage.after is not None and stage.after not in seen:
                raise ValueError(f"stage {stage.skill!r}: parent {stage.after!r} must be an earlier stage")
            seen.add(stage.skill)
        return self

    @classmethod
    def single(cls, skill: str, top_k: int = 3) -> CascadeConfig:
        return cls(stages=[CascadeStage(skill=skill)], top_k=top_k)

    @classmethod
    def from_file(cls, path: Path) -> CascadeConfig:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def skills(self) -> list[str]:
        return [stage.skill for stage in self.stages]


def load_cascade_config(text_or_path: str) -> CascadeConfig:
    """From inline JSON or a file path (env `SKILLFORGE_CASCADE` takes either)."""
    stripped = text_or_path.strip()
    if stripped.startswith("{"):
        return CascadeConfig.model_validate(json.loads(stripped))
    return CascadeConfig.from_file(Path(stripped))
