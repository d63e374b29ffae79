"""Shared fixtures: moto-backed AWS resources with the stack's names, real-photo locations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.core.base.resources import ResourceNames

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "skillforge-test")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "skillforge")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKILLFORGE_SHARED_DATA") or REPO.parent / "shared" / "data")
MODELS = Path(os.environ.get("SKILLFORGE_MODELS_DIR") or REPO.parent / "shared" / "models")


def shared_data() -> Path:
    """../shared/data, or skip the test with a reason saying what is missing."""
    if not SHARED.is_dir():
        pytest.skip(f"real photos not available: {SHARED} is absent (set SKILLFORGE_SHARED_DATA)")
    return SHARED


def shared_models() -> Path:
    if not (MODELS / "yolo11n_int8_openvino_model").is_dir():
        pytest.skip(f"offline detector weights not available under {MODELS} (set SKILLFORGE_MODELS_DIR)")
    return MODELS


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SKILLFORGE_AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def names() -> ResourceNames:
    return ResourceNames(stage="test")


@pytest.fixture
def moto_aws(aws_credentials: None, names: ResourceNames) -> Iterator[dict[str, Any]]:
    """moto with the stack's buckets, catalog table and queues provisioned."""
    from moto import mock_aws

    from scripts.local.provision import provision

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queues = provision(names, s3, dynamodb, sqs)
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(names.catalog_table)
        yield {"s3": s3, "sqs": sqs, "dynamodb": dynamodb, "table": table, "queues": queues, "names": names}
