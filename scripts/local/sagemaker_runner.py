"""A local SageMaker training runner: honours a CreateTrainingJob request the way a training job does.

What SageMaker does for a script-mode job of the training image (training/Dockerfile on a SageMaker
PyTorch base), done here on this machine in a temporary `/opt/ml`-style root:

* each InputDataConfig channel is downloaded from S3 to `<root>/input/data/<channel>/`: an `S3Prefix`
  channel as the keys below the prefix, a `ManifestFile` channel as the manifest's keys below its
  `{"prefix": ...}`;
* `<root>/input/config/hyperparameters.json`, `inputdataconfig.json` and `resourceconfig.json` are
  written; the training toolkit's environment is set: `SM_CHANNEL_<NAME>`, `SM_CHANNELS`,
  `SM_MODEL_DIR`, `SM_OUTPUT_DATA_DIR`, `SM_HPS`, `SM_HP_<NAME>`, `SM_TRAINING_ENV`, plus the image's own
  `ENV` lines from training/Dockerfile (with `/opt/ml` mapped to the root);
* the code is the job's `sagemaker_submit_directory` (the launcher's sourcedir.tar.gz in S3), unpacked
  to `<root>/code`; `sagemaker_program` runs in a subprocess as `python <program> --name value ...` for
  every hyperparameter that is not a `sagemaker_*` one, stopped after MaxRuntimeInSeconds;
* `<root>/model` is packed into `model.tar.gz` at `S3OutputPath/<job>/output/model.tar.gz`; a failed
  job gets the reason from `<root>/output/failure` or the exit status and the end of its log.

The result has DescribeTrainingJob's shape (status, failure reason, model artifacts, billable seconds,
final metrics from the job's MetricDefinitions), which is what a `createTrainingJob.sync` task returns.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

REPO = Path(__file__).resolve().parents[2]
TRAINING_DOCKERFILE = REPO / "training" / "Dockerfile"
CONTAINER_ROOT = "/opt/ml"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
PROGRAM = "sagemaker_program"
LOG_TAIL_CHARS = 2000


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class S3DataSource(_Shape):
    S3DataType: Literal["S3Prefix", "ManifestFile"]
    S3Uri: str = Field(pattern=r"^s3://[^/]+/")


class DataSource(_Shape):
    S3DataSource: S3DataSource


class Channel(_Shape):
    ChannelName: str = Field(pattern=r"^[A-Za-z0-9\.\-_]+$")
    DataSource: DataSource


class MetricDefinition(_Shape):
    Name: str
    Regex: str


class AlgorithmSpecification(_Shape):
    TrainingImage: str
    TrainingInputMode: Literal["File"]
    MetricDefinitions: list[MetricDefinition] = Field(default_factory=list)


class OutputDataConfig(_Shape):
    S3OutputPath: str = Field(pattern=r"^s3://[^/]+/")


class StoppingCondition(_Shape):
    MaxRuntimeInSeconds: int = Field(ge=1)


class TrainingJobRequest(_Shape):
    """The part of CreateTrainingJob that a training container sees (other fields are kept, unused)."""

    TrainingJobName: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    HyperParameters: dict[str, str] = Field(default_factory=dict)
    AlgorithmSpecification: AlgorithmSpecification
    InputDataConfig: list[Channel] = Field(default_factory=list)
    OutputDataConfig: OutputDataConfig
    ResourceConfig: dict[str, Any] = Field(default_factory=dict)
    StoppingCondition: StoppingCondition


class TrainingJobResult(BaseModel):
    """What DescribeTrainingJob says about the finished job (the fields a .sync task selects)."""

    TrainingJobName: str
    TrainingJobStatus: Literal["Completed", "Failed", "Stopped"]
    FailureReason: str | None = None
    ModelArtifacts: dict[str, str] = Field(default_factory=dict)
    BillableTimeInSeconds: int
    FinalMetricDataList: list[dict[str, Any]] = Field(default_factory=list)


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def image_environment(dockerfile: Path = TRAINING_DOCKERFILE, root: Path | None = None) -> dict[str, str]:
    """The `ENV` settings of the training image's Dockerfile, `/opt/ml` mapped to `root`."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0].upper() != "ENV":
            continue
        for word in words[1:]:
            name, sep, value = word.partition("=")
            if sep:
                env[name] = value.replace(CONTAINER_ROOT, str(root)) if root else value
    return env


