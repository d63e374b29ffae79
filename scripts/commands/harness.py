"""`skillforge harness freeze SKILL FOLDER`: freeze a test harness for a skill from a folder of images
(`FOLDER/<class>/*` expected to be that class, `FOLDER/no-car/*` expected to have no car). The images
are copied under the artifacts bucket's harness/<skill>/; a frozen harness is only replaced with
--replace. `skillforge harness show SKILL` prints it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from scripts.commands.output import emit


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("harness", help="freeze or show a skill's regression test harness")
    parser.add_argument("action", choices=["freeze", "show"])
    parser.add_argument("skill")
    parser.add_argument("folder", nargs="?", type=Path, help="freeze: FOLDER/<class>/images, FOLDER/no-car/")
    parser.add_argument("--replace", action="store_true", help="replace an existing frozen harness")
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.base.artifacts import join_uri
    from functions.core.gate.regression import NO_CAR, Harness, HarnessCase
    from functions.core.gate.settings import GateSettings
    from functions.core.gate.wiring import build_evaluate_deps
    from scripts.commands.detect import iter_files
    from scripts.local.demo_run import IMAGE_SUFFIXES
    from scripts.local.state import aws_or_local

    with aws_or_local(args.state):
        settings = GateSettings()  # type: ignore[call-arg]
        deps = build_evaluate_deps(settings, detector=_no_detector())
        if args.action == "show":
            harness = deps.harnesses.load(args.skill)
            if harness is None:
                raise FileNotFoundError(f"skill {args.skill!r} has no frozen harness")
            emit(harness.model_dump_json(indent=2))
            return 0
        if args.folder is None or not args.folder.is_dir():
            raise FileNotFoundError(f"harness folder {args.folder} does not exist")
        cases: list[HarnessCase] = []
        for path in iter_files([args.folder]):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            label = path.relative_to(args.folder).parts[0]
            key = path.relative_to(args.folder).as_posix()
            uri = join_uri(settings.harness_uri, f"{args.skill}/images/{key}")
            deps.artifacts.write_bytes(uri, path.read_bytes())
            expected = NO_CAR if label == "no-car" else label
            cases.append(HarnessCase(case_id=key, image_uri=uri, expected=expected))
        harness = Harness.freeze(args.skill, cases, description=f"frozen from {args.folder}")
        uri = deps.harnesses.save(harness, replace=args.replace)
    counts: dict[str, int] = {}
    for case in harness.cases:
        counts[case.expected] = counts.get(case.expected, 0) + 1
    emit(json.dumps({"harness": uri, "version": harness.harness_version, "cases": counts}, indent=2))
    return 0


def _no_detector() -> Any:
    class NoDetector:  # freezing a harness runs no model
        def detect(self, image: Any) -> list[Any]:
            return []

    return NoDetector()
