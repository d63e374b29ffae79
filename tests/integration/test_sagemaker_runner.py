"""The local SageMaker training runner follows the CreateTrainingJob contract (moto S3, a tiny program)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from scripts.local.sagemaker_runner import LocalTrainingRunner, image_environment
from tests.conftest import REPO

BUCKET = "skillforge-test-artifacts"

# What a training program sees: its arguments, the SM_* variables and the channel folders.
PROGRAM = """
import json, os, sys, pathlib
model = pathlib.Path(os.environ["SM_MODEL_DIR"])
seen = {
    "argv": sys.argv[1:],
    "channels": json.loads(os.environ["SM_CHANNELS"]),
    "config": pathlib.Path(os.environ["SM_CHANNEL_CONFIG"], "skill-config.json").read_text(),
    "crop": pathlib.Path(os.environ["SM_CHANNEL_CROPS"], "crops", "a", "1.jpg").read_text(),
    "hp": json.loads(os.environ["SM_HPS"]),
    "pythonpath": os.environ["PYTHONPATH"],
    "offline": os.environ.get("YOLO_OFFLINE"),
    "skillforge_env": sorted(k for k in os.environ if k.startswith("SKILLFORGE_")),
}
(model / "weights.pt").write_bytes(b"w" * 1000)
(model / "seen.json").write_text(json.dumps(seen))
print("train_loss=0.25;")
print("test_top1=0.875;")
if os.environ.get("SM_HP_MODE") == "fail":
    pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("loss is NaN at epoch 2")
    sys.exit(1)
if os.environ.get("SM_HP_MODE") == "slow":
    import time; time.sleep(30)
