"""Builds the adapters of the gate side (evaluate, promote, notify, classify) once per cold start."""

from __future__ import annotations

import os
from pathlib import Path

from functions.core.base.artifacts import Artifacts
from functions.core.base.aws import client, resource
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore
from functions.core.detection.detector import Detector
from functions.core.detection.settings import DetectorSettings
from functions.core.detection.wiring import build_detector, detector_ref
from functions.core.gate.evaluation import EvaluateDeps
from functions.core.gate.notify import Notifier, SlackWebhook, secret_webhook_url
from functions.core.gate.regression import HarnessStore
from functions.core.gate.rule import GateLog
from functions.core.gate.settings import GateSettings, LocalSlackSettings, NotifySettings
from functions.core.skills.registry import SkillRegistry
from functions.core.skills.wiring import build_deployments


def build_evaluate_deps(
    settings: GateSettings | None = None,
    detector_settings: DetectorSettings | None = None,
    detector: Detector | None = None,
) -> EvaluateDeps:
    settings = settings or GateSettings()  # type: ignore[call-arg]
    detector_settings = detector_settings or DetectorSettings()
    table = resource("dynamodb", settings).Table(settings.catalog_table)
    artifacts = Artifacts(BlobStore(client("s3", settings)))
    return EvaluateDeps(
        registry=SkillRegistry(table),
        deployments=build_deployments(settings),
        artifacts=artifacts,
        harnesses=HarnessStore(artifacts, settings.harness_uri),
        catalog=DynamoCatalog(table),
        gate_log=GateLog(table),
        detector=detector or build_detector(detector_settings),
        detector_settings=detector_settings,
        detector_ref=detector_ref(detector_settings),
        skills_base_uri=settings.skills_uri,
        datasets_uri=settings.datasets_uri,
        cascade=settings.cascade,
        gate=settings.gate,
    )


def build_notifier(settings: NotifySettings | None = None, slack_file: Path | None = None) -> Notifier:
    """Slack from the Secrets Manager secret (cloud) or SLACK_WEBHOOK_URL (local), else to `slack_file`."""
    settings = settings or NotifySettings()
    slack: SlackWebhook | None = None
    if settings.slack_secret_id:
        reader = secret_webhook_url(client("secretsmanager", settings), settings.slack_secret_id)
        slack = SlackWebhook(reader, attempts=settings.slack_attempts, timeout_s=settings.slack_timeout_s)
    else:
        local_url = LocalSlackSettings().slack_webhook_url or os.environ.get("SLACK_WEBHOOK_URL")
        if local_url:
            slack = SlackWebhook(
                lambda: local_url, attempts=settings.slack_attempts, timeout_s=settings.slack_timeout_s
            )
    table = resource("dynamodb", settings).Table(settings.catalog_table) if settings.catalog_table else None
    return Notifier(
        slack=slack,
        slack_file=slack_file if slack is None else None,
        sns=client("sns", settings) if settings.email_topic_arn else None,
        topic_arn=settings.email_topic_arn,
        table=table,
        store=BlobStore(client("s3", settings)),
        report_link_expiry_s=settings.report_link_expiry_s,
    )
