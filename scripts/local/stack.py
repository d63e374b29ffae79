"""`skillforge up`: a running local stack that any S3 client can use.

The emulator (moto server) on 127.0.0.1, the stack's buckets, table and queues; event delivery
(S3 → SQS → the detect handler, polled like the event source mapping) and, in the same loop, the
stack's schedules (scripts/local/schedules.py: the labelling hand-off to local labelling jobs, the
drift monitor); the review page and the dashboard. Its state is kept in the state folder between
runs: what `save_state` keeps for the demo (registry, gate log, deployments, artifacts) plus, under
`stack/`, every catalog item and every object of the raw, crops and quarantine buckets.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.local.emulator import REGION, Emulator
from scripts.local.schedules import LocalSchedules
from scripts.local.state import restore_state, save_state

STACK_DIR = "stack"
ROLES = ("raw", "crops", "quarantine")


@dataclass
class Delivery:
    """A background thread delivering the detect queue's messages to the detect handler and running
    the schedules that are due (one loop: handlers never run concurrently)."""

    emulator: Emulator
    interval_s: float = 0.5
    schedules: LocalSchedules | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="event-delivery", daemon=True)
        self.delivered = 0
        self.failures = 0

    def start(self) -> None:
        """Warm the detect function first (model loaded, clients made), as a provisioned Lambda is."""
        from functions.detect import handler as detect_handler

        detect_handler.deps()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        from functions.detect import handler as detect_handler
        from scripts.local.delivery import drain_queue

        sqs = self.emulator.client("sqs")
        queue = self.emulator.queues["detect_queue_url"]
        while not self._stop.is_set():
            try:
                stats = drain_queue(sqs, queue, detect_handler.handler, max_empty_polls=1)
            except Exception as exc:  # keep delivering: a broken message goes to the DLQ by itself
                print(f"event delivery: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            else:
                self.delivered += stats.messages - stats.failures
                self.failures += stats.failures
            if self.schedules is not None and not self._stop.is_set():
                self.schedules.due()
            self._stop.wait(self.interval_s)


def bucket_names(emulator: Emulator) -> dict[str, str]:
    names = emulator.names
    return {
        "raw": names.raw_bucket,
        "crops": names.crops_bucket,
        "quarantine": names.quarantine_bucket,
        "artifacts": names.artifacts_bucket,
    }


def save_stack(emulator: Emulator, state_dir: Path) -> dict[str, int]:
    """The demo's state, then every catalog item and data-bucket object under `stack/`."""
    counts = save_state(emulator, state_dir)
    staging = state_dir / (STACK_DIR + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    dynamodb = emulator.client("dynamodb")  # typed items (S, N, SS, M, ...): restored exactly as they were
    items = 0
    with (staging / "catalog.jsonl").open("w", encoding="utf-8") as out:
        for page in dynamodb.get_paginator("scan").paginate(TableName=emulator.names.catalog_table):
            for item in page.get("Items", []):
                out.write(json.dumps(item) + "\n")
                items += 1
    s3 = emulator.client("s3")
    objects = 0
    buckets = bucket_names(emulator)
    for role in ROLES:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=buckets[role]):
            for obj in page.get("Contents", []):
                target = staging / "buckets" / role / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=buckets[role], Key=obj["Key"])["Body"].read())
                objects += 1
    shutil.rmtree(state_dir / STACK_DIR, ignore_errors=True)
    staging.rename(state_dir / STACK_DIR)
    return {**counts, "catalog_items": items, "objects": objects}


def restore_stack(emulator: Emulator, state_dir: Path) -> dict[str, int]:
    """Load what `save_stack` kept; the S3 events of the restored uploads are dropped (already done)."""
    counts = restore_state(emulator, state_dir)
    stack = state_dir / STACK_DIR
    items = objects = 0
    catalog = stack / "catalog.jsonl"
    if catalog.is_file():
        dynamodb = emulator.client("dynamodb")
        for line in catalog.read_text(encoding="utf-8").splitlines():
            if line.strip():
                dynamodb.put_item(TableName=emulator.names.catalog_table, Item=json.loads(line))
                items += 1
    s3 = emulator.client("s3")
    buckets = bucket_names(emulator)
    for role in ROLES:
        folder = stack / "buckets" / role
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                key = path.relative_to(folder).as_posix()
                s3.put_object(Bucket=buckets[role], Key=key, Body=path.read_bytes())
                objects += 1
    if objects:
        emulator.client("sqs").purge_queue(QueueUrl=emulator.queues["detect_queue_url"])
    return {**counts, "catalog_items": items, "objects": objects}


def scheduled_functions_env(emulator: Emulator, max_age_minutes: float = 0.0) -> dict[str, str]:
    """What the scheduled functions need locally beyond the stack's names: the hand-off creates local
    labelling jobs (kept in the artifacts bucket) with the stack's local ARNs, and sends crops as soon
    as they wait (SKILLFORGE_LABELLING_MAX_AGE_MINUTES, when set, wins)."""
    from scripts.local.stages.labelling import LOCAL_JOBS_ENV, local_labelling_settings

    settings = local_labelling_settings(REGION, emulator.names.stage)
    env = {LOCAL_JOBS_ENV: "true"}
    for name in ("role_arn", "pre_lambda_arn", "post_lambda_arn", "job_prefix"):
        env[f"SKILLFORGE_LABELLING_{name.upper()}"] = str(getattr(settings, name))
    env["SKILLFORGE_LABELLING_MAX_AGE_MINUTES"] = os.environ.get(
        "SKILLFORGE_LABELLING_MAX_AGE_MINUTES", f"{max_age_minutes:g}"
    )
    return env


@contextmanager
def delivering(emulator: Emulator, schedules: LocalSchedules | None = None) -> Iterator[Delivery]:
    delivery = Delivery(emulator, schedules=schedules)
    delivery.start()
    try:
        yield delivery
    finally:
        delivery.stop()


def wait_forever() -> None:
    while True:
        time.sleep(3600)
