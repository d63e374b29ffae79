"""One source of resource names for the CDK stack and the local emulator."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

# Names the runtime and the CDK stack share (synth imports them from here: no clients, no loggers).
STATUS_INDEX = "by_status"  # the catalog table's global secondary index on kind_status
LABELLING_JOBS_PREFIX = "labelling/jobs"  # artifacts bucket: Ground Truth input manifests
LABELLING_TEMPLATES_PREFIX = "labelling/templates"  # artifacts bucket: worker task templates
LABELLING_OUTPUT_PREFIX = "labelling/output"  # artifacts bucket: Ground Truth output
LABELLING_JOB_STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"  # EventBridge detail-type


def parameter_prefix(stage: str) -> str:
    """SSM prefix of the deployed skill versions of a stage."""
    return f"/skillforge/{stage}/skills/"


_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


class ResourceNames(BaseModel):
    """Names of every bucket, table and queue of one stage.

    `suffix` makes bucket names globally unique in the cloud (the stack passes account and region);
    the local emulator leaves it empty.
    """

    model_config = ConfigDict(frozen=True)

    stage: str
    suffix: str = ""

    @field_validator("stage")
    @classmethod
    def _valid_stage(cls, value: str) -> str:
        if not _STAGE.match(value):
            raise ValueError(f"stage {value!r} must match {_STAGE.pattern} (lowercase, digits, dashes)")
        return value

    def _bucket(self, role: str) -> str:
        tail = f"-{self.suffix}" if self.suffix else ""
        return f"skillforge-{self.stage}-{role}{tail}"

    def _name(self, role: str) -> str:
        return f"skillforge-{self.stage}-{role}"

    @property
    def raw_bucket(self) -> str:
        return self._bucket("raw")

    @property
    def crops_bucket(self) -> str:
        return self._bucket("crops")

    @property
    def quarantine_bucket(self) -> str:
        return self._bucket("quarantine")

    @property
    def artifacts_bucket(self) -> str:
        """Labelling manifests, datasets, models, reports."""
        return self._bucket("artifacts")

    @property
    def catalog_table(self) -> str:
        return self._name("catalog")

    @property
    def detect_queue(self) -> str:
        return self._name("detect")

    @property
    def detect_dlq(self) -> str:
        return self._name("detect-dlq")

    def buckets(self) -> list[str]:
        return [self.raw_bucket, self.crops_bucket, self.quarantine_bucket, self.artifacts_bucket]
