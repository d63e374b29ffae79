"""Crowd labelling hand-off: the two questions, the price per task, the Ground Truth job request.

Crops with status `new` (detected in a `cars_found` image, not yet seen by people) are gathered into
a batch (by size, or by the age of the oldest waiting crop), written as an input manifest to the
artifacts bucket and sent to a SageMaker Ground Truth custom labelling job. The same request goes to
the real SageMaker API or, in local mode, to the local job runner (functions/core/labelling/local_jobs.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from importlib import resources
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from functions.core.base.catalog import Catalog
from functions.core.base.records import CropRecord, CropStatus, utc_now
from functions.core.base.resources import (
    LABELLING_JOBS_PREFIX,
    LABELLING_OUTPUT_PREFIX,
    LABELLING_TEMPLATES_PREFIX,
)
from functions.core.base.storage import BlobStore
from functions.core.labelling.active import plan_job, record_model_labels
from functions.core.labelling.settings import LabellingSettings

logger = Logger(child=True)

LABEL_ATTRIBUTE = "crop-labels"
TEMPLATE_NAME = "crop_task.liquid.html"
# What the hand-off declares about the crops to Ground Truth (number plates are visible: not PII-free).
CONTENT_CLASSIFIERS = ("FreeOfAdultContent",)
JOBS_PREFIX = LABELLING_JOBS_PREFIX
TEMPLATES_PREFIX = LABELLING_TEMPLATES_PREFIX
OUTPUT_PREFIX = LABELLING_OUTPUT_PREFIX


class View(StrEnum):
    """Answers to "What does the picture show?" (value = form field name, text = what workers read)."""

    EXTERIOR_MORE = "exterior-more"
    EXTERIOR_LESS = "exterior-less"
    CLOSE_UP = "close-up"
    INTERIOR = "interior"
    WHEEL = "wheel"
    OBSTRUCTED = "obstructed"
    UNSURE = "unsure"


class Quality(StrEnum):
    """Answers to "What is the image quality?"."""

    GOOD = "good"
    BLURRY = "blurry"
    BAD_LIGHT = "bad-light"
    TOO_SMALL = "too-small"


VIEW_TEXT: dict[View, str] = {
    View.EXTERIOR_MORE: "exterior, more than half of the car",
    View.EXTERIOR_LESS: "exterior, less than half",
    View.CLOSE_UP: "close-up",
    View.INTERIOR: "interior",
    View.WHEEL: "wheel close-up",
    View.OBSTRUCTED: "obstructed",
    View.UNSURE: "unsure",
}
QUALITY_TEXT: dict[Quality, str] = {
    Quality.GOOD: "good",
    Quality.BLURRY: "blurry",
    Quality.BAD_LIGHT: "too dark or too bright",
    Quality.TOO_SMALL: "too small",
}
QUESTIONS: dict[str, tuple[str, dict[Any, str]]] = {
    "view": ("What does the picture show?", VIEW_TEXT),
    "quality": ("What is the image quality?", QUALITY_TEXT),
}

# Prices Ground Truth accepts for a public (Mechanical Turk) custom task, in USD.
PUBLIC_TASK_PRICES_USD: tuple[Decimal, ...] = tuple(
    Decimal(p)
    for p in (
        "0.012", "0.024", "0.036", "0.048", "0.060", "0.072", "0.120", "0.240",
        "0.360", "0.480", "0.600", "0.720", "0.840", "0.960", "1.080", "1.200",
    )
)  # fmt: skip


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key), with a clear error for anything else."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key


def public_workteam_arn(region: str) -> str:
    """The Mechanical Turk work team of Ground Truth in a region (owned by AWS account 394669845002)."""
    return f"arn:aws:sagemaker:{region}:394669845002:workteam/public-crowd/default"


@dataclass(frozen=True)
class Reward:
    """What one worker is paid for one task, from the time it takes and the target hourly rate."""

    exact_usd: Decimal
    price_usd: Decimal  # the nearest price Ground Truth accepts
    effective_hourly_usd: Decimal

    def amount_in_usd(self) -> dict[str, int]:
        tenths_of_cent = int((self.price_usd * 1000).to_integral_value())
        return {
            "Dollars": tenths_of_cent // 1000,
            "Cents": (tenths_of_cent % 1000) // 10,
            "TenthFractionsOfACent": tenths_of_cent % 10,
        }


def reward_per_task(seconds_per_task: float, hourly_rate_usd: float) -> Reward:
    """seconds × rate / 3600, snapped to the nearest allowed public price (ties go up)."""
    exact = (Decimal(str(seconds_per_task)) * Decimal(str(hourly_rate_usd)) / 3600).quantize(
        Decimal("0.00001"), rounding=ROUND_HALF_UP
    )
    price = min(PUBLIC_TASK_PRICES_USD, key=lambda p: (abs(p - exact), -p))
    hourly = (price * 3600 / Decimal(str(seconds_per_task))).quantize(Decimal("0.01"))
    return Reward(exact_usd=exact, price_usd=price, effective_hourly_usd=hourly)


def task_template() -> str:
    """The Liquid + crowd-html-elements page workers see (two radio groups)."""
    return resources.files("functions.core.labelling.templates").joinpath(TEMPLATE_NAME).read_text("utf-8")


def manifest_line(crop: CropRecord) -> dict[str, Any]:
    """One input-manifest object: the crop (by S3 URI, never a public URL) and its catalog id."""
    return {
        "source-ref": f"s3://{crop.crop_bucket}/{crop.crop_key}",
        "crop-id": crop.crop_id,
        "variant-hint": crop.variant_hint or "",
    }


def select_batch(
    waiting: Iterable[CropRecord], settings: LabellingSettings, now: datetime, force: bool = False
) -> list[CropRecord]:
    """The next batch: `batch_size` crops once that many wait, else all once the oldest is old enough."""
    crops = sorted(waiting, key=lambda c: (c.created_at, c.crop_id))
    if not crops:
        return []
    if len(crops) >= settings.batch_size:
        return crops[: settings.batch_size]
    if force or now - crops[0].created_at >= timedelta(minutes=settings.max_age_minutes):
        return crops
    return []


def job_name(settings: LabellingSettings, crops: list[CropRecord], now: datetime) -> str:
    """Unique per batch and minute, at most 63 characters as SageMaker requires."""
    digest = hashlib.sha256("\n".join(c.crop_id for c in crops).encode()).hexdigest()[:10]
    return f"{settings.job_prefix}-{now:%Y%m%d-%H%M}-{digest}"


def labeling_job_request(
    name: str,
    manifest_uri: str,
    template_uri: str,
    output_uri: str,
    settings: LabellingSettings,
    region: str,
) -> dict[str, Any]:
    """The `create_labeling_job` request: custom task, pre/post Lambdas, workforce, price, limits."""
    missing = [f for f in ("role_arn", "pre_lambda_arn", "post_lambda_arn") if not getattr(settings, f)]
    if missing:
        names = ", ".join("SKILLFORGE_LABELLING_" + m.upper() for m in missing)
        raise ValueError(f"labelling settings missing: {names}")
    human: dict[str, Any] = {
        "WorkteamArn": settings.workteam_arn
        if settings.workforce == "private"
        else public_workteam_arn(region),
        "UiConfig": {"UiTemplateS3Uri": template_uri},
        "PreHumanTaskLambdaArn": settings.pre_lambda_arn,
        "TaskKeywords": ["Image", "Classification", "Car"],
        "TaskTitle": "Car photo: what does it show, and how good is it?",
        "TaskDescription": "Answer two quick questions about one photo of a car.",
        "NumberOfHumanWorkersPerDataObject": settings.workers_per_crop,
        "TaskTimeLimitInSeconds": settings.task_time_limit_s,
        "TaskAvailabilityLifetimeInSeconds": settings.task_availability_s,
        "MaxConcurrentTaskCount": settings.max_concurrent_tasks,
        "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": settings.post_lambda_arn},
    }
    if settings.workforce == "public":
        reward = reward_per_task(settings.seconds_per_task, settings.hourly_rate_usd)
        human["PublicWorkforceTaskPrice"] = {"AmountInUsd": reward.amount_in_usd()}
    return {
        "LabelingJobName": name,
        "LabelAttributeName": LABEL_ATTRIBUTE,
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": manifest_uri}},
            # Crops are cars with EXIF stripped, but they show number plates (personal data in the EU):
            # they are declared free of adult content only, never free of personal data.
            "DataAttributes": {"ContentClassifiers": list(CONTENT_CLASSIFIERS)},
        },
        "OutputConfig": {"S3OutputPath": output_uri},
        "RoleArn": settings.role_arn,
        "HumanTaskConfig": human,
        "Tags": [{"Key": "project", "Value": "skillforge"}],
    }


class LabelingJobs(Protocol):
    """The part of the SageMaker API the labelling code uses (boto3 client, or the local runner)."""

    def create_labeling_job(self, **request: Any) -> dict[str, Any]: ...
    def describe_labeling_job(self, *, LabelingJobName: str) -> dict[str, Any]: ...  # noqa: N803


@dataclass(frozen=True)
class HandoffDeps:
    catalog: Catalog
    store: BlobStore
    jobs: LabelingJobs
    settings: LabellingSettings
    artifacts_bucket: str
    region: str


@dataclass(frozen=True)
class HandoffResult:
    job_name: str | None  # None when every chosen crop was model-labelled
    crops: int
    manifest_uri: str | None
    reward_usd: str | None
    model_labelled: int = 0  # confident answers agreeing with the hint: no crowd (active.py)
    deferred: int = 0  # waiting crops over the job's budget: the next job takes them


def upload_template(store: BlobStore, bucket: str) -> str:
    """Store the task template under a content-addressed key (uploaded once per version)."""
    text = task_template()
    key = f"{TEMPLATES_PREFIX}/crop-task-{hashlib.sha256(text.encode()).hexdigest()[:12]}.liquid.html"
    if not store.exists(bucket, key):
        store.put(bucket, key, text.encode("utf-8"), content_type="text/html")
    return f"s3://{bucket}/{key}"


def hand_off(deps: HandoffDeps, now: datetime | None = None, force: bool = False) -> HandoffResult | None:
    """Send the next batch of new crops to a labelling job; None when no batch is due yet.

    Order makes a retry safe: manifest, then the job (same name within the minute: an existing job is
    accepted), then each crop moves new → labelling only if still new.
    """
    now = now or utc_now()
    waiting = list(deps.catalog.crops_by_status(CropStatus.NEW))
    due = select_batch(waiting, deps.settings, now, force)
    if not due:
        return None
    # A job is due (size or age); which crops it takes is active learning's choice (active.py).
    plan = plan_job(waiting if deps.settings.order == "uncertainty" else due, deps.settings)
    model_labelled = record_model_labels(deps.catalog, _still_new(deps.catalog, plan.model_labelled))
    batch = _still_new(deps.catalog, plan.crowd)
    if not batch:
        if model_labelled:
            return HandoffResult(None, 0, None, None, model_labelled, len(plan.deferred))
        return None
    name = job_name(deps.settings, batch, now)
    manifest_key = f"{JOBS_PREFIX}/{name}/input.manifest"
    body = "".join(json.dumps(manifest_line(c), sort_keys=True) + "\n" for c in batch)
    deps.store.put(
        deps.artifacts_bucket, manifest_key, body.encode("utf-8"), content_type="application/jsonl"
    )
    request = labeling_job_request(
        name,
        manifest_uri=f"s3://{deps.artifacts_bucket}/{manifest_key}",
        template_uri=upload_template(deps.store, deps.artifacts_bucket),
        output_uri=f"s3://{deps.artifacts_bucket}/{OUTPUT_PREFIX}/",
        settings=deps.settings,
        region=deps.region,
    )
    try:
        deps.jobs.create_labeling_job(**request)
    except Exception as exc:
        if "ResourceInUse" not in type(exc).__name__ + str(exc):
            raise
        logger.info("labelling job already exists (retried hand-off)", extra={"job": name})
    moved = 0
    for crop in batch:
        updated = crop.model_copy(update={"status": CropStatus.LABELLING, "labelling_job": name})
        moved += deps.catalog.update_crop(updated, expected_status=CropStatus.NEW)
    price = request["HumanTaskConfig"].get("PublicWorkforceTaskPrice")
    reward = (
        reward_per_task(deps.settings.seconds_per_task, deps.settings.hourly_rate_usd)
        if price is not None
        else None
    )
    logger.info(
        "labelling job created",
        extra={
            "job": name,
            "crops": moved,
            "workers_per_crop": deps.settings.workers_per_crop,
            "workforce": deps.settings.workforce,
            "reward_per_task_usd": str(reward.price_usd) if reward else None,
            "reward_exact_usd": str(reward.exact_usd) if reward else None,
            "effective_hourly_usd": str(reward.effective_hourly_usd) if reward else None,
        },
    )
    return HandoffResult(
        job_name=name,
        crops=moved,
        manifest_uri=request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"],
        reward_usd=str(reward.price_usd) if reward else None,
        model_labelled=model_labelled,
        deferred=len(plan.deferred),
    )


def _still_new(catalog: Catalog, crops: list[CropRecord]) -> list[CropRecord]:
    """The status index is eventually consistent: re-read each crop so none goes to two jobs."""
    return [c for c in crops if (fresh := catalog.get_crop(c.crop_id)) and fresh.status is CropStatus.NEW]
