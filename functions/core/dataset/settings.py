"""Dataset extraction settings: the catalog it reads, where data sets go, the split salt."""

from __future__ import annotations

from pydantic import Field

from functions.core.base.settings import AwsSettings


class ExtractSettings(AwsSettings):
    catalog_table: str
    artifacts_bucket: str
    split_salt: str = Field(default="skillforge", min_length=1, description="per-project split salt")
