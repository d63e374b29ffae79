"""`skillforge make-skill CONFIG [--profile NAME] [--local|--publish]`: extract → train → register a
candidate.

--local trains on this machine (against the configured catalog/buckets, e.g. the local emulator);
otherwise the make-skill state machine runs the SageMaker training job. A cloud run also publishes the
config's launch template (`launch/<config>.json`), which the dashboard's Make skill button starts;
--publish only stages and publishes it, starting nothing.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from scripts.commands.output import emit, progress_from_metric_lines


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("make-skill", help="extract, train and register a candidate skill version")
    parser.add_argument("config", type=Path, help="skill config JSON (training/configs/*.json)")
    parser.add_argument(
        "--profile", default=None, help="hardware profile of the config (default: its default)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="train on this machine instead of SageMaker")
    where.add_argument(
        "--publish",
        action="store_true",
        help="only stage the config, code and weights and publish the launch template for the dashboard",
    )
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="local work folder (default: runs/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.base.aws import client, resource
    from functions.core.dataset.settings import ExtractSettings
    from functions.core.dataset.wiring import build_extract_deps
    from functions.core.skills.registry import SkillRegistry
    from training.config import load_config
    from training.transfer import models_folder

    config = load_config(args.config)
    settings = ExtractSettings()  # type: ignore[call-arg]
    extract_deps = build_extract_deps(settings)
    registry = SkillRegistry(resource("dynamodb", settings).Table(settings.catalog_table))
    models_dir = models_folder()
    if args.local:
        from training.skill_maker import LocalMakerDeps, make_skill_local

        with progress_from_metric_lines(f"training {config.skill}", total=config.training.epochs):
            made = make_skill_local(
                config, args.profile, LocalMakerDeps(extract_deps, registry, args.runs, models_dir)
            )
        emit(json.dumps(made.skill.model_dump(mode="json"), indent=1))
        return 0

    from training.launcher import LaunchDeps, launch, stage

    arn = os.environ.get("SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN")
    image = os.environ.get("SKILLFORGE_TRAINING_IMAGE_URI")
    if not arn or not image:
        raise ValueError(
            "set SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN and SKILLFORGE_TRAINING_IMAGE_URI (stack outputs) "
            "or use --local"
        )
    deps = LaunchDeps(
        sfn=client("stepfunctions", settings),
        store=extract_deps.store,
        registry=registry,
        artifacts_bucket=settings.artifacts_bucket,
        state_machine_arn=arn,
        image_uri=image,
        models_dir=models_dir,
    )
    if args.publish:
        template = stage(config, args.config.stem, args.profile, deps)
        emit(template.model_dump_json(indent=1))
        return 0
    emit(json.dumps(launch(config, args.config.stem, args.profile, deps), indent=1))
    return 0
