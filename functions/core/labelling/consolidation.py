"""Consolidation of crowd answers: majority vote per question, agreement, per-worker agreement.

Rules (one crop, several workers):
- each question is decided by the most common answer; a tie for the top answer decides nothing;
- a crop whose view is undecided (tie) or `unsure`, or whose quality is undecided, goes to
  `background` (kept, eligible for a later relabel, never deleted);
- `exterior, more than half of the car` + `good` enters the expert review queue (`in_review`);
- any other decided answer pair is `labelled` (known, but not a training example of a variant);
- agreement of a question = share of workers who gave the winning answer; the crop's agreement is
  the mean over both questions; a worker agrees on a question when it gave the decided answer
  (nothing is counted for undecided questions or single-worker crops, where agreement is trivial).

Also the Ground Truth pre-annotation and post-annotation (consolidation) Lambda bodies.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, Field

from functions.core.base.records import CropStatus
from functions.core.labelling.handoff import Quality, View
from functions.core.labelling.settings import ConsolidationMethod as Method
from functions.core.labelling.worker_quality import dawid_skene, decide

DEFAULT_METHOD: Method = "dawid-skene"  # more accurate on the simulated crowd (docs/labelling.md)


class UnknownAnswerError(ValueError):
    """A worker's form output does not hold exactly one known answer per question."""


class WorkerAnswer(BaseModel):
    worker_id: str
    view: View
    quality: Quality


class Consolidated(BaseModel):
    """The consolidated labels of one crop (the post-annotation Lambda output content)."""

    view: View | None
    quality: Quality | None
    view_agreement: float = Field(ge=0.0, le=1.0)
    quality_agreement: float = Field(ge=0.0, le=1.0)
    agreement: float = Field(ge=0.0, le=1.0)
    status: CropStatus
    answers: list[WorkerAnswer]
    invalid_answers: int = 0


def _pick(content: dict[str, Any], question: str, allowed: type[View] | type[Quality]) -> str:
    chosen: list[str] = []
    for name, value in content.items():
        if not name.startswith(f"{question}-"):
            continue
        if not isinstance(value, dict):
            raise UnknownAnswerError(f"field {name!r} is not a radio-button output object")
        chosen.extend(str(answer) for answer, on in value.items() if on is True)
    if len(chosen) != 1:
        raise UnknownAnswerError(f"expected exactly one answer to {question!r}, got {chosen or 'none'}")
    if chosen[0] not in {a.value for a in allowed}:
        raise UnknownAnswerError(f"unknown {question} answer {chosen[0]!r}")
    return chosen[0]


def parse_form_output(worker_id: str, content: str | dict[str, Any]) -> WorkerAnswer:
    """crowd-radio-group output (`{"view-good": {"good": true}, ...}`, as a JSON string or object)."""
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except json.JSONDecodeError as exc:
            raise UnknownAnswerError(f"answer of worker {worker_id} is not JSON: {exc}") from exc
    if not isinstance(content, dict):
        raise UnknownAnswerError(f"answer of worker {worker_id} is not a JSON object")
    return WorkerAnswer(
        worker_id=worker_id,
        view=View(_pick(content, "view", View)),
        quality=Quality(_pick(content, "quality", Quality)),
    )


def _vote(values: list[str]) -> tuple[str | None, float]:
    if not values:
        return None, 0.0
    ranked = Counter(values).most_common()
    top, count = ranked[0]
    if len(ranked) > 1 and ranked[1][1] == count:
        return None, count / len(values)
    return top, count / len(values)


def _weighted(
    values: list[str], posterior: dict[str, float], min_posterior: float
) -> tuple[str | None, float]:
    """The Dawid-Skene decision among the answers workers gave (never one nobody gave); agreement is
    still the share of workers who gave it."""
    given = {k: v for k, v in posterior.items() if k in values}
    total = sum(given.values())
    decided = decide({k: v / total for k, v in given.items()}, min_posterior) if total > 0 else None
    if decided is None:
        return None, _vote(values)[1]
    return decided, values.count(decided) / len(values)


def consolidate(
    answers: list[WorkerAnswer],
    invalid_answers: int = 0,
    posteriors: dict[str, dict[str, float]] | None = None,
    min_posterior: float = 0.0,
) -> Consolidated:
    """Majority vote per question, or (with `posteriors` per question) the Dawid-Skene decision."""
    views, qualities = [a.view.value for a in answers], [a.quality.value for a in answers]
    if posteriors is None:
        view, view_agreement = _vote(views)
        quality, quality_agreement = _vote(qualities)
    else:
        view, view_agreement = _weighted(views, posteriors["view"], min_posterior)
        quality, quality_agreement = _weighted(qualities, posteriors["quality"], min_posterior)
    if view is None or view == View.UNSURE or quality is None:
        status = CropStatus.BACKGROUND
    elif view == View.EXTERIOR_MORE and quality == Quality.GOOD:
        status = CropStatus.IN_REVIEW
    else:
        status = CropStatus.LABELLED
    return Consolidated(
        view=View(view) if view else None,
        quality=Quality(quality) if quality else None,
        view_agreement=round(view_agreement, 4),
        quality_agreement=round(quality_agreement, 4),
        agreement=round((view_agreement + quality_agreement) / 2, 4),
        status=status,
        answers=answers,
        invalid_answers=invalid_answers,
    )


