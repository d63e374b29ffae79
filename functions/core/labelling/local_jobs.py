"""Local mode's Ground Truth: a labelling-job API on the artifacts bucket and a simulated crowd.

`LocalLabelingJobs` accepts the very `create_labeling_job` request the hand-off sends to SageMaker
and answers `describe_labeling_job` like SageMaker does. `SimulatedCrowd` plays the workers: each
looks at the crop itself (size, shape, brightness, sharpness) to answer the two questions, and
answers wrongly at a configurable rate (deterministic for a seed). The answers go through the same
pre-annotation and consolidation code as the Ground Truth Lambdas, and the output manifest has the
shape Ground Truth writes, so the import that follows is the production code path.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, ImageFilter, ImageStat
from pydantic import BaseModel, Field

from functions.core.base.records import utc_now
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.labelling.consolidation import consolidate_payload, pre_annotation
from functions.core.labelling.handoff import JOBS_PREFIX, Quality, View, split_s3_uri


class LocalJobError(Exception):
    pass


class LocalLabelingJobs:
    """create/describe labelling jobs, kept as JSON under `labelling/jobs/<name>/job.json`."""

    def __init__(self, store: BlobStore, bucket: str, region: str = "us-east-1") -> None:
        self.store = store
        self.bucket = bucket
        self.region = region

    def _key(self, name: str) -> str:
        return f"{JOBS_PREFIX}/{name}/job.json"

    def create_labeling_job(self, **request: Any) -> dict[str, Any]:
        name = request["LabelingJobName"]
        if self.store.exists(self.bucket, self._key(name)):
            raise LocalJobError(f"ResourceInUse: labeling job {name} already exists")
        arn = f"arn:aws:sagemaker:{self.region}:000000000000:labeling-job/{name.lower()}"
        job = {
            "LabelingJobName": name,
            "LabelingJobArn": arn,
            "LabelingJobStatus": "InProgress",
            "CreationTime": utc_now().isoformat(),
            "Request": request,
        }
        self._save(job)
        return {"LabelingJobArn": arn}

    def describe_labeling_job(self, *, LabelingJobName: str) -> dict[str, Any]:  # noqa: N803
        try:
            job: dict[str, Any] = json.loads(self.store.get(self.bucket, self._key(LabelingJobName)).data)
        except ObjectMissingError as exc:
            raise LocalJobError(f"ResourceNotFound: labeling job {LabelingJobName} does not exist") from exc
        return job

    def finish(
        self, name: str, status: str, output_uri: str | None = None, reason: str | None = None
    ) -> None:
        job = self.describe_labeling_job(LabelingJobName=name)
        job["LabelingJobStatus"] = status
        if output_uri:
            job["LabelingJobOutput"] = {"OutputDatasetS3Uri": output_uri}
        if reason:
            job["FailureReason"] = reason
        self._save(job)

    def _save(self, job: dict[str, Any]) -> None:
        body = json.dumps(job, indent=2, sort_keys=True).encode("utf-8")
        self.store.put(self.bucket, self._key(job["LabelingJobName"]), body, content_type="application/json")


class CrowdSettings(BaseModel):
    seed: int = 7
    workers: int = Field(default=5, ge=1, description="size of the simulated worker pool")
    error_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    sloppy_workers: int = Field(default=1, ge=0, description="workers who answer wrongly much more often")
    sloppy_error_rate: float = Field(default=0.5, ge=0.0, le=1.0)


@dataclass(frozen=True)
class CropLook:
    """What a worker can see in a crop."""

    width: int
    height: int
    brightness: float
    sharpness: float

    def honest_answer(self) -> tuple[View, Quality]:
        aspect = self.width / max(1, self.height)
        if min(self.width, self.height) < 48:
            quality = Quality.TOO_SMALL
        elif not 35.0 <= self.brightness <= 225.0:
            quality = Quality.BAD_LIGHT
        elif self.sharpness < 4.0:
            quality = Quality.BLURRY
        else:
            quality = Quality.GOOD
        if aspect >= 1.15:
            view = View.EXTERIOR_MORE  # a car seen whole is wider than tall
        elif aspect >= 0.8:
            view = View.EXTERIOR_LESS  # front/back or a cut-off part
        else:
            view = View.CLOSE_UP
        return view, quality


def look_at(data: bytes, metadata: Mapping[str, str] | None = None) -> CropLook:
    """What a worker sees: the car's size (from the crop's metadata when the crop is square with
    context around the car, else the crop's own size), its brightness and sharpness."""
    image = Image.open(io.BytesIO(data)).convert("L")
    edges = ImageStat.Stat(image.filter(ImageFilter.FIND_EDGES))
    meta = metadata or {}
    width, height = image.width, image.height
    if meta.get("car-width", "").isdigit() and meta.get("car-height", "").isdigit():
        width, height = int(meta["car-width"]), int(meta["car-height"])
    return CropLook(
        width=width,
        height=height,
        brightness=float(ImageStat.Stat(image).mean[0]),
        sharpness=float(edges.stddev[0]),
    )


