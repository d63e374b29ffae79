"""Synthesized drift monitor: daily schedule, read-only catalog access, DriftScore alarm → alarm topic."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from functions.core.monitoring.settings import METRIC_NAMESPACE, SCORE_METRIC, DriftSettings


def test_the_drift_alarm_watches_the_score_and_notifies_the_alarm_topic(synthesized: Any) -> None:
    # GIVEN the synthesized dev stage  THEN one alarm on DriftScore at the threshold, acting on the topic
    alarms = [
        a
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == SCORE_METRIC
    ]
    assert len(alarms) == 1
    alarm = alarms[0]["Properties"]
    assert alarm["Namespace"] == METRIC_NAMESPACE
    assert alarm["Threshold"] == DriftSettings().alarm_threshold
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"  # a day without photos is no data, not an alarm
    assert {d["Name"] for d in alarm["Dimensions"]} == {"Deployment", "Skill"}
    topic = synthesized.logical_id(synthesized.stack.monitoring.topic)
    assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_the_monitor_runs_daily_and_only_reads_the_catalog(synthesized: Any) -> None:
    function = synthesized.logical_id(synthesized.stack.drift.function)
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(0 1 * * ? *)",
            "Targets": Match.array_with([Match.object_like({"Arn": {"Fn::GetAtt": [function, "Arn"]}})]),
        },
    )
    granted = synthesized.granted(synthesized.stack.drift.function.role)
    actions = {a for acts in granted.values() for a in acts}
    assert not any(a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete")) for a in actions)
    assert "dynamodb:Scan" in actions


def test_the_monitor_reads_the_deployed_version_and_its_lineage_only(synthesized: Any) -> None:
    # GIVEN the synthesized dev stage  THEN the drift role reads one SSM parameter (the watched skill's
    # deployed version) and the lineage records of that skill, nothing else of the artifacts bucket
    granted = synthesized.granted(synthesized.stack.drift.function.role)
    ssm = {resource for resource, actions in granted.items() if "ssm:GetParameter" in actions}
    assert len(ssm) == 1 and "/skillforge/dev/skills/car-make" in next(iter(ssm))
    reads = {resource for resource, actions in granted.items() if "s3:GetObject" in actions}
    bucket = synthesized.stack.artifacts_bucket
    assert reads == {synthesized.arn(bucket, "/lineage/car-make/*")}
    assert not any(a.startswith("s3:Put") for acts in granted.values() for a in acts)
    function = synthesized.of_type("AWS::Lambda::Function")[
        synthesized.logical_id(synthesized.stack.drift.function)
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["SKILLFORGE_ARTIFACTS_BUCKET"] == {"Ref": synthesized.logical_id(bucket)}
