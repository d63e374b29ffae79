"""Throughput of the local pipeline (upload → S3 event → queue → detect handler → crops + catalog).

Runs on the embedded emulator with the same handler code as the Lambda, and profiles the delivery.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from pathlib import Path
from typing import Any

PROFILE_LINES = 14
WRAPPER_SHARE = 0.9


def _short(function: tuple[str, int, str]) -> str:
    filename, line, name = function
    parts = Path(filename).parts
    for anchor in ("site-packages", "functions", "scripts"):
        if anchor in parts:
            index = parts.index(anchor)
            parts = parts[index + 1 :] if anchor == "site-packages" else parts[index:]
            break
    return f"{'/'.join(parts[-3:])}:{line}({name})"


def profile_summary(profile: cProfile.Profile, total_s: float) -> list[dict[str, Any]]:
    """Top functions by cumulative time (share of the measured wall time).

    The chain of wrappers around every record (delivery, powertools decorators, the handler) takes
    over 90% each and says nothing: frames above WRAPPER_SHARE are left out.
    """
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for function, (_cc, calls, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((cumulative, calls, function))
    rows.sort(key=lambda row: -row[0])
    top = [
        row
        for row in rows
        if not row[2][0].startswith("<") and "cProfile" not in row[2][0] and row[0] < WRAPPER_SHARE * total_s
    ][:PROFILE_LINES]
    return [
        {
            "function": _short(fn),
            "calls": calls,
            "cumulative_s": cum,
            "share": cum / total_s if total_s else 0.0,
        }
        for cum, calls, fn in top
    ]


def run_pipeline(photos: list[Path]) -> dict[str, Any]:
    """Upload the photos, deliver every event to the detect handler, and time it (profiled)."""
    from functions.core.base.catalog import DynamoCatalog
    from functions.core.detection.settings import DetectorSettings
    from scripts.local.delivery import drain_queue
    from scripts.local.emulator import running_emulator

    with running_emulator(stage="bench") as emulator:
        from functions.detect import handler as detect_handler

        detect_handler.deps.cache_clear()
        started = time.perf_counter()
        detect_handler.deps()  # cold start outside the throughput figure, as in the demo
        cold_s = time.perf_counter() - started
        s3 = emulator.client("s3")
        for index, path in enumerate(photos):
            s3.put_object(
                Bucket=emulator.names.raw_bucket,
                Key=f"bench/{path.parent.name}/{index:03d}-{path.name}",
                Body=path.read_bytes(),
            )
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        stats = drain_queue(
            emulator.client("sqs"), emulator.queues["detect_queue_url"], detect_handler.handler
        )
        profile.disable()
        elapsed = time.perf_counter() - started
        catalog = DynamoCatalog(emulator.resource("dynamodb").Table(emulator.names.catalog_table))
        records = list(catalog.iter_images())
        detect_handler.deps.cache_clear()
    return {
        "backend": DetectorSettings().detector_backend,
        "images": len(photos),
        "catalogued": len(records),
        "crops": sum(len(record.crop_ids) for record in records),
        "delivery_failures": stats.failures,
        "cold_start_s": cold_s,
        "elapsed_s": elapsed,
        "images_per_s": len(records) / elapsed if elapsed else 0.0,
        "profile": profile_summary(profile, elapsed),
    }
