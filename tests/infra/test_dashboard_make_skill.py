"""The dashboard's Make skill button in the cloud: the review/dashboard function knows the make-skill
state machine and may start and read its executions, nothing more."""

from __future__ import annotations

import json

from tests.infra.conftest import STAGE, Synthesized


def test_the_dashboard_function_gets_the_make_skill_state_machine_arn(synthesized: Synthesized) -> None:
    # GIVEN the synthesized dev stage
    review, training = synthesized.stack.review, synthesized.stack.training
    # WHEN the dashboard function's environment is read
    function = synthesized.resources[synthesized.logical_id(review.function)]
    env = function["Properties"]["Environment"]["Variables"]
    # THEN it names the make-skill state machine (and the bucket with the launch templates)
    assert env["SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN"] == {
        "Ref": synthesized.logical_id(training.state_machine)
    }
    assert env["SKILLFORGE_ARTIFACTS_BUCKET"] == {
        "Ref": synthesized.logical_id(synthesized.stack.artifacts_bucket)
    }


def test_the_dashboard_may_start_and_read_only_make_skill_executions(synthesized: Synthesized) -> None:
    # GIVEN the dashboard function's identity policies
    review, training = synthesized.stack.review, synthesized.stack.training
    granted = synthesized.granted(review.function.role)
    # WHEN the Step Functions actions are picked out
    states = {
        resource: {a for a in actions if a.startswith("states:")}
        for resource, actions in granted.items()
        if any(a.startswith("states:") for a in actions)
    }
    # THEN StartExecution is allowed on the make-skill state machine alone
    machine = json.dumps({"Ref": synthesized.logical_id(training.state_machine)}, sort_keys=True)
    assert states.pop(machine) == {"states:StartExecution"}
    # AND DescribeExecution / GetExecutionHistory on that machine's executions alone
    (executions, actions) = states.popitem()
    assert actions == {"states:DescribeExecution", "states:GetExecutionHistory"}
    assert f":execution:skillforge-{STAGE}-make-skill:*" in executions
    assert not states
    # AND the launch templates may be read (launch/*)
    assert "s3:GetObject" in granted[synthesized.arn(synthesized.stack.artifacts_bucket, "/launch/*")]


def test_the_dashboard_lists_only_the_launch_templates(synthesized: Synthesized) -> None:
    # GIVEN the dashboard function's policy statements
    role = {"Ref": synthesized.logical_id(synthesized.stack.review.function.role)}
    statements = [
        statement
        for policy in synthesized.of_type("AWS::IAM::Policy").values()
        if role in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    # WHEN the ListBucket statement is read
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    # THEN it lists the artifacts bucket under launch/ only
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["launch/*"]}}
