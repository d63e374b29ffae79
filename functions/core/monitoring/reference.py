"""The drift reference: the train split of the lineage of the skill version deployed in the stage.

The catalog's train side grows with every extraction; the deployed version learnt from one data set
version. Its lineage record (`lineage/<skill>/v<N>.json`, written when it was registered) names the
exact photos, so the reference stays what that version was trained on until another is promoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import LineageRecord, lineage_key, read_lineage
from functions.core.dataset.split import Split
from functions.core.monitoring.drift import TrainingReference
from functions.core.skills.deployment import DeployedSkill


class ReferenceSource(Protocol):
    """Where the monitor gets the reference of a skill (the stage's deployment, or an export)."""

    def training_reference(self, skill: str) -> TrainingReference: ...


class Deployments(Protocol):
    stage: str

    def current(self, skill: str) -> DeployedSkill | None: ...


@dataclass(frozen=True)
class DeployedLineage:
    """The deployment parameter names the version; the artifacts bucket holds its lineage record."""

    deployments: Deployments
    store: BlobStore
    artifacts_bucket: str

    def training_reference(self, skill: str) -> TrainingReference:
        deployed = self.deployments.current(skill)
        if deployed is None:
            return TrainingReference(
                skill=skill, missing=f"no version of {skill} is deployed in stage {self.deployments.stage}"
            )
        lineage = read_lineage(self.store, self.artifacts_bucket, skill, deployed.version)
        if lineage is None:
            key = lineage_key(skill, deployed.version)
            return TrainingReference(
                skill=skill,
                skill_version=deployed.version,
                missing=f"{skill} v{deployed.version} has no lineage record (s3://{self.artifacts_bucket}/{key})",
            )
        return reference_of(lineage)


def reference_of(lineage: LineageRecord) -> TrainingReference:
    """The reference of a lineage record: its train split's photos."""
    train = lineage.image_ids.get(Split.TRAIN.value, [])
    return TrainingReference(
        skill=lineage.skill,
        skill_version=lineage.skill_version,
        dataset_version=lineage.dataset_version,
        image_ids=train,
        missing=None if train else f"{lineage.skill} v{lineage.skill_version}'s lineage has no train photo",
    )
