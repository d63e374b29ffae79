"""Training (make-skill), train-and-gate, notifications and skill versions composed into the stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from functions.core.skills.deployment import parameter_name
from infra.config import CONTEXT_KEY, cdk_json_context
from tests.infra.conftest import STAGE, Synthesized

SLACK_WEBHOOK_HOST = "hooks.slack.com"
TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"


def _definition(synthesized: Synthesized, machine: Any) -> dict[str, Any]:
    """A state machine's ASL with CloudFormation tokens rendered as placeholders."""
    props = synthesized.resources[synthesized.logical_id(machine)]["Properties"]
    parts = props["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "0" for part in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def _states(synthesized: Synthesized, machine: Any) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = _definition(synthesized, machine)["States"]
    return states


def test_both_state_machines_exist_with_the_make_skill_arn_as_an_output(synthesized: Synthesized) -> None:
    # GIVEN the synthesized stage
    machines = synthesized.of_type("AWS::StepFunctions::StateMachine")
    names = {m["Properties"].get("StateMachineName") for m in machines.values()}
    # THEN make-skill and train-and-gate are there, and make-skill's ARN is a stack output
    assert {f"skillforge-{STAGE}-make-skill", f"skillforge-{STAGE}-train-and-gate"} <= names
    outputs = synthesized.template.to_json()["Outputs"]
    make_skill = synthesized.logical_id(synthesized.stack.training.state_machine)
    assert outputs["MakeSkillStateMachineArn"]["Value"] == {"Ref": make_skill}


def test_training_tasks_stop_by_max_runtime_and_spot_waits_are_bounded(synthesized: Synthesized) -> None:
    # GIVEN make-skill's states
    states = _states(synthesized, synthesized.stack.training.state_machine)
    spot, on_demand = states["TrainOnSpot"], states["TrainOnDemand"]
    # THEN both are createTrainingJob.sync with a max runtime; only the spot one enables managed spot
    for state in (spot, on_demand):
        assert state["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
        assert state["Parameters"]["StoppingCondition"]["MaxRuntimeInSeconds.$"] == "$.training.max_runtime_s"
    assert spot["Parameters"]["EnableManagedSpotTraining"] is True
    assert spot["Parameters"]["StoppingCondition"]["MaxWaitTimeInSeconds.$"] == "$.training.max_wait_s"
    assert "EnableManagedSpotTraining" not in on_demand["Parameters"]


def test_train_and_gate_waits_for_make_skill_then_evaluates_its_model(synthesized: Synthesized) -> None:
    # GIVEN train-and-gate's states
    definition = _definition(synthesized, synthesized.stack.train_and_gate.state_machine)
    step = definition["States"][definition["StartAt"]]
    # THEN it starts with a waited-for make-skill execution whose model artifacts land at $.training
    assert step["Resource"].endswith(":states:::states:startExecution.sync:2")
    assert step["ResultPath"] == "$.training"
    assert step["ResultSelector"]["ModelArtifacts.$"] == "$.Output.train.ModelArtifacts"
    assert step["Next"] == "Evaluate"
    assert any(catch["Next"] == "NotifyFailure" for catch in step["Catch"])


def test_evaluate_runs_its_own_image_not_the_light_detect_image(synthesized: Synthesized) -> None:
    # GIVEN the evaluate and detect functions
    resources = synthesized.resources
    evaluate = resources[synthesized.logical_id(synthesized.stack.train_and_gate.evaluate_function)]
    detect = resources[synthesized.logical_id(synthesized.stack.detection.function)]
    # THEN evaluate (torch, fpdf2) has an image of its own, whose Dockerfile starts the evaluate handler
    assert evaluate["Properties"]["Code"]["ImageUri"] != detect["Properties"]["Code"]["ImageUri"]
    from infra.artifacts import EVALUATE_IMAGE
    from infra.config import REPO_ROOT

    text = (REPO_ROOT / str(EVALUATE_IMAGE.dockerfile)).read_text(encoding="utf-8")
    assert 'CMD ["functions.evaluate.handler.handler"]' in text
    assert "fpdf2==" in (REPO_ROOT / EVALUATE_IMAGE.requirements).read_text(encoding="utf-8")


def test_training_job_state_changes_go_to_the_notify_function(synthesized: Synthesized) -> None:
    # GIVEN the EventBridge rules and the notify function
    notify = synthesized.logical_id(synthesized.stack.notifications.function)
    rules = [
        r["Properties"]
        for r in synthesized.of_type("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == [TRAINING_JOB_STATE_CHANGE]
    ]
    # THEN one rule sends SageMaker training job state changes to the notify function
    assert len(rules) == 1
    targets = rules[0]["Targets"]
    assert [t["Arn"] for t in targets] == [{"Fn::GetAtt": [notify, "Arn"]}]
    assert "DeadLetterConfig" in targets[0]


def test_slack_webhook_is_a_secret_never_a_lambda_environment_value(synthesized: Synthesized) -> None:
    # GIVEN the stage's secrets and functions
    secret = synthesized.stack.notifications.slack_secret
    secret_id = synthesized.logical_id(secret)
    secrets = synthesized.of_type("AWS::SecretsManager::Secret")
    # THEN the webhook has its named secret (value set by the operator, none in the template) ...
    assert secrets[secret_id]["Properties"]["Name"] == f"skillforge/{STAGE}/slack-webhook"
    assert "SecretString" not in secrets[secret_id]["Properties"]
    # ... the notify function gets only its ARN, and no function environment holds a webhook URL
    notify = synthesized.resources[synthesized.logical_id(synthesized.stack.notifications.function)]
    notify_env = notify["Properties"]["Environment"]["Variables"]
    assert notify_env["SKILLFORGE_SLACK_SECRET_ID"] == {"Ref": secret_id}
    for name, function in synthesized.of_type("AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for key, value in variables.items():
            assert SLACK_WEBHOOK_HOST not in json.dumps(value), (name, key)
            if "SLACK" in key:
                assert value == {"Ref": secret_id}, (name, key)


def test_config_keys_reach_the_training_construct(synthesized: Synthesized) -> None:
    # GIVEN the stage's config in cdk.json
    stage = cdk_json_context()[CONTEXT_KEY]["stages"][STAGE]
    extract = synthesized.resources[synthesized.logical_id(synthesized.stack.training.extract_fn)]
    # THEN the split salt is the extract function's
    assert extract["Properties"]["Environment"]["Variables"]["SKILLFORGE_SPLIT_SALT"] == stage["splitSalt"]
    # AND without trainingImageUri, the training role may pull the image cdk deploy builds (assets repository)
    assert stage["trainingImageUri"] is None
    granted = synthesized.granted(synthesized.stack.training.training_role)
    pulls = [resource for resource, actions in granted.items() if "ecr:BatchGetImage" in actions]
    assert len(pulls) == 1 and "container-assets" in pulls[0]


def test_the_training_image_is_built_from_training_dockerfile_at_deploy(synthesized: Synthesized) -> None:
    # GIVEN the assets manifest / THEN one image is training/Dockerfile, its context only what it copies
    images = [i["source"] for i in synthesized.assets()["dockerImages"].values()]
    training = [source for source in images if source["dockerFile"] == "training/Dockerfile"]
    assert len(training) == 1
    staged = sorted(path.name for path in (synthesized.outdir / training[0]["directory"]).iterdir())
    assert staged == [
        "constraints.txt",
        "functions",
        "requirements-detect.txt",
        "requirements-lambda.txt",
        "requirements-training.txt",
        "training",
    ]


def test_skill_versions_of_the_mapping_file_become_ssm_parameters(tmp_path: Path) -> None:
    # GIVEN a mapping file with one deployed skill for the stage
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from functions.core.skills.deployment import MappingFile
    from infra.config import REPO_ROOT, parse_deploy_config
    from infra.stacks.skillforge_stack import SkillforgeStack

    mapping = tmp_path / "skill_versions.json"
    uri = "s3://artifacts/skills/make/v000003/"
    mapping.write_text(json.dumps({STAGE: {"make": {"version": 3, "artifact_uri": uri}}}))
    config = parse_deploy_config(cdk_json_context()[CONTEXT_KEY])
    app = App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []})  # cdk.json's feature flags
    # WHEN the stage is built with it
    stack = SkillforgeStack(
        app,
        "Mapped",
        stage=STAGE,
        config=config.stage(STAGE),
        repo_root=REPO_ROOT,
        models_dir=config.models_dir(),
        code_version="test",
        skill_versions=MappingFile(mapping),
    )
    template = Template.from_stack(stack).to_json()
    # THEN the skill's run-time parameter is seeded from the CloudFormation mapping
    parameters = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"
    ]
    assert [p["Name"] for p in parameters] == [parameter_name(STAGE, "make")]
    assert "Fn::FindInMap" in parameters[0]["Value"]
    (entry,) = (m["make"]["parameter"] for m in template["Mappings"].values())
    assert json.loads(entry) == {"version": 3, "artifact_uri": uri}


def test_notify_function_may_read_only_the_reports_it_links(synthesized: Synthesized) -> None:
    # GIVEN the notify function's role policies
    role = synthesized.stack.notifications.function.role
    role_id = synthesized.stack.get_logical_id(role.node.default_child)
    statements = [
        statement
        for policy in synthesized.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    # THEN it may read the gate's reports (the presigned report link is signed with this role), nothing
    # else of the artifacts bucket, and write nothing there
    s3_statements = [s for s in statements if any(str(a).startswith("s3:") for a in _list(s["Action"]))]
    assert [_list(s["Action"]) for s in s3_statements] == [["s3:GetObject"]]
    assert "/skills/*/evaluation/report.pdf" in json.dumps(s3_statements[0]["Resource"])


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
