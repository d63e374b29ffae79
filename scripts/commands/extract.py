"""`skillforge extract CONFIG`: build the data set of a skill from the verified crops in the catalog."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from scripts.commands.output import emit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("extract", help="extract a skill's data set (split, min count, balance)")
    parser.add_argument("config", type=Path, help="skill config JSON (training/configs/*.json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.dataset.extract import extract_from_catalog
    from functions.core.dataset.wiring import build_extract_deps
    from training.config import load_config

    config = load_config(args.config)
    _, manifest = extract_from_catalog(config.skill, config.dataset, build_extract_deps())
    emit(json.dumps(manifest.model_dump(mode="json"), indent=1))
    return 0
