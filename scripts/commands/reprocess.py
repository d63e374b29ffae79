"""`skillforge reprocess --skill NAME [--version V] [--prefix P]`: re-answer stored crops with one skill
version pinned (e.g. after a promotion), idempotently.

Prints the plan first (item count, batches, cost estimate: one JSON line), then runs it:
  * cloud (SKILLFORGE_REPROCESS_STATE_MACHINE_ARN or --state-machine): starts the Step Functions
    Distributed Map over the crops bucket listing and prints the execution ARN;
  * otherwise (local mode, --state, or an emulator in the environment): the same batch function runs
    over the listing in batches, and the summed counts are printed.
A re-run updates nothing: crops already answered by the version are skipped.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser(
        "reprocess", help="re-classify stored crops with a skill version (idempotent)"
    )
    parser.add_argument("--skill", required=True, help="the cascade stage to re-answer, e.g. car-make")
    parser.add_argument("--version", type=int, default=None, help="registered version (default: deployed)")
    parser.add_argument(
        "--prefix", default="crops/", help="crop object keys under this prefix (default crops/)"
    )
    parser.add_argument(
        "--cascade",
        default=None,
        help="cascade config, JSON or file (default SKILLFORGE_CASCADE, else the skill alone)",
    )
    parser.add_argument("--state-machine", default=None, help="cloud: the reprocess state machine ARN")
    parser.add_argument("--dry-run", action="store_true", help="print the plan only")
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scripts.local.state import aws_or_local

    with aws_or_local(args.state):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from functions.core.base.aws import client
    from functions.core.base.storage import BlobStore
    from functions.core.serving.config import CascadeConfig, load_cascade_config
    from functions.core.serving.reprocess import ReprocessRequest, pinned_version, plan
    from functions.core.serving.settings import ReprocessSettings
    from functions.core.serving.wiring import build_reprocess_deps
    from scripts.commands.output import emit_json

    settings = ReprocessSettings()  # type: ignore[call-arg]
    if args.cascade:
        settings.cascade = load_cascade_config(args.cascade)
    elif settings.cascade is None:
        settings.cascade = CascadeConfig.single(args.skill)
    request = ReprocessRequest(skill=args.skill, version=args.version, prefix=args.prefix)
    deps = build_reprocess_deps(settings)
    version, _ = pinned_version(request, deps)
    keys = [k for k in BlobStore(client("s3", settings)).list_keys(settings.crops_bucket, request.prefix)]
    the_plan = plan(
        request,
        version,
        len(keys),
        batch_size=settings.reprocess_batch_size,
        max_concurrency=settings.reprocess_max_concurrency,
        ms_per_crop=settings.reprocess_ms_per_crop,
        memory_mb=settings.reprocess_memory_mb,
    )
    emit_json({"plan": the_plan.model_dump()})
    if args.dry_run:
        return 0
    machine = args.state_machine or settings.reprocess_state_machine_arn
    pinned = request.model_copy(update={"version": version})
    if machine:
        execution = client("stepfunctions", settings).start_execution(
            stateMachineArn=machine, input=pinned.model_dump_json()
        )
        emit_json({"execution_arn": execution["executionArn"]})
        return 0
    return _run_local(keys, pinned, deps, settings.reprocess_batch_size)


def _run_local(keys: list[str], request: Any, deps: Any, batch_size: int) -> int:
    """The batch function of the cloud run (what each Distributed Map batch runs), over the same listing."""
    from functions.core.serving.reprocess import ReprocessResult, reprocess_batch
    from scripts.commands.output import emit_json, progress

    total = ReprocessResult()
    with progress("reprocess", len(keys)) as bar:
        for start in range(0, len(keys), batch_size):
            batch = keys[start : start + batch_size]
            total = total.add(reprocess_batch(batch, request, deps))
            bar.advance(len(batch))
    emit_json({"result": total.model_dump()})
    return 0
