"""The train-and-gate state machine, synthesized by CDK, executed for real by moto's Step Functions
interpreter (execution mode). Only the Lambda *runtime* is replaced: moto would start a Docker
container per invoke; here an invoke runs the real handler module in-process. The SageMaker
createTrainingJob.sync step (which moto cannot run) is replaced by a Lambda training step with the
same output contract ($.training.ModelArtifacts.S3ModelArtifacts)."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from functions.core.base.artifacts import Artifacts
from functions.core.base.resources import ResourceNames
from functions.core.base.storage import BlobStore
from functions.core.gate.notify import Notifier, SlackWebhook, secret_webhook_url
from functions.core.gate.rule import GateConfig
from functions.core.skills.deployment import parameter_name, promote
from scripts.local.provision import provision
from tests.support.gate import (
    SlackServer,
    evaluate_deps,
    freeze_synthetic_harness,
    register_folder,
    skill_version_copy,
)
from tests.support.gate_stack import gate_stack
from tests.support.sfn import REGION, InProcessLambda, placeholder_zip, resolve


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    mapping = tmp_path_factory.mktemp("map") / "skill_versions.json"
    _app, stack, gate, notifications = gate_stack(mapping, train="lambda")
    template = Template.from_stack(stack).to_json()
    machine = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    logical = {
        "evaluate": Stack.of(gate).get_logical_id(gate.evaluate_function.node.default_child),  # type: ignore[arg-type]
        "promote": Stack.of(gate).get_logical_id(gate.promote_function.node.default_child),  # type: ignore[arg-type]
        "notify": Stack.of(gate).get_logical_id(notifications.function.node.default_child),  # type: ignore[arg-type]
        "train": next(
            k
            for k in template["Resources"]
            if k.startswith("FakeTrain") and template["Resources"][k]["Type"] == "AWS::Lambda::Function"
        ),
    }
    return {"definition": machine["Properties"]["DefinitionString"], "logical": logical}


@pytest.fixture
def world(
    synthesized: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_skill_folders: dict[str, Path],
) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SKILLFORGE_AWS_ENDPOINT_URL", raising=False)
    runtime = InProcessLambda()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda _backend, *a: runtime.invoke(*a))
    config: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config), SlackServer() as slack:
        names = ResourceNames(stage="test")
        s3 = boto3.client("s3", region_name=REGION)
        provision(
            names, s3, boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION)
        )
        table = boto3.resource("dynamodb", region_name=REGION).Table(names.catalog_table)
        artifacts = Artifacts(BlobStore(s3), cache_dir=tmp_path / "cache")
        ssm = boto3.client("ssm", region_name=REGION)
        gate = GateConfig(
            min_accuracy_gain=0.05,
            latency_tolerance=3.0,
            latency_slack_ms=100,
            skill_latency_tolerance=3.0,
            skill_latency_slack_ms=100,
            min_cases_per_class=1,
        )
        deps = evaluate_deps(table, s3, ssm, names.artifacts_bucket, tmp_path / "cache", gate)
        artifacts = deps.artifacts
        freeze_synthetic_harness(
            deps.harnesses, artifacts, "colour", names.artifacts_bucket, tmp_path, per_class=3
        )
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="slack", SecretString=json.dumps({"url": slack.url})
        )["ARN"]
        notifier = Notifier(
            slack=SlackWebhook(
                secret_webhook_url(boto3.client("secretsmanager", region_name=REGION), secret_arn),
                backoff_s=0.01,
            ),
            table=table,
        )

        from functions.core.gate.settings import GateSettings, NotifySettings
        from functions.evaluate import handler as evaluate_handler
        from functions.notify import handler as notify_handler
        from functions.promote import handler as promote_handler

        monkeypatch.setattr(evaluate_handler, "deps", lambda: deps)
        settings = GateSettings(
            catalog_table=names.catalog_table,
            artifacts_bucket=names.artifacts_bucket,
            stage="test",
            auto_promote_stages=["test"],
        )  # type: ignore[call-arg]
        monkeypatch.setattr(promote_handler, "deps", lambda: (settings, deps.registry, deps.deployments))
        monkeypatch.setattr(notify_handler, "deps", lambda: (NotifySettings(stage="test"), notifier))

        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="fn", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        arns = {}
        for key, logical in synthesized["logical"].items():
            arns[logical] = lam.create_function(
                FunctionName=key,
                Runtime="python3.11",
                Role=role,
                Handler="index.handler",
                Code={"ZipFile": placeholder_zip()},
            )["FunctionArn"]
        runtime.handlers = {
            "evaluate": evaluate_handler.handler,
            "promote": promote_handler.handler,
            "notify": notify_handler.handler,
        }
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="train-and-gate", definition=resolve(synthesized["definition"], arns), roleArn=role
        )["stateMachineArn"]
        yield {
            "deps": deps,
            "runtime": runtime,
            "sfn": sfn,
            "machine": machine,
            "slack": slack,
            "bucket": names.artifacts_bucket,
            "tmp": tmp_path,
            "folders": tiny_skill_folders,
            "ssm": ssm,
        }


def fake_training(world: dict[str, Any], folder: Path) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A training step with SageMaker's output shape: model.tar.gz (skill.json + weights) in S3."""

    def train(event: dict[str, Any], context: Any) -> dict[str, Any]:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in folder.iterdir():
                archive.add(path, arcname=path.name)
        uri = f"s3://{world['bucket']}/training/{event['skill']}-job/output/model.tar.gz"
        world["deps"].artifacts.write_bytes(uri, buffer.getvalue())
        return {"TrainingJobStatus": "Completed", "ModelArtifacts": {"S3ModelArtifacts": uri}}

    return train


