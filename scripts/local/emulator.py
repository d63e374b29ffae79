"""The embedded AWS emulator of local mode: a moto server on 127.0.0.1 and a free port."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from functions.core.base.resources import ResourceNames
from scripts.local.provision import DETECT_MAX_RECEIVE_COUNT, provision

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Emulator:
    endpoint_url: str
    names: ResourceNames
    queues: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION)

    def resource(self, service: str) -> Any:
        return boto3.resource(service, endpoint_url=self.endpoint_url, region_name=REGION)

    def function_env(self) -> dict[str, str]:
        """The environment the stack gives its functions, pointed at the emulator."""
        return {
            "SKILLFORGE_AWS_ENDPOINT_URL": self.endpoint_url,
            "SKILLFORGE_AWS_REGION": REGION,
            "SKILLFORGE_RAW_BUCKET": self.names.raw_bucket,
            "SKILLFORGE_CROPS_BUCKET": self.names.crops_bucket,
            "SKILLFORGE_QUARANTINE_BUCKET": self.names.quarantine_bucket,
            "SKILLFORGE_ARTIFACTS_BUCKET": self.names.artifacts_bucket,
            "SKILLFORGE_CATALOG_TABLE": self.names.catalog_table,
            "SKILLFORGE_DETECT_QUEUE": self.names.detect_queue,
            "SKILLFORGE_DETECT_DLQ": self.names.detect_dlq,
            "SKILLFORGE_DETECT_DLQ_URL": self.queues.get("detect_dlq_url", ""),
            "SKILLFORGE_DETECT_MAX_RECEIVE_COUNT": str(DETECT_MAX_RECEIVE_COUNT),
            "SKILLFORGE_STAGE": self.names.stage,
            "POWERTOOLS_SERVICE_NAME": "skillforge",
            "POWERTOOLS_METRICS_NAMESPACE": "skillforge-local",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_METRICS_DISABLED": "true",
        }


def _fake_credentials() -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "skillforge-local",
        "AWS_SECRET_ACCESS_KEY": "skillforge-local",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        os.environ[name] = value


def _fresh_state() -> None:
    """A new emulator starts empty, and every function starts cold (no clients of an old endpoint).

    moto's backends are process-wide, and handlers cache their adapters per process (cold start).
    """
    import sys

    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    for name, module in list(sys.modules.items()):
        deps = getattr(module, "deps", None) if name.startswith("functions.") else None
        if deps is not None and hasattr(deps, "cache_clear"):
            deps.cache_clear()


@contextmanager
def running_emulator(stage: str = "local", port: int | None = None) -> Iterator[Emulator]:
    """Start moto's server in a thread, provision the stack's resources, and export the function env."""
    from moto.server import ThreadedMotoServer

    _fake_credentials()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    _fresh_state()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        names = ResourceNames(stage=stage)
        emulator = Emulator(endpoint_url=endpoint, names=names, queues={})
        emulator.queues = provision(
            names, emulator.client("s3"), emulator.client("dynamodb"), emulator.client("sqs")
        )
        previous = {key: os.environ.get(key) for key in emulator.function_env()}
        os.environ.update(emulator.function_env())
        try:
            yield emulator
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    finally:
        server.stop()
