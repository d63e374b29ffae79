"""Fault injection for the soak test: throttling / 5xx on AWS calls, crashes and timeouts in the handler."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from PIL import Image

from functions.core.base.records import Detection
from functions.core.detection.detector import Detector

_THROTTLE_BODY = {
    "s3": b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>",
    "dynamodb": b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"slow down"}',
}


class _RawBody:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


class InjectedCrashError(RuntimeError):
    """A handler crash injected by the soak test."""


class InvocationTimeout(Exception):  # noqa: N818 - mirrors the Lambda outcome
    """The whole invocation ran out of time (all its messages return to the queue)."""


@dataclass
class FaultPlan:
    seed: int = 7
    aws_error_rate: float = 0.03  # share of S3/DynamoDB calls answered with throttling or 503
    crash_rate: float = 0.02  # share of images whose processing crashes
    timeout_rate: float = 0.05  # share of invocations that time out half-way through
    injected: Counter[str] = field(default_factory=Counter)
    rng: random.Random = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def roll(self, rate: float) -> bool:
        with self.lock:
            return self.rng.random() < rate

    def attach_to(self, boto_client: Any, service: str) -> None:
        """Answer a share of the client's calls with throttling or 5xx before they are sent.

        botocore's retry handler sees these as real responses, so they are retried like real ones.
        """

        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            if not self.roll(self.aws_error_rate):
                return None
            throttle = self.roll(0.5)
            with self.lock:
                self.injected[f"{service}_{'throttle' if throttle else '5xx'}"] += 1
            status = (503 if service == "s3" else 400) if throttle else 500
            body = _THROTTLE_BODY[service] if throttle else b""
            return AWSResponse(request.url, status, {}, _RawBody(body))  # type: ignore[arg-type]

        boto_client.meta.events.register_first(f"before-send.{service}", before_send)


@dataclass
class CrashingDetector:
    """Wraps the real detector; a share of calls crash (the record is retried by SQS)."""

    inner: Detector
    plan: FaultPlan

    def detect(self, image: Image.Image) -> list[Detection]:
        if self.plan.roll(self.plan.crash_rate):
            with self.plan.lock:
                self.plan.injected["handler_crash"] += 1
            raise InjectedCrashError("injected crash mid-batch")
        return self.inner.detect(image)


def with_timeouts(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], plan: FaultPlan
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A handler whose invocation sometimes times out after doing half of the batch's work."""

    def timed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        if len(records) > 1 and plan.roll(plan.timeout_rate):
            with plan.lock:
                plan.injected["invocation_timeout"] += 1
            handler({**event, "Records": records[: len(records) // 2]}, context)
            raise InvocationTimeout("task timed out after processing half of the batch")
        return handler(event, context)

    return timed
