"""Label import: a finished Ground Truth job → catalog crops, review queue, per-worker agreement.

Idempotent: a crop changes only while it is `labelling` in this job, and a worker's figures for a job
are written under that job's name (a re-import overwrites them with the same values).
A failed or stopped job puts its crops back to `new` so the next hand-off sends them again.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from functions.core.base.catalog import DynamoCatalog, from_item
from functions.core.base.records import CropStatus
from functions.core.base.resources import LABELLING_JOB_STATE_CHANGE
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.labelling.consolidation import Consolidated, WorkerTally, consolidate, worker_tallies
from functions.core.labelling.handoff import LABEL_ATTRIBUTE, LabelingJobs, split_s3_uri
from functions.core.labelling.review import ReviewStore

logger = Logger(child=True)

JOB_STATE_CHANGE = LABELLING_JOB_STATE_CHANGE
FINAL_STATES = {"Completed", "Failed", "Stopped"}


class LabelImportError(Exception):
    """The job could not be imported completely; the message names every problem."""


class JobEvent(BaseModel):
    job_name: str
    status: str


def parse_job_event(event: dict[str, Any]) -> JobEvent:
    """EventBridge "SageMaker Ground Truth Labeling Job State Change" → job name and status."""
    if event.get("detail-type") != JOB_STATE_CHANGE:
        raise LabelImportError(f"not a labelling job state change: detail-type {event.get('detail-type')!r}")
    resources = event.get("resources") or []
    status = (event.get("detail") or {}).get("LabelingJobStatus")
    if not resources or "labeling-job/" not in str(resources[0]) or not status:
        raise LabelImportError("event has no labeling-job ARN in resources or no detail.LabelingJobStatus")
    return JobEvent(job_name=str(resources[0]).rsplit("/", 1)[1], status=str(status))


@dataclass(frozen=True)
class ImportDeps:
    catalog: DynamoCatalog
    store: BlobStore
    jobs: LabelingJobs


@dataclass
class ImportResult:
    job_name: str
    job_status: str
    lines: int = 0
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
    released: int = 0
    problems: list[str] = field(default_factory=list)
    workers: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "job": self.job_name,
            "job_status": self.job_status,
            "lines": self.lines,
            "updated": dict(self.updated),
            "unchanged": self.unchanged,
            "released": self.released,
            "problems": self.problems,
            "workers": self.workers,
        }


def import_job(job_name: str, deps: ImportDeps) -> ImportResult:
    """Read the job's state and output manifest, update the catalog; problems are collected, not fatal."""
    described = deps.jobs.describe_labeling_job(LabelingJobName=job_name)
    status = str(described.get("LabelingJobStatus"))
    result = ImportResult(job_name=job_name, job_status=status)
    if status in {"Failed", "Stopped"}:
        result.released = _release_crops(job_name, deps.catalog)
        reason = described.get("FailureReason") or "no reason given"
        result.problems.append(f"job {job_name} is {status} ({reason}); {result.released} crops back to new")
        logger.error("labelling job did not complete", extra=result.summary())
        return result
    if status != "Completed":
        raise LabelImportError(f"job {job_name} is {status}; only a final state can be imported")
    output_uri = (described.get("LabelingJobOutput") or {}).get("OutputDatasetS3Uri")
    if not output_uri:
        raise LabelImportError(f"job {job_name} is Completed but has no LabelingJobOutput.OutputDatasetS3Uri")
    try:
        text = deps.store.get(*split_s3_uri(output_uri)).data.decode("utf-8")
    except ObjectMissingError as exc:
        raise LabelImportError(f"output manifest {output_uri} of job {job_name} is missing") from exc
    consolidated: list[Consolidated] = []
    review = ReviewStore(deps.catalog)
    hints: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        result.lines += 1
        try:
            crop_id, labels = _parse_line(line, job_name)
        except (ValueError, ValidationError) as exc:
            result.problems.append(f"line {number}: {exc}")
            continue
        if isinstance(labels, FailedObject):
            result.problems.append(f"line {number}: crop {crop_id} was not labelled: {labels.reason}")
            labels = consolidate([])  # kept as background, eligible for a later relabel
        else:
            consolidated.append(labels)
        outcome = _apply(crop_id, labels, job_name, deps.catalog)
        if outcome is None:
            result.unchanged += 1
        elif outcome.startswith("!"):
            result.problems.append(f"line {number}: {outcome[1:]}")
        else:
            result.updated[outcome] += 1
            if outcome == CropStatus.IN_REVIEW.value:
                crop = deps.catalog.get_crop(crop_id)
                if crop is not None and crop.variant_hint:
                    hints.add(crop.variant_hint)
    tallies = worker_tallies(consolidated)
    for worker_id, tally in tallies.items():
        record_worker_tally(deps.catalog, worker_id, job_name, tally)
    review.remember_classes(hints)
    result.workers = len(tallies)
    log = logger.warning if result.problems else logger.info
    log("labelling job imported", extra=result.summary())
    return result


