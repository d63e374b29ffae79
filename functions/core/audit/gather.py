"""Gathers what the audit reconciles from S3, the catalog and the dead-letter queue."""

from __future__ import annotations

from typing import Any

from functions.core.audit.queues import peek
from functions.core.audit.reconcile import AuditReport, reconcile
from functions.core.base.catalog import Catalog
from functions.core.base.storage import BlobStore


def run_audit(
    store: BlobStore,
    catalog: Catalog,
    raw_bucket: str,
    crops_bucket: str,
    sqs: Any = None,
    dlq_url: str | None = None,
) -> AuditReport:
    dead = peek(sqs, dlq_url) if sqs is not None and dlq_url else []
    return reconcile(
        raw_keys=store.list_keys(raw_bucket),
        images=catalog.iter_images(),
        crops=catalog.iter_crops(),
        crop_object_keys=store.list_keys(crops_bucket),
        dead_letter_keys=[key for key, _ in dead],
        dead_letter_reasons=[reason for _, reason in dead],
    )
