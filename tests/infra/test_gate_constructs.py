"""Synthesized train-and-gate, notifications and skill-version mapping: shape, grants, cdk-nag clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.support.gate_stack import gate_stack


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    mapping = tmp_path_factory.mktemp("m") / "skill_versions.json"
    mapping.write_text(
        json.dumps(
            {"test": {"make": {"version": 3, "artifact_uri": "s3://models/skills/make/v000003"}}, "prod": {}}
        )
    )
    app, stack, _gate, _notifications = gate_stack(mapping)
    app.synth()  # raises on any unacknowledged cdk-nag AwsSolutions error
    return dict(Template.from_stack(stack).to_json())


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    machine = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "ARN" for p in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def test_every_task_retries_catches_and_times_out(template: dict[str, Any]) -> None:
    states = _definition(template)["States"]
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    assert set(tasks) == {
        "Train",
        "Evaluate",
        "Promote",
        "NotifyOutcome",
        "NotifyInvestigation",
        "NotifyFailure",
    }
    for name, task in tasks.items():
        assert task.get("Retry"), f"{name} has no retry"
        assert task.get("Catch"), f"{name} has no catch"
    for name in ("Evaluate", "Promote", "NotifyOutcome", "NotifyInvestigation", "NotifyFailure"):
        assert tasks[name]["TimeoutSeconds"] > 0
    # the work steps fail into the notifying failure path; notifications never fail the run
    for name in ("Train", "Evaluate", "Promote"):
        assert tasks[name]["Catch"][0]["Next"] == "NotifyFailure"
    assert tasks["NotifyOutcome"]["Catch"][0]["Next"] == "Done"
    assert tasks["NotifyInvestigation"]["Catch"][0]["Next"] == "NeedsInvestigation"
    assert tasks["NotifyFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"


def test_training_is_a_sync_sagemaker_job_and_the_run_has_a_timeout(template: dict[str, Any]) -> None:
    definition = _definition(template)
    assert definition["States"]["Train"]["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert definition["States"]["Train"]["ResultPath"] == "$.training"
    assert definition["TimeoutSeconds"] == 12 * 3600
    choice = definition["States"]["Gate"]
    assert (
        choice["Choices"][0]["Variable"] == "$.evaluation.outcome"
        and choice["Choices"][0]["Next"] == "Promote"
    )


def test_sagemaker_and_failed_runs_reach_the_notify_function(template: dict[str, Any]) -> None:
    t = Template.from_json(template)
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Training Job State Change"],
                "detail": {
                    "TrainingJobStatus": ["Completed", "Failed", "Stopped"],
                    "TrainingJobName": [{"prefix": "skillforge-"}],
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 21600},
                        "DeadLetterConfig": Match.any_value(),
                    }
                )
            ],
        },
    )
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail": {
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": Match.any_value(),
                },
            }
        },
    )


def test_the_webhook_url_is_a_secret_not_configuration(template: dict[str, Any]) -> None:
    t = Template.from_json(template)
    t.resource_count_is("AWS::SecretsManager::Secret", 1)
    notify = next(
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "functions.notify.handler.handler"
    )
    env = notify["Properties"]["Environment"]["Variables"]
    assert "SKILLFORGE_SLACK_SECRET_ID" in env and not any(
        "hooks.slack.com" in json.dumps(v) for v in env.values()
    )
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    t.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml@example.com"})


def test_deployed_versions_come_from_the_mapping_file(template: dict[str, Any]) -> None:
    mappings = next(iter(template["Mappings"].values()))
    assert json.loads(mappings["make"]["parameter"]) == {
        "version": 3,
        "artifact_uri": "s3://models/skills/make/v000003",
    }
    Template.from_json(template).has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": "/skillforge/test/skills/make",
            "Value": {"Fn::FindInMap": [Match.any_value(), "make", "parameter"]},
        },
    )


def test_promote_may_only_touch_its_stages_skill_parameters(template: dict[str, Any]) -> None:
    policies = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and "PromoteFunction" in k
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    ssm = next(s for s in statements if "ssm:PutParameter" in s["Action"])
    assert "parameter/skillforge/test/skills/*" in json.dumps(ssm["Resource"])
    dynamo = next(s for s in statements if s["Action"] == "dynamodb:GetItem")
    assert dynamo["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["skill#*"]}}


def test_mapping_file_in_repo_is_valid() -> None:
    from functions.core.skills.deployment import DEFAULT_MAPPING_FILE, MappingFile

    assert Path(__file__).resolve().parents[2] / "infra" / "skill_versions.json" == DEFAULT_MAPPING_FILE
    MappingFile().load()
