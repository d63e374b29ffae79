"""`skillforge skills list|show|diff`: registered skill versions, their metrics and data set, the last gate
decision, and where each is deployed (every stage's run-time parameter under /skillforge/<stage>/skills/)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from scripts.commands.output import emit_json, emit_table

if TYPE_CHECKING:
    from functions.core.dashboard.overview import SkillsView


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("skills", help="registered skills: versions, metrics, where deployed")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="one row per skill: versions, latest, deployed stages")
    listing.add_argument("--format", choices=["table", "jsonl"], default="table")
    show = actions.add_parser("show", help="every version of a skill (or one), as JSON lines")
    show.add_argument("skill")
    show.add_argument("version", nargs="?", type=int, default=None)
    diff = actions.add_parser("diff", help="what changed between two versions of a skill")
    diff.add_argument("skill")
    diff.add_argument("old", type=int)
    diff.add_argument("new", type=int)
    for sub in (listing, show, diff):
        add_state_argument(sub)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scripts.local.state import aws_or_local

    with aws_or_local(args.state):
        view = _load_view()
    if args.action == "list":
        return _list(view, args.format)
    if args.action == "show":
        return _show(view, args.skill, args.version)
    return _diff(view, args.skill, args.old, args.new)


def _load_view() -> SkillsView:
    from functions.core.base.aws import client, resource
    from functions.core.dashboard.overview import SkillsView
    from functions.core.gate.settings import GateSettings

    settings = GateSettings()  # type: ignore[call-arg]
    table = resource("dynamodb", settings).Table(settings.catalog_table)
    return SkillsView.load(table, client("ssm", settings))


def _list(view: SkillsView, fmt: str) -> int:
    rows = [view.summary(skill) for skill in view.skills()]
    if fmt == "jsonl":
        for row in rows:
            emit_json(row)
        return 0
    emit_table(
        ["skill", "versions", "latest", "accuracy", "dataset", "gate", "deployed"],
        [
            [
                r["skill"],
                len(r["versions"]),
                f"v{r['latest']}" if r["latest"] else "-",
                r["latest_accuracy"] or "-",
                r["latest_dataset"] or "-",
                r["latest_gate"] or "-",
                ", ".join(f"{stage}=v{v}" for stage, v in r["deployed"].items()) or "-",
            ]
            for r in rows
        ],
    )
    return 0


def _show(view: SkillsView, skill: str, version: int | None) -> int:
    if version is not None:
        emit_json(view.row(view.get(skill, version)))
        return 0
    entries = view.of(skill)
    if not entries:
        raise ValueError(f"no registered skill {skill!r} (known: {', '.join(view.skills()) or 'none'})")
    for entry in entries:
        emit_json(view.row(entry))
    return 0


def _diff(view: SkillsView, skill: str, old: int, new: int) -> int:
    before, after = view.row(view.get(skill, old)), view.row(view.get(skill, new))
    changes: dict[str, Any] = {}
    for field in ("dataset_version", "code_version", "config_hash", "deployed_in"):
        if before[field] != after[field]:
            changes[field] = {"old": before[field], "new": after[field]}
    old_classes, new_classes = set(before["classes"]), set(after["classes"])
    if old_classes != new_classes:
        changes["classes"] = {
            "added": sorted(new_classes - old_classes),
            "removed": sorted(old_classes - new_classes),
        }
    metrics: dict[str, Any] = {}
    for key in sorted(set(before["metrics"]) | set(after["metrics"])):
        a, b = before["metrics"].get(key), after["metrics"].get(key)
        if a == b or not all(isinstance(v, int | float | str | None) for v in (a, b)):
            continue  # per-epoch curves and per-class tables: `skills show` has them
        entry: dict[str, Any] = {"old": a, "new": b}
        if isinstance(a, int | float) and isinstance(b, int | float):
            entry["delta"] = round(b - a, 6)
        metrics[key] = entry
    if metrics:
        changes["metrics"] = metrics
    emit_json({"skill": skill, "old": old, "new": new, "changes": changes}, indent=2)
    return 0
