"""Deployed skill versions: SSM parameter with a TTL cache, mapping file, promotion rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.core.skills.deployment import (
    DeployedSkill,
    DeploymentStore,
    MappingEntry,
    MappingFile,
    PromotionRefusedError,
    parameter_name,
    promote,
)
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.registry import RegisteredSkill


class FakeSsm:  # boto3's parameter names
    # ruff: noqa: N803
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.reads = 0

    def get_parameter(self, Name: str) -> dict[str, Any]:
        self.reads += 1
        if Name not in self.values:
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": Name}}, "GetParameter")
        return {"Parameter": {"Name": Name, "Value": self.values[Name]}}

    def put_parameter(self, Name: str, Value: str, **_: Any) -> None:
        self.values[Name] = Value

    def get_parameters_by_path(self, Path: str, **_: Any) -> dict[str, Any]:
        return {"Parameters": [{"Name": k, "Value": v} for k, v in self.values.items() if k.startswith(Path)]}


class FakeRegistry:
    def __init__(self, versions: list[int]) -> None:
        self.versions = versions

    def get(self, skill: str, version: int) -> RegisteredSkill | None:
        if version not in self.versions:
            return None
        manifest = SkillManifest(
            skill=skill,
            skill_version=version,
            code_version="abc",
            dataset_version="d1",
            config_hash="h",
            hardware_profile="laptop",
            classes=["a", "b"],
            imgsz=64,
            weights="weights.pt",
        )
        return RegisteredSkill(
            **manifest.model_dump(), artifact_uri=f"s3://models/skills/{skill}/v{version:06d}"
        )


def test_current_version_is_cached_for_the_ttl() -> None:
    # GIVEN a deployed version and a store with a 60 s cache
    ssm, now = FakeSsm(), [0.0]
    ssm.values[parameter_name("staging", "make")] = json.dumps({"version": 3, "artifact_uri": "s3://m/v3"})
    store = DeploymentStore(ssm, "staging", ttl_s=60, clock=lambda: now[0])
    # WHEN it is read three times within the TTL and once after
    first = store.current("make")
    now[0] = 30.0
    store.current("make")
    ssm.values[parameter_name("staging", "make")] = json.dumps({"version": 4, "artifact_uri": "s3://m/v4"})
    cached = store.current("make")
    now[0] = 61.0
    fresh = store.current("make")
    # THEN SSM is read once per TTL window
    assert first is not None and cached is not None and fresh is not None
    assert (first.version, cached.version, fresh.version) == (3, 3, 4)
    assert ssm.reads == 2


def test_promotion_writes_the_parameter_and_rewrites_the_mapping_file(tmp_path: Path) -> None:
    # GIVEN version 1 deployed in staging and a mapping file that says so
    mapping = MappingFile(tmp_path / "skill_versions.json")
    mapping.write(
        MappingFile.render(
            {"staging": {"make": MappingEntry(version=1, artifact_uri="s3://models/skills/make/v000001")}}
        )
    )
    store = DeploymentStore(FakeSsm(), "staging", ttl_s=0)
    store.put(
        DeployedSkill(
            skill="make", stage="staging", version=1, artifact_uri="s3://models/skills/make/v000001"
        )
    )
    # WHEN version 2 is promoted
    result = promote(FakeRegistry([1, 2]), store, "make", 2, actor="ci", mapping=mapping)  # type: ignore[arg-type]
    # THEN the run-time parameter and the file agree on version 2, and the diff shows the change
    assert store.current("make").version == 2  # type: ignore[union-attr]
    assert result.previous is not None and result.previous.version == 1
    assert mapping.load()["staging"]["make"].version == 2
    assert '-      "version": 1' in result.mapping_diff and '+      "version": 2' in result.mapping_diff
    assert result.mapping_written


def test_diff_only_leaves_the_file_alone(tmp_path: Path) -> None:
    mapping = MappingFile(tmp_path / "skill_versions.json")
    store = DeploymentStore(FakeSsm(), "staging", ttl_s=0)
    result = promote(FakeRegistry([5]), store, "make", 5, actor="me", mapping=mapping, write_mapping=False)  # type: ignore[arg-type]
    assert "+" in result.mapping_diff and not result.mapping_written
    assert not mapping.path.exists()


def test_production_needs_a_deliberate_command() -> None:
    # GIVEN a production store
    store = DeploymentStore(FakeSsm(), "production", ttl_s=0)
    # WHEN the pipeline tries to promote THEN it is refused with the command to use
    with pytest.raises(PromotionRefusedError, match="skillforge promote make 2 --stage production"):
        promote(FakeRegistry([2]), store, "make", 2, actor="pipeline")  # type: ignore[arg-type]
    # AND a person's deliberate command is accepted
    promote(FakeRegistry([2]), store, "make", 2, actor="alice", deliberate=True)  # type: ignore[arg-type]
    assert store.current("make").promoted_by == "alice"  # type: ignore[union-attr]


def test_unknown_version_is_refused() -> None:
    with pytest.raises(PromotionRefusedError, match="no registered version 9"):
        promote(FakeRegistry([1]), DeploymentStore(FakeSsm(), "staging"), "make", 9, actor="me")  # type: ignore[arg-type]
