"""The serving use case: one crop through the deployed cascade → its ServedAnswer.

A skill that cannot answer (not deployed, artifact missing or corrupt) never raises out of here:
the crop is recorded "detected, not classified" with the reason (or classified up to the stage that
failed), so detection is kept and no message loops. Transient AWS errors are raised, so the message
is retried and reaches the DLQ after the queue's receive count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image

from functions.core.base.records import CropRecord, ImageRecord, ServedAnswer, StageAnswer, utc_now
from functions.core.detection.detect import CropAnnotator
from functions.core.serving.cascade import RankingSkill, route_crop
from functions.core.serving.config import CascadeConfig
from functions.core.serving.skills import NOT_DEPLOYED, DeployedSkills, SkillUnavailableError

MAX_TOP_K = 5  # what a crop record keeps per stage

Pinned = dict[str, tuple[int, str]]  # skill → (version, artifact URI) answering instead of the deployed one


@dataclass(frozen=True)
class ServeDeps:
    config: CascadeConfig
    skills: DeployedSkills


def serve_crop(image: Image.Image, deps: ServeDeps, pinned: Pinned | None = None) -> ServedAnswer:
    """Classify one crop with the deployed (or `pinned`) version of every stage that routes to it."""
    pins = pinned or {}
    failures: list[SkillUnavailableError] = []

    def resolve(skill: str) -> RankingSkill | None:
        try:
            return deps.skills.get(skill, pins.get(skill))
        except SkillUnavailableError as exc:
            if exc.reason != NOT_DEPLOYED or _is_root(deps.config, skill):
                failures.append(exc)
            return None

    stages = [
        StageAnswer(**answer.model_dump(exclude={"ms", "top_k"}), top_k=answer.top_k[:MAX_TOP_K])
        for answer in route_crop(deps.config, resolve, image)
    ]
    reason = failures[0].reason if failures else None
    if not stages:
        return ServedAnswer(status="not_classified", reason=reason or NOT_DEPLOYED, served_at=utc_now())
    last = stages[-1]
    second = last.top_k[1].score if len(last.top_k) > 1 else 0.0
    return ServedAnswer(
        status="classified",
        reason=reason,
        stages=stages,
        final_label=last.label,
        margin=round(last.score - second, 6),
        served_at=utc_now(),
    )


def _is_root(config: CascadeConfig, skill: str) -> bool:
    return any(stage.skill == skill and stage.after is None for stage in config.stages)


def served_summary(answers: Iterable[ServedAnswer]) -> dict[str, int]:
    """The image record's summary: cars served, classified, not classified, and broken-skill answers."""
    listed = list(answers)
    return {
        "cars": len(listed),
        "classified": sum(a.status == "classified" for a in listed),
        "not_classified": sum(a.status == "not_classified" for a in listed),
        "skill_unavailable": sum(unavailable(a) for a in listed),
    }


def unavailable(answer: ServedAnswer) -> bool:
    """A deployed skill could not answer (artifact missing or corrupt): the alarm metric."""
    return answer.reason is not None and answer.reason != NOT_DEPLOYED


def annotator(deps: ServeDeps) -> CropAnnotator:
    """The detect use case's hook: every crop answered by the deployed cascade before it is written."""

    def annotate(crops: list[tuple[Image.Image, CropRecord]], record: ImageRecord) -> None:
        for image, crop_record in crops:
            crop_record.served = serve_crop(image, deps)
        record.served_summary = served_summary(c.served for _, c in crops if c.served is not None)

    return annotate