class WorkerTally(BaseModel):
    """How often one worker agreed with the consolidated answer (per question decided)."""

    answers: int = 0
    agreed: int = 0

    @property
    def rate(self) -> float:
        return self.agreed / self.answers if self.answers else 0.0


def worker_tallies(results: Iterable[Consolidated]) -> dict[str, WorkerTally]:
    tallies: dict[str, WorkerTally] = {}
    for result in results:
        if len(result.answers) < 2:
            continue
        for answer in result.answers:
            tally = tallies.setdefault(answer.worker_id, WorkerTally())
            for decided, given in ((result.view, answer.view), (result.quality, answer.quality)):
                if decided is None:
                    continue
                tally.answers += 1
                tally.agreed += int(decided == given)
    return tallies


# --- Ground Truth Lambda bodies -------------------------------------------------------------------


class PreAnnotationError(ValueError):
    """A data object the task cannot show."""


class PostAnnotationError(ValueError):
    """A consolidation request that is not Ground Truth's (no label attribute or payload URI)."""


def pre_annotation(event: dict[str, Any], crops_bucket: str) -> dict[str, Any]:
    """Ground Truth pre-annotation: a manifest line → the task input of the template.

    Only crops of the crops bucket are shown; the template turns the S3 URI into a short-lived
    presigned URL with `grant_read_access` (the job's role), so no bucket is ever public.
    """
    data = event.get("dataObject") or {}
    source = str(data.get("source-ref") or "")
    crop_id = str(data.get("crop-id") or "")
    if not source.startswith(f"s3://{crops_bucket}/") or not crop_id:
        raise PreAnnotationError(
            f"data object must have a source-ref in s3://{crops_bucket}/ and a crop-id, got {data!r}"
        )
    return {"taskInput": {"taskObject": source, "cropId": crop_id}, "isHumanAnnotationRequired": "true"}


def consolidate_payload(
    items: list[dict[str, Any]],
    on_invalid: Callable[[str, str], None] | None = None,
    method: Method = DEFAULT_METHOD,
) -> list[dict[str, Any]]:
    """Ground Truth post-annotation: the workers' answers per data object → consolidated content.

    An answer that cannot be read is left out of the vote (and counted); a data object whose
    answers are all unreadable goes to background like a tie. With `dawid-skene`, every worker's
    reliability is estimated over all the data objects of the payload and weights its answers.
    """
    parsed: list[tuple[list[WorkerAnswer], int]] = []
    for item in items:
        answers: list[WorkerAnswer] = []
        invalid = 0
        for annotation in item.get("annotations", []):
            worker = str(annotation.get("workerId", "unknown"))
            try:
                answers.append(
                    parse_form_output(worker, (annotation.get("annotationData") or {}).get("content", ""))
                )
            except UnknownAnswerError as exc:
                invalid += 1
                if on_invalid:
                    on_invalid(str(item.get("datasetObjectId")), str(exc))
        parsed.append((answers, invalid))
    results = consolidate_all(parsed, method)
    return [
        {
            "datasetObjectId": item["datasetObjectId"],
            "consolidatedAnnotation": {"content": result.model_dump(mode="json")},
        }
        for item, result in zip(items, results, strict=True)
    ]


def consolidate_all(parsed: list[tuple[list[WorkerAnswer], int]], method: Method) -> list[Consolidated]:
    """Consolidate every data object of one job (answers, unreadable answers) by `method`."""
    if method == "majority":
        return [consolidate(answers, invalid) for answers, invalid in parsed]
    view = dawid_skene(
        [[(a.worker_id, a.view.value) for a in ans] for ans, _ in parsed], [v.value for v in View]
    )
    quality = dawid_skene(
        [[(a.worker_id, a.quality.value) for a in ans] for ans, _ in parsed], [q.value for q in Quality]
    )
    return [
        consolidate(answers, invalid, posteriors={"view": v, "quality": q})
        for (answers, invalid), v, q in zip(parsed, view, quality, strict=True)
    ]


def post_annotation(
    event: dict[str, Any],
    read_text: Callable[[str], str],
    on_invalid: Callable[[str, str], None] | None = None,
    method: Method = DEFAULT_METHOD,
) -> list[dict[str, Any]]:
    """The consolidation Lambda: reads the payload file Ground Truth names, answers per label attribute."""
    payload = event.get("payload") if isinstance(event, dict) else None
    label_attribute = event.get("labelAttributeName") if isinstance(event, dict) else None
    if not isinstance(label_attribute, str) or not isinstance(payload, dict) or "s3Uri" not in payload:
        raise PostAnnotationError(
            "not a Ground Truth consolidation request: it needs labelAttributeName and payload.s3Uri, got "
            f"{sorted(event) if isinstance(event, dict) else type(event).__name__}"
        )
    items = json.loads(read_text(str(payload["s3Uri"])))
    return [
        {
            "datasetObjectId": entry["datasetObjectId"],
            "consolidatedAnnotation": {
                "content": {label_attribute: entry["consolidatedAnnotation"]["content"]}
            },
        }
        for entry in consolidate_payload(items, on_invalid, method)
    ]
