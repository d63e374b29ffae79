"""`skillforge promote SKILL VERSION --stage S`: the deliberate promotion command (the way to production).

Updates the stage's run-time parameter and rewrites the mapping file the CDK stack reads
(`infra/skill_versions.json`), or with --diff only prints the change; --commit also commits it.
`skillforge promote --sync --stage S` rewrites the file from the stage's parameters (after the
pipeline promoted by itself).
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from scripts.commands.output import emit, info


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("promote", help="deploy a skill version to a stage (deliberate command)")
    parser.add_argument("skill", nargs="?", help="skill name")
    parser.add_argument("version", nargs="?", type=int, help="registered version to deploy")
    parser.add_argument("--stage", required=True, help="stage to deploy to, e.g. staging or production")
    parser.add_argument("--reason", default="", help="why (recorded with the deployment)")
    parser.add_argument("--by", default=None, help="who decides (default: $USER)")
    parser.add_argument(
        "--mapping", type=Path, default=None, help="mapping file (default: infra/skill_versions.json)"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--diff", action="store_true", help="only print the mapping file change")
    group.add_argument("--commit", action="store_true", help="also git-commit the mapping file")
    parser.add_argument(
        "--sync", action="store_true", help="rewrite the mapping file from the stage's parameters"
    )
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from functions.core.base.aws import resource
    from functions.core.gate.settings import GateSettings
    from functions.core.skills.deployment import MappingEntry, MappingFile, promote
    from functions.core.skills.registry import SkillRegistry
    from functions.core.skills.settings import DeploymentSettings
    from functions.core.skills.wiring import build_deployments
    from scripts.local.state import aws_or_local, mapping_file

    with aws_or_local(args.state):
        mapping = (
            MappingFile(args.mapping)
            if args.mapping
            else mapping_file(args.state)
            if args.state
            else MappingFile()
        )
        deployments = build_deployments(DeploymentSettings(stage=args.stage))
        if args.sync:
            entries = {
                s: MappingEntry(version=d.version, artifact_uri=d.artifact_uri)
                for s, d in deployments.all().items()
            }
            loaded = mapping.load()
            loaded[args.stage] = entries
            new_text = MappingFile.render(loaded)
            diff = mapping.diff(new_text)
            if not args.diff and diff:
                mapping.write(new_text)
        else:
            if args.skill is None or args.version is None:
                raise ValueError("promote needs SKILL and VERSION (or --sync)")
            settings = GateSettings(stage=args.stage)  # type: ignore[call-arg]
            registry = SkillRegistry(resource("dynamodb", settings).Table(settings.catalog_table))
            result = promote(
                registry,
                deployments,
                args.skill,
                args.version,
                actor=args.by or os.environ.get("USER", "operator"),
                reason=args.reason,
                deliberate=True,
                mapping=mapping,
                write_mapping=not args.diff,
            )
            diff = result.mapping_diff
            before = f"v{result.previous.version}" if result.previous else "nothing"
            info(f"{args.skill}: {before} → v{args.version} in stage {args.stage}")
    emit(diff.rstrip("\n") if diff else f"{mapping.path}: no change")
    if args.commit and diff:
        subprocess.run(["git", "add", str(mapping.path)], check=True)
        message = (
            f"Deploy {args.skill} v{args.version} to {args.stage}"
            if not args.sync
            else f"Sync {args.stage} skill versions"
        )
        subprocess.run(["git", "commit", "-m", message, "--", str(mapping.path)], check=True)
    return 0
