"""Notifications: Slack webhook (URL in Secrets Manager) posted to a local server; retries; secret kept."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest

from functions.core.gate.notify import Notifier, SlackWebhook, from_training_event, secret_webhook_url
from functions.core.gate.settings import NotifySettings
from functions.notify import handler
from scripts.local.delivery import FakeLambdaContext
from tests.support.gate import SlackServer

TRAINING_EVENT = {
    "source": "aws.sagemaker",
    "detail-type": "SageMaker Training Job State Change",
    "detail": {
        "TrainingJobName": "skillforge-make-20261123",
        "TrainingJobStatus": "Completed",
        "HyperParameters": {
            "skill": "make",
            "skill_version": "7",
            "code_version": "1a2b3c",
            "dataset_version": "ds-9f",
        },
        "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1},
        "BillableTimeInSeconds": 1800,
        "TrainingStartTime": 1795420000000,
        "TrainingEndTime": 1795421800000,
        "ModelArtifacts": {"S3ModelArtifacts": "s3://models/training/skillforge-make/output/model.tar.gz"},
    },
}


def test_training_event_is_posted_to_slack_with_versions_cost_and_duration(
    moto_aws: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with SlackServer() as slack:
        # GIVEN the webhook URL only in Secrets Manager, and the notify function configured with its id
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="slack-hook", SecretString=slack.url
        )
        monkeypatch.setenv("SKILLFORGE_SLACK_SECRET_ID", secret["ARN"])
        handler.deps.cache_clear()
        # WHEN EventBridge delivers a SageMaker state change
        result = handler.handler(TRAINING_EVENT, FakeLambdaContext())
        handler.deps.cache_clear()

    # THEN Slack received one message with skill, version, commit, dataset, duration and estimated cost
    assert result["slack"] == "posted"
    assert len(slack.received) == 1
    text = json.dumps(slack.received[0], ensure_ascii=False)
    for expected in ("make v7", "1a2b3c", "ds-9f", "1800 s", "$0.70", "model.tar.gz"):
        assert expected in text
    # AND the webhook URL (the secret) appears in no log line and not in the result
    ours = [r for r in caplog.records if r.name.startswith("skillforge")]  # what the function logs
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    assert "secret-token-XYZ" not in logs and slack.url not in json.dumps(result)
    assert "notified" in logs


def test_slack_is_retried_then_succeeds() -> None:
    # GIVEN a webhook that fails twice with 503
    with SlackServer(fail_first=2) as slack:
        webhook = SlackWebhook(lambda: slack.url, attempts=3, backoff_s=0.0)
        # WHEN a message is posted
        outcome = webhook.post({"text": "hello"})
    # THEN the third attempt delivers it
    assert outcome == "posted" and slack.attempts == 3 and slack.received == [{"text": "hello"}]


def test_slack_rate_limit_is_retried_after_the_retry_after_header() -> None:
    import time

    # GIVEN a webhook that answers 429 with Retry-After: 1 once
    with SlackServer(fail_first=1, fail_status=429, retry_after=1) as slack:
        webhook = SlackWebhook(lambda: slack.url, attempts=2, backoff_s=0.0)
        started = time.monotonic()
        # WHEN a message is posted
        outcome = webhook.post({"text": "hello"})
        waited = time.monotonic() - started
    # THEN the second attempt, made after the second Slack asked for, delivers it
    assert outcome == "posted" and slack.attempts == 2
    assert waited >= 1.0


def test_slack_down_never_breaks_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a webhook that always fails
    with SlackServer(fail_first=99) as slack:
        url = slack.url
        notifier = Notifier(slack=SlackWebhook(lambda: url, attempts=2, backoff_s=0.0))
        # WHEN the notifier sends
        result = notifier.send(from_training_event(TRAINING_EVENT, "staging"))
    # THEN it reports the failure (no exception, no URL in the report or the logs)
    assert result["slack"] == "failed: HTTP 503"
    assert url not in caplog.text


def test_unreadable_secret_is_reported_not_raised(moto_aws: dict[str, Any]) -> None:
    reader = secret_webhook_url(boto3.client("secretsmanager", region_name="us-east-1"), "missing")
    assert SlackWebhook(reader, attempts=1).post({"text": "x"}) == "failed: ResourceNotFoundException"


def test_email_goes_to_the_sns_topic(moto_aws: dict[str, Any]) -> None:
    # GIVEN an SNS topic with an SQS subscriber standing in for the mailbox
    sns, sqs = boto3.client("sns", region_name="us-east-1"), moto_aws["sqs"]
    topic = sns.create_topic(Name="skillforge-email")["TopicArn"]
    queue = sqs.create_queue(QueueName="mailbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    # WHEN a failed training job is notified
    event = json.loads(json.dumps(TRAINING_EVENT))
    event["detail"].update(TrainingJobStatus="Failed", FailureReason="AlgorithmError: out of memory")
    Notifier(sns=sns, topic_arn=topic).send(from_training_event(event, NotifySettings().stage))
    # THEN the mail body carries the outcome and the reason
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert "training job failed: make v7" in body["Subject"] and "out of memory" in body["Message"]
