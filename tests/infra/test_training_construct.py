"""The make-skill state machine construct alone in a small test stack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.ecr import image_repository_arn
from tests.support.training_stack import IMAGE, training_stack


@pytest.fixture(scope="module")
def synthesized() -> tuple[Stack, Template]:
    app = App()
    stack, _, _ = training_stack(app)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # fails on any unacknowledged AwsSolutions finding
    return stack, Template.from_stack(stack)


def _definition(template: Template) -> dict[str, Any]:
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    (machine,) = machines.values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def test_training_step_takes_instance_runtime_and_spot_from_the_profile(synthesized):
    # GIVEN the synthesized state machine
    _, template = synthesized
    # WHEN its training states are read
    states = _definition(template)["States"]
    spot, on_demand = states["TrainOnSpot"], states["TrainOnDemand"]
    # THEN both run createTrainingJob.sync with the profile's instance type and max runtime
    for state in (spot, on_demand):
        assert state["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
        params = state["Parameters"]
        assert params["ResourceConfig"]["InstanceType.$"] == "$.training.instance_type"
        assert params["StoppingCondition"]["MaxRuntimeInSeconds.$"] == "$.training.max_runtime_s"
        channels = {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataType"] for c in params["InputDataConfig"]
        }
        assert channels == {
            "config": "S3Prefix",
            "dataset": "S3Prefix",
            "crops": "ManifestFile",
            "models": "S3Prefix",
        }
    # AND only the spot branch enables managed spot, with a max wait
    assert spot["Parameters"]["EnableManagedSpotTraining"] is True
    assert spot["Parameters"]["StoppingCondition"]["MaxWaitTimeInSeconds.$"] == "$.training.max_wait_s"
    assert "EnableManagedSpotTraining" not in on_demand["Parameters"]


def test_runs_over_the_runtime_cap_are_refused_before_extraction(synthesized):
    # GIVEN the definition
    _, template = synthesized
    definition = _definition(template)
    # WHEN the first state is read
    first = definition["States"][definition["StartAt"]]
    # THEN it is the cap check that fails runs asking for more than 6 h
    assert first["Type"] == "Choice"
    assert first["Choices"][0]["NumericGreaterThan"] == 6 * 3600
    assert first["Choices"][0]["Next"] == "MaxRuntimeOverCap"


def test_state_machine_may_only_pass_the_training_role_to_sagemaker(synthesized):
    # GIVEN the template
    _, template = synthesized
    # THEN the state machine role has PassRole for the training role only, limited to SageMaker
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": [
                                    "sagemaker:CreateTrainingJob",
                                    "sagemaker:DescribeTrainingJob",
                                    "sagemaker:StopTrainingJob",
                                ]
                            }
                        ),
                        Match.object_like(
                            {
                                "Action": "iam:PassRole",
                                "Condition": {
                                    "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                                },
                                "Resource": {
                                    "Fn::GetAtt": [Match.string_like_regexp(".*TrainingJobRole.*"), "Arn"]
                                },
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_training_role_writes_only_under_skills(synthesized):
    # GIVEN the template
    _, template = synthesized
    policies = template.find_resources("AWS::IAM::Policy")
    training = [p for name, p in policies.items() if "TrainingJobRole" in name]
    statements = [s for p in training for s in p["Properties"]["PolicyDocument"]["Statement"]]
    # WHEN the statements that write to S3 are collected
    writes = [
        s
        for s in statements
        if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    # THEN there is one, on skills/* of the artifacts bucket, and no wildcard action anywhere
    assert len(writes) == 1
    assert json.dumps(writes[0]["Resource"]).endswith('"/skills/*"]]}')
    actions = [
        a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert not [a for a in actions if a.endswith(":*") or a == "*"]


def test_no_cdk_nag_errors(synthesized):
    # GIVEN the stack synthesized with the AwsSolutions validation plugin (synthesis fails on findings)
    stack, _ = synthesized
    # THEN no error annotation is left either
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [e.entry.data for e in errors] == []


def test_training_image_must_be_an_ecr_uri():
    # GIVEN an image name that is not an ECR URI
    # WHEN its repository ARN is asked for THEN the error names the image
    with pytest.raises(ValueError, match="not an ECR image URI"):
        image_repository_arn("pytorch-training:latest")
    assert image_repository_arn(IMAGE) == "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training"
