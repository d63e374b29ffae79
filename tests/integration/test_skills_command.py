"""`skillforge skills list|show|diff --state`: registry, gate log and deployments of a saved local state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.core.gate.rule import GateConfig, GateDecision, GateLog, GateOutcome, GateRecord
from functions.core.skills.deployment import DeployedSkill, DeploymentStore
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.registry import SkillRegistry
from scripts.cli import main
from scripts.local.emulator import running_emulator
from scripts.local.state import save_state


def _manifest(version: int, dataset: str, top1: float, classes: list[str]) -> SkillManifest:
    return SkillManifest(
        skill="car-make",
        skill_version=version,
        code_version=f"code{version}",
        dataset_version=dataset,
        config_hash="cfg",
        hardware_profile="laptop",
        classes=classes,
        imgsz=64,
        weights="weights.pt",
        metrics={"top1": top1, "per_class_recall": {c: 0.5 for c in classes}},
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """Two registered versions of car-make; v1 deployed in `local`; v2 held back by the gate."""
    folder = tmp_path / "state"
    with running_emulator() as emulator:
        table = emulator.resource("dynamodb").Table(emulator.names.catalog_table)
        registry = SkillRegistry(table)
        for version, dataset, top1, classes in (
            (1, "ds1", 0.8, ["audi", "bmw"]),
            (2, "ds2", 0.75, ["audi", "bmw", "dodge"]),
        ):
            registry.next_version("car-make")
            registry.register(
                _manifest(version, dataset, top1, classes), f"s3://a/skills/car-make/v{version}/"
            )
        DeploymentStore(emulator.client("ssm"), "local").put(
            DeployedSkill(
                skill="car-make", stage="local", version=1, artifact_uri="s3://a/skills/car-make/v1/"
            )
        )
        GateLog(table).record(
            GateRecord(
                decision=GateDecision(
                    skill="car-make",
                    candidate_version=2,
                    current_version=1,
                    outcome=GateOutcome.INVESTIGATE,
                    reasons=["accuracy fell"],
                    candidate_accuracy=0.75,
                    current_accuracy=0.8,
                    accuracy_delta=-0.05,
                    candidate_latency_ms=10.0,
                    config=GateConfig(),
                ),
                report_uri="s3://a/skills/car-make/v2/evaluation/report.pdf",
            )
        )
        save_state(emulator, folder)
    return folder


def test_skills_list_shows_versions_gate_and_deployed_stage(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN `skillforge skills list` reads the saved state
    assert main(["skills", "list", "--state", str(state), "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # THEN one row per skill: its versions, the latest one's figures and gate outcome, where it is deployed
    assert rows == [
        {
            "skill": "car-make",
            "versions": [1, 2],
            "latest": 2,
            "deployed": {"local": 1},
            "latest_accuracy": "0.750",
            "latest_dataset": "ds2",
            "latest_gate": "investigate",
        }
    ]


def test_skills_show_gives_every_version_with_its_stage_and_gate(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN `skillforge skills show car-make` runs
    assert main(["skills", "show", "car-make", "--state", str(state)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # THEN v1 is deployed in local, v2 nowhere, with the gate's report link
    assert [(r["version"], r["deployed_in"]) for r in rows] == [(1, ["local"]), (2, [])]
    assert rows[1]["gate"]["outcome"] == "investigate"
    assert rows[1]["gate"]["report_uri"].endswith("report.pdf")


def test_skills_diff_names_data_classes_and_metric_changes(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN two versions are compared
    assert main(["skills", "diff", "car-make", "1", "2", "--state", str(state)]) == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    # THEN the data set, the added class and the accuracy change are named
    assert changes["dataset_version"] == {"old": "ds1", "new": "ds2"}
    assert changes["classes"] == {"added": ["dodge"], "removed": []}
    assert changes["metrics"]["top1"]["delta"] == pytest.approx(-0.05)
    assert changes["deployed_in"] == {"old": ["local"], "new": []}


def test_unknown_version_is_a_clear_error(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN a version that was never registered is asked for
    code = main(["skills", "show", "car-make", "9", "--state", str(state)])
    # THEN exit 2 and one line naming the registered versions
    assert code == 2
    assert "has no version 9 (registered: [1, 2])" in capsys.readouterr().err
