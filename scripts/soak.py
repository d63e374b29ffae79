"""`make soak`: load and fault test of local mode (bounded in count and time, loopback only).

Uploads N images (real photos, synthetic scenes, 10% bad inputs, keys with spaces and unicode),
re-sends 10% of the S3 events (duplicates), and injects faults while the detect handler drains the
queue: S3/DynamoDB throttling and 5xx answers, crashes mid-batch, invocations that time out
half-way. Then it redrives the DLQ and audits: every upload must be in exactly one terminal
state, with no duplicate records or crops and nothing left in a DLQ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # before the functions' loggers exist

from functions.core.audit.gather import run_audit
from functions.core.audit.queues import redrive
from functions.core.base.catalog import DynamoCatalog
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.detection.wiring import build_detect_deps, build_detector
from scripts.commands.output import progress, results_on_stdout
from scripts.local import corpus
from scripts.local.delivery import DeliveryStats, drain_queue
from scripts.local.emulator import Emulator, running_emulator
from scripts.local.faults import CrashingDetector, FaultPlan, with_timeouts

REPO = Path(__file__).resolve().parents[1]
NAMES = ["Käfer", "Škoda Octavia", "日産 スカイライン", "Citroën DS", "Mercedes-Benz W123", "Fiat 500 (1957)"]


def real_photos() -> list[bytes]:
    folders = [REPO / "samples" / "images" / "road-scenes"]
    shared = os.environ.get("SKILLFORGE_SHARED_DATA")
    if shared and (Path(shared) / "cars").is_dir():
        folders.append(Path(shared) / "cars")
    return [p.read_bytes() for folder in folders for p in sorted(folder.iterdir()) if p.is_file()]


def build_uploads(count: int, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    photos = real_photos()
    bad = list(corpus.BAD_INPUTS.values())
    uploads: dict[str, bytes] = {}
    for i in range(count):
        hint = rng.choice(NAMES)
        group = f"advert {i // 4:05d}"
        roll = i % 10
        if roll == 0:
            data, name = bad[i // 10 % len(bad)], f"bad input {i:05d}.jpg"
        elif roll in {1, 2, 3}:
            data, name = photos[i % len(photos)], f"Foto Nr. {i:05d} – außen.jpg"
        else:
            data, name = corpus.scene(seed * 100_000 + i), f"scene {i:05d}.jpg"
        uploads[f"{hint}/{group}/{name}"] = data
    return uploads


def s3_event(bucket: str, key: str, size: int, etag: str, version_id: str | None = None) -> str:
    """A re-sent S3 notification of one object version (what S3 may deliver twice)."""
    obj: dict[str, object] = {"key": quote_plus(key), "size": size, "eTag": etag}
    if version_id:
        obj["versionId"] = version_id
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2026-11-23T00:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": obj},
                }
            ]
        }
    )


def queue_depth(emulator: Emulator, url: str) -> int:
    attributes = emulator.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def soak(count: int, max_seconds: float, plan: FaultPlan, out: Path | None = None) -> dict[str, Any]:
    from functions.detect import handler as detect_handler

    started = time.perf_counter()
    with running_emulator(stage="soak") as emulator:
        names = emulator.names
        s3, sqs = emulator.client("s3"), emulator.client("sqs")
        queue, dlq = emulator.queues["detect_queue_url"], emulator.queues["detect_dlq_url"]
        settings = PipelineSettings()  # type: ignore[call-arg]
        detector = CrashingDetector(build_detector(DetectorSettings()), plan)
        deps = build_detect_deps(settings, detector=detector)
        plan.attach_to(deps.store.s3, "s3")
        plan.attach_to(deps.catalog.table.meta.client, "dynamodb")  # type: ignore[attr-defined]
        detect_handler.deps = lambda: deps  # type: ignore[assignment]
        handler = with_timeouts(detect_handler.handler, plan)

        uploads = build_uploads(count, plan.seed)
        rng = random.Random(plan.seed)
        duplicates = 0
        for key, data in uploads.items():
            put = s3.put_object(Bucket=names.raw_bucket, Key=key, Body=data)
            if rng.random() < 0.10:
                event = s3_event(
                    names.raw_bucket, key, len(data), put["ETag"].strip('"'), put.get("VersionId")
                )
                sqs.send_message(QueueUrl=queue, MessageBody=event)
                duplicates += 1
        print(f"uploaded {len(uploads)} images, {duplicates} duplicate events", file=sys.stderr, flush=True)

        stats = DeliveryStats()
        redriven = 0
        processing_started = time.perf_counter()
        timed_out = False
        with progress("soak: messages handled", total=len(uploads) + duplicates) as bar:
            for _round in range(10):
                drained = drain_queue(
                    sqs, queue, handler, on_batch=_progress(bar), deadline=started + max_seconds
                )
                stats.batches += drained.batches
                stats.messages += drained.messages
                stats.failures += drained.failures
                if time.perf_counter() - started > max_seconds:
                    timed_out = True
                    break
                if queue_depth(emulator, dlq) == 0 and queue_depth(emulator, queue) == 0:
                    break
                redriven += redrive(sqs, dlq, queue)
        processing_s = time.perf_counter() - processing_started

        plan.aws_error_rate = 0.0  # the audit itself reads without injected faults
        catalog = DynamoCatalog(emulator.resource("dynamodb").Table(names.catalog_table))
        report = run_audit(deps.store, catalog, names.raw_bucket, names.crops_bucket, sqs=sqs, dlq_url=dlq)
        crop_records = report.crops
        images = list(catalog.iter_images())
        referenced = sum(len(r.crop_ids) for r in images)
    figures = {
        "images": len(uploads),
        "duplicate_events_sent": duplicates,
        "faults_injected": dict(plan.injected),
        "faults_total": sum(plan.injected.values()),
        "sdk_retries": sum(v for k, v in plan.injected.items() if k.startswith(("s3_", "dynamodb_"))),
        "sqs_deliveries": stats.messages,
        "failed_deliveries": stats.failures,
        "redriven_from_dlq": redriven,
        "losses": len(report.missing),
        "duplicates": len(report.duplicate_records) + len(report.orphan_crops) + (crop_records - referenced),
        "left_in_dlq": report.dead_letters,
        "terminal_states": report.terminal,
        "quarantine_reasons": report.quarantine_reasons,
        "throughput_images_per_s": round(len(uploads) / processing_s, 2),
        "processing_seconds": round(processing_s, 1),
        "stopped_at_time_limit": timed_out,
    }
    if out is None:
        return figures
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return figures


def _progress(bar: Any) -> Any:
    def report(count: int) -> None:
        bar.advance(count)

    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=1200.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args(argv)
    if not 1 <= args.images <= 20_000:
        parser.error("--images must be between 1 and 20000")
    with results_on_stdout():  # handler logs and metrics on stderr, the figures alone on stdout
        figures = soak(args.images, args.max_seconds, FaultPlan(seed=args.seed), args.out)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    ok = figures["losses"] == 0 and figures["duplicates"] == 0 and figures["left_in_dlq"] == 0
    ok = ok and not figures["stopped_at_time_limit"]
    print("SOAK PASSED: 0 lost, 0 duplicated" if ok else "SOAK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
