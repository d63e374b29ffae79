"""Served answers (the cascade's answer on a crop record) for tests."""

from __future__ import annotations

from datetime import UTC, datetime

from functions.core.base.records import Scored, ServedAnswer, StageAnswer

SERVED_AT = datetime(2030, 5, 6, 7, 0, tzinfo=UTC)


def served(scores: dict[str, float], skill: str = "car-make", version: int = 2) -> ServedAnswer:
    """A classified answer of one stage with `scores` (label → probability), best first."""
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top = [Scored(label=label, score=score) for label, score in ranked]
    stage = StageAnswer(
        skill=skill,
        skill_version=version,
        code_version="t",
        label=top[0].label,
        score=top[0].score,
        top_k=top,
    )
    margin = top[0].score - (top[1].score if len(top) > 1 else 0.0)
    return ServedAnswer(
        status="classified",
        stages=[stage],
        final_label=top[0].label,
        margin=round(margin, 6),
        served_at=SERVED_AT,
    )


def not_classified() -> ServedAnswer:
    return ServedAnswer(status="not_classified", reason="skill_artifact_missing", served_at=SERVED_AT)
