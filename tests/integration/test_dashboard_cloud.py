"""The dashboard's Make skill button in cloud mode: the real wiring (build_dashboard from the
environment the stack gives), a config published by `skillforge make-skill --publish`'s code, and the
synthesized make-skill state machine executed by moto's Step Functions interpreter. Only the Lambda
runtime is replaced (invokes run in-process); the SageMaker training step is what moto cannot run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.resources import ResourceNames
from functions.core.base.storage import BlobStore
from functions.core.dashboard.wiring import build_dashboard
from functions.core.labelling.review_api import ApiRequest, ApiResponse, ReviewApi, TokenAuthenticator
from functions.core.skills.registry import SkillRegistry
from scripts.local.provision import provision
from tests.support.sfn import REGION, InProcessLambda, placeholder_zip, resolve
from tests.support.training_stack import IMAGE, training_stack
from training.config import load_config
from training.launcher import LaunchDeps, stage

REPO = Path(__file__).resolve().parents[2]
TOKEN = "dashboard-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def synthesized() -> dict[str, Any]:
    app = App()
    stack, training, artifacts = training_stack(app)
    template = Template.from_stack(stack).to_json()
    (machine,) = (
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    return {
        "definition": machine["Properties"]["DefinitionString"],
        "extract": stack.get_logical_id(training.extract_fn.node.default_child),  # type: ignore[arg-type]
        "register": stack.get_logical_id(training.register_fn.node.default_child),  # type: ignore[arg-type]
        "role": stack.get_logical_id(training.training_role.node.default_child),  # type: ignore[arg-type]
        "bucket": stack.get_logical_id(artifacts.node.default_child),  # type: ignore[arg-type]
    }


def call(api: ReviewApi, method: str, path: str, body: Any = None) -> ApiResponse:
    raw = json.dumps(body).encode() if body is not None else b""
    return api.handle(ApiRequest(method, path, AUTH, {}, raw))


@pytest.fixture
def cloud(synthesized: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SKILLFORGE_AWS_ENDPOINT_URL", raising=False)
    runtime = InProcessLambda()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda _backend, *a: runtime.invoke(*a))
    config: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        names = ResourceNames(stage="test")
        s3 = boto3.client("s3", region_name=REGION)
        provision(
            names, s3, boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION)
        )
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="r", AssumeRolePolicyDocument="{}"
        )
        lam = boto3.client("lambda", region_name=REGION)
        arns = {
            synthesized[key]: lam.create_function(
                FunctionName=key,
                Runtime="python3.11",
                Role=role["Role"]["Arn"],
                Handler="index.handler",
                Code={"ZipFile": placeholder_zip()},
            )["FunctionArn"]
            for key in ("extract", "register")
        }
        arns[synthesized["role"]] = role["Role"]["Arn"]
        definition = resolve(synthesized["definition"], arns, {synthesized["bucket"]: names.artifacts_bucket})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="skillforge-test-make-skill", definition=definition, roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
        table = boto3.resource("dynamodb", region_name=REGION).Table(names.catalog_table)
        registry = SkillRegistry(table)
        # the car-make config, published as `skillforge make-skill ... --profile gpu --publish` does
        car_make = load_config(REPO / "training" / "configs" / "car-make.json")
        car_make = car_make.model_copy(
            update={"network": car_make.network.model_copy(update={"pretrained": None, "freeze": 0})}
        )
        stage(
            car_make,
            "car-make",
            "gpu",
            LaunchDeps(sfn, BlobStore(s3), registry, names.artifacts_bucket, machine, IMAGE, None),
        )
        # the review/dashboard function's environment, as the stack sets it
        for key, value in {
            "SKILLFORGE_CATALOG_TABLE": names.catalog_table,
            "SKILLFORGE_ARTIFACTS_BUCKET": names.artifacts_bucket,
            "SKILLFORGE_STAGE": "test",
            "SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN": machine,
        }.items():
            monkeypatch.setenv(key, value)
        api = ReviewApi(DynamoCatalog(table), BlobStore(s3), TokenAuthenticator(TOKEN))
        build_dashboard().attach(api)
        yield {"api": api, "sfn": sfn, "machine": machine, "runtime": runtime, "table": table}


def test_make_skill_starts_an_execution_and_reports_its_state(cloud: dict[str, Any]) -> None:
    api, sfn, runtime = cloud["api"], cloud["sfn"], cloud["runtime"]
    extracting, release = threading.Event(), threading.Event()
    seen: list[dict[str, Any]] = []

    def extract(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        extracting.set()
        release.wait(30)
        raise RuntimeError("no verified crops of car-make")

    runtime.handlers["extract"] = extract
    # GIVEN the published car-make config on the dashboard
    configs = call(api, "GET", "/api/dashboard/configs").json()
    assert configs == {"configs": ["car-make"], "can_make": True, "hint": None}
    # WHEN Make skill is pressed for it
    started = call(api, "POST", "/api/dashboard/make-skill", {"config": "car-make"})
    # THEN a make-skill execution was started with the config and the next version of its skill
    assert started.status == 202, started.body
    job = started.json()
    assert job["state"] == "running" and job["skill"] == "car-make" and job["skill_version"] == 1
    (execution,) = sfn.list_executions(stateMachineArn=cloud["machine"])["executions"]
    assert execution["name"] == job["job_id"]
    given = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert given["config"] == "car-make" and given["skill_version"] == 1
    assert given["training"]["instance_type"] == "ml.g5.xlarge"
    # AND while the data set is extracted, the progress endpoint shows the running state it is in
    assert extracting.wait(30), "the execution never reached ExtractDataset"
    progress = call(api, "GET", f"/api/dashboard/jobs/{job['job_id']}").json()
    assert progress["state"] == "running" and progress["step"] == "ExtractDataset", progress
    assert progress["config"] == "car-make" and progress["skill_version"] == 1
    assert seen[0]["skill"] == "car-make"
    # WHEN the step fails  THEN the job reports the failure path and its error
    release.set()
    deadline = time.monotonic() + 60
    while (progress := call(api, "GET", f"/api/dashboard/jobs/{job['job_id']}").json())["state"] == "running":
        assert time.monotonic() < deadline, progress
        time.sleep(0.2)
    assert progress["state"] == "failed" and progress["step"] == "MakeSkillFailed", progress
    assert "MakeSkillFailed" in progress["error"]


def test_an_unknown_config_is_refused_and_nothing_is_started(cloud: dict[str, Any]) -> None:
    api, sfn = cloud["api"], cloud["sfn"]
    # WHEN Make skill is asked for a config that was never published
    refused = call(api, "POST", "/api/dashboard/make-skill", {"config": "car-colour"})
    # THEN a 400 names it and what is published, and no execution started, no version reserved
    assert refused.status == 400
    error = refused.json()["error"]
    assert "unknown skill config 'car-colour'" in error and "published: car-make" in error
    assert sfn.list_executions(stateMachineArn=cloud["machine"])["executions"] == []
    assert "Item" not in cloud["table"].get_item(Key={"pk": "skillseq#car-colour"})
    # AND an unknown job id is a 404
    assert call(api, "GET", "/api/dashboard/jobs/skillforge-car-make-v9-20260101-000000").status == 404


def test_make_skill_publish_stages_the_template_and_starts_nothing(
    moto_aws: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scripts.cli import main

    names = moto_aws["names"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="skillforge-test-make-skill",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    for key, value in {
        "SKILLFORGE_CATALOG_TABLE": names.catalog_table,
        "SKILLFORGE_ARTIFACTS_BUCKET": names.artifacts_bucket,
        "SKILLFORGE_CROPS_BUCKET": names.crops_bucket,
        "SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN": machine,
        "SKILLFORGE_TRAINING_IMAGE_URI": IMAGE,
    }.items():
        monkeypatch.setenv(key, value)
    # GIVEN the car-make config (without pretrained weights, none here)
    config = json.loads((REPO / "training" / "configs" / "car-make.json").read_text())
    config["network"].update(pretrained=None, freeze=0)
    path = tmp_path / "car-make.json"
    path.write_text(json.dumps(config))
    # WHEN it is published
    assert main(["make-skill", str(path), "--profile", "gpu", "--publish"]) == 0
    # THEN the launch template is in the artifacts bucket, its config and code staged beside it
    printed = json.loads(capsys.readouterr().out)
    store = BlobStore(moto_aws["s3"])
    stored = json.loads(store.get(names.artifacts_bucket, "launch/car-make.json").data)
    assert stored == printed and stored["config"] == "car-make" and stored["profile"] == "gpu"
    config_key = stored["config_uri"].removeprefix(f"s3://{names.artifacts_bucket}/") + "skill-config.json"
    assert json.loads(store.get(names.artifacts_bucket, config_key).data)["skill"] == "car-make"
    assert store.exists(
        names.artifacts_bucket, stored["code_uri"].removeprefix(f"s3://{names.artifacts_bucket}/")
    )
    # AND nothing was started, no version reserved
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    assert "Item" not in moto_aws["table"].get_item(Key={"pk": "skillseq#car-make"})


def test_a_config_that_starts_from_a_parent_skill_stages_that_version_under_its_own_name(
    moto_aws: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.tiny_skill import build_tiny_skill

    # GIVEN two trained versions of car-model in the local skill folders, and the Audi variant's config
    for version in (1, 2):
        build_tiny_skill(tmp_path / "skills" / "car-model" / f"v{version}", "car-model", version, steps=1)
    monkeypatch.setenv("SKILLFORGE_SKILLS_DIR", str(tmp_path / "skills"))
    variant = load_config(REPO / "training" / "configs" / "car-variant-audi.json")  # starts from car-model
    names = moto_aws["names"]
    store = BlobStore(moto_aws["s3"])
    # WHEN the variant config is staged for the cloud
    template = stage(
        variant,
        "car-variant-audi",
        "gpu",
        LaunchDeps(None, store, SkillRegistry(moto_aws["table"]), names.artifacts_bucket, "", IMAGE, None),
    )
    # THEN the newest car-model version's weights are in the models channel under a name of their own
    bucket = names.artifacts_bucket
    config_key = template.config_uri.removeprefix(f"s3://{bucket}/") + "skill-config.json"
    staged = json.loads(store.get(bucket, config_key).data)["network"]["pretrained"]
    assert staged.startswith("car-model-v000002-") and staged.endswith(".pt")
    weights = (tmp_path / "skills" / "car-model" / "v2" / "weights.pt").read_bytes()
    assert store.get(bucket, f"models/{staged}").data == weights
