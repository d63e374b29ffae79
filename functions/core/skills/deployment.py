"""Which version of each skill is deployed, per stage.

Two places agree on it:
  * the mapping file in the repo (`infra/skill_versions.json`): stage → skill → {version, artifact_uri};
    the CDK stack turns its stage's entries into a CloudFormation mapping (`Fn::FindInMap`) that seeds
    the run-time parameters at deploy time;
  * SSM Parameter Store `/skillforge/<stage>/skills/<skill>` (JSON value): what inference resolves at
    run time, read through a short TTL cache.
Promotion writes the parameter and rewrites the mapping file, so `cdk deploy` and the running system
agree. Production stages are promoted only by a deliberate command, never by the pipeline.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from functions.core.base.records import utc_now
from functions.core.base.resources import parameter_prefix
from functions.core.skills.manifest import validate_skill_name
from functions.core.skills.registry import RegisteredSkill, SkillRegistry

PRODUCTION_STAGES = frozenset({"prod", "production"})
DEFAULT_MAPPING_FILE = Path(__file__).resolve().parents[3] / "infra" / "skill_versions.json"


def parameter_name(stage: str, skill: str) -> str:
    return parameter_prefix(stage) + validate_skill_name(skill)


class MappingEntry(BaseModel):
    version: int = Field(ge=1)
    artifact_uri: str


class DeployedSkill(MappingEntry):
    """The value of one run-time parameter."""

    skill: str
    stage: str
    promoted_at: datetime = Field(default_factory=utc_now)
    promoted_by: str = "pipeline"
    reason: str = ""
    previous_version: int | None = None


class PromotionRefusedError(ValueError):
    """A promotion that the rules do not allow (unknown version, production without a deliberate command)."""


class DeploymentStore:
    """Run-time deployment state of one stage in SSM Parameter Store, cached for `ttl_s` seconds."""

    def __init__(
        self, ssm: Any, stage: str, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ssm = ssm
        self.stage = stage
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[float, DeployedSkill | None]] = {}

    def current(self, skill: str) -> DeployedSkill | None:
        now = self.clock()
        cached = self._cache.get(skill)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            value = self.ssm.get_parameter(Name=parameter_name(self.stage, skill))["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterNotFound":
                raise
            deployed = None
        else:
            deployed = _parse_parameter(value, skill, self.stage)
        self._cache[skill] = (now, deployed)
        return deployed

    def all(self) -> dict[str, DeployedSkill]:
        found: dict[str, DeployedSkill] = {}
        kwargs: dict[str, Any] = {"Path": parameter_prefix(self.stage), "Recursive": False}
        while True:
            page = self.ssm.get_parameters_by_path(**kwargs)
            for parameter in page.get("Parameters", []):
                skill = parameter["Name"].rsplit("/", 1)[-1]
                found[skill] = _parse_parameter(parameter["Value"], skill, self.stage)
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return dict(sorted(found.items()))

    def put(self, deployed: DeployedSkill) -> None:
        self.ssm.put_parameter(
            Name=parameter_name(self.stage, deployed.skill),
            Value=deployed.model_dump_json(),
            Type="String",
            Overwrite=True,
            Description=f"deployed version of skill {deployed.skill} in stage {self.stage}",
        )
        self._cache[deployed.skill] = (self.clock(), deployed)


def _parse_parameter(value: str, skill: str, stage: str) -> DeployedSkill:
    """The parameter's JSON (promotion writes a DeployedSkill, CDK seeds {version, artifact_uri})."""
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{parameter_name(stage, skill)} is not JSON: {value[:80]!r}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{parameter_name(stage, skill)} must hold an object with version and artifact_uri")
    data.setdefault("skill", skill)
    data.setdefault("stage", stage)
    return DeployedSkill.model_validate(data)


class MappingFile:
    """The repo file the CDK stack reads: {"<stage>": {"<skill>": {"version": N, "artifact_uri": "..."}}}."""

    def __init__(self, path: Path = DEFAULT_MAPPING_FILE) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, MappingEntry]]:
        if not self.path.is_file():
            return {}
        raw = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"{self.path}: expected an object of stages")
        return {
            stage: {skill: MappingEntry.model_validate(entry) for skill, entry in skills.items()}
            for stage, skills in raw.items()
        }

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8") if self.path.is_file() else ""

    @staticmethod
    def render(mapping: dict[str, dict[str, MappingEntry]]) -> str:
        data = {
            stage: {skill: entry.model_dump() for skill, entry in sorted(skills.items())}
            for stage, skills in sorted(mapping.items())
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def updated(self, stage: str, skill: str, entry: MappingEntry) -> str:
        mapping = self.load()
        mapping.setdefault(stage, {})[skill] = MappingEntry(
            version=entry.version, artifact_uri=entry.artifact_uri
        )
        return self.render(mapping)

    def diff(self, new_text: str) -> str:
        return "".join(
            difflib.unified_diff(
                self.text().splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile=f"a/{self.path.name}",
                tofile=f"b/{self.path.name}",
            )
        )

    def write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(text, encoding="utf-8")


class PromotionResult(BaseModel):
    deployed: DeployedSkill
    previous: DeployedSkill | None
    mapping_diff: str = ""
    mapping_written: bool = False


def promote(
    registry: SkillRegistry,
    deployments: DeploymentStore,
    skill: str,
    version: int,
    *,
    actor: str,
    reason: str = "",
    deliberate: bool = False,
    mapping: MappingFile | None = None,
    write_mapping: bool = True,
) -> PromotionResult:
    """Point `skill` in the store's stage at `version`; rewrite (or only diff) the mapping file.

    `deliberate` is set only by a person's command; without it a production stage is refused.
    """
    stage = deployments.stage
    if stage in PRODUCTION_STAGES and not deliberate:
        raise PromotionRefusedError(
            f"stage {stage!r} is production: promote it with the deliberate command "
            f"`skillforge promote {skill} {version} --stage {stage}`"
        )
    entry: RegisteredSkill | None = registry.get(skill, version)
    if entry is None:
        raise PromotionRefusedError(f"skill {skill!r} has no registered version {version}")
    previous = deployments.current(skill)
    deployed = DeployedSkill(
        skill=skill,
        stage=stage,
        version=version,
        artifact_uri=entry.artifact_uri,
        promoted_by=actor,
        reason=reason,
        previous_version=previous.version if previous else None,
    )
    deployments.put(deployed)
    result = PromotionResult(deployed=deployed, previous=previous)
    if mapping is not None:
        new_text = mapping.updated(stage, skill, deployed)
        result.mapping_diff = mapping.diff(new_text)
        if write_mapping and result.mapping_diff:
            mapping.write(new_text)
            result.mapping_written = True
    return result
