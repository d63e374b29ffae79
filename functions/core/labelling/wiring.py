"""Builds the adapters of the labelling and review functions from validated settings."""

from __future__ import annotations

from functions.core.base.aws import client, resource
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore
from functions.core.detection.settings import DetectorSettings
from functions.core.labelling.handoff import HandoffDeps, LabelingJobs
from functions.core.labelling.label_import import ImportDeps
from functions.core.labelling.local_jobs import LocalLabelingJobs
from functions.core.labelling.review_api import Authenticator, CognitoClaimsAuthenticator, ReviewApi
from functions.core.labelling.settings import LabellingResources, LabellingSettings


def _jobs(res: LabellingResources) -> LabelingJobs:
    if res.local_labelling_jobs:
        return LocalLabelingJobs(BlobStore(client("s3", res)), res.artifacts_bucket, res.aws_region)
    jobs: LabelingJobs = client("sagemaker", res)
    return jobs


def _catalog(res: LabellingResources) -> DynamoCatalog:
    return DynamoCatalog(resource("dynamodb", res).Table(res.catalog_table))


def build_handoff_deps(
    res: LabellingResources | None = None,
    settings: LabellingSettings | None = None,
    jobs: LabelingJobs | None = None,
) -> HandoffDeps:
    res = res or LabellingResources()  # type: ignore[call-arg]
    return HandoffDeps(
        catalog=_catalog(res),
        store=BlobStore(client("s3", res)),
        jobs=jobs or _jobs(res),
        settings=settings or LabellingSettings(),
        artifacts_bucket=res.artifacts_bucket,
        region=res.aws_region,
    )


def build_import_deps(res: LabellingResources | None = None, jobs: LabelingJobs | None = None) -> ImportDeps:
    res = res or LabellingResources()  # type: ignore[call-arg]
    return ImportDeps(catalog=_catalog(res), store=BlobStore(client("s3", res)), jobs=jobs or _jobs(res))


def build_review_api(res: LabellingResources | None = None, auth: Authenticator | None = None) -> ReviewApi:
    res = res or LabellingResources()  # type: ignore[call-arg]
    return ReviewApi(
        catalog=_catalog(res),
        store=BlobStore(client("s3", res)),
        auth=auth or CognitoClaimsAuthenticator(),
        crop_padding=DetectorSettings().crop_padding,
        login_url=res.review_login_url,
        allowed_origins=[res.review_allowed_origin] if res.review_allowed_origin else [],
    )


def build_store(res: LabellingResources | None = None) -> BlobStore:
    return BlobStore(client("s3", res or LabellingResources()))  # type: ignore[call-arg]


def build_catalog(res: LabellingResources | None = None) -> DynamoCatalog:
    return _catalog(res or LabellingResources())  # type: ignore[call-arg]
