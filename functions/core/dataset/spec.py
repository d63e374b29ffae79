"""What a skill's data set is made of: classes, minimum size, split fractions, balance strategy."""

from __future__ import annotations

from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from functions.core.dataset.split import SplitPolicy


class ClassSpec(BaseModel):
    """One output class: its name and the verified labels it is made of (case-insensitive globs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    match: list[str] = Field(default_factory=list, description="globs over verified labels; default: name")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        if "/" in value or value.strip() != value:
            raise ValueError(f"class name {value!r} must not contain '/' or surrounding spaces")
        return value

    def patterns(self) -> list[str]:
        return [p.lower() for p in (self.match or [self.name])]


class BalanceStrategy(StrEnum):
    NONE = "none"
    CAP = "cap"  # keep at most `cap_per_class` train examples per class
    OVERSAMPLE = "oversample"  # repeat small classes up to the largest (or `oversample_to`)
    CAP_AND_OVERSAMPLE = "cap_and_oversample"


class BalanceSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # the default keeps every example (small classes repeated); capping discards data, so it is opt-in
    strategy: BalanceStrategy = BalanceStrategy.OVERSAMPLE
    cap_per_class: int | None = Field(
        default=None, ge=1, description="train examples kept per class; default: 3 x the smallest class"
    )
    oversample_to: int | None = Field(
        default=None, ge=1, description="train examples per class after oversampling; default: the largest"
    )


class DatasetSpec(BaseModel):
    """The extraction part of a skill config (the extract Lambda reads only this)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    classes: list[ClassSpec] | None = Field(
        default=None, description="explicit classes; omitted: every verified label matching label_filter"
    )
    label_filter: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    min_images_per_class: int = Field(default=1000, ge=1)
    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    val_fraction: float = Field(default=0.1, ge=0.0, lt=1.0, description="share of the train side")
    balance: BalanceSpec = Field(default_factory=BalanceSpec)

    @field_validator("classes")
    @classmethod
    def _unique_names(cls, value: list[ClassSpec] | None) -> list[ClassSpec] | None:
        if value is None:
            return value
        if len(value) < 2:
            raise ValueError("a classification skill needs at least 2 classes")
        names = [c.name for c in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"class names must be unique; repeated: {duplicates}")
        return value

    def split_policy(self, salt: str) -> SplitPolicy:
        """How this data set's new groups are split (the salt is the project's)."""
        return SplitPolicy(test_fraction=self.test_fraction, val_fraction=self.val_fraction, salt=salt)

    def class_of(self, label: str) -> str | None:
        """The class a verified label belongs to (first matching class), or None if it is not used."""
        lowered = label.lower()
        if not any(fnmatchcase(lowered, p.lower()) for p in self.label_filter):
            return None
        if self.classes is None:
            return label
        for spec in self.classes:
            if any(fnmatchcase(lowered, p) for p in spec.patterns()):
                return spec.name
        return None
