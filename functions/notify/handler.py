"""Notify Lambda: Slack (webhook URL from Secrets Manager) + SNS email, for three kinds of input:

* EventBridge "SageMaker Training Job State Change" (Completed / Failed / Stopped),
* EventBridge "Step Functions Execution Status Change" (a train-and-gate run that failed, timed out
  or was aborted; a failure already notified by the state machine is not sent twice),
* the state machine itself: {"kind": "gate", "evaluation": {...}, "promotion": {...}} or
  {"kind": "failure", "skill": ..., "error": {"Error", "Cause"}, "execution": ...}.
Sending never raises for Slack trouble: the result says what happened.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.gate.notify import Notifier, notification_for
from functions.core.gate.settings import NotifySettings
from functions.core.gate.wiring import build_notifier

logger, tracer = Logger(), Tracer()


@cache
def deps() -> tuple[NotifySettings, Notifier]:
    settings = NotifySettings()
    return settings, build_notifier(settings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, notifier = deps()
    note = notification_for(event, settings.stage)
    return {"outcome": note.outcome, **notifier.send(note)}
