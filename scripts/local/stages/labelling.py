"""Demo stage 2: hand-off → local labelling job → simulated crowd → import (handler) → review.

The hand-off, the consolidation and the import are the production code; only the crowd is simulated
(deterministic seed, configurable error rate, several workers, answers from what each crop looks like).
Review is auto-approval of the upload hints (the default) or the real page on 127.0.0.1.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.labelling.handoff import HandoffDeps, hand_off, reward_per_task
from functions.core.labelling.label_import import JOB_STATE_CHANGE, worker_agreement
from functions.core.labelling.local_jobs import CrowdSettings, LocalLabelingJobs, SimulatedCrowd
from functions.core.labelling.review import ReviewStore
from functions.core.labelling.review_api import ReviewApi, TokenAuthenticator
from functions.core.labelling.settings import LabellingSettings
from scripts.local.delivery import FakeLambdaContext
from scripts.local.demo_run import DemoRun
from scripts.local.review_server import new_token, serving

LOCAL_ACCOUNT = "000000000000"
LOCAL_JOBS_ENV = "SKILLFORGE_LOCAL_LABELLING_JOBS"


def local_labelling_settings(region: str, stage: str) -> LabellingSettings:
    """The stack's settings with local ARNs (nothing is called through them in local mode)."""
    return LabellingSettings(
        role_arn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/skillforge-{stage}-groundtruth",
        pre_lambda_arn=f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT}:function:skillforge-{stage}-gt-pre",
        post_lambda_arn=f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT}:function:skillforge-{stage}-gt-post",
        job_prefix=f"skillforge-{stage}",
    )


def run(demo: DemoRun) -> None:
    names = demo.emulator.names
    region = os.environ.get("SKILLFORGE_AWS_REGION", "us-east-1")
    store = BlobStore(demo.emulator.client("s3"))
    catalog = DynamoCatalog(demo.emulator.resource("dynamodb").Table(names.catalog_table))
    jobs = LocalLabelingJobs(store, names.artifacts_bucket, region)
    settings = local_labelling_settings(region, names.stage)
    reward = reward_per_task(settings.seconds_per_task, settings.hourly_rate_usd)
    figures: dict[str, Any] = {
        "reward_per_task_usd": str(reward.price_usd),
        "workers_per_crop": settings.workers_per_crop,
        "auto_approve": demo.options.auto_approve,
    }
    demo.summary["labelling"] = figures

    result = hand_off(HandoffDeps(catalog, store, jobs, settings, names.artifacts_bucket, region), force=True)
    if result is None or result.job_name is None:
        demo.progress("labelling: no new crops to hand off")
        figures.update(crops_sent=0, labelled=0, background=0, in_review=0, reviewed=0, verified=0)
        return
    demo.progress(
        f"hand-off: job {result.job_name} with {result.crops} crops, "
        f"${reward.price_usd}/task ({settings.workers_per_crop} workers per crop)"
    )
    crowd_settings = CrowdSettings(**demo.options.extra.get("crowd", {}))
    SimulatedCrowd(store, jobs, names.crops_bucket, crowd_settings).work(result.job_name)
    demo.progress(
        f"simulated crowd answered ({crowd_settings.workers} workers, error rate {crowd_settings.error_rate})"
    )

    event = {
        "version": "0",
        "source": "aws.sagemaker",
        "detail-type": JOB_STATE_CHANGE,
        "resources": [f"arn:aws:sagemaker:{region}:{LOCAL_ACCOUNT}:labeling-job/{result.job_name}"],
        "detail": {"LabelingJobStatus": "Completed"},
    }
    imported = _deliver_import_event(event)
    updated = Counter(imported["updated"])
    review = ReviewStore(catalog)
    entered_review = updated.get(CropStatus.IN_REVIEW.value, 0)
    if demo.options.auto_approve:
        reviewed = review.auto_approve()
        demo.progress(f"review: auto-approved {reviewed} crops (their upload hints)")
    else:
        reviewed = _serve_until_done(demo, review.catalog, store)
    statuses = Counter(c.status.value for c in catalog.iter_crops())
    figures.update(
        job=result.job_name,
        crops_sent=result.crops,
        labelled=sum(updated.values()),
        background=updated.get(CropStatus.BACKGROUND.value, 0),
        not_reviewable=updated.get(CropStatus.LABELLED.value, 0),
        in_review=entered_review,
        reviewed=reviewed,
        verified=statuses.get(CropStatus.VERIFIED.value, 0),
        rejected=statuses.get(CropStatus.REJECTED.value, 0),
        still_in_review=statuses.get(CropStatus.IN_REVIEW.value, 0),
        import_problems=len(imported["problems"]),
        worker_agreement=worker_agreement(catalog),
        crowd=crowd_settings.model_dump(),
    )
    _print_table(figures)


def _deliver_import_event(event: dict[str, Any]) -> dict[str, Any]:
    """EventBridge → the import Lambda, in-process, with local mode's job API (SageMaker's stand-in)."""
    from functions.label_import import handler as import_handler

    previous = os.environ.get(LOCAL_JOBS_ENV)
    os.environ[LOCAL_JOBS_ENV] = "true"
    import_handler.deps.cache_clear()
    try:
        answer: dict[str, Any] = import_handler.handler(event, FakeLambdaContext())
        return answer
    finally:
        import_handler.deps.cache_clear()
        if previous is None:
            os.environ.pop(LOCAL_JOBS_ENV, None)
        else:
            os.environ[LOCAL_JOBS_ENV] = previous


def _serve_until_done(demo: DemoRun, catalog: DynamoCatalog, store: BlobStore) -> int:
    token = new_token()
    api = ReviewApi(catalog, store, TokenAuthenticator(token))
    start = api.review.progress()
    with serving(api, port=int(demo.options.extra.get("review_port", 0))) as url:
        print(
            f"\n  review page: {url}\n  review token: {token}\n"
            "  (the demo goes on when the queue is empty; Ctrl-C to stop)\n"
        )
        try:
            while api.review.progress()["remaining"] > 0:
                time.sleep(1.0)
        except KeyboardInterrupt:
            demo.progress("review interrupted; the rest stays in review")
    return api.review.progress()["done"] - start["done"]


def _print_table(figures: dict[str, Any]) -> None:
    print()
    print("  labelling summary")
    print("  -----------------------------")
    for label in (
        "crops_sent",
        "labelled",
        "background",
        "in_review",
        "reviewed",
        "verified",
        "reward_per_task_usd",
    ):
        print(f"  {label:<20} {figures[label]!s:>8}")
    print()
