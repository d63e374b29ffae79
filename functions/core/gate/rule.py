"""The promotion gate: is the candidate significantly more accurate and no slower than what is deployed?

Rule (numbers from GateConfig):
  * the harness must hold at least `min_cases_per_class` cases of every class it covers;
  * with a current version, on the same cases (paired):
      - candidate accuracy − current accuracy ≥ min_accuracy_gain, AND the gain is significant: the
        one-sided exact McNemar test on the cases where the two disagree gives p ≤ significance
        (a paired bootstrap interval of the gain goes into the reasons, the report and Slack);
      - the classifier's own stage (what changed) p95 ≤ current × (1 + skill_latency_tolerance) + slack,
        AND the whole stack (detector included) p95 ≤ current × (1 + latency_tolerance) + slack;
  * first version of a skill (nothing deployed): candidate accuracy ≥ first_version_min_accuracy.
Anything else is "needs investigation", with the numbers. A person may accept a candidate the rule
held back (e.g. a tiny accuracy loss for a big speed-up): `skillforge accept` records who and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.conditions import Attr
from pydantic import BaseModel, Field

from functions.core.base.catalog import from_item, to_item
from functions.core.base.records import utc_now
from functions.core.gate.significance import PairedComparison, compare_paired

if TYPE_CHECKING:  # annotation only: the rule (and GateConfig, read at synth) loads no detector stack
    from functions.core.gate.regression import SideMetrics


class GateConfig(BaseModel):
    min_accuracy_gain: float = Field(
        default=0.01, ge=0.0, le=1.0, description="accuracy points (0..1) the candidate must gain"
    )
    significance: float = Field(
        default=0.05, gt=0.0, lt=1.0, description="the gain must be significant at this level (McNemar)"
    )
    min_cases_per_class: int = Field(
        default=20, ge=1, description="harness cases needed for every class before the gate decides"
    )
    latency_tolerance: float = Field(
        default=0.10, ge=0.0, le=10.0, description="allowed relative slow-down of the whole stack"
    )
    skill_latency_tolerance: float = Field(
        default=0.10, ge=0.0, le=10.0, description="allowed relative slow-down of the classifier's own stage"
    )
    latency_slack_ms: float = Field(
        default=2.0, ge=0.0, description="absolute slack (ms) on top of the tolerance, against timer noise"
    )
    skill_latency_slack_ms: float = Field(
        default=0.5, ge=0.0, description="absolute slack (ms) on the classifier stage's tolerance"
    )
    latency_percentile: Literal["p50", "p95"] = "p95"
    first_version_min_accuracy: float = Field(default=0.6, ge=0.0, le=1.0)
    bootstrap_samples: int = Field(default=2000, ge=100, le=100_000)


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
    accuracy_delta_interval: tuple[float, float] | None = Field(
        default=None, description="paired bootstrap interval of the gain, at 1 - significance"
    )
    p_value: float | None = Field(default=None, description="one-sided exact McNemar: candidate better")
    candidate_latency_ms: float
    current_latency_ms: float | None = None
    latency_limit_ms: float | None = None
    candidate_skill_latency_ms: float | None = None
    current_skill_latency_ms: float | None = None
    skill_latency_limit_ms: float | None = None
    config: GateConfig
    decided_at: datetime = Field(default_factory=utc_now)
    decided_by: str = "gate"


def _harness_reasons(candidate: SideMetrics, config: GateConfig) -> list[str]:
    """What makes the harness too small to decide on (empty: big enough)."""
    small = {
        name: metrics.cases
        for name, metrics in sorted(candidate.per_class.items())
        if metrics.cases < config.min_cases_per_class
    }
    if not candidate.per_class:
        return [f"harness too small: no case per class (needs ≥ {config.min_cases_per_class} per class)"]
    if small:
        listed = ", ".join(f"{name} {n}" for name, n in small.items())
        return [f"harness too small: {listed} case(s) (needs ≥ {config.min_cases_per_class} per class)"]
    return []


def decide(
    candidate: SideMetrics,
    current: SideMetrics | None,
    config: GateConfig,
    pairs: Sequence[tuple[bool, bool]] = (),
) -> GateDecision:
    """The gate's decision. `pairs`: per harness case, (candidate right, current right)."""
    stat = config.latency_percentile
    cand_latency = candidate.latency_ms[stat]
    harness = _harness_reasons(candidate, config)
    if current is None:
        ok = candidate.accuracy >= config.first_version_min_accuracy
        relation = "≥" if ok else "<"
        return GateDecision(
            skill=candidate.skill,
            candidate_version=candidate.skill_version,
            current_version=None,
            outcome=GateOutcome.PROMOTE if ok and not harness else GateOutcome.INVESTIGATE,
            reasons=[
                f"first version: accuracy {candidate.accuracy:.1%} {relation} "
                f"minimum {config.first_version_min_accuracy:.1%}",
                *harness,
            ],
            candidate_accuracy=candidate.accuracy,
            candidate_latency_ms=cand_latency,
            candidate_skill_latency_ms=candidate.skill_latency_ms.get(stat),
            config=config,
        )
    if len(pairs) != candidate.cases:
        raise ValueError(f"{len(pairs)} paired results for {candidate.cases} harness cases")
    paired: PairedComparison = compare_paired(pairs, config.significance, config.bootstrap_samples)
    delta = round(candidate.accuracy - current.accuracy, 4)
    limit = round(current.latency_ms[stat] * (1 + config.latency_tolerance) + config.latency_slack_ms, 3)
    skill_now, skill_cand = current.skill_latency_ms[stat], candidate.skill_latency_ms[stat]
    skill_limit = round(skill_now * (1 + config.skill_latency_tolerance) + config.skill_latency_slack_ms, 3)
    enough = delta >= config.min_accuracy_gain - 1e-9
    significant = paired.p_value <= config.significance
    fast = cand_latency <= limit
    stage_fast = skill_cand <= skill_limit
    low, high = paired.interval
    level = 1 - config.significance
    reasons = [
        f"accuracy {candidate.accuracy:.1%} vs {current.accuracy:.1%} (Δ {delta:+.1%}; "
        f"needs ≥ {config.min_accuracy_gain:+.1%}): {'ok' if enough else 'not enough'}",
        f"gain {delta:+.1%}, {level:.0%} interval [{low:+.1%}, {high:+.1%}]; "
        f"McNemar p = {paired.p_value:.3g} "
        f"({paired.candidate_only} cases only the candidate got right, {paired.current_only} only the "
        f"current; needs p ≤ {config.significance:g}): {'significant' if significant else 'not significant'}",
        f"classifier stage {stat} {skill_cand:.1f} ms vs {skill_now:.1f} ms "
        f"(limit {skill_limit:.1f} ms): {'ok' if stage_fast else 'too slow'}",
        f"whole stack {stat} {cand_latency:.1f} ms vs {current.latency_ms[stat]:.1f} ms "
        f"(limit {limit:.1f} ms): {'ok' if fast else 'too slow'}",
        *harness,
    ]
    promote = enough and significant and fast and stage_fast and not harness
    return GateDecision(
        skill=candidate.skill,
        candidate_version=candidate.skill_version,
        current_version=current.skill_version,
        outcome=GateOutcome.PROMOTE if promote else GateOutcome.INVESTIGATE,
        reasons=reasons,
        candidate_accuracy=candidate.accuracy,
        current_accuracy=current.accuracy,
        accuracy_delta=delta,
        accuracy_delta_interval=(round(low, 4), round(high, 4)),
        p_value=round(paired.p_value, 6),
        candidate_latency_ms=cand_latency,
        current_latency_ms=current.latency_ms[stat],
        latency_limit_ms=limit,
        candidate_skill_latency_ms=skill_cand,
        current_skill_latency_ms=skill_now,
        skill_latency_limit_ms=skill_limit,
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
