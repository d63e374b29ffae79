"""`skillforge drift`: the drift table, per day, of incoming photos and served answers against the
training reference (the photos of train-side groups). Reads the catalog named by the environment, or
local mode's export (`--catalog out/catalog.jsonl`, written by the demo)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "drift", help="per-day drift of photo statistics and served answers against the training reference"
    )
    parser.add_argument("--catalog", type=Path, default=None, help="local mode: a catalog export (jsonl)")
    parser.add_argument("--days", type=int, default=7, help="the last N days, today included (default 7)")
    parser.add_argument("--day", action="append", default=None, help="a day YYYY-MM-DD (repeatable)")
    parser.add_argument("--skill", default="car-make", help="the skill whose answers are watched")
    parser.add_argument("--json", action="store_true", help="one JSON object per day instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.base.records import utc_now
    from functions.core.monitoring.drift import render_table
    from functions.core.monitoring.monitor import CatalogReader, DriftDeps, monitor
    from functions.core.monitoring.settings import DriftSettings
    from functions.core.monitoring.wiring import build_drift_deps
    from scripts.commands.output import emit, emit_json

    if args.days < 1:
        raise ValueError(f"--days must be at least 1, got {args.days}")
    now = utc_now()
    days = (
        [date.fromisoformat(d) for d in args.day]
        if args.day
        else [now.date() - timedelta(days=n) for n in range(args.days - 1, -1, -1)]
    )
    if args.catalog is not None:
        from scripts.local.catalog_export import ExportedCatalog

        catalog: CatalogReader = ExportedCatalog(args.catalog)
        deps = DriftDeps(catalog=catalog, settings=DriftSettings(), deployment="local", skill=args.skill)
    else:
        deps = replace(build_drift_deps(), skill=args.skill)
    rows = monitor(deps, days, now)
    if args.json:
        for row in rows:
            emit_json(row.model_dump())
    else:
        emit(render_table(rows))
    return 0
