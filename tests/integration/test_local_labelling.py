"""Local mode's labelling: hand-off → local job → simulated crowd → import handler (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.labelling.handoff import HandoffDeps, Quality, View, hand_off
from functions.core.labelling.label_import import JOB_STATE_CHANGE, LabelImportError
from functions.core.labelling.local_jobs import CrowdSettings, LocalLabelingJobs, SimulatedCrowd, form_output
from functions.core.labelling.settings import LabellingSettings
from scripts.local.delivery import FakeLambdaContext
from scripts.local.stages.labelling import local_labelling_settings
from tests.support.labelling import add_crop

NOW = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def local(moto_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    names = moto_aws["names"]
    for key, value in {
        "SKILLFORGE_CROPS_BUCKET": names.crops_bucket,
        "SKILLFORGE_ARTIFACTS_BUCKET": names.artifacts_bucket,
        "SKILLFORGE_CATALOG_TABLE": names.catalog_table,
        "SKILLFORGE_LOCAL_LABELLING_JOBS": "true",
    }.items():
        monkeypatch.setenv(key, value)
    from functions.label_import import handler

    handler.deps.cache_clear()
    store = BlobStore(moto_aws["s3"])
    jobs = LocalLabelingJobs(store, names.artifacts_bucket)
    settings: LabellingSettings = local_labelling_settings("us-east-1", "test")
    deps = HandoffDeps(
        DynamoCatalog(moto_aws["table"]), store, jobs, settings, names.artifacts_bucket, "us-east-1"
    )
    yield {"aws": moto_aws, "store": store, "jobs": jobs, "deps": deps, "handler": handler}
    handler.deps.cache_clear()


def job_event(job: str, status: str = "Completed") -> dict[str, Any]:
    return {
        "detail-type": JOB_STATE_CHANGE,
        "source": "aws.sagemaker",
        "resources": [f"arn:aws:sagemaker:us-east-1:000000000000:labeling-job/{job}"],
        "detail": {"LabelingJobStatus": status},
    }


def crowd(local: dict[str, Any], **settings: Any) -> SimulatedCrowd:
    names = local["aws"]["names"]
    return SimulatedCrowd(local["store"], local["jobs"], names.crops_bucket, CrowdSettings(**settings))


def test_honest_crowd_answers_from_what_the_crop_looks_like(local: dict[str, Any]) -> None:
    # GIVEN a wide sharp crop, a tiny crop and a tall crop, and a crowd that never errs
    add_crop(local["aws"], 1, size=(240, 140))
    add_crop(local["aws"], 2, size=(40, 30))
    add_crop(local["aws"], 3, size=(90, 200))
    result = hand_off(local["deps"], now=NOW, force=True)
    assert result is not None and result.job_name and result.crops == 3
    # WHEN the crowd works and the import handler receives the job's EventBridge event
    crowd(local, error_rate=0.0, sloppy_workers=0).work(result.job_name, now=NOW)
    summary = local["handler"].handler(job_event(result.job_name), FakeLambdaContext())
    # THEN the wide crop is in review, the tiny one is too small, the tall one a close-up
    catalog = DynamoCatalog(local["aws"]["table"])
    wide, tiny, tall = (catalog.get_crop(f"img000{n}-00") for n in (1, 2, 3))
    assert wide and wide.status is CropStatus.IN_REVIEW and wide.agreement == 1.0
    assert tiny and (tiny.status, tiny.quality) == (CropStatus.LABELLED, "too-small")
    assert tall and tall.view == "close-up"
    assert summary["updated"] == {"in_review": 1, "labelled": 2}


def test_same_seed_same_answers_and_errors_show_in_worker_agreement(local: dict[str, Any]) -> None:
    # GIVEN eight crops handed off
    for n in range(8):
        add_crop(local["aws"], n)
    result = hand_off(local["deps"], now=NOW, force=True)
    assert result is not None and result.job_name
    bucket = local["aws"]["names"].artifacts_bucket
    key = f"labelling/output/{result.job_name}/manifests/output/output.manifest"
    # WHEN a crowd with a sloppy worker answers twice with the same seed
    outputs = []
    for _ in range(2):
        crowd(local, seed=3, error_rate=0.05, sloppy_workers=1, sloppy_error_rate=0.9).work(
            result.job_name, now=NOW
        )
        outputs.append(local["aws"]["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())
    # THEN the output manifests are identical, and the import shows the sloppy worker's low agreement
    assert outputs[0] == outputs[1]
    local["handler"].handler(job_event(result.job_name), FakeLambdaContext())
    from functions.core.labelling.label_import import worker_agreement

    rates = worker_agreement(DynamoCatalog(local["aws"]["table"]))
    assert rates["local.worker-01"]["rate"] < min(
        r["rate"] for w, r in rates.items() if w != "local.worker-01"
    )


def test_missing_crop_image_fails_that_object_only(local: dict[str, Any]) -> None:
    # GIVEN two crops handed off, then one crop image deleted
    add_crop(local["aws"], 1)
    gone = add_crop(local["aws"], 2)
    result = hand_off(local["deps"], now=NOW, force=True)
    assert result is not None and result.job_name
    local["aws"]["s3"].delete_object(Bucket=gone.crop_bucket, Key=gone.crop_key)
    crowd(local, error_rate=0.0, sloppy_workers=0).work(result.job_name, now=NOW)
    # WHEN imported by the handler / THEN it raises naming the crop (event goes to retry/DLQ) ...
    with pytest.raises(LabelImportError, match="img0002-00 was not labelled"):
        local["handler"].handler(job_event(result.job_name), FakeLambdaContext())
    # ... after importing the good crop and keeping the failed one as background (for a relabel)
    catalog = DynamoCatalog(local["aws"]["table"])
    assert catalog.get_crop("img0001-00").status is CropStatus.IN_REVIEW  # type: ignore[union-attr]
    assert catalog.get_crop("img0002-00").status is CropStatus.BACKGROUND  # type: ignore[union-attr]


def test_in_progress_event_imports_nothing(local: dict[str, Any]) -> None:
    add_crop(local["aws"], 1)
    result = hand_off(local["deps"], now=NOW, force=True)
    assert result is not None and result.job_name
    answer = local["handler"].handler(job_event(result.job_name, "InProgress"), FakeLambdaContext())
    assert answer["imported"] is False
    assert DynamoCatalog(local["aws"]["table"]).get_crop("img0001-00").status is CropStatus.LABELLING  # type: ignore[union-attr]


def test_post_annotation_handler_reads_the_payload_from_s3(local: dict[str, Any]) -> None:
    # GIVEN a Ground Truth payload file in the artifacts bucket
    from functions.gt_post import handler as post_handler

    post_handler.store.cache_clear()
    bucket = local["aws"]["names"].artifacts_bucket
    payload = [
        {
            "datasetObjectId": "7",
            "dataObject": {"s3Uri": "s3://x/y.jpg"},
            "annotations": [
                {"workerId": w, "annotationData": {"content": form_output(View.INTERIOR, Quality.GOOD)}}
                for w in ("a", "b")
            ],
        }
    ]
    local["aws"]["s3"].put_object(
        Bucket=bucket, Key="labelling/output/j/payload.json", Body=json.dumps(payload)
    )
    event = {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:labeling-job/j",
        "labelAttributeName": "crop-labels",
        "roleArn": "arn:aws:iam::000000000000:role/gt",
        "outputConfig": f"s3://{bucket}/labelling/output/j/annotations",
        "payload": {"s3Uri": f"s3://{bucket}/labelling/output/j/payload.json"},
    }
    # WHEN the consolidation Lambda handles it / THEN one consolidated object under the label attribute
    out = post_handler.handler(event, cast(Any, FakeLambdaContext()))
    assert out[0]["datasetObjectId"] == "7"
    assert out[0]["consolidatedAnnotation"]["content"]["crop-labels"]["view"] == "interior"
    post_handler.store.cache_clear()
