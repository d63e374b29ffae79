"""Least privilege and cdk-nag AwsSolutions on the synthesized stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from infra.application import apply_checks
from infra.nag import suppress
from tests.infra.conftest import Synthesized


def _statements(synthesized: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, policy in synthesized.of_type("AWS::IAM::Policy").items():
        found.extend((name, s) for s in policy["Properties"]["PolicyDocument"]["Statement"])
    for name, role in synthesized.of_type("AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            found.extend((name, s) for s in inline["PolicyDocument"]["Statement"])
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def test_no_identity_policy_allows_every_action(synthesized: Synthesized) -> None:
    # GIVEN every IAM statement of the stage
    statements = _statements(synthesized)
    assert statements
    # THEN none allows `*` or a whole service (`s3:*`, `dynamodb:*`, ...)
    broad = [
        (name, action)
        for name, statement in statements
        for action in _actions(statement)
        if statement["Effect"] == "Allow" and (action == "*" or action.endswith(":*"))
    ]
    assert broad == []


def test_data_buckets_are_reached_only_through_named_actions(synthesized: Synthesized) -> None:
    # GIVEN the logical ids of the data buckets
    stack = synthesized.stack
    buckets = {synthesized.logical_id(b) for b in stack.storage.data_buckets}
    # WHEN the statements that touch one of them are collected
    touching = [
        (name, statement)
        for name, statement in _statements(synthesized)
        if any(f'"{bucket}"' in json.dumps(statement.get("Resource")) for bucket in buckets)
    ]
    # THEN each lists its S3 actions one by one (no wildcard in an action)
    assert touching
    wildcards = [(name, a) for name, s in touching for a in _actions(s) if "*" in a]
    assert wildcards == []


def test_detect_role_gets_exactly_what_detection_does(synthesized: Synthesized) -> None:
    # GIVEN the statements of the policies attached to the detect role, keyed by resource
    stack = synthesized.stack
    granted = synthesized.granted(stack.detection.role)

    def objects(bucket: Any) -> str:
        return synthesized.arn(bucket, "/*")

    def arn(construct: Any) -> str:
        return synthesized.arn(construct)

    # THEN it reads raw images, writes crops and quarantine copies, and gets/puts catalog items
    assert granted[objects(stack.raw_bucket)] == {"s3:GetObject", "s3:GetObjectTagging"}
    assert granted[arn(stack.raw_bucket)] == {"s3:ListBucket"}
    assert granted[objects(stack.crops_bucket)] == {"s3:PutObject"}
    assert granted[objects(stack.quarantine_bucket)] == {"s3:PutObject", "s3:PutObjectTagging"}
    assert granted[arn(stack.catalog_table)] == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:BatchWriteItem",
    }
    # AND on the artifacts bucket only reads of the skill versions it serves (listing: missing reads 404)
    assert objects(stack.artifacts_bucket) not in granted
    assert granted[synthesized.arn(stack.artifacts_bucket, "/skills/*")] == {"s3:GetObject"}
    assert granted[arn(stack.artifacts_bucket)] == {"s3:ListBucket"}


def test_cdk_nag_aws_solutions_ran_and_reports_nothing_unacknowledged(synthesized: Synthesized) -> None:
    # GIVEN the validation report of the synthesis (cdk-nag 3 runs as a CDK validation plugin)
    reports = {plugin["pluginName"]: plugin for plugin in synthesized.validation_report()["pluginReports"]}
    # WHEN its findings are listed, errors and warnings alike
    findings = [
        f"{violation['severity']}: {violation['ruleName']} at {construct['constructPath']}"
        for plugin in reports.values()
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]
    # THEN there are none, the AwsSolutions pack did run, and synthesis succeeded
    assert findings == [], "\n".join(findings)
    assert reports["AwsSolutions"]["conclusion"] == "success"
    assert synthesized.validation_error is None


def test_every_acknowledged_finding_has_a_written_reason(synthesized: Synthesized) -> None:
    # GIVEN the findings the report lists as acknowledged
    suppressed = [
        violation
        for plugin in synthesized.validation_report()["pluginReports"]
        for violation in plugin.get("suppressedViolations", [])
    ]
    # THEN there are some (X-Ray's wildcard at least) and each explains itself in a sentence
    assert {violation["ruleName"] for violation in suppressed} >= {"AwsSolutions-IAM5[Resource::*]"}
    for violation in suppressed:
        assert len(violation["reason"].split()) >= 6, violation


def test_checks_fail_synthesis_on_an_insecure_bucket(tmp_path: Path) -> None:
    # GIVEN an app with the same checks and a bucket without access logs or SSL-only policy
    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Insecure"), "Bucket")
    apply_checks(app)
    # WHEN it is synthesized
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    # THEN the report names the findings
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


@pytest.mark.parametrize(("rule", "reason"), [("AwsSolutions-S1", "  "), ("S1", "a real reason here")])
def test_a_suppression_without_a_reason_or_rule_id_is_refused(rule: str, reason: str) -> None:
    # GIVEN a construct
    construct = Stack(App(), "Any")
    # WHEN a rule is acknowledged without a reason, or with something that is not a rule id
    # THEN it is refused, naming the rule
    with pytest.raises(ValueError, match=rule):
        suppress(construct, rule, reason)