def run(world: dict[str, Any]) -> tuple[str, list[str]]:
    sfn = world["sfn"]
    arn = sfn.start_execution(stateMachineArn=world["machine"], input=json.dumps({"skill": "colour"}))[
        "executionArn"
    ]
    deadline = time.monotonic() + 240
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.2)
    history = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    return status, entered


def deployed_version(world: dict[str, Any]) -> int:
    value = world["ssm"].get_parameter(Name=parameter_name("test", "colour"))["Parameter"]["Value"]
    return int(json.loads(value)["version"])


def test_better_candidate_takes_the_promote_path(world: dict[str, Any]) -> None:
    # GIVEN the untrained version 1 deployed, and training that produces the trained version 2
    deps, tmp = world["deps"], world["tmp"]
    register_folder(
        deps.registry,
        deps.artifacts,
        skill_version_copy(world["folders"]["poor"], tmp / "v1", 1),
        world["bucket"],
    )
    promote(deps.registry, deps.deployments, "colour", 1, actor="test")
    world["runtime"].handlers["train"] = fake_training(
        world, skill_version_copy(world["folders"]["good"], tmp / "v2", 2)
    )

    # WHEN the state machine runs
    status, entered = run(world)

    # THEN it trains, evaluates, promotes, notifies and succeeds; version 2 is deployed
    assert status == "SUCCEEDED"
    assert entered == ["Train", "Evaluate", "Gate", "Promote", "NotifyOutcome", "Done"]
    assert deployed_version(world) == 2
    assert deps.registry.get("colour", 2) is not None  # unpacked from model.tar.gz and registered
    message = world["slack"].received[-1]
    assert "colour v2 promoted" in message["text"]
    assert "current: v1" in json.dumps(message, ensure_ascii=False)


def test_worse_candidate_takes_the_investigate_path(world: dict[str, Any]) -> None:
    # GIVEN the trained version 1 deployed, and training that produces an untrained version 2
    deps, tmp = world["deps"], world["tmp"]
    register_folder(
        deps.registry,
        deps.artifacts,
        skill_version_copy(world["folders"]["good"], tmp / "v1", 1),
        world["bucket"],
    )
    promote(deps.registry, deps.deployments, "colour", 1, actor="test")
    world["runtime"].handlers["train"] = fake_training(
        world, skill_version_copy(world["folders"]["poor"], tmp / "v2", 2)
    )

    # WHEN the state machine runs
    status, entered = run(world)

    # THEN it stops at "needs investigation", version 1 stays deployed, people are told why
    assert status == "SUCCEEDED"
    assert entered == ["Train", "Evaluate", "Gate", "NotifyInvestigation", "NeedsInvestigation"]
    assert deployed_version(world) == 1
    message = world["slack"].received[-1]
    assert "needs investigation" in message["text"] and "not enough" in json.dumps(message)


def test_failed_training_takes_the_failure_path_and_notifies(world: dict[str, Any]) -> None:
    # GIVEN a training step that fails
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("training diverged: loss is NaN")

    world["runtime"].handlers["train"] = broken

    # WHEN the state machine runs
    status, entered = run(world)

    # THEN the failure is notified (with the cause) and the execution fails; nothing is evaluated
    assert status == "FAILED"
    assert entered == ["Train", "NotifyFailure", "Failed"]
    assert "evaluate" not in world["runtime"].calls
    message = world["slack"].received[-1]
    assert "failed" in message["text"] and "loss is NaN" in json.dumps(message)