class LocalTrainingRunner:
    """Runs CreateTrainingJob requests on this machine against an S3 client (moto in tests)."""

    def __init__(
        self,
        s3: Any,
        work_dir: Path | None = None,
        python: str = sys.executable,
        log: Any = None,
    ) -> None:
        self.s3 = s3
        self.work_dir = work_dir
        self.python = python
        self.log = log if log is not None else sys.stderr
        self.roots: dict[str, Path] = {}

    def run(self, request: dict[str, Any]) -> TrainingJobResult:
        """Run the job to its end; never raises for the job's own failure (the result says Failed)."""
        job = TrainingJobRequest.model_validate(request)
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f"{job.TrainingJobName}-", dir=self.work_dir))
        self.roots[job.TrainingJobName] = root
        started = time.monotonic()
        try:
            status, reason, output = self._run(job, root)
        except Exception as exc:  # a channel or the code could not be fetched: the job fails
            status, reason, output = "Failed", f"ClientError: {exc}", ""
        artifacts: dict[str, str] = {}
        if status == "Completed":
            artifacts["S3ModelArtifacts"] = self._upload_model(job, root)
        return TrainingJobResult(
            TrainingJobName=job.TrainingJobName,
            TrainingJobStatus=status,
            FailureReason=reason,
            ModelArtifacts=artifacts,
            BillableTimeInSeconds=max(1, round(time.monotonic() - started)),
            FinalMetricDataList=final_metrics(job.AlgorithmSpecification.MetricDefinitions, output),
        )

    # --- the container's view ---------------------------------------------------------------------
    def _run(
        self, job: TrainingJobRequest, root: Path
    ) -> tuple[Literal["Completed", "Failed", "Stopped"], str | None, str]:
        channels = {
            channel.ChannelName: self._download_channel(channel, root) for channel in job.InputDataConfig
        }
        config_dir = root / "input" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "hyperparameters.json").write_text(json.dumps(job.HyperParameters), encoding="utf-8")
        (config_dir / "inputdataconfig.json").write_text(
            json.dumps({c.ChannelName: {"TrainingInputMode": "File"} for c in job.InputDataConfig}),
            encoding="utf-8",
        )
        (config_dir / "resourceconfig.json").write_text(
            json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}), encoding="utf-8"
        )
        for folder in ("model", "output/data"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        code_dir = self._code(job, root)
        program = job.HyperParameters.get(PROGRAM) or image_environment().get("SAGEMAKER_PROGRAM")
        if not program:
            return "Failed", "ClientError: no sagemaker_program hyperparameter and no SAGEMAKER_PROGRAM", ""
        entry_point = (code_dir / program).resolve()
        if not entry_point.is_relative_to(code_dir.resolve()) or not entry_point.is_file():
            return (
                "Failed",
                f"ClientError: sagemaker_program {program!r} is not a file of the code archive",
                "",
            )
        arguments = [
            item
            for name, value in sorted(job.HyperParameters.items())
            if not name.startswith("sagemaker_")
            for item in (f"--{name}", value)
        ]
        env = self._environment(job, root, code_dir, channels)
        log_path = root / "output" / "training.log"
        try:
            with log_path.open("w", encoding="utf-8") as log:
                done = subprocess.run(
                    [self.python, str(entry_point), *arguments],
                    cwd=code_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=job.StoppingCondition.MaxRuntimeInSeconds,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            output = log_path.read_text(encoding="utf-8", errors="replace")
            return "Stopped", "MaxRuntimeExceeded: Training job runtime exceeded MaxRuntimeInSeconds", output
        output = log_path.read_text(encoding="utf-8", errors="replace")
        print(output[-LOG_TAIL_CHARS:], file=self.log)
        if done.returncode == 0:
            return "Completed", None, output
        failure = root / "output" / "failure"
        reason = (
            failure.read_text(encoding="utf-8").strip()
            if failure.is_file()
            else f"exit status {done.returncode}: {output[-LOG_TAIL_CHARS:].strip()}"
        )
        return "Failed", f"AlgorithmError: {reason}", output

    def _environment(
        self, job: TrainingJobRequest, root: Path, code_dir: Path, channels: dict[str, Path]
    ) -> dict[str, str]:
        # the host's environment minus this project's settings and AWS credentials: the job sees what
        # a container sees (its image's ENV and the toolkit's SM_* variables)
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("SKILLFORGE_", "SM_", "AWS_", "MOTO_"))
        }
        env.update(image_environment(root=root))
        hyperparameters = {k: v for k, v in job.HyperParameters.items() if not k.startswith("sagemaker_")}
        env.update(
            {
                "PYTHONPATH": str(code_dir),
                "SM_MODEL_DIR": str(root / "model"),
                "SM_INPUT_DIR": str(root / "input"),
                "SM_INPUT_CONFIG_DIR": str(root / "input" / "config"),
                "SM_OUTPUT_DIR": str(root / "output"),
                "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
                "SM_CHANNELS": json.dumps(sorted(channels)),
                "SM_HPS": json.dumps(hyperparameters),
                "SM_CURRENT_HOST": "algo-1",
                "SM_HOSTS": json.dumps(["algo-1"]),
                "SM_NUM_GPUS": "0",
                "SM_USER_ENTRY_POINT": job.HyperParameters.get(PROGRAM, ""),
                "SM_MODULE_DIR": job.HyperParameters.get(SUBMIT_DIRECTORY, ""),
                "SM_TRAINING_ENV": json.dumps(
                    {
                        "job_name": job.TrainingJobName,
                        "channel_input_dirs": {k: str(v) for k, v in channels.items()},
                    }
                ),
            }
        )
        for name, folder in channels.items():
            env[f"SM_CHANNEL_{name.upper()}"] = str(folder)
        for name, value in hyperparameters.items():
            env[f"SM_HP_{name.upper()}"] = value
        return env

    def _download_channel(self, channel: Channel, root: Path) -> Path:
        folder = root / "input" / "data" / channel.ChannelName
        folder.mkdir(parents=True, exist_ok=True)
        source = channel.DataSource.S3DataSource
        bucket, key = split_s3(source.S3Uri)
        if source.S3DataType == "S3Prefix":
            paginator = self.s3.get_paginator("list_objects_v2")
            keys = [
                item["Key"]
                for page in paginator.paginate(Bucket=bucket, Prefix=key)
                for item in page.get("Contents", [])
            ]
            if not keys:
                raise FileNotFoundError(f"channel {channel.ChannelName}: no object under {source.S3Uri}")
            for object_key in keys:
                relative = object_key[len(key) :].lstrip("/") or Path(object_key).name
                self._download(channel, bucket, object_key, folder, relative)
            return folder
        manifest = json.loads(self._read(channel, bucket, key))
        prefix_bucket, prefix = split_s3(manifest[0]["prefix"])
        for relative in manifest[1:]:
            self._download(channel, prefix_bucket, prefix + relative, folder, relative)
        return folder

    def _download(self, channel: Channel, bucket: str, key: str, folder: Path, relative: str) -> None:
        target = folder / relative
        if not target.resolve().is_relative_to(folder.resolve()):
            raise ValueError(f"channel {channel.ChannelName}: the key {key!r} leaves the channel folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self._read(channel, bucket, key))

    def _read(self, channel: Channel, bucket: str, key: str) -> bytes:
        try:
            data: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise FileNotFoundError(f"channel {channel.ChannelName}: s3://{bucket}/{key}: {code}") from exc
        return data

    def _code(self, job: TrainingJobRequest, root: Path) -> Path:
        """The job's code: sagemaker_submit_directory (a tar.gz in S3) unpacked to <root>/code."""
        code_dir = root / "code"
        code_dir.mkdir(parents=True, exist_ok=True)
        uri = job.HyperParameters.get(SUBMIT_DIRECTORY)
        if not uri:
            raise ValueError("no sagemaker_submit_directory hyperparameter: the runner has no image to run")
        bucket, key = split_s3(uri)
        data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(code_dir, filter="data")
        return code_dir

    def _upload_model(self, job: TrainingJobRequest, root: Path) -> str:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in sorted((root / "model").rglob("*")):
                archive.add(path, arcname=path.relative_to(root / "model").as_posix(), recursive=False)
        output = job.OutputDataConfig.S3OutputPath.rstrip("/")
        uri = f"{output}/{job.TrainingJobName}/output/model.tar.gz"
        bucket, key = split_s3(uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue(), ContentType="application/gzip")
        return uri


def final_metrics(definitions: list[MetricDefinition], output: str) -> list[dict[str, Any]]:
    """The last value each metric definition's regex finds in the job's log (as SageMaker reports them)."""
    found: list[dict[str, Any]] = []
    for definition in definitions:
        values = re.findall(definition.Regex, output, flags=re.MULTILINE)
        if values and values[-1] != "nan":
            found.append({"MetricName": definition.Name, "Value": float(values[-1])})
    return found
