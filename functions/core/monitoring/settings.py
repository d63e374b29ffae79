"""Drift monitor settings (environment prefix SKILLFORGE_DRIFT_), validated once."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

METRIC_NAMESPACE = "skillforge/drift"
SCORE_METRIC = "DriftScore"


class DriftSettings(BaseSettings):
    """How the daily drift score is computed and when it alarms.

    The score of a day is the largest population stability index (PSI) over the monitored features;
    PSI < 0.1 is usually read as stable, 0.1-0.25 as a moderate shift, > 0.25 as a significant one.
    """

    model_config = SettingsConfigDict(env_prefix="SKILLFORGE_DRIFT_", extra="ignore")

    bins: int = Field(default=5, ge=2, le=50, description="quantile bins of the reference per feature")
    min_reference: int = Field(default=20, ge=1, description="fewer reference values: feature not scored")
    min_current: int = Field(default=20, ge=1, description="fewer values on a day: feature not scored")
    alarm_threshold: float = Field(default=0.25, gt=0.0, description="drift score that raises the alarm")
