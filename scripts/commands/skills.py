"""`skillforge skills list|show|diff`: registered skill versions, their metrics and data set, the last gate
decision, and where each is deployed (every stage's run-time parameter under /skillforge/<stage>/skills/)."""

from __future__ import annotations

import argparse
from typing import Any

from scripts.commands.output import emit_json, emit_table


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
    from boto3.dynamodb.conditions import Attr

    from functions.core.base.aws import client, resource
    from functions.core.base.catalog import from_item
    from functions.core.gate.rule import GateRecord
    from functions.core.gate.settings import GateSettings
    from functions.core.skills.deployment import DeploymentStore
    from functions.core.skills.registry import RegisteredSkill

    settings = GateSettings()  # type: ignore[call-arg]
    table = resource("dynamodb", settings).Table(settings.catalog_table)
    versions: list[RegisteredSkill] = []
    gates: dict[tuple[str, int], GateRecord] = {}
    kwargs: dict[str, Any] = {"FilterExpression": Attr("kind").eq("skill") | Attr("pk").begins_with("gate#")}
    while True:
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            data = {k: v for k, v in from_item(item).items() if k not in {"pk", "kind"}}
            if str(item["pk"]).startswith("gate#"):
                record = GateRecord.model_validate(data)
                gates[(record.decision.skill, record.decision.candidate_version)] = record
            else:
                versions.append(RegisteredSkill.model_validate(data))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    ssm = client("ssm", settings)
    stages: set[str] = set()
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/skillforge/", Recursive=True):
        for parameter in page.get("Parameters", []):
            parts = parameter["Name"].strip("/").split("/")  # skillforge/<stage>/skills/<skill>
            if len(parts) == 4 and parts[2] == "skills":
                stages.add(parts[1])
    deployed: dict[str, dict[str, int]] = {}
    for stage in sorted(stages):
        for skill, value in DeploymentStore(ssm, stage).all().items():
            deployed.setdefault(skill, {})[stage] = value.version
    return SkillsView(sorted(versions, key=lambda v: (v.skill, v.skill_version)), gates, deployed)


class SkillsView:
    """What the registry, the gate log and the deployment parameters say, read once."""

    def __init__(
        self, versions: list[Any], gates: dict[tuple[str, int], Any], deployed: dict[str, dict[str, int]]
    ) -> None:
        self.versions = versions
        self.gates = gates
        self.deployed = deployed

    def skills(self) -> list[str]:
        return sorted({v.skill for v in self.versions} | set(self.deployed))

    def of(self, skill: str) -> list[Any]:
        return [v for v in self.versions if v.skill == skill]

    def get(self, skill: str, version: int) -> Any:
        for entry in self.of(skill):
            if entry.skill_version == version:
                return entry
        known = [v.skill_version for v in self.of(skill)]
        raise ValueError(f"skill {skill!r} has no version {version} (registered: {known or 'none'})")

    def stages_of(self, skill: str, version: int) -> list[str]:
        return sorted(stage for stage, v in self.deployed.get(skill, {}).items() if v == version)

    def row(self, entry: Any) -> dict[str, Any]:
        gate = self.gates.get((entry.skill, entry.skill_version))
        return {
            "skill": entry.skill,
            "version": entry.skill_version,
            "created_at": entry.created_at.isoformat(timespec="seconds"),
            "dataset_version": entry.dataset_version,
            "code_version": entry.code_version,
            "config_hash": entry.config_hash,
            "classes": entry.classes,
            "metrics": entry.metrics,
            "deployed_in": self.stages_of(entry.skill, entry.skill_version),
            "gate": None
            if gate is None
            else {
                "outcome": gate.decision.outcome.value,
                "accuracy": gate.decision.candidate_accuracy,
                "accuracy_delta": gate.decision.accuracy_delta,
                "report_uri": gate.report_uri,
                "override_by": gate.override_by,
            },
            "artifact_uri": entry.artifact_uri,
        }


def _accuracy(metrics: dict[str, Any]) -> str:
    for key in ("top1", "accuracy", "top1_accuracy", "val_top1"):
        value = metrics.get(key)
        if isinstance(value, int | float):
            return f"{value:.3f}"
    return ""


def _list(view: SkillsView, fmt: str) -> int:
    rows: list[dict[str, Any]] = []
    for skill in view.skills():
        entries = view.of(skill)
        latest = entries[-1] if entries else None
        gate = view.gates.get((skill, latest.skill_version)) if latest else None
        rows.append(
            {
                "skill": skill,
                "versions": [e.skill_version for e in entries],
                "latest": latest.skill_version if latest else None,
                "deployed": dict(sorted(view.deployed.get(skill, {}).items())),
                "latest_accuracy": _accuracy(latest.metrics) if latest else "",
                "latest_dataset": latest.dataset_version if latest else None,
                "latest_gate": gate.decision.outcome.value if gate else None,
            }
        )
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
