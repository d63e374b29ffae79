"""The production train-and-gate and make-skill state machines, as `cdk synth` writes them, run end to end
on the emulator with nothing swapped.

* Step Functions: moto's interpreter (execution mode) runs both definitions unchanged: train-and-gate
  starts make-skill as a nested, waited-for execution (`startExecution.sync:2`), as in the cloud.
* Lambda: every task runs its real handler module in-process with the function's environment from the
  template (tests/support/production_stack.py); moto would start a container per invoke.
* SageMaker: the `createTrainingJob.sync` task is honoured by the local training runner
  (scripts/local/sfn_sagemaker.py + sagemaker_runner.py): channels downloaded under
  `<root>/input/data/<channel>`, hyperparameters.json, the launcher's code archive run as
  training/Dockerfile runs it (training/train.py), `<root>/model` packed into model.tar.gz at the
  output path; moto's SageMaker records the job.
* Data: real car photos tinted by class (tests/support/tinted_cars.py), run through the real detector
  into crops and the catalog, so that a short training run passes the real gate: the real detector on
  the harness photos, the stack's own gate rule (20 cases per class, first version ≥ 60 %).

One run covers both state machines: make-skill runs as its own execution of its own definition,
started and awaited by train-and-gate. The promote path, the investigate path (a mislabelled harness)
and a failed training job are run.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from functions.core.base.artifacts import Artifacts
from functions.core.base.resources import ResourceNames
from functions.core.base.storage import BlobStore
from functions.core.gate.rule import GateLog
from functions.core.skills.deployment import parameter_name
from functions.core.skills.registry import SkillRegistry
from scripts.local.provision import provision
from scripts.local.sfn_sagemaker import sagemaker_training_tasks
from tests.conftest import shared_data, shared_models
from tests.support.gate import SlackServer
from tests.support.production_stack import Synthesized, function_handler, synthesize_stage
from tests.support.sfn import ACCOUNT, REGION, InProcessLambda, placeholder_zip, resolve
from tests.support.tinted_cars import freeze_harness, photos, seed_verified_crops, skill_config

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

STAGE = "dev"  # cdk.json's dev stage: auto-promotes (SKILLFORGE_AUTO_PROMOTE_STAGES)
FUNCTIONS = ("extract", "register", "evaluate", "promote", "notify")
IMAGE_FUNCTIONS = {"evaluate"}  # container images: their Dockerfile ENV places the detector model
TRAIN_PER_CLASS, HARNESS_PER_CLASS = 20, 20  # the stack's gate needs ≥ 20 harness cases per class
IMAGE_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/skillforge-training:test"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize_stage(tmp_path_factory.mktemp("cdk.out"), STAGE)


def entered_states(sfn: Any, execution_arn: str) -> list[str]:
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def wait(sfn: Any, execution_arn: str, timeout_s: float = 420) -> str:
    deadline = time.monotonic() + timeout_s
    while (status := sfn.describe_execution(executionArn=execution_arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.5)
    return str(status)


@pytest.fixture
def world(
    synthesized: Synthesized, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_credentials: None
) -> Iterator[dict[str, Any]]:
    models = shared_models()
    subset = shared_data() / "stanford-cars-subset"
    monkeypatch.setenv("AWS_REGION", REGION)
    runtime = InProcessLambda()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda _backend, *a: runtime.invoke(*a))
    config: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with (
        mock_aws(config=config),
        SlackServer() as slack,
        sagemaker_training_tasks(work_dir=tmp_path / "jobs") as jobs,
    ):
        names = ResourceNames(stage=STAGE)
        s3 = boto3.client("s3", region_name=REGION)
        provision(
            names, s3, boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION)
        )
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"skillforge/{STAGE}/slack-webhook", SecretString=json.dumps({"url": slack.url})
        )["ARN"]
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="skillforge-notify")["TopicArn"]
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        logical = synthesized.logical
        refs = {
            logical["table"]: names.catalog_table,
            logical["artifacts"]: names.artifacts_bucket,
            logical["crops"]: names.crops_bucket,
            logical["raw"]: names.raw_bucket,
            logical["slack-secret"]: secret,
            logical["email-topic"]: topic,
        }
        arns = {logical["training-role"]: role}
        lam = boto3.client("lambda", region_name=REGION)
        for name in FUNCTIONS:
            arns[logical[name]] = lam.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=role,
                Handler="index.handler",
                Code={"ZipFile": placeholder_zip()},
            )["FunctionArn"]
            environment = {k: str(resolve(v, arns, refs)) for k, v in synthesized.environment(name).items()}
            if name in IMAGE_FUNCTIONS:  # functions/evaluate/Dockerfile's ENV, the model from ../shared
                environment.update(
                    {
                        "SKILLFORGE_MODELS_DIR": str(models),
                        "SKILLFORGE_DETECTOR_MODEL": "yolo11n_int8_openvino_model",
                    }
                )
            runtime.handlers[name] = function_handler(
                f"functions.{name}.handler",
                {"AWS_REGION": REGION, "AWS_LAMBDA_FUNCTION_NAME": name, **environment},
            )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machines: dict[str, str] = {}
        for machine in ("make-skill", "train-and-gate"):  # make-skill first: train-and-gate refers to it
            machines[machine] = sfn.create_state_machine(
                name=f"skillforge-{STAGE}-{machine}",
                definition=resolve(synthesized.definition(machine), arns, refs),
                roleArn=role,
            )["stateMachineArn"]
            refs[logical[machine]] = machines[machine]
        table = boto3.resource("dynamodb", region_name=REGION).Table(names.catalog_table)
        sources = photos(subset, 2 * (TRAIN_PER_CLASS + HARNESS_PER_CLASS))
        artifacts = Artifacts(BlobStore(s3), cache_dir=tmp_path / "cache")
        yield {
            "s3": s3,
            "sfn": sfn,
            "ssm": boto3.client("ssm", region_name=REGION),
            "sagemaker": boto3.client("sagemaker", region_name=REGION),
            "table": table,
            "names": names,
            "machines": machines,
            "runtime": runtime,
            "jobs": jobs,
            "slack": slack,
            "artifacts": artifacts,
            "models": models,
            "train_photos": sources[: 2 * TRAIN_PER_CLASS],
            "harness_photos": sources[2 * TRAIN_PER_CLASS :],
            "work": tmp_path / "jobs",
        }


def start(world: dict[str, Any], epochs: int = 20) -> dict[str, Any]:
    """What `skillforge make-skill CONFIG --profile cloud` does (training/launcher.py), on train-and-gate."""
    from training.config import parse_config
    from training.launcher import LaunchDeps, launch

    config = parse_config(skill_config("yolov5n-coco-state-dict.pt", epochs=epochs, imgsz=64))
    names = world["names"]
    deps = LaunchDeps(
        sfn=world["sfn"],
        store=BlobStore(world["s3"]),
        registry=SkillRegistry(world["table"]),
        artifacts_bucket=names.artifacts_bucket,
        state_machine_arn=world["machines"]["train-and-gate"],
        image_uri=IMAGE_URI,
        models_dir=world["models"],
    )
    return launch(config, "tint", "cloud", deps)


@pytest.mark.slow
def test_a_skill_is_extracted_trained_registered_evaluated_and_promoted(world: dict[str, Any]) -> None:
    # GIVEN verified crops of two classes in the catalog, a frozen harness of 20 photos per class,
    # nothing deployed yet, and both state machines as synthesized
    names, s3 = world["names"], world["s3"]
    verified = seed_verified_crops(
        world["table"], s3, names, world["train_photos"], TRAIN_PER_CLASS, world["models"]
    )
    assert verified["verified"] >= 0.9 * 2 * TRAIN_PER_CLASS, verified  # the detector finds the main cars
    freeze_harness(
        world["artifacts"], names.artifacts_bucket, "tint", world["harness_photos"], HARNESS_PER_CLASS
    )

    # WHEN the launcher starts train-and-gate (same input as make-skill) and it runs to its end
    launched = start(world)
    status = wait(world["sfn"], launched["execution_arn"])

    # THEN train-and-gate ran make-skill, evaluated, promoted and notified, and succeeded
    sfn = world["sfn"]

    assert status == "SUCCEEDED", sfn.get_execution_history(executionArn=launched["execution_arn"])
    outer = entered_states(sfn, launched["execution_arn"])
    assert outer == ["MakeSkillStep", "Evaluate", "Gate", "Promote", "NotifyOutcome", "Done"]
    # AND the nested make-skill execution went through the real Extract, the training job and Register
    nested = sfn.list_executions(stateMachineArn=world["machines"]["make-skill"])["executions"]
    assert [e["status"] for e in nested] == ["SUCCEEDED"]
    assert entered_states(sfn, nested[0]["executionArn"]) == [
        "WithinRuntimeCap", "ExtractDataset", "DatasetReady", "ManagedSpot",
        "TrainOnDemand", "RegisterCandidate", "CandidateRegistered",
    ]  # fmt: skip
    assert world["runtime"].calls == ["extract", "register", "evaluate", "promote", "notify"]

    # AND the training job followed the CreateTrainingJob contract: channels, hyperparameters, output
    job_name = launched["job_name"]
    [result] = world["jobs"]
    assert result.TrainingJobStatus == "Completed", result.FailureReason
    [root] = world["work"].glob(f"{job_name}-*")
    channels = root / "input" / "data"
    assert sorted(p.name for p in channels.iterdir()) == ["config", "crops", "dataset", "models"]
    assert (channels / "config" / "skill-config.json").is_file()
    assert (channels / "dataset" / "data.json").is_file()
    assert (channels / "models" / "yolov5n-coco-state-dict.pt").is_file()
    assert len(list((channels / "crops" / "crops").rglob("*.jpg"))) == verified["verified"]
    hyperparameters = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
    assert hyperparameters["skill_version"] == "1" and hyperparameters["profile"] == "cloud"
    described = world["sagemaker"].describe_training_job(TrainingJobName=job_name)
    output = f"s3://{names.artifacts_bucket}/skills/tint/{job_name}/output/model.tar.gz"
    assert described["TrainingJobStatus"] == "Completed"
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == output
    assert {m["MetricName"] for m in described["FinalMetricDataList"]} >= {"test_top1", "train_loss"}

    # AND model.tar.gz at the output path holds the trained weights, ONNX model and skill.json
    archive = s3.get_object(Bucket=names.artifacts_bucket, Key=output.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["weights.pt"].size > 100_000 and members["model.onnx"].size > 100_000
        skill = json.loads(tar.extractfile("skill.json").read())  # type: ignore[union-attr]
    assert (skill["skill"], skill["skill_version"], skill["hardware_profile"]) == ("tint", 1, "cloud")

    # AND version 1 is registered, decided on with a record and a PDF report, and deployed
    registered = SkillRegistry(world["table"]).get("tint", 1)
    assert registered is not None and registered.dataset_version == skill["dataset_version"]
    decision = GateLog(world["table"]).get("tint", 1)
    assert decision is not None and decision.decision.outcome.value == "promote", decision
    assert decision.decision.candidate_accuracy >= 0.6  # the stack's first-version minimum
    report = world["artifacts"].read_bytes(decision.report_uri)
    assert report.startswith(b"%PDF")
    evaluation = json.loads(world["artifacts"].read_bytes(decision.evaluation_uri))
    assert evaluation["decision"]["outcome"] == "promote"
    assert evaluation["regression"]["cases_by_source"]["harness"] == 2 * HARNESS_PER_CLASS
    parameter = world["ssm"].get_parameter(Name=parameter_name(STAGE, "tint"))["Parameter"]["Value"]
    assert json.loads(parameter)["version"] == 1
    assert "tint v1 promoted" in world["slack"].received[-1]["text"]


@pytest.mark.slow
def test_a_candidate_the_gate_refuses_takes_the_investigate_path(world: dict[str, Any]) -> None:
    # GIVEN verified crops, and a harness whose every case expects the other tint
    names = world["names"]
    seed_verified_crops(
        world["table"], world["s3"], names, world["train_photos"], TRAIN_PER_CLASS, world["models"]
    )
    freeze_harness(
        world["artifacts"], names.artifacts_bucket, "tint", world["harness_photos"], HARNESS_PER_CLASS, True
    )

    # WHEN train-and-gate runs
    launched = start(world)
    status = wait(world["sfn"], launched["execution_arn"])

    # THEN the candidate is trained and registered, the gate holds it back with a record and a report,
    # people are told why, and nothing is deployed
    sfn = world["sfn"]
    assert status == "SUCCEEDED"
    assert entered_states(sfn, launched["execution_arn"]) == [
        "MakeSkillStep", "Evaluate", "Gate", "NotifyInvestigation", "NeedsInvestigation",
    ]  # fmt: skip
    assert world["runtime"].calls == ["extract", "register", "evaluate", "notify"]
    decision = GateLog(world["table"]).get("tint", 1)
    assert decision is not None and decision.decision.outcome.value == "investigate"
    assert decision.decision.candidate_accuracy < 0.6
    assert world["artifacts"].read_bytes(decision.report_uri).startswith(b"%PDF")
    with pytest.raises(world["ssm"].exceptions.ParameterNotFound):
        world["ssm"].get_parameter(Name=parameter_name(STAGE, "tint"))
    assert "needs investigation" in world["slack"].received[-1]["text"]


def test_a_failed_training_job_fails_make_skill_and_is_notified(world: dict[str, Any]) -> None:
    # GIVEN verified crops in the catalog, one of whose images is no longer in the crops bucket
    names, s3 = world["names"], world["s3"]
    seed_verified_crops(world["table"], s3, names, world["train_photos"], TRAIN_PER_CLASS, world["models"])
    missing = s3.list_objects_v2(Bucket=names.crops_bucket, Prefix="crops/")["Contents"][0]["Key"]
    s3.delete_object(Bucket=names.crops_bucket, Key=missing)

    # WHEN train-and-gate runs
    launched = start(world)
    status = wait(world["sfn"], launched["execution_arn"])

    # THEN the training job failed naming the missing crop, make-skill failed, nothing was registered or
    # evaluated, and the failure was notified
    sfn = world["sfn"]
    assert status == "FAILED"
    assert entered_states(sfn, launched["execution_arn"]) == ["MakeSkillStep", "NotifyFailure", "Failed"]
    [result] = world["jobs"]
    assert result.TrainingJobStatus == "Failed" and missing in str(result.FailureReason)
    described = world["sagemaker"].describe_training_job(TrainingJobName=launched["job_name"])
    assert described["TrainingJobStatus"] == "Failed" and missing in described["FailureReason"]
    assert world["runtime"].calls == ["extract", "notify"]
    assert SkillRegistry(world["table"]).get("tint", 1) is None
    message = world["slack"].received[-1]
    assert "failed" in message["text"], message
