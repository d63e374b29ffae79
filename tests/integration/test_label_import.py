"""Label import against moto S3/DynamoDB with Ground Truth's output-manifest shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropRecord, CropStatus
from functions.core.base.storage import BlobStore
from functions.core.labelling.consolidation import consolidate_payload
from functions.core.labelling.handoff import Quality, View
from functions.core.labelling.label_import import (
    ImportDeps,
    LabelImportError,
    import_job,
    parse_job_event,
    worker_agreement,
)
from functions.core.labelling.local_jobs import form_output
from functions.core.labelling.review import ReviewStore
from tests.support.labelling import add_crop

JOB = "skillforge-20300506-0708-abcdef1234"


class FakeJobs:
    """describe_labeling_job as SageMaker answers it (moto has no Ground Truth)."""

    def __init__(self, status: str, output_uri: str | None, reason: str | None = None) -> None:
        self.status, self.output_uri, self.reason = status, output_uri, reason

    def create_labeling_job(self, **request: Any) -> dict[str, Any]:
        raise AssertionError("not used")

    def describe_labeling_job(self, *, LabelingJobName: str) -> dict[str, Any]:  # noqa: N803
        assert LabelingJobName == JOB
        answer: dict[str, Any] = {"LabelingJobName": JOB, "LabelingJobStatus": self.status}
        if self.output_uri:
            answer["LabelingJobOutput"] = {"OutputDatasetS3Uri": self.output_uri}
        if self.reason:
            answer["FailureReason"] = self.reason
        return answer


def gt_line(crop: CropRecord, votes: list[tuple[str, View, Quality]]) -> str:
    """One output-manifest line as Ground Truth writes it for a custom task."""
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": f"s3://{crop.crop_bucket}/{crop.crop_key}"},
            "annotations": [
                {"workerId": w, "annotationData": {"content": form_output(v, q)}} for w, v, q in votes
            ],
        }
    ]
    content = consolidate_payload(payload)[0]["consolidatedAnnotation"]["content"]
    return json.dumps(
        {
            "source-ref": f"s3://{crop.crop_bucket}/{crop.crop_key}",
            "crop-id": crop.crop_id,
            "variant-hint": crop.variant_hint or "",
            "crop-labels": content,
            "crop-labels-metadata": {
                "job-name": f"labeling-job/{JOB}",
                "type": "groundtruth/custom",
                "human-annotated": "yes",
                "creation-date": "2030-05-06T07:30:00.000000",
            },
        }
    )


def write_manifest(aws: dict[str, Any], lines: list[str]) -> str:
    bucket = aws["names"].artifacts_bucket
    key = f"labelling/output/{JOB}/manifests/output/output.manifest"
    aws["s3"].put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{key}"


def deps(aws: dict[str, Any], jobs: FakeJobs) -> ImportDeps:
    return ImportDeps(catalog=DynamoCatalog(aws["table"]), store=BlobStore(aws["s3"]), jobs=jobs)


GOOD = (View.EXTERIOR_MORE, Quality.GOOD)


def three_crops(aws: dict[str, Any]) -> list[CropRecord]:
    return [add_crop(aws, n, status=CropStatus.LABELLING, job=JOB) for n in range(3)]


def standard_lines(crops: list[CropRecord]) -> list[str]:
    return [
        gt_line(crops[0], [("w1", *GOOD), ("w2", *GOOD), ("w3", View.CLOSE_UP, Quality.GOOD)]),
        gt_line(
            crops[1], [("w1", View.UNSURE, Quality.GOOD), ("w2", View.UNSURE, Quality.GOOD), ("w3", *GOOD)]
        ),
        gt_line(
            crops[2], [("w1", View.WHEEL, Quality.GOOD), ("w2", View.WHEEL, Quality.GOOD), ("w3", *GOOD)]
        ),
    ]


def test_completed_job_updates_crops_review_queue_and_worker_agreement(moto_aws: dict[str, Any]) -> None:
    # GIVEN three crops in a completed job: a reviewable one, an unsure one, a wheel close-up
    crops = three_crops(moto_aws)
    uri = write_manifest(moto_aws, standard_lines(crops))
    # WHEN the job is imported
    result = import_job(JOB, deps(moto_aws, FakeJobs("Completed", uri)))
    # THEN each crop has its consolidated labels and status, with the job id
    catalog = DynamoCatalog(moto_aws["table"])
    first, second, third = (catalog.get_crop(c.crop_id) for c in crops)
    assert first and second and third
    assert (first.status, first.view, first.quality) == (CropStatus.IN_REVIEW, "exterior-more", "good")
    assert first.agreement == pytest.approx(0.8333, abs=1e-4) and first.labelling_job == JOB
    assert second.status is CropStatus.BACKGROUND and second.view == "unsure"
    assert third.status is CropStatus.LABELLED and third.view == "wheel"
    assert result.updated == {"in_review": 1, "background": 1, "labelled": 1} and not result.problems
    # AND the expert queue shows the hint, worker w3 (always the odd one out) has the lowest rate
    assert ReviewStore(catalog).variants() == {"audi-a4": 1}
    rates = worker_agreement(catalog)
    assert rates["w3"]["rate"] < rates["w1"]["rate"] == 1.0
    assert "audi-a4" in ReviewStore(catalog).known_classes()


def test_reimporting_the_same_job_changes_nothing(moto_aws: dict[str, Any]) -> None:
    # GIVEN a job imported once
    crops = three_crops(moto_aws)
    jobs = FakeJobs("Completed", write_manifest(moto_aws, standard_lines(crops)))
    import_job(JOB, deps(moto_aws, jobs))
    before = sorted(moto_aws["table"].scan()["Items"], key=lambda i: i["pk"])
    # WHEN it is imported again (a duplicate EventBridge event)
    result = import_job(JOB, deps(moto_aws, jobs))
    # THEN the table is identical and every line counts as unchanged
    after = sorted(moto_aws["table"].scan()["Items"], key=lambda i: i["pk"])
    assert after == before
    assert result.unchanged == 3 and not result.updated


def test_bad_lines_are_reported_and_good_lines_still_imported(moto_aws: dict[str, Any]) -> None:
    # GIVEN a malformed line, a line for a deleted crop, a line of another job, one good line
    crops = three_crops(moto_aws)
    moto_aws["table"].delete_item(Key={"pk": f"crop#{crops[1].crop_id}"})
    other_job = json.loads(gt_line(crops[2], [("w1", *GOOD)]))
    other_job["crop-labels-metadata"]["job-name"] = "labeling-job/another-job"
    lines = [
        "{not json",
        gt_line(crops[1], [("w1", *GOOD)]),
        json.dumps(other_job),
        gt_line(crops[0], [("w1", *GOOD), ("w2", *GOOD)]),
    ]
    # WHEN imported
    result = import_job(JOB, deps(moto_aws, FakeJobs("Completed", write_manifest(moto_aws, lines))))
    # THEN the three problems are named, the good crop is in review, the others untouched
    assert len(result.problems) == 3
    assert "line 1: not JSON" in result.problems[0]
    assert "not in the catalog" in result.problems[1]
    assert "another-job" not in result.problems[2] and "job-name is not" in result.problems[2]
    catalog = DynamoCatalog(moto_aws["table"])
    assert catalog.get_crop(crops[0].crop_id).status is CropStatus.IN_REVIEW  # type: ignore[union-attr]
    assert catalog.get_crop(crops[2].crop_id).status is CropStatus.LABELLING  # type: ignore[union-attr]


def test_unknown_answers_in_the_manifest_are_refused(moto_aws: dict[str, Any]) -> None:
    # GIVEN a line whose consolidated view is not one of the answers
    crop = three_crops(moto_aws)[0]
    line = json.loads(gt_line(crop, [("w1", *GOOD)]))
    line["crop-labels"]["view"] = "spaceship"
    # WHEN imported / THEN the line is a problem and the crop stays labelling
    result = import_job(
        JOB, deps(moto_aws, FakeJobs("Completed", write_manifest(moto_aws, [json.dumps(line)])))
    )
    assert len(result.problems) == 1 and "view" in result.problems[0]
    assert DynamoCatalog(moto_aws["table"]).get_crop(crop.crop_id).status is CropStatus.LABELLING  # type: ignore[union-attr]


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_or_stopped_job_puts_crops_back_to_new(moto_aws: dict[str, Any], status: str) -> None:
    # GIVEN a job that failed / was stopped, and a crop of another job
    crops = three_crops(moto_aws)
    other = add_crop(moto_aws, 9, status=CropStatus.LABELLING, job="other-job")
    # WHEN imported
    result = import_job(JOB, deps(moto_aws, FakeJobs(status, None, reason="workteam deleted")))
    # THEN this job's crops are new again (sent in the next batch), the other job's crop untouched
    catalog = DynamoCatalog(moto_aws["table"])
    assert result.released == 3 and "workteam deleted" in result.problems[0]
    assert all(catalog.get_crop(c.crop_id).status is CropStatus.NEW for c in crops)  # type: ignore[union-attr]
    assert catalog.get_crop(other.crop_id).status is CropStatus.LABELLING  # type: ignore[union-attr]


def test_completed_job_without_output_is_an_error(moto_aws: dict[str, Any]) -> None:
    # GIVEN a completed job whose manifest is missing / WHEN imported / THEN a clear error
    three_crops(moto_aws)
    missing = (
        f"s3://{moto_aws['names'].artifacts_bucket}/labelling/output/{JOB}/manifests/output/output.manifest"
    )
    with pytest.raises(LabelImportError, match="missing"):
        import_job(JOB, deps(moto_aws, FakeJobs("Completed", missing)))


def test_event_parsing() -> None:
    # GIVEN the EventBridge event of a job state change / WHEN parsed / THEN job name and status
    event = {
        "detail-type": "SageMaker Ground Truth Labeling Job State Change",
        "source": "aws.sagemaker",
        "resources": [f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{JOB}"],
        "detail": {"LabelingJobStatus": "Completed"},
    }
    assert parse_job_event(event).model_dump() == {"job_name": JOB, "status": "Completed"}
    with pytest.raises(LabelImportError, match="detail-type"):
        parse_job_event({"detail-type": "Object Created"})
