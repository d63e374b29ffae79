"""What the dashboard and `skillforge skills` show, read once from the catalog table and SSM."""

from __future__ import annotations

from collections import Counter
from typing import Any

from boto3.dynamodb.conditions import Attr
from pydantic import BaseModel, Field

from functions.core.base.catalog import DynamoCatalog, from_item
from functions.core.base.records import CropStatus, ImageStatus
from functions.core.gate.rule import GateRecord
from functions.core.skills.deployment import DeploymentStore
from functions.core.skills.registry import RegisteredSkill

NO_CLASS = "(no hint)"


class CatalogCounts(BaseModel):
    """Crops per class (expert class, else the upload's hint) and status; images per status."""

    crop_statuses: list[str] = Field(default_factory=lambda: [s.value for s in CropStatus])
    crops_by_status: dict[str, int]
    crops_by_class: dict[str, dict[str, int]]
    images_by_status: dict[str, int]


def catalog_counts(catalog: DynamoCatalog) -> CatalogCounts:
    by_status: Counter[str] = Counter()
    by_class: dict[str, Counter[str]] = {}
    for crop in catalog.iter_crops():
        label = crop.final_class or crop.variant_hint or NO_CLASS
        by_status[crop.status.value] += 1
        by_class.setdefault(label, Counter())[crop.status.value] += 1
    images: Counter[str] = Counter(image.status.value for image in catalog.iter_images())
    return CatalogCounts(
        crops_by_status={s.value: by_status.get(s.value, 0) for s in CropStatus},
        crops_by_class={label: dict(sorted(c.items())) for label, c in sorted(by_class.items())},
        images_by_status={s.value: images.get(s.value, 0) for s in ImageStatus},
    )


class SkillsView:
    """The registry, the gate log and every stage's deployment parameters, read once."""

    def __init__(
        self,
        versions: list[RegisteredSkill],
        gates: dict[tuple[str, int], GateRecord],
        deployed: dict[str, dict[str, int]],
    ) -> None:
        self.versions = versions
        self.gates = gates
        self.deployed = deployed

    @classmethod
    def load(cls, table: Any, ssm: Any) -> SkillsView:
        versions: list[RegisteredSkill] = []
        gates: dict[tuple[str, int], GateRecord] = {}
        kwargs: dict[str, Any] = {
            "FilterExpression": Attr("kind").eq("skill") | Attr("pk").begins_with("gate#")
        }
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
        return cls(sorted(versions, key=lambda v: (v.skill, v.skill_version)), gates, deployed)

    def skills(self) -> list[str]:
        return sorted({v.skill for v in self.versions} | set(self.deployed))

    def of(self, skill: str) -> list[RegisteredSkill]:
        return [v for v in self.versions if v.skill == skill]

    def get(self, skill: str, version: int) -> RegisteredSkill:
        for entry in self.of(skill):
            if entry.skill_version == version:
                return entry
        known = [v.skill_version for v in self.of(skill)]
        raise ValueError(f"skill {skill!r} has no version {version} (registered: {known or 'none'})")

    def stages_of(self, skill: str, version: int) -> list[str]:
        return sorted(stage for stage, v in self.deployed.get(skill, {}).items() if v == version)

    def row(self, entry: RegisteredSkill) -> dict[str, Any]:
        """One version: data set, code, classes, metrics, where deployed, its gate decision."""
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

    def summary(self, skill: str) -> dict[str, Any]:
        """One skill: its versions, the latest one's accuracy, data set and gate, where each stage is."""
        entries = self.of(skill)
        latest = entries[-1] if entries else None
        gate = self.gates.get((skill, latest.skill_version)) if latest else None
        return {
            "skill": skill,
            "versions": [e.skill_version for e in entries],
            "latest": latest.skill_version if latest else None,
            "deployed": dict(sorted(self.deployed.get(skill, {}).items())),
            "latest_accuracy": accuracy_text(latest.metrics) if latest else "",
            "latest_dataset": latest.dataset_version if latest else None,
            "latest_gate": gate.decision.outcome.value if gate else None,
        }

    def recent_gates(self, limit: int = 10) -> list[GateRecord]:
        records = sorted(self.gates.values(), key=lambda r: r.decision.decided_at, reverse=True)
        return records[:limit]


def accuracy_text(metrics: dict[str, Any]) -> str:
    for key in ("top1", "accuracy", "top1_accuracy", "val_top1"):
        value = metrics.get(key)
        if isinstance(value, int | float):
            return f"{value:.3f}"
    return ""
