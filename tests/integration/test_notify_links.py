"""Notifications a person can act on: a link that opens the report (presigned, expiry stated), the gate's
figures, the exact accept/promote commands for a held-back version; markers that expire."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

from functions.core.base.aws import client
from functions.core.base.settings import AwsSettings
from functions.core.base.storage import BlobStore
from functions.core.gate.notify import MARKER_TTL_S, Notifier, SlackWebhook, from_evaluation
from functions.core.gate.records import EvaluationSummary
from functions.core.gate.rule import GateOutcome
from scripts.local.emulator import running_emulator
from tests.support.gate import SlackServer

PDF = b"%PDF-1.4 a report\n%%EOF\n"


def summary(bucket: str, outcome: GateOutcome = GateOutcome.INVESTIGATE) -> EvaluationSummary:
    return EvaluationSummary(
        skill="car-make",
        skill_version=7,
        current_version=6,
        outcome=outcome,
        reasons=["accuracy 81.0% is not better than 82.0% by the 0.5% margin"],
        accuracy=0.81,
        current_accuracy=0.82,
        latency_p95_ms=12.5,
        current_latency_p95_ms=11.0,
        code_version="abc123",
        dataset_version="ds-9",
        harness_version="h1",
        cases=120,
        report_uri=f"s3://{bucket}/skills/car-make/v000007/evaluation/report.pdf",
        evaluation_uri=f"s3://{bucket}/skills/car-make/v000007/evaluation/evaluation.json",
        seconds=42.0,
    )


def test_slack_link_opens_the_report_from_the_emulator() -> None:
    # GIVEN the report of a gated version in the artifacts bucket of the running emulator, and Slack
    with running_emulator() as emulator, SlackServer() as slack:
        bucket = emulator.names.artifacts_bucket
        s3 = client("s3")  # the functions' client factory, pointed at the emulator
        s3.put_object(Bucket=bucket, Key="skills/car-make/v000007/evaluation/report.pdf", Body=PDF)
        notifier = Notifier(slack=SlackWebhook(lambda: slack.url, attempts=1), store=BlobStore(s3))
        # WHEN the gate's outcome is notified
        result = notifier.send(from_evaluation(summary(bucket), "staging", promoted=None))
        text = json.dumps(slack.received[0], ensure_ascii=False)
        url = text.split("<", 1)[1].split("|", 1)[0]
        # THEN the message's link opens the PDF, states its expiry, and says how to get it later
        assert result["slack"] == "posted"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == PDF
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["3600"] and "X-Amz-Signature" in query
    assert "link valid until" in text and "skillforge report car-make 7" in text
    # AND it carries the gate's figures and the exact commands for a held-back version
    for expected in ("81.0% (current 82.0%)", "-1.0%", "12.5 ms (current 11.0 ms)", "120"):
        assert expected in text
    assert "skillforge accept car-make 7 --stage staging --by" in text
    assert "skillforge promote car-make 7 --stage staging" in text


def test_cloud_link_is_https_and_signed(moto_aws: dict[str, Any]) -> None:
    # GIVEN the AWS S3 endpoint (no emulator URL), as the notify function has it in the cloud
    s3 = client("s3", AwsSettings(aws_region="eu-west-1"))
    notifier = Notifier(store=BlobStore(s3), report_link_expiry_s=900)
    note = from_evaluation(summary("skillforge-prod-artifacts", GateOutcome.PROMOTE), "prod", promoted=False)
    # WHEN the link is made
    notifier.send(note)
    # THEN it is a presigned HTTPS URL valid 15 minutes, and a passed version says how to promote it
    assert note.report_url is not None and note.report_url.startswith("https://")
    assert parse_qs(urlsplit(note.report_url).query)["X-Amz-Expires"] == ["900"]
    assert note.next_steps == [
        'skillforge promote car-make 7 --stage prod --reason "passed the gate" --commit'
    ]


def test_idempotency_marker_expires(moto_aws: dict[str, Any]) -> None:
    # GIVEN a notification already sent for an execution
    table = moto_aws["table"]
    notifier = Notifier(table=table)
    note = from_evaluation(summary("b", GateOutcome.PROMOTE), "dev", promoted=True)
    note.reference = "arn:execution:1"
    assert notifier.send(note)["slack"] == "skipped"
    # WHEN the same outcome of the same execution comes again / THEN it is a duplicate
    assert notifier.send(note)["slack"] == "duplicate"
    marker = table.get_item(Key={"pk": "notified#arn:execution:1#promoted"})["Item"]
    assert abs(int(marker["expires_at"]) - (time.time() + MARKER_TTL_S)) < 60
    # AND once the marker's time is over (before DynamoDB's TTL removes it) it no longer blocks
    table.update_item(
        Key={"pk": "notified#arn:execution:1#promoted"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    assert notifier.send(note)["slack"] == "skipped"
