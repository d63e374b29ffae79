"""Ground Truth post-annotation (consolidation) Lambda: workers' answers → one answer per crop
(Dawid-Skene by default, SKILLFORGE_LABELLING_CONSOLIDATION=majority for the plain vote)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.base.storage import BlobStore
from functions.core.labelling.consolidation import post_annotation
from functions.core.labelling.handoff import split_s3_uri
from functions.core.labelling.settings import LabellingSettings
from functions.core.labelling.wiring import build_store

logger = Logger()


@cache
def store() -> BlobStore:
    return build_store()


@cache
def settings() -> LabellingSettings:
    return LabellingSettings()


def _read(uri: str) -> str:
    return store().get(*split_s3_uri(uri)).data.decode("utf-8")


def _invalid(object_id: str, problem: str) -> None:
    logger.warning(
        "unreadable worker answer left out of the vote", extra={"object": object_id, "problem": problem}
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> list[dict[str, Any]]:
    return post_annotation(event, _read, _invalid, method=settings().consolidation)
