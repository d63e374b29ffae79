"""The make-skill state machine's execution input, from a published launch template.

`skillforge make-skill CONFIG` (training/launcher.py) stages what a SageMaker training job of a skill
config needs (the config, the code archive, the pretrained weights) in the artifacts bucket and
publishes a launch template at `launch/<config>.json`: everything of the execution input except the
version. Starting a run from a template (the dashboard's Make skill button in the cloud) reserves the
next version and completes the input; no training code is needed at run time.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import BaseModel, Field

LAUNCH_PREFIX = "launch"  # artifacts bucket: launch/<config>.json
CONFIG_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"


class LaunchTemplate(BaseModel):
    """What one skill config's training job needs, staged in S3 (the execution input less the version)."""

    config: str = Field(pattern=CONFIG_NAME, description="the config's name (its file name's stem)")
    skill: str
    profile: str
    dataset: dict[str, Any]
    training: dict[str, Any]  # instance type, count, volume, max runtime, spot, image (the profile's)
    config_uri: str  # the config channel (a folder holding skill-config.json)
    models_uri: str
    code_uri: str  # sourcedir.tar.gz
    code_version: str
    entry_point: str = "training/train.py"


def template_key(config: str) -> str:
    return f"{LAUNCH_PREFIX}/{config}.json"


def config_of_key(key: str) -> str | None:
    """`launch/<config>.json` → config (None for any other key)."""
    name = key.removeprefix(f"{LAUNCH_PREFIX}/").removesuffix(".json")
    if key == template_key(name) and "/" not in name and re.match(CONFIG_NAME, name):
        return name
    return None


def job_name(skill: str, version: int, now: float | None = None) -> str:
    """`skillforge-<skill>-v<N>-<time>`: the prefix is what the notification rule matches."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now or time.time()))
    name = f"skillforge-{skill}-v{version}-{stamp}"
    return re.sub(r"[^a-zA-Z0-9-]", "-", name)[:63]


def execution_input(template: LaunchTemplate, version: int, now: float | None = None) -> dict[str, Any]:
    """The make-skill (and train-and-gate) execution input for `version` of the template's skill."""
    return {
        "config": template.config,
        "skill": template.skill,
        "skill_version": version,
        "dataset": template.dataset,
        "job_name": job_name(template.skill, version, now),
        "training": template.training,
        "config_uri": template.config_uri,
        "models_uri": template.models_uri,
        "hyperparameters": {
            "sagemaker_program": template.entry_point,
            "sagemaker_submit_directory": template.code_uri,
            "skill_version": str(version),
            "profile": template.profile,
            "code_version": template.code_version,
        },
    }
