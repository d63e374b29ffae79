"""`skillforge report SKILL VERSION`: (re)write the PDF model report of an evaluated version from its
stored evaluation (versions, data, metrics vs current, confusion matrix, latency, decision, failures
with Grad-CAM heat maps)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scripts.commands.output import emit


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("report", help="write the PDF model report of an evaluated skill version")
    parser.add_argument("skill")
    parser.add_argument("version", type=int)
    parser.add_argument("--out", type=Path, default=Path("report.pdf"), help="PDF path (default: report.pdf)")
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.base.artifacts import join_uri
    from functions.core.gate.evaluation import load_evaluation
    from functions.core.gate.report import render_report
    from functions.core.skills.wiring import build_registry_skills
    from scripts.local.state import aws_or_local

    with aws_or_local(args.state):
        skills = build_registry_skills()
        entry = skills.entry(args.skill, args.version)
        uri = join_uri(join_uri(entry.artifact_uri, "evaluation"), "evaluation.json")
        if not skills.artifacts.exists(uri):
            raise FileNotFoundError(
                f"{uri}: version {args.version} was never evaluated (run `skillforge gate`)"
            )
        record = load_evaluation(skills.artifacts, uri)
        pdf = render_report(record, skills.artifacts, skills.load(args.skill, args.version))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(pdf)
    emit(
        f"{args.out}: {record.candidate.skill} v{record.candidate.skill_version}, "
        f"{record.decision.outcome.value}"
    )
    return 0
