"""The skill config: one validated JSON object for every knob of a skill (data, network, training, hardware).

`python -m training.config` rewrites the published JSON Schema (training/skill-config.schema.json).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from functions.core.dataset.spec import DatasetSpec
from functions.core.skills.manifest import (
    TTA_CONFIDENCE_DESCRIPTION,
    TestTimeAugmentation,
    check_tta,
    validate_skill_name,
)

SCHEMA_PATH = Path(__file__).with_name("skill-config.schema.json")
NETWORKS_DIR = Path(__file__).with_name("networks")
MAX_TILT_DEGREES = 30.0


class ConfigError(ValueError):
    """A skill config that cannot be used; the message names the field."""


class AugmentConfig(BaseModel):
    """Train-time augmentations, each switchable. Vertical flips are never applied (cars have a floor)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizontal_flip: bool = True
    flip_probability: float = Field(default=0.5, ge=0.0, le=1.0)
    tilt: bool = True
    max_tilt_degrees: float = Field(default=10.0, ge=0.0, le=MAX_TILT_DEGREES)
    hue_saturation: bool = True
    max_hue_shift: float = Field(default=0.03, ge=0.0, le=0.5, description="fraction of the hue circle")
    max_saturation_scale: float = Field(default=0.4, ge=0.0, le=1.0, description="saturation x (1 ± this)")
    brightness_contrast: bool = True
    max_brightness_contrast: float = Field(
        default=0.3, ge=0.0, le=0.9, description="brightness and contrast x (1 ± this)"
    )
    random_erasing: bool = True
    erasing_probability: float = Field(default=0.25, ge=0.0, le=1.0)
    erasing_max_area: float = Field(default=0.2, gt=0.0, le=0.5)
    copy_paste_occlusion: bool = False
    occlusion_probability: float = Field(default=0.25, ge=0.0, le=1.0)
    occlusion_max_area: float = Field(default=0.25, gt=0.0, le=0.5)
    occluders_dir: str | None = Field(
        default=None,
        description="folder of occluder images (objects, never cars); required by copy_paste_occlusion",
    )


class ProfileKind(StrEnum):
    LOCAL = "local"
    SAGEMAKER = "sagemaker"


class HardwareProfile(BaseModel):
    """Where and how big a training run is: a local CPU/GPU, or a SageMaker training job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ProfileKind
    device: str = Field(default="cpu", description="'cpu' or a CUDA device index such as '0'")
    batch: int | None = Field(default=None, ge=1, description="overrides training.batch")
    workers: int = Field(default=0, ge=0, le=32)
    threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="torch CPU threads while training on the CPU; default: every core this process may use "
        "(Ultralytics alone would leave one idle: 1 thread on 2 cores)",
    )
    instance_type: str | None = Field(default=None, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1, le=1)
    volume_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_s: int = Field(default=3600, ge=60, le=28 * 24 * 3600)
    use_spot: bool = False
    max_wait_s: int | None = Field(default=None, ge=60)
    image_uri: str | None = Field(default=None, description="training image; default: the stack's")

    @model_validator(mode="after")
    def _consistent(self) -> HardwareProfile:
        if self.kind is ProfileKind.SAGEMAKER and not self.instance_type:
            raise ValueError("a sagemaker profile needs instance_type (e.g. ml.g5.xlarge)")
        if self.use_spot and self.kind is not ProfileKind.SAGEMAKER:
            raise ValueError("use_spot applies to sagemaker profiles only")
        if self.max_wait_s is not None and self.max_wait_s < self.max_runtime_s:
            raise ValueError("max_wait_s must be at least max_runtime_s (spot waiting included)")
        return self

    def cpu_threads(self) -> int:
        """torch threads for a CPU run: the profile's, else every core this process may use."""
        return self.threads or len(os.sched_getaffinity(0))

    def spot_wait_s(self) -> int:
        return self.max_wait_s or 2 * self.max_runtime_s


def default_profiles() -> dict[str, HardwareProfile]:
    return {
        "laptop": HardwareProfile(kind=ProfileKind.LOCAL, device="cpu", batch=16, workers=0),
        "gpu": HardwareProfile(
            kind=ProfileKind.SAGEMAKER,
            device="0",
            batch=64,
            workers=4,
            instance_type="ml.g5.xlarge",
            max_runtime_s=2 * 3600,
            use_spot=True,
            max_wait_s=4 * 3600,
        ),
    }


class NetworkConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        default="yolov5n-cls.yaml",
        description="Ultralytics classification model: a yaml (training/networks or Ultralytics') or weights",
    )
    pretrained: str | None = Field(
        default="yolov5n-coco-state-dict.pt",
        description=(
            "start weights (state dict, Ultralytics .pt, or an OpenVINO IR folder whose convolutions are "
            "read back, batch norm calibrated on the training crops): a path, a name in the models folder, "
            "or "
            "'skill:<name>' for the newest trained version of another skill (its classifier rows too, "
            "for the class names they share, when pretrained_layers reaches the head)"
        ),
    )
    pretrained_layers: int = Field(default=10, ge=0, le=50, description="layers 0..N-1 taken from pretrained")
    freeze: int = Field(default=0, ge=0, le=50, description="first N layers frozen during training")

    @model_validator(mode="after")
    def _freeze_within_pretrained(self) -> NetworkConfig:
        if self.freeze and (self.pretrained is None or self.freeze > self.pretrained_layers):
            raise ValueError("freeze must not exceed pretrained_layers (frozen random layers learn nothing)")
        return self


# which epoch a skill version ships: the best on validation top-1, or the last
CheckpointRule = Literal["best", "last"]


class TrainingConfig(BaseModel):
    """How the network is trained. The defaults are the transfer-learning recipe of the make skill."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    imgsz: int = Field(default=224, ge=32, le=1024, description="network input side in training")
    test_imgsz: int | None = Field(
        default=None,
        ge=32,
        le=1024,
        description="network input side at test and serving (default: imgsz). The random resized crop shows "
        "a car larger in training than a whole crop shows it; a larger test input can match the apparent "
        "size (FixRes)",
    )
    epochs: int = Field(default=10, ge=1, le=1000)
    patience: int = Field(default=5, ge=1, le=1000, description="early stopping: epochs without improvement")
    time_budget_minutes: float | None = Field(
        default=None,
        gt=0.0,
        le=7 * 24 * 60,
        description="wall-clock budget of the training run: after each epoch, when the planned epochs would "
        "overrun it at the mean epoch time so far, the epoch count is cut to those that fit (never raised) "
        "and the learning-rate schedule re-fitted to it (default: no budget)",
    )
    batch: int = Field(default=32, ge=1, le=1024)
    lr0: float = Field(default=0.001, gt=0.0, le=1.0)
    lrf: float = Field(default=0.01, gt=0.0, le=1.0, description="final learning rate = lr0 x lrf")
    cos_lr: bool = Field(default=True, description="cosine learning-rate decay (else linear)")
    optimizer: str = Field(default="AdamW", pattern=r"^(SGD|Adam|AdamW|NAdam|RAdam|RMSProp|auto)$")
    weight_decay: float = Field(default=0.05, ge=0.0, le=1.0)
    warmup_epochs: float = Field(default=1.0, ge=0.0, le=10.0, description="linear warm-up from lr 0")
    warmup_bias_lr: float = Field(
        default=0.0,
        ge=0.0,
        le=0.1,
        description="biases' learning rate at the start of warm-up (keep it small for pretrained layers)",
    )
    label_smoothing: float = Field(default=0.1, ge=0.0, lt=1.0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="dropout before the classifier's head")
    crop_scale: float = Field(default=0.5, ge=0.0, lt=1.0, description="random resized crop: area 1-x..1")
    seed: int = 0
    checkpoint: CheckpointRule = Field(
        default="best",
        description="the version shipped: the 'best' validation top-1 epoch, or the 'last' epoch (for a "
        "validation split of a few crops, where the best epoch is chance)",
    )
    tta: TestTimeAugmentation = Field(
        default="none",
        description="test-time augmentation of the trained version (evaluation and serving): "
        "'hflip' averages the crop and its mirror image",
    )
    tta_confidence: float | None = Field(default=None, gt=0.0, le=1.0, description=TTA_CONFIDENCE_DESCRIPTION)

    @field_validator("imgsz", "test_imgsz")
    @classmethod
    def _multiple_of_32(cls, value: int | None) -> int | None:
        if value is not None and value % 32:
            raise ValueError(f"{value} must be a multiple of 32")
        return value

    @model_validator(mode="after")
    def _tta_confidence_needs_hflip(self) -> TrainingConfig:
        check_tta(self.tta, self.tta_confidence)
        return self

    @property
    def served_imgsz(self) -> int:
        """The input side the trained version is tested and served at."""
        return self.test_imgsz or self.imgsz


class SkillConfig(BaseModel):
    """One skill: which classes, which data, which network, how to train it and on what hardware."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="SkillConfig", populate_by_name=True)

    schema_ref: str | None = Field(
        default=None, alias="$schema", exclude=True, description="editor hint: path of this JSON Schema"
    )
    skill: str = Field(description="skill name: lowercase letters, digits and dashes")
    description: str = ""
    parent_skill: str | None = Field(default=None, description="the skill whose answer routes here")
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    dataset_file: str | None = Field(
        default=None, description="train from this existing data file (s3:// or path) instead of extracting"
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    profiles: dict[str, HardwareProfile] = Field(default_factory=default_profiles)
    default_profile: str = "laptop"

    @field_validator("skill")
    @classmethod
    def _valid_skill(cls, value: str) -> str:
        return validate_skill_name(value)

    @model_validator(mode="after")
    def _occluders_are_not_cars_of_other_classes(self) -> SkillConfig:
        if self.augment.copy_paste_occlusion and not self.augment.occluders_dir:
            raise ValueError(
                "augment.copy_paste_occlusion needs augment.occluders_dir (photos of objects, not cars): "
                "pasting other training crops would put another class's car over the car"
            )
        return self

    @model_validator(mode="after")
    def _default_profile_exists(self) -> SkillConfig:
        if self.default_profile not in self.profiles:
            raise ValueError(
                f"default_profile {self.default_profile!r} is not one of {sorted(self.profiles)}"
            )
        return self

    def profile(self, name: str | None = None) -> tuple[str, HardwareProfile]:
        chosen = name or self.default_profile
        if chosen not in self.profiles:
            raise ConfigError(f"profile {chosen!r} is not defined; the config has {sorted(self.profiles)}")
        return chosen, self.profiles[chosen]

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the config (what was asked for, not where it ran)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def parse_config(data: dict[str, Any] | str, source: str = "skill config") -> SkillConfig:
    """Validate a config; a bad value raises ConfigError naming each offending field."""
    try:
        if isinstance(data, str):
            return SkillConfig.model_validate_json(data)
        return SkillConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"{source} is invalid: {problems}") from exc


