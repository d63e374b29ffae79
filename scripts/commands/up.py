"""`skillforge up`: the local stack, running until Ctrl-C (see scripts/local/stack.py).

Prints one JSON line on stdout: the emulator's endpoint and region, bucket, table and queue names,
the review page and dashboard URLs with their token, the schedules it runs, and the state folder.
Any S3 client can then use it (the AWS CLI with `--endpoint-url`, boto3); a photo uploaded to the raw
bucket is detected, cropped and catalogued within seconds, and the stack's schedules (labelling
hand-off, drift monitor) run every `--schedule-every` (default 30 s) in the same loop, logging on
stderr. Ctrl-C (or SIGTERM) stops it and saves the state.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scripts.commands.output import emit_json, info


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "up", help="run the local stack (emulator, events, review page, dashboard)"
    )
    parser.add_argument(
        "--state", type=Path, default=Path("out") / "state", help="state folder (default: out/state)"
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    parser.add_argument("--web-port", type=int, default=0, help="review page/dashboard port (default: free)")
    parser.add_argument(
        "--schedule-every",
        default="30s",
        metavar="DURATION",
        help="run each of the stack's schedules this often (30s, 5m, 1h; off: none) (default: 30s)",
    )
    parser.add_argument(
        "--schedule",
        action="append",
        default=[],
        metavar="NAME=DURATION",
        help="one schedule's own interval, e.g. drift-monitor=off (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scripts.local.dashboard_site import serving_site
    from scripts.local.emulator import REGION, running_emulator
    from scripts.local.review_server import new_token
    from scripts.local.schedules import LocalSchedules, intervals_for, parse_duration
    from scripts.local.stack import (
        bucket_names,
        delivering,
        restore_stack,
        save_stack,
        scheduled_functions_env,
        wait_forever,
    )

    intervals = intervals_for(parse_duration(args.schedule_every), args.schedule)  # bad input: before start
    signal.signal(signal.SIGTERM, _interrupt)
    token = os.environ.get("SKILLFORGE_REVIEW_TOKEN") or new_token()
    with running_emulator(port=args.port or None) as emulator:
        restored = restore_stack(emulator, args.state)
        info(f"restored from {args.state}: {restored}")
        os.environ.update(scheduled_functions_env(emulator))
        schedules = LocalSchedules(intervals)
        info(schedules.describe())
        try:
            with (
                serving_deployed(emulator),
                delivering(emulator, schedules),
                serving_site(emulator, token, args.state.parent / "runs", args.web_port) as url,
            ):
                emit_json(
                    {
                        "endpoint": emulator.endpoint_url,
                        "region": REGION,
                        "buckets": bucket_names(emulator),
                        "table": emulator.names.catalog_table,
                        "queues": {"detect": emulator.names.detect_queue, "dlq": emulator.names.detect_dlq},
                        "review": url,
                        "dashboard": url + "dashboard.html",
                        "token": token,
                        "schedules": {e.declared.name: e.interval_s for e in schedules.entries},
                        "state": str(args.state),
                        # what other skillforge commands need to talk to this stack (`records`, `audit`)
                        "env": {
                            k: v for k, v in emulator.function_env().items() if k.startswith("SKILLFORGE_")
                        },
                    }
                )
                raw = emulator.names.raw_bucket
                info(
                    f"upload: aws --endpoint-url {emulator.endpoint_url} s3 cp PHOTO s3://{raw}/<hint>/PHOTO\n"
                    "(any access key works; region us-east-1). Ctrl-C to stop."
                )
                wait_forever()
        except KeyboardInterrupt:
            info("stopping: saving the state …")
        saved = save_stack(emulator, args.state)
        info(f"saved to {args.state}: {saved}")
    return 0


@contextmanager
def serving_deployed(emulator: Any) -> Iterator[None]:
    """Uploads are also classified by the cascade of the skills deployed in the local stage, if any."""
    from functions.core.serving.config import CascadeConfig, CascadeStage
    from functions.core.skills.deployment import DeploymentStore
    from scripts.local.stages.serving import serving_env

    deployed = DeploymentStore(emulator.client("ssm"), emulator.names.stage, ttl_s=0).all()
    if not deployed:
        info("no skill deployed in the local stage: uploads are detected and cropped, not classified")
        yield
        return
    info(f"uploads are classified by the deployed skills: {', '.join(deployed)}")
    with serving_env(CascadeConfig(stages=[CascadeStage(skill=skill) for skill in deployed])):
        yield


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
