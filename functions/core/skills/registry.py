"""Skill registry: auto-incremented, never-reused skill versions and where each version's artifacts are.

Stored in the catalog table:
  skillseq#<skill>               atomic counter (`last_version`), bumped with ADD — never reused
  skill#<skill>#v<000042>        one registered version: its manifest and artifact location
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.core.base.catalog import from_item, to_item
from functions.core.skills.manifest import SkillManifest, validate_skill_name


class RegisteredSkill(SkillManifest):
    artifact_uri: str  # s3://bucket/skills/<skill>/v<version>/ or a local folder


def _version_key(skill: str, version: int) -> str:
    return f"skill#{skill}#v{version:06d}"


class SkillRegistry:
    def __init__(self, table: Any) -> None:
        self.table = table

    def next_version(self, skill: str) -> int:
        """Reserve the next version number of `skill` (atomic; a failed run's number is never reused)."""
        validate_skill_name(skill)
        response = self.table.update_item(
            Key={"pk": f"skillseq#{skill}"},
            UpdateExpression="ADD last_version :one SET kind = :kind",
            ExpressionAttributeValues={":one": 1, ":kind": "skillseq"},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["last_version"])

    def register(self, manifest: SkillManifest, artifact_uri: str) -> RegisteredSkill:
        entry = RegisteredSkill(**manifest.model_dump(), artifact_uri=artifact_uri)
        item = to_item(entry.model_dump(mode="json"))
        item.update(pk=_version_key(manifest.skill, manifest.skill_version), kind="skill")
        self.table.put_item(Item=item, ConditionExpression=Attr("pk").not_exists())
        return entry

    def get(self, skill: str, version: int) -> RegisteredSkill | None:
        item = self.table.get_item(Key={"pk": _version_key(skill, version)}, ConsistentRead=True).get("Item")
        if not item:
            return None
        data = {k: v for k, v in from_item(item).items() if k not in {"pk", "kind"}}
        return RegisteredSkill.model_validate(data)

    def versions(self, skill: str) -> Iterator[RegisteredSkill]:
        kwargs: dict[str, Any] = {
            "FilterExpression": Attr("kind").eq("skill") & Attr("skill").eq(skill),
        }
        found: list[RegisteredSkill] = []
        while True:
            page = self.table.scan(**kwargs)
            for item in page.get("Items", []):
                data = {k: v for k, v in from_item(item).items() if k not in {"pk", "kind"}}
                found.append(RegisteredSkill.model_validate(data))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        yield from sorted(found, key=lambda entry: entry.skill_version)

    def latest(self, skill: str) -> RegisteredSkill | None:
        entries = list(self.versions(skill))
        return entries[-1] if entries else None
