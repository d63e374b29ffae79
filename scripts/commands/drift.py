"""`skillforge drift`: the drift table, per day, of incoming photos and served answers against the
training reference (the train split of the deployed skill version's lineage), and its chart (PNG,
path on stderr). Reads the catalog and deployment named by the environment, or local mode's export
(`--catalog out/catalog.jsonl`, written by the demo with the deployed versions' lineage)."""

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
    parser.add_argument(
        "--chart",
        type=Path,
        default=None,
        help="the chart's PNG (default: drift.png beside --catalog, else in the current folder)",
    )
    parser.add_argument("--no-chart", action="store_true", help="print the table only")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.base.records import utc_now
    from functions.core.monitoring.charts import DRIFT_CHART, drift_chart
    from functions.core.monitoring.drift import render_table
    from functions.core.monitoring.monitor import DriftDeps, monitor
    from functions.core.monitoring.settings import DriftSettings
    from functions.core.monitoring.wiring import build_drift_deps
    from scripts.commands.output import emit, emit_json, info

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

        export = ExportedCatalog(args.catalog)
        deps = DriftDeps(
            catalog=export, reference=export, settings=DriftSettings(), deployment="local", skill=args.skill
        )
    else:
        deps = replace(build_drift_deps(), skill=args.skill)
    drift = monitor(deps, days, now)
    info(f"drift against {drift.reference_text()}")
    if args.json:
        for row in drift.rows:
            emit_json(row.model_dump())
    else:
        emit(render_table(drift.rows))
    if not args.no_chart:
        path = args.chart or (args.catalog.parent if args.catalog else Path()) / DRIFT_CHART
        path.parent.mkdir(parents=True, exist_ok=True)
        drift_chart(drift, deps.settings.alarm_threshold, path)
        info(f"drift chart: {path}")
    return 0
