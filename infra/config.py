"""Typed deploy configuration, read once from the `skillforge` key of the cdk.json context.

cdk.json holds the defaults; `-c` on the CDK command line overrides them. A bad value fails
synthesis with a message naming the field, e.g. `skillforge.stages.dev.detectMemoryMb`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from functions.core.base.resources import ResourceNames
from functions.core.base.schedules import HANDOFF_EVERY_MINUTES
from functions.core.detection.settings import CONFIDENCE, FALLBACK_CONFIDENCE, VEHICLE_CLASSES
from infra.ecr import image_repository_arn

CONTEXT_KEY = "skillforge"
STAGE_CONTEXT_KEY = "stage"
REPO_ROOT = Path(__file__).resolve().parents[1]

# Retention periods CloudWatch Logs accepts, in days, with their aws_logs.RetentionDays member names.
LOG_RETENTION_DAYS: dict[int, str] = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip
# Bucket names are `skillforge-<stage>-<role>-<account>-<region>` and at most 63 characters:
# with the longest role (quarantine), a 12-digit account and a 14-character region this leaves 13.
MAX_STAGE_LENGTH = 13
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_WORKTEAM_ARN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/private-crowd/[a-zA-Z0-9-]+$"
_DOMAIN_PREFIX = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"  # Cognito hosted-UI domain prefix
# Secrets Manager secret names: letters, digits and /_+=.@- (at most 512 characters).
_SECRET_NAME = r"^[A-Za-z0-9/_+=.@-]{1,512}$"


class ConfigError(ValueError):
    """The deploy configuration is invalid; the message names the offending field."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class StageConfig(_Model):
    """Sizes and knobs of one deployment stage (dev, prod, ...)."""

    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")

    detect_memory_mb: int = Field(default=3008, ge=512, le=10240)
    detect_timeout_seconds: int = Field(default=120, ge=10, le=900)
    detect_batch_size: int = Field(default=5, ge=1, le=100)
    detect_max_batching_window_seconds: int = Field(default=5, ge=0, le=300)
    detect_max_concurrency: int = Field(default=10, ge=2, le=1000)
    detect_reserved_concurrency: int | None = Field(default=None, ge=1)
    detect_max_receive_count: int = Field(default=3, ge=1, le=1000)

    log_retention_days: int = 30
    removal_policy: Literal["destroy", "retain"] = "destroy"
    alarm_email: str | None = Field(default=None, pattern=_EMAIL)

    quarantine_expiry_days: int = Field(default=365, ge=1)
    noncurrent_version_expiry_days: int = Field(default=90, ge=1)
    access_log_expiry_days: int = Field(default=365, ge=1)

    vehicle_classes: list[str] = Field(default_factory=lambda: list(VEHICLE_CLASSES), min_length=1)
    confidence: float = Field(default=CONFIDENCE, gt=0.0, lt=1.0)
    fallback_confidence: float = Field(default=FALLBACK_CONFIDENCE, gt=0.0, lt=1.0)
    detector_model: str = Field(default="yolo11n_int8_openvino_model", min_length=1)
    detector_version: int = Field(default=1, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Crowd labelling (Ground Truth) and expert review; bounds as in functions/core/labelling/handoff.py.
    labelling_workforce: Literal["public", "private"] = "public"
    labelling_workteam_arn: str | None = Field(default=None, pattern=_WORKTEAM_ARN)
    labelling_workers_per_crop: int = Field(default=3, ge=1, le=9)
    labelling_seconds_per_task: float = Field(default=3.0, gt=0.0, le=3600.0)
    labelling_hourly_rate_usd: float = Field(default=15.0, gt=0.0, le=200.0)
    labelling_batch_size: int = Field(default=1000, ge=1, le=100_000)
    labelling_max_age_minutes: float = Field(default=60.0, ge=0.0)
    labelling_jobs_per_run: int = Field(default=10, ge=1, le=100)
    labelling_handoff_every_minutes: int = Field(default=HANDOFF_EVERY_MINUTES, ge=1, le=1440)
    review_domain_prefix: str | None = Field(default=None, pattern=_DOMAIN_PREFIX)

    # Training (make-skill) and the train-and-gate regression gate with its notifications.
    # None: training/Dockerfile is built and pushed by `cdk deploy` (a CDK image asset); or an ECR image URI.
    training_image_uri: str | None = None
    split_salt: str = Field(default="skillforge", min_length=1, max_length=256)
    notification_emails: list[str] = Field(default_factory=list)
    slack_secret_name: str | None = Field(default=None, pattern=_SECRET_NAME)

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"must be one of CloudWatch's retention periods (days): {sorted(LOG_RETENTION_DAYS)}"
            )
        return value

    @field_validator("review_domain_prefix")
    @classmethod
    def _cognito_allows_prefix(cls, value: str | None) -> str | None:
        if value is not None and any(word in value for word in ("aws", "amazon", "cognito")):
            raise ValueError("Cognito refuses domain prefixes containing 'aws', 'amazon' or 'cognito'")
        return value

    @field_validator("training_image_uri")
    @classmethod
    def _training_image_is_in_ecr(cls, value: str | None) -> str | None:
        if value is not None:
            image_repository_arn(value)  # SageMaker pulls training images from ECR only
        return value

    @field_validator("notification_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [address for address in value if not re.match(_EMAIL, address)]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return value

    @field_validator("vehicle_classes")
    @classmethod
    def _no_blank_class(cls, value: list[str]) -> list[str]:
        if any(not name.strip() or "," in name for name in value):
            raise ValueError("class names must be non-empty COCO class names without commas, e.g. 'car'")
        return value

    @field_validator("detector_model")
    @classmethod
    def _model_is_a_folder_name(cls, value: str) -> str:
        if "/" in value or value in {".", ".."}:
            raise ValueError("must be the model's folder name inside detectorModelsDir, not a path")
        return value

    @model_validator(mode="after")
    def _concurrency_fits_reservation(self) -> StageConfig:
        reserved = self.detect_reserved_concurrency
        if reserved is not None and reserved < self.detect_max_concurrency:
            raise ValueError(
                f"detectReservedConcurrency ({reserved}) must be at least detectMaxConcurrency "
                f"({self.detect_max_concurrency}), or SQS pollers get throttled and messages reach the DLQ"
            )
        return self

    @model_validator(mode="after")
    def _workforce_has_its_team(self) -> StageConfig:
        if self.labelling_workforce == "private" and not self.labelling_workteam_arn:
            raise ValueError("labellingWorkforce 'private' needs labellingWorkteamArn (a private work team)")
        if self.labelling_workforce == "public" and self.labelling_workteam_arn:
            raise ValueError(
                "labellingWorkteamArn is only for labellingWorkforce 'private' (the public workforce is "
                "Mechanical Turk's team); remove it or set the workforce to 'private'"
            )
        return self

    @property
    def queue_visibility_timeout_seconds(self) -> int:
        """AWS's advice for SQS → Lambda: six times the function timeout plus the batching window."""
        return 6 * self.detect_timeout_seconds + self.detect_max_batching_window_seconds


class DeployConfig(_Model):
    """Everything `app.py` needs: the stages to build and where the detector model is."""

    detector_models_dir: str = "../shared/models"
    stages: dict[str, StageConfig] = Field(min_length=1)

    @field_validator("stages")
    @classmethod
    def _stage_names(cls, value: dict[str, StageConfig]) -> dict[str, StageConfig]:
        for stage in value:
            ResourceNames(stage=stage)  # the naming rule shared with local mode
            if len(stage) > MAX_STAGE_LENGTH:
                raise ValueError(
                    f"stage {stage!r} is longer than {MAX_STAGE_LENGTH} characters: "
                    "its bucket names (with account and region) would exceed 63"
                )
        return value

    def models_dir(self) -> Path:
        """The directory holding the detector model folder (relative paths: from the repository root)."""
        path = Path(self.detector_models_dir)
        return path if path.is_absolute() else (REPO_ROOT / path).resolve()

    def stage(self, name: str) -> StageConfig:
        try:
            return self.stages[name]
        except KeyError:
            raise ConfigError(
                f"{CONTEXT_KEY}.stages has no stage {name!r} (known: {', '.join(sorted(self.stages))})"
            ) from None

    def selected(self, only: str | None) -> dict[str, StageConfig]:
        """All stages, or just `only` (the `-c stage=NAME` context)."""
        return dict(self.stages) if only is None else {only: self.stage(only)}


def parse_deploy_config(raw: Any) -> DeployConfig:
    """Validate the `skillforge` context value; errors name the field path (camelCase as in cdk.json)."""
    if isinstance(raw, str):  # `-c skillforge='{...}'` arrives as a JSON string
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{CONTEXT_KEY}: not valid JSON ({exc})") from exc
    if raw is None:
        raise ConfigError(f"cdk.json context has no {CONTEXT_KEY!r} key")
    try:
        return DeployConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{CONTEXT_KEY}.{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid deploy config: {problems}") from None


def cdk_json_context(path: Path = REPO_ROOT / "cdk.json") -> dict[str, Any]:
    """The `context` of cdk.json: defaults for `python app.py` run without the CDK CLI."""
    context: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    return context
