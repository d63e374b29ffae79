"""`skillforge audit` / `skillforge redrive`: zero-loss accounting and DLQ redrive for a stage.

Both read the stage's resource names from the environment (SKILLFORGE_RAW_BUCKET, ...,
SKILLFORGE_DETECT_QUEUE, SKILLFORGE_DETECT_DLQ; SKILLFORGE_AWS_ENDPOINT_URL for an emulator).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="reconcile the raw bucket with the catalog, crops and DLQ")
    audit.add_argument("--json", action="store_true", help="print the full report as JSON")
    audit.set_defaults(func=run_audit_command)
    redrive = subparsers.add_parser("redrive", help="move detect DLQ messages back to the detect queue")
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
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"uploads            {report['uploads']}")
    for state, count in sorted(report["terminal"].items()):
        print(f"  {state:<16} {count}")
    print(f"crops              {report['crops']}")
    for state, count in sorted(report["served"].items()):
        print(f"  {state:<16} {count}")
    for reason, count in sorted(report["not_classified_reasons"].items()):
        print(f"    {reason:<30} {count}")
    for name in (
        "missing",
        "duplicate_records",
        "orphan_records",
        "missing_crops",
        "orphan_crops",
        "dead_letter_keys",
    ):
        items = report[name]
        print(f"{name:<18} {len(items)}" + (f"  e.g. {items[:5]}" if items else ""))


def run_redrive_command(args: argparse.Namespace) -> int:
    from functions.core.audit.queues import redrive
    from functions.core.base.aws import client
    from functions.core.detection.settings import PipelineSettings

    settings = PipelineSettings()  # type: ignore[call-arg]
    sqs = client("sqs", settings)
    moved = redrive(
        sqs,
        _queue_url(sqs, settings.detect_dlq, "SKILLFORGE_DETECT_DLQ"),
        _queue_url(sqs, settings.detect_queue, "SKILLFORGE_DETECT_QUEUE"),
        limit=args.limit,
    )
    print(f"moved {moved} message(s) from the DLQ back to the detect queue")
    return 0
