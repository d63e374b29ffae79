"""What an evaluation records (evaluation.json) and the summary the state machine carries on."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from functions.core.gate.regression import RegressionResult
from functions.core.gate.rule import GateDecision, GateOutcome
from functions.core.serving.config import CascadeConfig
from functions.core.skills.registry import RegisteredSkill


class EvaluationRecord(BaseModel):
    stage: str
    candidate: RegisteredSkill
    current: RegisteredSkill | None
    regression: RegressionResult
    decision: GateDecision
    cascade: CascadeConfig
    data_counts: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="training data: split → class → examples (dataset manifest)"
    )
    evaluation_uri: str
    report_uri: str
    report_error: str | None = Field(
        default=None, description="why report.pdf could not be rendered (evaluation.json is written anyway)"
    )
    started_at: datetime
    seconds: float


class EvaluationSummary(BaseModel):
    """The small answer the state machine carries on (well under its 256 KB payload limit)."""

    skill: str
    skill_version: int
    current_version: int | None
    outcome: GateOutcome
    reasons: list[str]
    accuracy: float
    current_accuracy: float | None
    latency_p95_ms: float
    current_latency_p95_ms: float | None
    code_version: str
    dataset_version: str
    harness_version: str | None
    cases: int
    report_uri: str
    evaluation_uri: str
    seconds: float