class FailedObject(BaseModel):
    """A data object Ground Truth could not label (its metadata has a failure-reason)."""

    reason: str


def _parse_line(line: str, job_name: str) -> tuple[str, Consolidated | FailedObject]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    crop_id = data.get("crop-id")
    if not crop_id:
        raise ValueError("no crop-id")
    metadata = data.get(f"{LABEL_ATTRIBUTE}-metadata") or {}
    if str(metadata.get("job-name", "")).rsplit("/", 1)[-1] != job_name:
        raise ValueError(f"crop {crop_id}: {LABEL_ATTRIBUTE}-metadata job-name is not {job_name}")
    if "failure-reason" in metadata or LABEL_ATTRIBUTE not in data:
        return str(crop_id), FailedObject(reason=metadata.get("failure-reason", f"no {LABEL_ATTRIBUTE}"))
    return str(crop_id), Consolidated.model_validate(data[LABEL_ATTRIBUTE])


def _apply(crop_id: str, labels: Consolidated, job_name: str, catalog: DynamoCatalog) -> str | None:
    """New status value if the crop changed, None if already imported, '!problem' otherwise."""
    crop = catalog.get_crop(crop_id)
    if crop is None:
        return f"!crop {crop_id} is not in the catalog (deleted?)"
    if crop.labelling_job != job_name:
        return f"!crop {crop_id} belongs to job {crop.labelling_job}, not {job_name}"
    if crop.status is not CropStatus.LABELLING:
        return None
    updated = crop.model_copy(
        update={
            "status": labels.status,
            "view": labels.view.value if labels.view else None,
            "quality": labels.quality.value if labels.quality else None,
            "agreement": labels.agreement,
        }
    )
    if not catalog.update_crop(updated, expected_status=CropStatus.LABELLING):
        return None
    return labels.status.value


def _release_crops(job_name: str, catalog: DynamoCatalog) -> int:
    released = 0
    for crop in list(catalog.crops_by_status(CropStatus.LABELLING)):
        if crop.labelling_job == job_name:
            fresh = crop.model_copy(update={"status": CropStatus.NEW, "labelling_job": None})
            released += catalog.update_crop(fresh, expected_status=CropStatus.LABELLING)
    return released


def record_worker_tally(catalog: DynamoCatalog, worker_id: str, job_name: str, tally: WorkerTally) -> None:
    """`worker#<id>`: per-job answers/agreed (overwritten on re-import, so never double counted)."""
    key = {"pk": f"worker#{worker_id}"}
    catalog.table.update_item(
        Key=key,
        UpdateExpression="SET #jobs = if_not_exists(#jobs, :empty), #kind = :kind, worker_id = :id",
        ExpressionAttributeNames={"#jobs": "jobs", "#kind": "kind"},
        ExpressionAttributeValues={":empty": {}, ":kind": "worker", ":id": worker_id},
    )
    catalog.table.update_item(
        Key=key,
        UpdateExpression="SET #jobs.#job = :tally",
        ExpressionAttributeNames={"#jobs": "jobs", "#job": job_name},
        ExpressionAttributeValues={":tally": {"answers": tally.answers, "agreed": tally.agreed}},
    )


def worker_agreement(catalog: DynamoCatalog) -> dict[str, dict[str, float]]:
    """Every worker's answers, agreed answers and agreement rate over all imported jobs."""
    rates: dict[str, dict[str, float]] = {}
    kwargs: dict[str, Any] = {
        "FilterExpression": "#kind = :kind",
        "ExpressionAttributeNames": {"#kind": "kind"},
        "ExpressionAttributeValues": {":kind": "worker"},
    }
    while True:
        page = catalog.table.scan(**kwargs)
        for item in page.get("Items", []):
            data = from_item(item)
            answers = sum(int(j["answers"]) for j in data.get("jobs", {}).values())
            agreed = sum(int(j["agreed"]) for j in data.get("jobs", {}).values())
            rates[str(data["worker_id"])] = {
                "answers": answers,
                "agreed": agreed,
                "rate": round(agreed / answers, 4) if answers else 0.0,
            }
        if "LastEvaluatedKey" not in page:
            return dict(sorted(rates.items()))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