def load_config(path: Path) -> SkillConfig:
    if not path.is_file():
        raise FileNotFoundError(f"skill config {path} does not exist")
    return parse_config(path.read_text(encoding="utf-8"), source=str(path))


def json_schema() -> dict[str, Any]:
    schema = SkillConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://skillforge.example/skill-config.schema.json"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}", file=sys.stderr)


def trainer_arguments(
    cfg: SkillConfig, profile: HardwareProfile, data_root: Path, work_dir: Path
) -> dict[str, Any]:
    """The skill config as Ultralytics trainer arguments (what `model.train(**args)` receives)."""
    t = cfg.training
    batch = profile.batch or t.batch
    return {
        "data": str(data_root),
        "epochs": t.epochs,
        "patience": t.patience,
        "imgsz": t.imgsz,
        "batch": batch,
        "nbs": batch,  # no gradient accumulation and no weight-decay rescaling: the config says what it means
        "lr0": t.lr0,
        "lrf": t.lrf,
        "cos_lr": t.cos_lr,
        "optimizer": t.optimizer,
        "weight_decay": t.weight_decay,
        "warmup_epochs": t.warmup_epochs,
        "warmup_bias_lr": t.warmup_bias_lr,
        "dropout": t.dropout,
        "freeze": cfg.network.freeze or None,
        "device": profile.device,
        "workers": profile.workers,
        "seed": t.seed,
        "project": str(work_dir),
        "name": "ultralytics",
        "exist_ok": True,
        "plots": False,
        "amp": profile.device != "cpu",
        "verbose": False,
        # Ultralytics' own augmentations off: the skill's augmenter runs instead (never a vertical flip);
        # the random resized crop acts on the square crop (scale augmentation)
        "fliplr": 0.0,
        "flipud": 0.0,
        "hsv_h": 0.0,
        "hsv_s": 0.0,
        "hsv_v": 0.0,
        "erasing": 0.0,
        "auto_augment": None,
        "scale": t.crop_scale,
    }
