"""`skillforge classify PATH...`: the full stack (detector → crop → classifier skills), one JSON line per
image; every car carries each stage's skill, skill version, code version and top-k alternatives."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from scripts.commands.models import require_model
from scripts.commands.output import emit


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("classify", help="detect and classify cars through the skill cascade")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    parser.add_argument("--cascade", default=None, help="cascade config (JSON file or inline JSON)")
    parser.add_argument(
        "--skill",
        action="append",
        default=[],
        metavar="NAME[@VERSION]",
        help="a classifier stage (repeatable)",
    )
    parser.add_argument(
        "--skills-dir", type=Path, default=None, help="local skill version folders (skill.json)"
    )
    add_state_argument(parser)
    parser.add_argument("--top-k", type=int, default=3)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.detection.settings import DetectorSettings
    from functions.core.detection.wiring import build_detector, detector_ref
    from functions.core.serving.cascade import Cascade
    from functions.core.serving.config import CascadeConfig, CascadeStage, load_cascade_config
    from functions.core.skills.resolver import FolderSkills, SkillSource
    from functions.core.skills.wiring import build_registry_skills
    from scripts.commands.detect import iter_files
    from scripts.local.state import aws_or_local

    pinned: dict[str, int | None] = {}
    for spec in args.skill:
        name, _, version = spec.partition("@")
        pinned[name] = int(version) if version else None
    if args.cascade:
        config = load_cascade_config(args.cascade)
        config.top_k = args.top_k
    elif pinned:
        config = CascadeConfig(stages=[CascadeStage(skill=name) for name in pinned], top_k=args.top_k)
    else:
        raise ValueError("name the classifier stages: --cascade FILE or --skill NAME[@VERSION]")
    settings = DetectorSettings()
    if settings.detector_backend != "ultralytics":
        require_model(settings.detector_model)
    with aws_or_local(args.state):
        source: SkillSource = FolderSkills(args.skills_dir) if args.skills_dir else build_registry_skills()
        cascade = Cascade.build(
            config,
            build_detector(settings),
            detector_ref(settings),
            settings,
            lambda name: source.load(name, pinned.get(name)),
        )
        for path in iter_files(args.paths):
            try:
                data = path.read_bytes()
            except OSError as exc:
                emit(json.dumps({"image": str(path), "status": "unreadable_file", "detail": str(exc)}))
                continue
            emit(cascade.run(data, str(path)).model_dump_json())
    return 0
