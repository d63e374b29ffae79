"""`skillforge audit` / `skillforge redrive`: zero-loss accounting and DLQ redrive for a stage.

Both read the stage's resource names from the environment (SKILLFORGE_RAW_BUCKET, ...,
SKILLFORGE_DETECT_QUEUE, SKILLFORGE_DETECT_DLQ; SKILLFORGE_AWS_ENDPOINT_URL for an emulator).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from scripts.commands.output import emit, emit_json


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="reconcile the raw bucket with the catalog, crops and DLQ")
    audit.add_argument("--json", action="store_true", help="print the full report as JSON")
    audit.set_defaults(func=run_audit_command)
    redrive = subparsers.add_parser(
        "redrive",
        help="move detect DLQ messages back to the detect queue (cloud: an SQS message move task)",
    )
    redrive.add_argument("--limit", type=int, default=None, help="move at most this many messages")
    redrive.set_defaults(func=run_redrive_command)


def _queue_url(sqs: Any, name: str | None, variable: str) -> str:
    if not name:
        raise ValueError(f"{variable} is not set: name the queue of the stage")
    url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return url


def run_audit_command(args: argparse.Namespace) -> int:
    from functions.core.audit.gather import run_audit
    from functions.core.base.aws import client, resource
    from functions.core.base.catalog import DynamoCatalog
    from functions.core.base.storage import BlobStore
    from functions.core.detection.settings import PipelineSettings

    settings = PipelineSettings()  # type: ignore[call-arg]
    sqs = client("sqs", settings)
    report = run_audit(
        BlobStore(client("s3", settings)),
        DynamoCatalog(resource("dynamodb", settings).Table(settings.catalog_table)),
        settings.raw_bucket,
        settings.crops_bucket,
        sqs=sqs,
        dlq_url=_queue_url(sqs, settings.detect_dlq, "SKILLFORGE_DETECT_DLQ")
        if settings.detect_dlq
        else None,
    )
    print_report(report.model_dump(), as_json=args.json)
    return 0 if report.clean else 1


def print_report(report: dict[str, Any], as_json: bool = False) -> None:
    if as_json:
        emit(json.dumps(report, indent=2, ensure_ascii=False))
        return
    emit(f"uploads            {report['uploads']}")
    for state, count in sorted(report["terminal"].items()):
        emit(f"  {state:<16} {count}")
    emit(f"crops              {report['crops']}")
    for state, count in sorted(report["served"].items()):
        emit(f"  {state:<16} {count}")
    for reason, count in sorted(report["not_classified_reasons"].items()):
        emit(f"    {reason:<30} {count}")
    for name in (
        "missing",
        "duplicate_records",
        "orphan_records",
        "missing_crops",
        "orphan_crops",
        "dead_letter_keys",
    ):
        items = report[name]
        emit(f"{name:<18} {len(items)}" + (f"  e.g. {items[:5]}" if items else ""))
    for reason, count in sorted(report.get("dead_letter_reasons", {}).items()):
        emit(f"    {reason:<30} {count}")


def run_redrive_command(args: argparse.Namespace) -> int:
    from functions.core.audit.queues import redrive, start_redrive_task
    from functions.core.base.aws import client
    from functions.core.detection.settings import PipelineSettings

    settings = PipelineSettings()  # type: ignore[call-arg]
    sqs = client("sqs", settings)
    dlq = _queue_url(sqs, settings.detect_dlq, "SKILLFORGE_DETECT_DLQ")
    target = _queue_url(sqs, settings.detect_queue, "SKILLFORGE_DETECT_QUEUE")
    if settings.aws_endpoint_url is None and args.limit is None:
        started = start_redrive_task(sqs, dlq, target)
        emit_json({"redrive": "started", **started})
        return 0
    moved = redrive(sqs, dlq, target, limit=args.limit)
    emit_json({"redrive": "done", "moved": moved})
    return 0
