"""Extract Lambda (first step of the make-skill state machine): skill + dataset spec → data set files.

Parse, delegate, return what the training step needs (dataset version and S3 URIs, counts).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.core.dataset.extract import ExtractDeps, extract_from_catalog
from functions.core.dataset.spec import DatasetSpec
from functions.core.dataset.wiring import build_extract_deps

logger, metrics, tracer = Logger(), Metrics(), Tracer()


class ExtractRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    skill: str
    dataset: DatasetSpec


@cache
def deps() -> ExtractDeps:
    return build_extract_deps()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ExtractRequest.model_validate(event)
    extraction, manifest = extract_from_catalog(request.skill, request.dataset, deps())
    metrics.add_metric(
        name="records_extracted", unit=MetricUnit.Count, value=extraction.report.records_matched
    )
    logger.info(
        "dataset extracted", extra={"skill": request.skill, "dataset_version": manifest.dataset_version}
    )
    prefix = manifest.files["data"].rsplit("/", 1)[0] + "/"
    return {
        "dataset_version": manifest.dataset_version,
        "dataset_uri": prefix,
        "data_uri": manifest.files["data"],
        "crops_manifest_uri": manifest.files["crops_manifest"],
        "manifest_uri": manifest.files["manifest"],
        "classes": manifest.classes,
        "excluded_classes": manifest.report.excluded_classes,
        "counts": manifest.counts,
    }
