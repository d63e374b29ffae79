"""Notifications: what happened to a skill version, to Slack (incoming webhook) and email (SNS).

Messages come from three sources: the gate (promoted / needs investigation), the pipeline's failure
path, and EventBridge (SageMaker training job state changes, Step Functions executions that timed out
or were aborted). Sending never breaks the pipeline: Slack is retried with back-off and a final
failure is reported in the result, not raised. The webhook URL is a secret: it is read from Secrets
Manager when needed and never appears in logs, results or exceptions.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from functions.core.gate.records import EvaluationSummary
from functions.core.gate.rule import GateOutcome

logger = Logger(child=True)

Outcome = Literal[
    "promoted",
    "ready_for_promotion",
    "needs_investigation",
    "failed",
    "training_completed",
    "training_failed",
    "training_stopped",
    "timed_out",
    "aborted",
]

# On-demand USD per hour (us-east-1, list prices) of the training instance types we use; an estimate.
INSTANCE_PRICE_PER_HOUR: dict[str, float] = {
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.g4dn.xlarge": 0.736,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.p3.2xlarge": 3.825,
}


class Notification(BaseModel):
    outcome: Outcome
    stage: str
    skill: str | None = None
    skill_version: int | None = None
    current_version: int | None = None
    code_version: str | None = None
    dataset_version: str | None = None
    metrics: dict[str, str] = Field(default_factory=dict, description="key metrics vs current, as text")
    reasons: list[str] = Field(default_factory=list)
    duration_s: float | None = None
    estimated_cost_usd: float | None = None
    report_uri: str | None = None
    report_url: str | None = Field(default=None, description="a link that opens the report (https or file)")
    report_url_expires_at: datetime | None = None
    next_steps: list[str] = Field(default_factory=list, description="exact commands a person may run next")
    source: str = "pipeline"
    reference: str | None = Field(default=None, description="training job name or execution ARN")
    error: str | None = None

    @property
    def headline(self) -> str:
        who = (
            f"{self.skill} v{self.skill_version}"
            if self.skill and self.skill_version
            else self.skill or "skill"
        )
        text = {
            "promoted": f"✅ {who} promoted in {self.stage}",
            "ready_for_promotion": (
                f"✅ {who} passed the gate; promote {self.stage} by hand (skillforge promote)"
            ),
            "needs_investigation": f"⚠️ {who} needs investigation ({self.stage})",
            "failed": f"❌ train-and-gate failed for {who} ({self.stage})",
            "training_completed": f"🏁 training job completed: {who}",
            "training_failed": f"❌ training job failed: {who}",
            "training_stopped": f"⏹ training job stopped: {who}",
            "timed_out": f"⏱ train-and-gate timed out for {who} ({self.stage})",
            "aborted": f"⏹ train-and-gate aborted for {who} ({self.stage})",
        }
        return text[self.outcome]

    def lines(self) -> list[str]:
        facts = [
            ("skill", self.skill),
            ("version", f"v{self.skill_version}" if self.skill_version else None),
            ("current", f"v{self.current_version}" if self.current_version else None),
            ("code commit", self.code_version),
            ("dataset version", self.dataset_version),
            ("duration", f"{self.duration_s:.0f} s" if self.duration_s is not None else None),
            (
                "estimated cost",
                f"${self.estimated_cost_usd:.2f}" if self.estimated_cost_usd is not None else None,
            ),
            ("report", self._report_link()),
            ("reference", self.reference),
            ("error", self.error),
        ]
        lines = [f"{name}: {value}" for name, value in facts if value]
        lines += [f"{name}: {value}" for name, value in self.metrics.items()]
        lines += [f"• {reason}" for reason in self.reasons]
        lines += [f"next: `{step}`" for step in self.next_steps]
        return lines

    def _report_link(self) -> str | None:
        if self.report_url is None:
            return self.report_uri
        if self.report_url_expires_at is None:
            return self.report_url
        until = self.report_url_expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        again = (
            f"; later: `skillforge report {self.skill} {self.skill_version}`"
            if self.skill and self.skill_version
            else ""
        )
        return f"<{self.report_url}|open the PDF> (link valid until {until}{again})"


def slack_message(note: Notification) -> dict[str, Any]:
    body = "\n".join(note.lines())
    return {
        "text": note.headline,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": note.headline[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900] or "—"}},
        ],
    }


def email_message(note: Notification) -> tuple[str, str]:
    subject = note.headline.encode("ascii", "ignore").decode().strip()[:100] or "skillforge notification"
    return subject, note.headline + "\n\n" + "\n".join(note.lines()) + "\n"


def from_evaluation(
    summary: EvaluationSummary, stage: str, promoted: bool | None, duration_s: float | None = None
) -> Notification:
    """promoted: True (done), False (passed, but the stage needs a deliberate promotion), None (held back)."""
    metrics = {"accuracy": f"{summary.accuracy:.1%}", "latency p95": f"{summary.latency_p95_ms:.1f} ms"}
    if summary.current_accuracy is not None:
        metrics["accuracy"] += f" (current {summary.current_accuracy:.1%})"
    if summary.current_latency_p95_ms is not None:
        metrics["latency p95"] += f" (current {summary.current_latency_p95_ms:.1f} ms)"
    metrics["regression inputs"] = str(summary.cases)
    if summary.current_accuracy is not None:
        metrics["accuracy change"] = f"{summary.accuracy - summary.current_accuracy:+.1%}"
    return Notification(
        outcome=(
            "needs_investigation"
            if summary.outcome is GateOutcome.INVESTIGATE
            else "promoted"
            if promoted
            else "ready_for_promotion"
        ),
        stage=stage,
        skill=summary.skill,
        skill_version=summary.skill_version,
        current_version=summary.current_version,
        code_version=summary.code_version,
        dataset_version=summary.dataset_version,
        metrics=metrics,
        reasons=summary.reasons,
        duration_s=duration_s if duration_s is not None else summary.seconds,
        report_uri=summary.report_uri,
        next_steps=next_steps(summary, stage, promoted),
    )


def next_steps(summary: EvaluationSummary, stage: str, promoted: bool | None) -> list[str]:
    """The exact commands for a person: accept or promote a held-back version, promote a passed one."""
    skill, version = summary.skill, summary.skill_version
    if summary.outcome is GateOutcome.INVESTIGATE:
        return [
            f'skillforge accept {skill} {version} --stage {stage} --by "$USER" --reason "<why it is fine>"',
            f'skillforge promote {skill} {version} --stage {stage} --reason "<why>" --commit',
        ]
    if promoted is False:
        return [f'skillforge promote {skill} {version} --stage {stage} --reason "passed the gate" --commit']
    return []


REPORT_LINK_EXPIRY_S = 3600


def presigned_report_link(note: Notification, store: Any, expires_s: int = REPORT_LINK_EXPIRY_S) -> None:
    """Give a notification with an s3:// report a presigned HTTPS link (and its expiry) that opens it."""
    if not note.report_uri or not note.report_uri.startswith("s3://"):
        return
    bucket, _, key = note.report_uri.removeprefix("s3://").partition("/")
    note.report_url = store.presign_get(bucket, key, expires_s=expires_s)
    note.report_url_expires_at = datetime.now(UTC) + timedelta(seconds=expires_s)


