"""boto3 clients, created once per process and pointed at AWS or at the local emulator."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from functions.core.base.settings import AwsSettings

_RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=60)
# SigV4 for S3: botocore still presigns with SigV2 by default, which newer regions refuse.
_S3 = _RETRIES.merge(Config(signature_version="s3v4"))


@cache
def _session(region: str) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def client(service: str, settings: AwsSettings | None = None) -> Any:
    settings = settings or AwsSettings()
    return _session(settings.aws_region).client(
        service,
        endpoint_url=settings.aws_endpoint_url,
        config=_S3 if service == "s3" else _RETRIES,  # type: ignore[call-overload]
    )


def resource(service: str, settings: AwsSettings | None = None) -> Any:
    settings = settings or AwsSettings()
    return _session(settings.aws_region).resource(
        service,
        endpoint_url=settings.aws_endpoint_url,
        config=_RETRIES,  # type: ignore[call-overload]
    )
