"""`skillforge handoff` / `skillforge import-labels`: the labelling Lambdas' use cases, run by hand."""

from __future__ import annotations

import argparse
import json
from typing import Any

from scripts.commands.output import emit, info


def register(subparsers: Any) -> None:
    handoff = subparsers.add_parser(
        "handoff",
        help="send the next batch of new crops to a Ground Truth labelling job (SKILLFORGE_LABELLING_*)",
    )
    handoff.add_argument("--force", action="store_true", help="send waiting crops now, whatever their age")
    handoff.set_defaults(func=run_handoff)
    importer = subparsers.add_parser("import-labels", help="import a finished labelling job into the catalog")
    importer.add_argument("job", help="labelling job name")
    importer.set_defaults(func=run_import)


def run_handoff(args: argparse.Namespace) -> int:
    from functions.core.labelling.handoff import hand_off, reward_per_task
    from functions.core.labelling.wiring import build_handoff_deps

    deps = build_handoff_deps()
    reward = reward_per_task(deps.settings.seconds_per_task, deps.settings.hourly_rate_usd)
    info(
        f"reward per task: ${reward.price_usd} (exact ${reward.exact_usd} for "
        f"{deps.settings.seconds_per_task} s at ${deps.settings.hourly_rate_usd}/h; "
        f"effective ${reward.effective_hourly_usd}/h)"
    )
    result = hand_off(deps, force=args.force)
    emit(json.dumps(result.__dict__ if result else {"job": None, "crops": 0}))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from functions.core.labelling.label_import import import_job
    from functions.core.labelling.wiring import build_import_deps

    result = import_job(args.job, build_import_deps())
    emit(json.dumps(result.summary(), indent=2))
    return 1 if result.problems else 0
