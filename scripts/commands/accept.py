"""`skillforge accept SKILL VERSION --by NAME --reason TEXT --stage S`: a person overrides a
"needs investigation" decision (e.g. a tiny accuracy loss for a big speed-up). Records who, why and
when on the version's gate decision, then promotes it to the stage (unless --record-only)."""

from __future__ import annotations

import argparse
from typing import Any

from scripts.commands.output import emit


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("accept", help="accept a version the gate held back (recorded override)")
    parser.add_argument("skill")
    parser.add_argument("version", type=int)
    parser.add_argument("--by", required=True, help="who decides")
    parser.add_argument("--reason", required=True, help="why, e.g. '-0.4%% accuracy for 3x faster'")
    parser.add_argument("--stage", required=True, help="stage to promote to")
    parser.add_argument("--record-only", action="store_true", help="record the decision, do not promote")
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.base.aws import resource
    from functions.core.gate.rule import GateLog
    from functions.core.gate.settings import GateSettings
    from functions.core.skills.deployment import DeploymentStore, promote
    from functions.core.skills.registry import SkillRegistry
    from functions.core.skills.wiring import build_deployments
    from scripts.local.state import aws_or_local, mapping_file

    with aws_or_local(args.state):
        settings = GateSettings(stage=args.stage)  # type: ignore[call-arg]
        table = resource("dynamodb", settings).Table(settings.catalog_table)
        record = GateLog(table).accept(args.skill, args.version, by=args.by, reason=args.reason)
        emit(
            f"recorded: {args.by} accepts {args.skill} v{args.version} "
            f"({record.decision.outcome.value} by the gate)"
        )
        if not args.record_only:
            deployments: DeploymentStore = build_deployments(settings)
            result = promote(
                SkillRegistry(table),
                deployments,
                args.skill,
                args.version,
                actor=args.by,
                reason=f"accepted by {args.by}: {args.reason}",
                deliberate=True,
                mapping=mapping_file(args.state) if args.state else None,
            )
            emit(
                f"promoted {args.skill} v{args.version} to {args.stage}"
                + (f" (was v{result.previous.version})" if result.previous else "")
            )
    return 0
