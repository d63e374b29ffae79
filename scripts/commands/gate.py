"""`skillforge gate SKILL VERSION`: run the regression gate for a registered version (what the evaluate
step of train-and-gate does): candidate vs deployed on the frozen harness + replayed records, gate
decision, PDF report stored next to the model; --promote applies a "promote" decision to the stage."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from scripts.commands.output import emit


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("gate", help="regression-test a skill version against the deployed one")
    parser.add_argument("skill")
    parser.add_argument("version", type=int)
    parser.add_argument(
        "--gate-config", type=Path, default=None, help="GateConfig JSON (margins, tolerances)"
    )
    parser.add_argument("--out", type=Path, default=None, help="copy report.pdf and evaluation.json here")
    parser.add_argument(
        "--promote", action="store_true", help="promote when the gate says so (not production)"
    )
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.gate.evaluation import (
        EvaluateRequest,
        evaluate_candidate,
        summarize,
        write_local_copy,
    )
    from functions.core.gate.rule import GateConfig, GateOutcome
    from functions.core.gate.wiring import build_evaluate_deps
    from functions.core.skills.deployment import promote
    from scripts.local.state import aws_or_local

    gate = GateConfig.model_validate_json(args.gate_config.read_text()) if args.gate_config else None
    with aws_or_local(args.state):
        deps = build_evaluate_deps()
        record = evaluate_candidate(
            EvaluateRequest(skill=args.skill, skill_version=args.version, gate=gate), deps
        )
        summary = summarize(record)
        if args.out:
            write_local_copy(deps.artifacts, record, args.out)
        if args.promote and summary.outcome is GateOutcome.PROMOTE:
            promote(deps.registry, deps.deployments, args.skill, args.version, actor="skillforge gate")
    emit(json.dumps(summary.model_dump(mode="json"), indent=2))
    return 0 if summary.outcome is GateOutcome.PROMOTE else 3
