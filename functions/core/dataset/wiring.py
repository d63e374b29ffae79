"""Builds the dataset extraction's adapters from validated settings (Lambda, CLI and local mode)."""

from __future__ import annotations

from functions.core.base.aws import client, resource
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import ExtractDeps
from functions.core.dataset.settings import ExtractSettings


def build_extract_deps(settings: ExtractSettings | None = None) -> ExtractDeps:
    settings = settings or ExtractSettings()  # type: ignore[call-arg]
    return ExtractDeps(
        catalog=DynamoCatalog(resource("dynamodb", settings).Table(settings.catalog_table)),
        store=BlobStore(client("s3", settings)),
        artifacts_bucket=settings.artifacts_bucket,
        salt=settings.split_salt,
    )