"""


def _code_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = PROGRAM.encode()
        info = tarfile.TarInfo("training/program.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def s3(moto_aws: dict[str, Any]) -> Any:
    client = moto_aws["s3"]
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="code/src.tar.gz", Body=_code_archive())
    client.put_object(Bucket=BUCKET, Key="configs/colour/v1/skill-config.json", Body=b'{"skill": "colour"}')
    client.put_object(Bucket=BUCKET, Key="crops/a/1.jpg", Body=b"jpeg bytes")
    client.put_object(Bucket=BUCKET, Key="crops/b/2.jpg", Body=b"not listed")
    manifest = [{"prefix": f"s3://{BUCKET}/"}, "crops/a/1.jpg"]
    client.put_object(Bucket=BUCKET, Key="datasets/colour/crops.manifest", Body=json.dumps(manifest).encode())
    return client


def _request(mode: str = "ok", max_runtime_s: int = 120) -> dict[str, Any]:
    def channel(name: str, uri: str, kind: str = "S3Prefix") -> dict[str, Any]:
        return {"ChannelName": name, "DataSource": {"S3DataSource": {"S3DataType": kind, "S3Uri": uri}}}

    return {
        "TrainingJobName": f"skillforge-colour-v1-{mode}",
        "HyperParameters": {
            "sagemaker_program": "training/program.py",
            "sagemaker_submit_directory": f"s3://{BUCKET}/code/src.tar.gz",
            "skill_version": "1",
            "mode": mode,
        },
        "AlgorithmSpecification": {
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/skillforge-training:1",
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train_loss", "Regex": "^train_loss=([-+0-9.eE]+|nan);"},
                {"Name": "test_top1", "Regex": "^test_top1=([-+0-9.eE]+|nan);"},
            ],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/training",
        "InputDataConfig": [
            channel("config", f"s3://{BUCKET}/configs/colour/v1/"),
            channel("crops", f"s3://{BUCKET}/datasets/colour/crops.manifest", "ManifestFile"),
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/skills/colour/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
    }


def _model_files(s3: Any, uri: str) -> dict[str, bytes]:
    data = s3.get_object(Bucket=BUCKET, Key=uri.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_a_job_sees_its_channels_and_hyperparameters_and_its_model_goes_to_the_output_path(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a CreateTrainingJob request with an S3Prefix and a ManifestFile channel, and a project setting
    # in the host's environment
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", "/host/models")
    runner = LocalTrainingRunner(s3, work_dir=tmp_path)

    # WHEN the runner runs it
    result = runner.run(_request())

    # THEN it completed, and model.tar.gz at <output>/<job>/output/ holds what the program wrote
    assert result.TrainingJobStatus == "Completed", result.FailureReason
    uri = f"s3://{BUCKET}/skills/colour/skillforge-colour-v1-ok/output/model.tar.gz"
    assert result.ModelArtifacts == {"S3ModelArtifacts": uri}
    files = _model_files(s3, uri)
    assert files["weights.pt"] == b"w" * 1000
    seen = json.loads(files["seen.json"])
    # AND the program got the channels (the manifest's keys only), the non-sagemaker hyperparameters as
    # --name value, the image's ENV, and none of the host's project settings
    root = runner.roots["skillforge-colour-v1-ok"]
    assert seen["argv"] == ["--mode", "ok", "--skill_version", "1"]
    assert seen["channels"] == ["config", "crops"]
    assert seen["config"] == '{"skill": "colour"}' and seen["crop"] == "jpeg bytes"
    assert not (root / "input" / "data" / "crops" / "crops" / "b").exists()
    assert seen["hp"] == {"skill_version": "1", "mode": "ok"}
    assert seen["pythonpath"] == str(root / "code") and seen["offline"] == "1"
    assert seen["skillforge_env"] == []
    hyperparameters = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
    assert hyperparameters["sagemaker_program"] == "training/program.py"
    # AND the metric definitions picked the final metrics from the job's output
    assert {m["MetricName"]: m["Value"] for m in result.FinalMetricDataList} == {
        "train_loss": 0.25,
        "test_top1": 0.875,
    }


def test_a_failing_job_is_failed_with_the_reason_it_wrote(s3: Any, tmp_path: Path) -> None:
    # GIVEN a program that writes /opt/ml/output/failure and exits 1
    # WHEN the runner runs it
    result = LocalTrainingRunner(s3, work_dir=tmp_path).run(_request("fail"))
    # THEN the job failed with that reason, and no model was written
    assert result.TrainingJobStatus == "Failed"
    assert result.FailureReason == "AlgorithmError: loss is NaN at epoch 2"
    assert result.ModelArtifacts == {}
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="skills/").get("KeyCount", 0) == 0


def test_a_job_over_its_max_runtime_is_stopped(s3: Any, tmp_path: Path) -> None:
    # GIVEN a program that runs longer than MaxRuntimeInSeconds
    # WHEN the runner runs it
    result = LocalTrainingRunner(s3, work_dir=tmp_path).run(_request("slow", max_runtime_s=3))
    # THEN it is stopped for its max runtime
    assert result.TrainingJobStatus == "Stopped"
    assert "MaxRuntimeExceeded" in str(result.FailureReason)


def test_the_image_environment_is_the_training_dockerfiles_env_with_opt_ml_mapped(tmp_path: Path) -> None:
    # GIVEN training/Dockerfile
    # WHEN its ENV is read for a job root
    env = image_environment(REPO / "training" / "Dockerfile", root=tmp_path)
    # THEN the entry point and code path are the image's, under the job root
    assert env["SAGEMAKER_PROGRAM"] == "training/train.py"
    assert env["PYTHONPATH"] == str(tmp_path / "code")
    assert env["YOLO_OFFLINE"] == "1"


def test_a_manifest_key_that_leaves_its_channel_fails_the_job_and_writes_nothing_outside(
    s3: Any, tmp_path: Path
) -> None:
    # GIVEN a ManifestFile channel naming a key that climbs out of the channel folder
    manifest = [{"prefix": f"s3://{BUCKET}/crops/"}, "../../../../escaped.txt"]
    s3.put_object(Bucket=BUCKET, Key="datasets/colour/crops.manifest", Body=json.dumps(manifest).encode())
    s3.put_object(Bucket=BUCKET, Key="escaped.txt", Body=b"x")

    # WHEN the runner runs the job
    result = LocalTrainingRunner(s3, work_dir=tmp_path / "jobs").run(_request())

    # THEN the job failed naming the channel and the key, and no file was written outside the job root
    assert result.TrainingJobStatus == "Failed"
    assert "channel crops" in str(result.FailureReason) and "leaves the channel folder" in str(
        result.FailureReason
    )
    assert not list(tmp_path.rglob("escaped.txt"))
