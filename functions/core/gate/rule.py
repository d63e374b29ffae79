"""The promotion gate: is the candidate more accurate and no slower than what is deployed?

Rule (numbers from GateConfig):
  * with a current version: candidate accuracy − current accuracy ≥ min_accuracy_gain
    AND candidate latency (p95 by default) ≤ current × (1 + latency_tolerance) + latency_slack_ms
  * first version of a skill (nothing deployed): candidate accuracy ≥ first_version_min_accuracy
Anything else is "needs investigation", with the numbers. A person may accept a candidate the rule
held back (e.g. a tiny accuracy loss for a big speed-up): `skillforge accept` records who and why.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.conditions import Attr
from pydantic import BaseModel, Field

from functions.core.base.catalog import from_item, to_item
from functions.core.base.records import utc_now

if TYPE_CHECKING:  # annotation only: the rule (and GateConfig, read at synth) loads no detector stack
    from functions.core.gate.regression import SideMetrics


class GateConfig(BaseModel):
    min_accuracy_gain: float = Field(
        default=0.01, ge=0.0, le=1.0, description="accuracy points (0..1) the candidate must gain"
    )
    latency_tolerance: float = Field(
        default=0.10, ge=0.0, le=10.0, description="allowed relative slow-down of the chosen latency"
    )
    latency_slack_ms: float = Field(
        default=2.0, ge=0.0, description="absolute slack (ms) on top of the tolerance, against timer noise"
    )
    latency_percentile: Literal["p50", "p95"] = "p95"
    first_version_min_accuracy: float = Field(default=0.6, ge=0.0, le=1.0)


class GateOutcome(StrEnum):
    PROMOTE = "promote"
    INVESTIGATE = "investigate"


class GateDecision(BaseModel):
    skill: str
    candidate_version: int
    current_version: int | None
    outcome: GateOutcome
    reasons: list[str]
    candidate_accuracy: float
    current_accuracy: float | None = None
    accuracy_delta: float | None = None
    candidate_latency_ms: float
    current_latency_ms: float | None = None
    latency_limit_ms: float | None = None
    config: GateConfig
    decided_at: datetime = Field(default_factory=utc_now)
    decided_by: str = "gate"


def decide(candidate: SideMetrics, current: SideMetrics | None, config: GateConfig) -> GateDecision:
    stat = config.latency_percentile
    cand_latency = candidate.latency_ms[stat]
    if current is None:
        ok = candidate.accuracy >= config.first_version_min_accuracy
        relation = "≥" if ok else "<"
        return GateDecision(
            skill=candidate.skill,
            candidate_version=candidate.skill_version,
            current_version=None,
            outcome=GateOutcome.PROMOTE if ok else GateOutcome.INVESTIGATE,
            reasons=[
                f"first version: accuracy {candidate.accuracy:.1%} {relation} "
                f"minimum {config.first_version_min_accuracy:.1%}"
            ],
            candidate_accuracy=candidate.accuracy,
            candidate_latency_ms=cand_latency,
            config=config,
        )
    delta = round(candidate.accuracy - current.accuracy, 4)
    limit = round(current.latency_ms[stat] * (1 + config.latency_tolerance) + config.latency_slack_ms, 3)
    accurate = delta >= config.min_accuracy_gain - 1e-9
    fast = cand_latency <= limit
    reasons = [
        f"accuracy {candidate.accuracy:.1%} vs {current.accuracy:.1%} (Δ {delta:+.1%}; "
        f"needs ≥ {config.min_accuracy_gain:+.1%}): {'ok' if accurate else 'not enough'}",
        f"latency {stat} {cand_latency:.1f} ms vs {current.latency_ms[stat]:.1f} ms "
        f"(limit {limit:.1f} ms): {'ok' if fast else 'too slow'}",
    ]
    return GateDecision(
        skill=candidate.skill,
        candidate_version=candidate.skill_version,
        current_version=current.skill_version,
        outcome=GateOutcome.PROMOTE if accurate and fast else GateOutcome.INVESTIGATE,
        reasons=reasons,
        candidate_accuracy=candidate.accuracy,
        current_accuracy=current.accuracy,
        accuracy_delta=delta,
        candidate_latency_ms=cand_latency,
        current_latency_ms=current.latency_ms[stat],
        latency_limit_ms=limit,
        config=config,
    )


class GateRecord(BaseModel):
    """A gate decision as stored (one per skill version), plus the human override if one was recorded."""

    decision: GateDecision
    report_uri: str | None = None
    evaluation_uri: str | None = None
    override_by: str | None = None
    override_reason: str | None = None
    override_at: datetime | None = None


def _key(skill: str, version: int) -> dict[str, str]:
    return {"pk": f"gate#{skill}#v{version:06d}"}


class GateLog:
    """Gate decisions and overrides in the catalog table (`gate#<skill>#v<version>`)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def record(self, record: GateRecord) -> None:
        item = to_item(record.model_dump(mode="json"))
        item.update(_key(record.decision.skill, record.decision.candidate_version), kind="gate")
        self.table.put_item(Item=item)

    def get(self, skill: str, version: int) -> GateRecord | None:
        item = self.table.get_item(Key=_key(skill, version), ConsistentRead=True).get("Item")
        if not item:
            return None
        data = {k: v for k, v in from_item(item).items() if k not in {"pk", "kind"}}
        return GateRecord.model_validate(data)

    def accept(self, skill: str, version: int, by: str, reason: str) -> GateRecord:
        """Record that a person accepts a version the gate held back (who, why, when)."""
        if not by.strip() or not reason.strip():
            raise ValueError("an override needs who decided (--by) and why (--reason)")
        record = self.get(skill, version)
        if record is None:
            raise ValueError(f"skill {skill!r} version {version} has no gate decision to override")
        record.override_by, record.override_reason, record.override_at = by, reason, utc_now()
        item = to_item(record.model_dump(mode="json"))
        item.update(_key(skill, version), kind="gate")
        self.table.put_item(Item=item, ConditionExpression=Attr("pk").exists())
        return record