def form_output(view: View, quality: Quality) -> str:
    """What crowd-radio-group posts for the two questions (every button, the chosen one true)."""
    content: dict[str, dict[str, bool]] = {}
    for question, options, chosen in (("view", View, view), ("quality", Quality, quality)):
        for option in options:
            content[f"{question}-{option.value}"] = {option.value: option == chosen}
    return json.dumps(content)


class SimulatedCrowd:
    def __init__(self, store: BlobStore, jobs: LocalLabelingJobs, crops_bucket: str, settings: CrowdSettings):
        self.store = store
        self.jobs = jobs
        self.crops_bucket = crops_bucket
        self.settings = settings
        self.worker_ids = [f"local.worker-{n:02d}" for n in range(1, settings.workers + 1)]

    def _error_rate(self, worker_index: int) -> float:
        if worker_index < self.settings.sloppy_workers:
            return self.settings.sloppy_error_rate
        return self.settings.error_rate

    def _answer(self, worker_index: int, look: CropLook, crop_id: str) -> str:
        rng = random.Random(f"{self.settings.seed}:{self.worker_ids[worker_index]}:{crop_id}")
        view, quality = look.honest_answer()
        if rng.random() < self._error_rate(worker_index):
            view = rng.choice([v for v in View if v != view])
        if rng.random() < self._error_rate(worker_index):
            quality = rng.choice([q for q in Quality if q != quality])
        return form_output(view, quality)

    def annotations(self, look: CropLook, crop_id: str, per_object: int) -> list[dict[str, Any]]:
        """The answers of `per_object` workers (drawn from the pool per crop) in Ground Truth's shape."""
        rng = random.Random(f"{self.settings.seed}:assign:{crop_id}")
        chosen = rng.sample(range(len(self.worker_ids)), k=min(per_object, len(self.worker_ids)))
        return [
            {"workerId": self.worker_ids[w], "annotationData": {"content": self._answer(w, look, crop_id)}}
            for w in chosen
        ]

    def work(self, name: str, now: datetime | None = None) -> str:
        """Answer every task of the job, consolidate, write the output manifest; returns its URI."""
        job = self.jobs.describe_labeling_job(LabelingJobName=name)
        request = job["Request"]
        human = request["HumanTaskConfig"]
        per_object = int(human["NumberOfHumanWorkersPerDataObject"])
        label = request["LabelAttributeName"]
        manifest = self.store.get(
            *split_s3_uri(request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"])
        )
        lines = [json.loads(line) for line in manifest.data.decode("utf-8").splitlines() if line.strip()]
        payload: list[dict[str, Any]] = []
        for index, line in enumerate(lines):
            task = pre_annotation({"dataObject": line}, self.crops_bucket)["taskInput"]
            try:
                stored = self.store.get(*split_s3_uri(task["taskObject"]))
                look = look_at(stored.data, stored.metadata)
            except ObjectMissingError:
                continue  # like Ground Truth: the object fails, the rest of the job goes on
            payload.append(
                {
                    "datasetObjectId": str(index),
                    "dataObject": {"s3Uri": task["taskObject"]},
                    "annotations": self.annotations(look, task["cropId"], per_object),
                }
            )
        output_root = request["OutputConfig"]["S3OutputPath"].rstrip("/") + f"/{name}"
        bucket, prefix = split_s3_uri(output_root)
        self.store.put(
            bucket, f"{prefix}/annotations/worker-response/payload.json", json.dumps(payload).encode()
        )
        consolidated = {c["datasetObjectId"]: c for c in consolidate_payload(payload)}
        created = (now or utc_now()).strftime("%Y-%m-%dT%H:%M:%S.%f")
        out_lines = []
        for index, line in enumerate(lines):
            metadata = {
                "job-name": f"labeling-job/{name}",
                "type": "groundtruth/custom",
                "creation-date": created,
            }
            if str(index) in consolidated:
                answer = consolidated[str(index)]["consolidatedAnnotation"]["content"]
                entry = {**line, label: answer, f"{label}-metadata": {**metadata, "human-annotated": "yes"}}
            else:
                failure = {"failure-reason": "ClientError: the crop image could not be read"}
                entry = {**line, f"{label}-metadata": {**metadata, **failure}}
            out_lines.append(json.dumps(entry, sort_keys=True))
        key = f"{prefix}/manifests/output/output.manifest"
        self.store.put(bucket, key, ("\n".join(out_lines) + "\n").encode("utf-8"))
        output_uri = f"s3://{bucket}/{key}"
        self.jobs.finish(name, "Completed", output_uri=output_uri)
        return output_uri
