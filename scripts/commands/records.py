"""`skillforge records [--image ID] [--since T] [--skill S]`: the catalog read back as JSON lines.

One line per image: `{"image": {...}, "crops": [{..., "served": {...}}]}`, with the detector's and
every served stage's skill, skill version and code version. Reads the stage named by the environment
(SKILLFORGE_CATALOG_TABLE, SKILLFORGE_AWS_ENDPOINT_URL for an emulator).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from scripts.commands.output import emit


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-30T18:00Z)"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("records", help="print catalog records with their answers and versions")
    parser.add_argument("--image", default=None, metavar="ID", help="one image (its id)")
    parser.add_argument(
        "--since",
        type=_timestamp,
        default=None,
        metavar="T",
        help="processed or answered at/after T (ISO 8601)",
    )
    parser.add_argument("--skill", default=None, metavar="S", help="only crops answered by skill S")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.base.aws import resource
    from functions.core.base.catalog import DynamoCatalog
    from functions.core.serving.readback import read_records
    from functions.core.serving.settings import CatalogSettings

    settings = CatalogSettings()  # type: ignore[call-arg]
    catalog = DynamoCatalog(resource("dynamodb", settings).Table(settings.catalog_table))
    for entry in read_records(catalog, args.image, args.since, args.skill):
        emit(entry.model_dump_json(exclude_none=True))
    return 0
