"""The dashboard's routes on the review API against moto: counts, skills, jobs and their refusals."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.dashboard.api import Dashboard
from functions.core.dashboard.jobs import LocalMakeSkillJobs
from functions.core.labelling.review_api import ApiRequest, ApiResponse, ReviewApi, TokenAuthenticator
from tests.support.labelling import add_crop

TOKEN = "dashboard-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def site(
    moto_aws: dict[str, Any], runner: Callable[[str, Callable[[str], None]], tuple[str, int]]
) -> ReviewApi:
    catalog = DynamoCatalog(moto_aws["table"])
    api = ReviewApi(catalog, BlobStore(moto_aws["s3"]), TokenAuthenticator(TOKEN))
    jobs = LocalMakeSkillJobs(["demo-tiny", "car-make"], runner)
    ssm = boto3.client("ssm", region_name="us-east-1")
    Dashboard(moto_aws["table"], ssm, BlobStore(moto_aws["s3"]), jobs).attach(api)
    return api


def call(
    api: ReviewApi, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> ApiResponse:
    raw = json.dumps(body).encode() if body is not None else b""
    return api.handle(ApiRequest(method, path, AUTH if headers is None else headers, {}, raw))


def wait_for(api: ReviewApi, job_id: str) -> dict[str, Any]:
    for _ in range(100):
        job = call(api, "GET", f"/api/dashboard/jobs/{job_id}").json()
        if job["state"] != "running":
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_counts_per_class_and_status(moto_aws: dict[str, Any]) -> None:
    # GIVEN crops of two hints in several states
    add_crop(moto_aws, 0, hint="audi-a4", status=CropStatus.IN_REVIEW)
    add_crop(moto_aws, 1, hint="audi-a4", status=CropStatus.NEW)
    add_crop(moto_aws, 2, hint="bmw-3", status=CropStatus.BACKGROUND)
    api = site(moto_aws, lambda name, report: ("x", 1))
    # WHEN the dashboard is read
    data = call(api, "GET", "/api/dashboard").json()
    # THEN crops are counted per class and per status, every status listed
    catalog = data["catalog"]
    assert catalog["crops_by_class"] == {"audi-a4": {"in_review": 1, "new": 1}, "bmw-3": {"background": 1}}
    assert catalog["crops_by_status"]["in_review"] == 1 and catalog["crops_by_status"]["verified"] == 0
    assert data["skills"] == [] and data["gates"] == []


def test_make_skill_job_reports_steps_then_the_registered_version(moto_aws: dict[str, Any]) -> None:
    release = threading.Event()

    def runner(name: str, report: Callable[[str], None]) -> tuple[str, int]:
        report("training")
        release.wait(5)
        return "demo-car-class", 4

    api = site(moto_aws, runner)
    # WHEN Make skill is pressed
    started = call(api, "POST", "/api/dashboard/make-skill", {"config": "demo-tiny"})
    assert started.status == 202
    job_id = started.json()["job_id"]
    # THEN the job runs (a second one is refused meanwhile), then names the registered version
    assert call(api, "POST", "/api/dashboard/make-skill", {"config": "demo-tiny"}).status == 409
    assert call(api, "GET", f"/api/dashboard/jobs/{job_id}").json()["step"] == "training"
    release.set()
    done = wait_for(api, job_id)
    assert (done["state"], done["skill"], done["skill_version"]) == ("succeeded", "demo-car-class", 4)


def test_a_failing_job_says_why(moto_aws: dict[str, Any]) -> None:
    def runner(name: str, report: Callable[[str], None]) -> tuple[str, int]:
        raise ValueError("no verified crops")

    api = site(moto_aws, runner)
    job_id = call(api, "POST", "/api/dashboard/make-skill", {"config": "car-make"}).json()["job_id"]
    done = wait_for(api, job_id)
    assert done["state"] == "failed" and "no verified crops" in done["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [({"config": "nope"}, 400), ({"config": "../x"}, 400), ({}, 400), ({"config": "demo-tiny", "x": 1}, 202)],
)
def test_make_skill_validates_the_config(moto_aws: dict[str, Any], body: dict[str, Any], status: int) -> None:
    api = site(moto_aws, lambda name, report: ("s", 1))
    assert call(api, "POST", "/api/dashboard/make-skill", body).status == status


def test_dashboard_needs_the_token_and_job_ids_are_checked(moto_aws: dict[str, Any]) -> None:
    api = site(moto_aws, lambda name, report: ("s", 1))
    assert call(api, "GET", "/api/dashboard", headers={}).status == 401
    assert call(api, "POST", "/api/dashboard/make-skill", {"config": "demo-tiny"}, headers={}).status == 401
    assert call(api, "GET", "/api/dashboard/jobs/not_a_job").status == 400
    assert call(api, "GET", "/api/dashboard/jobs/0123456789ab").status == 404
    # AND the page shell itself is public
    assert api.handle(ApiRequest("GET", "/dashboard.html")).status == 200