def local_report_link(note: Notification, path: Path) -> None:
    """Local mode: the report as a file:// URL that a browser on this machine opens."""
    note.report_url = path.resolve().as_uri()
    note.report_url_expires_at = None


def training_cost(instance_type: str | None, billable_s: float | None, count: int = 1) -> float | None:
    if not instance_type or billable_s is None or instance_type not in INSTANCE_PRICE_PER_HOUR:
        return None
    return round(INSTANCE_PRICE_PER_HOUR[instance_type] * count * billable_s / 3600, 4)


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def from_training_event(event: dict[str, Any], stage: str) -> Notification:
    """EventBridge "SageMaker Training Job State Change" (detail = DescribeTrainingJob)."""
    detail = event.get("detail") or {}
    status = str(detail.get("TrainingJobStatus", ""))
    outcomes: dict[str, Outcome] = {
        "Completed": "training_completed",
        "Failed": "training_failed",
        "Stopped": "training_stopped",
    }
    outcome = outcomes.get(status, "training_failed")
    hyper = {k.lower(): v for k, v in (detail.get("HyperParameters") or {}).items()}
    tags = detail.get("Tags") or {}
    if isinstance(tags, list):
        tags = {t.get("Key"): t.get("Value") for t in tags}
    started, ended = _time(detail.get("TrainingStartTime")), _time(detail.get("TrainingEndTime"))
    billable = detail.get("BillableTimeInSeconds")
    duration = (ended - started).total_seconds() if started and ended else billable
    resources = detail.get("ResourceConfig") or {}
    version = hyper.get("skill_version") or tags.get("skill-version")
    return Notification(
        outcome=outcome,
        stage=stage,
        skill=str(hyper.get("skill") or tags.get("skill") or detail.get("TrainingJobName", "")),
        skill_version=int(str(version).strip('"')) if version and str(version).strip('"').isdigit() else None,
        code_version=str(hyper.get("code_version") or tags.get("code-version") or "") or None,
        dataset_version=str(hyper.get("dataset_version") or tags.get("dataset-version") or "") or None,
        duration_s=float(duration) if duration is not None else None,
        estimated_cost_usd=training_cost(
            resources.get("InstanceType"),
            float(billable) if billable is not None else None,
            int(resources.get("InstanceCount", 1)),
        ),
        report_uri=(detail.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
        source="sagemaker",
        reference=detail.get("TrainingJobName"),
        error=detail.get("FailureReason"),
    )


def from_execution_event(event: dict[str, Any], stage: str) -> Notification:
    """EventBridge "Step Functions Execution Status Change" for a run that ended badly."""
    detail = event.get("detail") or {}
    status = str(detail.get("status", "FAILED"))
    try:
        given = json.loads(detail.get("input") or "{}")
    except json.JSONDecodeError:
        given = {}
    started, stopped = detail.get("startDate"), detail.get("stopDate")
    outcomes: dict[str, Outcome] = {"TIMED_OUT": "timed_out", "ABORTED": "aborted"}
    outcome = outcomes.get(status, "failed")
    return Notification(
        outcome=outcome,
        stage=stage,
        skill=given.get("skill"),
        duration_s=(stopped - started) / 1000
        if isinstance(started, int) and isinstance(stopped, int)
        else None,
        source="stepfunctions",
        reference=detail.get("executionArn"),
        error=" ".join(str(detail.get(k) or "") for k in ("error", "cause")).strip() or status,
    )


class StepError(BaseModel):
    """What a Catch puts at its ResultPath: the error name and its cause."""

    Error: str = "error"
    Cause: str | None = None


class FailureNotice(BaseModel):
    """The state machine's failure notification input."""

    kind: Literal["failure"]
    skill: str | None = None
    skill_version: int | None = None
    error: StepError = Field(default_factory=StepError)
    execution: str | None = None


class GateNotice(BaseModel):
    """The state machine's gate outcome notification input."""

    kind: Literal["gate"]
    evaluation: EvaluationSummary
    promotion: dict[str, Any] | None = None
    execution: str | None = None


def from_pipeline_failure(event: dict[str, Any], stage: str) -> Notification:
    """The state machine's catch-all: which step failed and why."""
    notice = FailureNotice.model_validate(event)
    return Notification(
        outcome="failed",
        stage=stage,
        skill=notice.skill,
        skill_version=notice.skill_version,
        source="stepfunctions",
        reference=notice.execution,
        error=f"{notice.error.Error}: {(notice.error.Cause or '')[:500]}",
    )


def notification_for(event: dict[str, Any], stage: str) -> Notification:
    """Any input the notify function receives → one Notification (a clear error for anything else)."""
    detail_type = event.get("detail-type")
    if detail_type == "SageMaker Training Job State Change":
        return from_training_event(event, stage)
    if detail_type == "Step Functions Execution Status Change":
        return from_execution_event(event, stage)
    kind = event.get("kind")
    if kind == "gate":
        notice = GateNotice.model_validate(event)
        summary, promotion = notice.evaluation, notice.promotion or {}
        promoted = bool(promotion.get("promoted")) if summary.outcome is GateOutcome.PROMOTE else None
        note = from_evaluation(summary, stage, promoted)
        note.reference = notice.execution
        return note
    if kind == "failure":
        return from_pipeline_failure(event, stage)
    raise ValueError(f"notify: unknown input (detail-type {detail_type!r}, kind {kind!r})")


# slack_sdk logs the request URL (the webhook secret) at DEBUG and INFO: it gets a logger that says nothing.
_SLACK_SDK_LOGGER = logging.getLogger("skillforge.notify.slack_sdk")
_SLACK_SDK_LOGGER.disabled = True
_SLACK_SDK_LOGGER.propagate = False


class SlackWebhook:
    """Posts to an incoming webhook through slack_sdk's WebhookClient; `url` is read lazily, never logged.

    Retries (at most `attempts` tries in all): 429 after the `Retry-After` Slack sends, 500/503 and
    connection errors with exponential back-off (`backoff_s`, doubled each time).
    """

    def __init__(
        self, url: Callable[[], str], attempts: int = 3, timeout_s: float = 5.0, backoff_s: float = 0.5
    ):
        self._url = url
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s

    def _retry_handlers(self) -> list[Any]:
        retries = self.attempts - 1
        backoff = BackoffRetryIntervalCalculator(backoff_factor=self.backoff_s)
        return [
            RateLimitErrorRetryHandler(max_retry_count=retries),  # sleeps for Retry-After
            ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
            ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
        ]

    def post(self, message: dict[str, Any]) -> str:
        """'posted', or 'failed: <why>' after the last attempt (the why never contains the URL)."""
        try:
            client = WebhookClient(
                self._url(),
                timeout=max(1, math.ceil(self.timeout_s)),
                logger=_SLACK_SDK_LOGGER,
                retry_handlers=self._retry_handlers(),
            )
            response = client.send_dict(message)
        except Exception as exc:  # a secret that cannot be read, no connection: never break the pipeline
            why = _why(exc)
        else:
            if 200 <= response.status_code < 300:
                return "posted"
            why = f"HTTP {response.status_code}"
        logger.warning("slack post failed", extra={"attempts": self.attempts, "why": why})
        return f"failed: {why}"


def _why(exc: BaseException) -> str:
    """The error's name (or AWS error code), also through powertools' GetParameterError wrapper."""
    cause = exc.__cause__ or exc.__context__ if isinstance(exc, GetParameterError) else exc
    cause = cause or exc
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code", "ClientError"))
    return type(cause).__name__


SECRET_MAX_AGE_S = 300


def secret_webhook_url(secrets: Any, secret_id: str, max_age_s: int = SECRET_MAX_AGE_S) -> Callable[[], str]:
    """A lazy reader of the webhook URL from Secrets Manager (plain string or JSON {"url": ...}), through
    powertools Parameters: cached `max_age_s` seconds per warm function, so a rotated URL is picked up."""
    provider = SecretsProvider(boto3_client=secrets)

    def read() -> str:
        value = str(provider.get(secret_id, max_age=max_age_s)).strip()
        if value.startswith("{"):
            data = json.loads(value)
            value = str(data.get("url") or data.get("webhook_url") or "")
        if not value.startswith("https://") and not value.startswith("http://"):
            raise ValueError("the Slack secret does not hold a webhook URL")
        return value

    return read


MARKER_TTL_S = 14 * 24 * 3600  # far longer than any retry of a notification, then gone


@dataclass
class Notifier:
    slack: SlackWebhook | None = None
    slack_file: Path | None = None
    sns: Any = None
    topic_arn: str | None = None
    table: Any = None  # catalog table: one notification per (reference, outcome)
    store: Any = None  # BlobStore: presigns s3:// report links
    report_link_expiry_s: int = REPORT_LINK_EXPIRY_S

    def send(self, note: Notification) -> dict[str, str]:
        if self.table is not None and note.reference and not self._first_time(note):
            logger.info("already notified", extra={"reference": note.reference, "outcome": note.outcome})
            return {"slack": "duplicate", "email": "duplicate"}
        if self.store is not None and note.report_url is None:
            presigned_report_link(note, self.store, self.report_link_expiry_s)
        message = slack_message(note)
        result = {"slack": "skipped", "email": "skipped"}
        if self.slack is not None:
            result["slack"] = self.slack.post(message)
        elif self.slack_file is not None:
            self.slack_file.parent.mkdir(parents=True, exist_ok=True)
            self.slack_file.write_text(
                json.dumps(message, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            result["slack"] = f"written to {self.slack_file}"
        if self.sns is not None and self.topic_arn:
            subject, body = email_message(note)
            try:
                self.sns.publish(TopicArn=self.topic_arn, Subject=subject, Message=body)
                result["email"] = "published"
            except ClientError as exc:
                result["email"] = f"failed: {exc.response['Error']['Code']}"
                logger.warning("email publish failed", extra={"code": exc.response["Error"]["Code"]})
        logger.info("notified", extra={"outcome": note.outcome, "skill": note.skill, **result})
        return result

    def _first_time(self, note: Notification) -> bool:
        """A marker per (reference, outcome) that expires after MARKER_TTL_S (the table's TTL attribute
        `expires_at` removes it; until DynamoDB does, an expired marker no longer counts)."""
        now = int(time.time())
        try:
            self.table.put_item(
                Item={
                    "pk": f"notified#{note.reference}#{note.outcome}",
                    "kind": "notified",
                    "expires_at": now + MARKER_TTL_S,
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": now},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
