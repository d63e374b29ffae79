"""Hand-off against moto S3/DynamoDB, the create_labeling_job request checked by botocore's Stubber."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.labelling.handoff import HandoffDeps, hand_off, job_name, task_template
from functions.core.labelling.settings import LabellingSettings
from tests.support.labelling import add_crop

NOW = datetime(2030, 5, 6, 7, 8, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/skillforge-groundtruth"
PRE = "arn:aws:lambda:us-east-1:123456789012:function:skillforge-gt-pre"
POST = "arn:aws:lambda:us-east-1:123456789012:function:skillforge-gt-post"
TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/experts"


def settings(**overrides: Any) -> LabellingSettings:
    values: dict[str, Any] = dict(role_arn=ROLE, pre_lambda_arn=PRE, post_lambda_arn=POST, max_age_minutes=0)
    return LabellingSettings(**(values | overrides))


def deps(aws: dict[str, Any], sagemaker: Any, labelling: LabellingSettings) -> HandoffDeps:
    return HandoffDeps(
        catalog=DynamoCatalog(aws["table"]),
        store=BlobStore(aws["s3"]),
        jobs=sagemaker,
        settings=labelling,
        artifacts_bucket=aws["names"].artifacts_bucket,
        region="us-east-1",
    )


def expected_request(
    aws: dict[str, Any], human_extra: dict[str, Any], workteam: str, workers: int, name: Any = ANY
) -> dict[str, Any]:
    artifacts = aws["names"].artifacts_bucket
    digest = hashlib.sha256(task_template().encode()).hexdigest()[:12]
    manifest = f"s3://{artifacts}/labelling/jobs/{name}/input.manifest" if isinstance(name, str) else ANY
    return {
        "LabelingJobName": name,
        "LabelAttributeName": "crop-labels",
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": manifest}},
            # number plates are visible on car crops: never declared free of personal data
            "DataAttributes": {"ContentClassifiers": ["FreeOfAdultContent"]},
        },
        "OutputConfig": {"S3OutputPath": f"s3://{artifacts}/labelling/output/"},
        "RoleArn": ROLE,
        "HumanTaskConfig": {
            "WorkteamArn": workteam,
            "UiConfig": {
                "UiTemplateS3Uri": f"s3://{artifacts}/labelling/templates/crop-task-{digest}.liquid.html"
            },
            "PreHumanTaskLambdaArn": PRE,
            "TaskKeywords": ["Image", "Classification", "Car"],
            "TaskTitle": ANY,
            "TaskDescription": ANY,
            "NumberOfHumanWorkersPerDataObject": workers,
            "TaskTimeLimitInSeconds": 120,
            "TaskAvailabilityLifetimeInSeconds": 21600,
            "MaxConcurrentTaskCount": 1000,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": POST},
            **human_extra,
        },
        "Tags": [{"Key": "project", "Value": "skillforge"}],
    }


def test_public_workforce_job_request(moto_aws: dict[str, Any]) -> None:
    # GIVEN three new crops and a public (Mechanical Turk) workforce at 3 s/task, $15/h, 3 workers
    crops = [add_crop(moto_aws, n) for n in range(3)]
    name = job_name(settings(), crops, NOW)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(sagemaker)
    price = {
        "PublicWorkforceTaskPrice": {"AmountInUsd": {"Dollars": 0, "Cents": 1, "TenthFractionsOfACent": 2}}
    }
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    stubber.add_response(
        "create_labeling_job",
        {"LabelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/x"},
        expected_request(moto_aws, price, public, workers=3, name=name),
    )
    # WHEN the hand-off runs (Stubber validates the request against the SageMaker API model)
    with stubber:
        result = hand_off(deps(moto_aws, sagemaker, settings()), now=NOW)
    stubber.assert_no_pending_responses()
    # THEN one job for 3 crops, manifest + template in the artifacts bucket, crops now labelling
    assert result is not None and result.crops == 3 and result.reward_usd == "0.012"
    bucket = moto_aws["names"].artifacts_bucket
    manifest = moto_aws["s3"].get_object(
        Bucket=bucket, Key=f"labelling/jobs/{result.job_name}/input.manifest"
    )
    lines = [json.loads(line) for line in manifest["Body"].read().decode().splitlines()]
    assert [line["crop-id"] for line in lines] == ["img0000-00", "img0001-00", "img0002-00"]
    assert all(
        line["source-ref"].startswith(f"s3://{moto_aws['names'].crops_bucket}/crops/") for line in lines
    )
    keys = [
        o["Key"]
        for o in moto_aws["s3"].list_objects_v2(Bucket=bucket, Prefix="labelling/templates/")["Contents"]
    ]
    assert len(keys) == 1 and keys[0].endswith(".liquid.html")
    catalog = DynamoCatalog(moto_aws["table"])
    labelling = list(catalog.crops_by_status(CropStatus.LABELLING))
    assert len(labelling) == 3 and {c.labelling_job for c in labelling} == {result.job_name}


def test_private_workteam_job_request_has_no_price(moto_aws: dict[str, Any]) -> None:
    # GIVEN a private work team and 5 workers per crop
    add_crop(moto_aws, 1)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(sagemaker)
    stubber.add_response(
        "create_labeling_job",
        {"LabelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/x"},
        expected_request(moto_aws, {}, TEAM, workers=5),
    )
    # WHEN handed off / THEN the request names the team and carries no public price
    with stubber:
        result = hand_off(
            deps(moto_aws, sagemaker, settings(workforce="private", workteam_arn=TEAM, workers_per_crop=5)),
            now=NOW,
        )
    stubber.assert_no_pending_responses()
    assert result is not None and result.reward_usd is None


def test_nothing_is_sent_before_the_batch_is_due(moto_aws: dict[str, Any]) -> None:
    # GIVEN one fresh crop, batches of 100, max age 60 minutes
    add_crop(moto_aws, 1)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    # WHEN the hand-off runs (any SageMaker call would fail: no stubbed response)
    with Stubber(sagemaker):
        result = hand_off(deps(moto_aws, sagemaker, settings(max_age_minutes=60, batch_size=100)))
    # THEN nothing happens and the crop stays new
    assert result is None
    assert [c.status for c in DynamoCatalog(moto_aws["table"]).iter_crops()] == [CropStatus.NEW]


def test_failed_job_creation_leaves_crops_new(moto_aws: dict[str, Any]) -> None:
    # GIVEN SageMaker refuses the job
    add_crop(moto_aws, 1)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(sagemaker)
    stubber.add_client_error("create_labeling_job", "ResourceLimitExceeded", "too many jobs")
    # WHEN handed off / THEN the error surfaces and the crop is still new (sent next time)
    with stubber, pytest.raises(Exception, match="ResourceLimitExceeded"):
        hand_off(deps(moto_aws, sagemaker, settings()), now=NOW)
    assert [c.status for c in DynamoCatalog(moto_aws["table"]).iter_crops()] == [CropStatus.NEW]


class StaleIndexCatalog(DynamoCatalog):
    """The status index lags: it still lists crops as new after they moved on."""

    def __init__(self, table: Any, stale: list[Any]) -> None:
        super().__init__(table)
        self.stale = stale

    def crops_by_status(self, status: CropStatus) -> Any:
        return iter(self.stale) if status is CropStatus.NEW else super().crops_by_status(status)


def test_a_crop_already_in_a_job_is_not_sent_twice(moto_aws: dict[str, Any]) -> None:
    # GIVEN the index still says "new" for a crop that is already labelling, plus one really new crop
    busy = add_crop(moto_aws, 1, status=CropStatus.LABELLING, job="earlier-job")
    fresh = add_crop(moto_aws, 2)
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(sagemaker)
    stubber.add_response(
        "create_labeling_job", {"LabelingJobArn": "arn:aws:sagemaker:us-east-1:1:labeling-job/x"}
    )
    handoff = deps(moto_aws, sagemaker, settings())
    stale_deps = HandoffDeps(
        StaleIndexCatalog(moto_aws["table"], [busy.model_copy(update={"status": CropStatus.NEW}), fresh]),
        handoff.store,
        sagemaker,
        handoff.settings,
        handoff.artifacts_bucket,
        handoff.region,
    )
    # WHEN handed off
    with stubber:
        result = hand_off(stale_deps, now=NOW)
    # THEN only the really new crop is in the manifest; the busy one keeps its job
    assert result is not None and result.crops == 1
    body = (
        moto_aws["s3"]
        .get_object(
            Bucket=moto_aws["names"].artifacts_bucket, Key=f"labelling/jobs/{result.job_name}/input.manifest"
        )["Body"]
        .read()
    )
    assert [json.loads(line)["crop-id"] for line in body.decode().splitlines()] == [fresh.crop_id]
    assert DynamoCatalog(moto_aws["table"]).get_crop(busy.crop_id).labelling_job == "earlier-job"  # type: ignore[union-attr]
