"""Builds the dataset extraction's adapters from validated settings (Lambda, CLI and local mode)."""

from __future__ import annotations

from pydantic import Field

from functions.core.aws import client, resource
from functions.core.catalog import DynamoCatalog
from functions.core.dataset_io import ExtractDeps
from functions.core.settings import AwsSettings
from functions.core.storage import BlobStore


class ExtractSettings(AwsSettings):
    catalog_table: str
    artifacts_bucket: str
    split_salt: str = Field(default="skillforge", min_length=1, description="per-project split salt")


def build_extract_deps(settings: ExtractSettings | None = None) -> ExtractDeps:
    settings = settings or ExtractSettings()  # type: ignore[call-arg]
    return ExtractDeps(
        catalog=DynamoCatalog(resource("dynamodb", settings).Table(settings.catalog_table)),
        store=BlobStore(client("s3", settings)),
        artifacts_bucket=settings.artifacts_bucket,
        salt=settings.split_salt,
    )
