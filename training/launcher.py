"""Skill Maker, cloud: stage config + code + pretrained weights in S3, publish the config's launch
template (`launch/<config>.json`, what the dashboard's Make skill button starts again), reserve the
version, and start the make-skill state machine (extract Lambda → SageMaker createTrainingJob.sync →
register Lambda).

boto3 only (the `sagemaker` SDK is not needed): the state machine owns the training job.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.core.base.storage import BlobStore
from functions.core.base.versions import code_version
from functions.core.skills.launch import LaunchTemplate, execution_input, template_key
from functions.core.skills.registry import SkillRegistry
from training.config import HardwareProfile, ProfileKind, SkillConfig
from training.transfer import SKILL_PREFIX, resolve_weights, skill_weights

REPO = Path(__file__).resolve().parents[1]
SOURCE_PARTS = ("training", "functions")
ENTRY_POINT = "training/train.py"
# SageMaker parses these from the job's stdout (training/train.py `emit`)
METRIC_NAMES = ("train_loss", "val_top1", "val_top5", "test_top1", "test_top5", "seconds", "train_seconds")


def metric_definitions() -> list[dict[str, str]]:
    return [{"Name": name, "Regex": f"^{name}=([-+0-9.eE]+|nan);"} for name in METRIC_NAMES]


def training_parameters(profile: HardwareProfile, image_uri: str) -> dict[str, Any]:
    """The `training` block of the execution input: what the state machine puts in CreateTrainingJob."""
    if profile.kind is not ProfileKind.SAGEMAKER or not profile.instance_type:
        raise ValueError("a SageMaker training job needs a sagemaker profile with an instance_type")
    params: dict[str, Any] = {
        "instance_type": profile.instance_type,
        "instance_count": profile.instance_count,
        "volume_gb": profile.volume_gb,
        "max_runtime_s": profile.max_runtime_s,
        "use_spot": profile.use_spot,
        "image_uri": profile.image_uri or image_uri,
    }
    if profile.use_spot:
        params["max_wait_s"] = profile.spot_wait_s()
    return params


def launch_template(
    config: SkillConfig,
    config_name: str,
    profile_name: str,
    image_uri: str,
    uris: dict[str, str],
    code: str,
) -> LaunchTemplate:
    """Everything of the execution input but the version (functions/core/skills/launch.py completes it)."""
    _, profile = config.profile(profile_name)
    return LaunchTemplate(
        config=config_name,
        skill=config.skill,
        profile=profile_name,
        dataset=config.dataset.model_dump(mode="json"),
        training=training_parameters(profile, image_uri),
        config_uri=uris["config"],
        models_uri=uris["models"],
        code_uri=uris["code"],
        code_version=code,
        entry_point=ENTRY_POINT,
    )


def source_archive(repo: Path = REPO) -> bytes:
    """sourcedir.tar.gz for SageMaker: training/ and functions/ plus requirements.txt (the training pins)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for part in SOURCE_PARTS:
            for path in sorted((repo / part).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    tar.add(path, arcname=path.relative_to(repo).as_posix())
        requirements = (repo / "requirements-training.txt").read_text(encoding="utf-8")
        for name in ("requirements-detect.txt", "requirements-lambda.txt"):
            requirements = requirements.replace(f"-r {name}", (repo / name).read_text(encoding="utf-8"))
        info = tarfile.TarInfo("requirements.txt")
        data = requirements.encode("utf-8")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class LaunchDeps:
    sfn: Any
    store: BlobStore
    registry: SkillRegistry
    artifacts_bucket: str
    state_machine_arn: str
    image_uri: str
    models_dir: Path | None


def stage(config: SkillConfig, config_name: str, profile: str | None, deps: LaunchDeps) -> LaunchTemplate:
    """Put the code archive, the config and the pretrained weights in S3 (content-addressed keys, so a
    later run of the same config reuses them) and publish the launch template `launch/<config>.json`."""
    profile_name, _ = config.profile(profile)
    bucket = deps.artifacts_bucket
    archive = source_archive()
    code_key = f"code/{hashlib.sha256(archive).hexdigest()[:16]}/sourcedir.tar.gz"
    if not deps.store.exists(bucket, code_key):
        deps.store.put(bucket, code_key, archive, content_type="application/gzip")
    if config.network.pretrained:
        weights, staged_name = staged_weights(config.network.pretrained, deps.models_dir)
        if not deps.store.exists(bucket, f"models/{staged_name}"):
            deps.store.put(bucket, f"models/{staged_name}", weights.read_bytes())
        network = config.network.model_copy(update={"pretrained": staged_name})
        config = config.model_copy(update={"network": network})
    config_json = config.model_dump_json(indent=1).encode("utf-8")
    config_folder = f"configs/{config.skill}/{hashlib.sha256(config_json).hexdigest()[:16]}"
    deps.store.put(bucket, f"{config_folder}/skill-config.json", config_json, "application/json")
    uris = {
        "code": f"s3://{bucket}/{code_key}",
        "config": f"s3://{bucket}/{config_folder}/",
        "models": f"s3://{bucket}/models/",
    }
    template = launch_template(config, config_name, profile_name, deps.image_uri, uris, code_version())
    deps.store.put(
        bucket,
        template_key(config_name),
        template.model_dump_json(indent=1).encode("utf-8"),
        "application/json",
    )
    return template


def staged_weights(pretrained: str, models_dir: Path | None) -> tuple[Path, str]:
    """The weights file a config starts from, and its name in the job's `models` channel: a parent
    skill's version (`skill:<name>`) is staged as `<name>-v<N>-<hash>.pt`, a weights file as itself."""
    if not pretrained.startswith(SKILL_PREFIX):
        weights = resolve_weights(pretrained, models_dir)
        return weights, weights.name
    skill = pretrained.removeprefix(SKILL_PREFIX)
    version, weights = skill_weights(skill)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    return weights, f"{skill}-v{version:06d}-{digest}.pt"


def launch(config: SkillConfig, config_name: str, profile: str | None, deps: LaunchDeps) -> dict[str, Any]:
    """Stage and publish (`stage`), reserve the next version, start the make-skill state machine."""
    template = stage(config, config_name, profile, deps)
    version = deps.registry.next_version(config.skill)
    payload = execution_input(template, version)
    response = deps.sfn.start_execution(
        stateMachineArn=deps.state_machine_arn, name=payload["job_name"], input=json.dumps(payload)
    )
    return {"execution_arn": response["executionArn"], **payload}
