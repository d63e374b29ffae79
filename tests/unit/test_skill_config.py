"""Skill config: examples valid, published schema current, bad values name the field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from functions.core.skills.launch import execution_input, job_name
from training.config import (
    SCHEMA_PATH,
    ConfigError,
    load_config,
    parse_config,
    schema_text,
    trainer_arguments,
)
from training.launcher import launch_template
from training.train import shipped_checkpoint

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.json"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_configs_are_valid(path):
    # WHEN each example is loaded THEN it validates and has a laptop profile
    config = load_config(path)
    assert "laptop" in config.profiles


def test_published_schema_is_current():
    # GIVEN the schema file in the repo THEN it equals the model's schema (python -m training.config)
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()
    assert json.loads(schema_text())["additionalProperties"] is False


def test_bad_config_names_the_field():
    # WHEN an image size is not a multiple of 32 THEN the message names training.imgsz
    with pytest.raises(ConfigError, match=r"training\.imgsz"):
        parse_config({"skill": "x", "training": {"imgsz": 100}})
    with pytest.raises(ConfigError, match=r"training\.test_imgsz"):
        parse_config({"skill": "x", "training": {"test_imgsz": 300}})
    with pytest.raises(ConfigError, match=r"profiles\.gpu"):
        parse_config({"skill": "x", "profiles": {"laptop": {"kind": "local"}, "gpu": {"kind": "sagemaker"}}})


def test_gpu_profile_becomes_a_spot_training_job_with_max_runtime():
    # GIVEN the make skill config and its gpu profile
    config = load_config(next(p for p in CONFIGS if p.name == "car-make.json"))
    # WHEN the state machine input is built
    uris = {"code": "s3://b/c.tgz", "config": "s3://b/cfg/", "models": "s3://b/m/"}
    payload = execution_input(launch_template(config, "car-make", "gpu", "img", uris, "sha"), 4)
    # THEN it asks for ml.g5.xlarge on managed spot with the profile's limits
    assert payload["training"] == {
        "instance_type": "ml.g5.xlarge",
        "instance_count": 1,
        "volume_gb": 30,
        "max_runtime_s": 7200,
        "use_spot": True,
        "max_wait_s": 14400,
        "image_uri": "img",
    }
    assert payload["hyperparameters"]["skill_version"] == "4"
    assert payload["hyperparameters"]["sagemaker_program"] == "training/train.py"
    assert payload["hyperparameters"]["sagemaker_submit_directory"] == "s3://b/c.tgz"
    assert payload["config"] == "car-make" and payload["job_name"].startswith("skillforge-car-make-v4-")
    # AND a local profile cannot be sent to SageMaker
    with pytest.raises(ValueError, match="sagemaker profile"):
        launch_template(config, "car-make", "laptop", "img", {"code": "", "config": "", "models": ""}, "sha")


def test_training_job_names_match_the_notification_rule_prefix() -> None:
    # GIVEN a skill version WHEN its SageMaker job is named
    name = job_name("car-make", 3, now=0)
    # THEN it starts with the prefix the EventBridge notify rule matches, within SageMaker's 63 characters
    assert name.startswith("skillforge-") and "car-make-v3-" in name and len(name) <= 63


def test_copy_paste_occlusion_without_an_occluder_folder_is_refused():
    # GIVEN copy-paste occlusion with no folder of occluder objects (training crops would be pasted:
    # another class's car over the car)
    # WHEN the config is parsed THEN it is refused with the reason
    with pytest.raises(ConfigError, match="occluders_dir"):
        parse_config({"skill": "s", "augment": {"copy_paste_occlusion": True}})


def test_a_flip_confidence_without_flip_tta_is_refused_by_name():
    # GIVEN a confidence above which the mirror image is skipped, but no flip test-time augmentation
    # WHEN the config is parsed THEN it is refused, naming the field and the missing setting
    with pytest.raises(ConfigError, match=r"tta_confidence 0\.7 needs tta 'hflip'"):
        parse_config({"skill": "s", "training": {"tta": "none", "tta_confidence": 0.7}})
    # AND a confidence outside (0, 1] is refused too
    with pytest.raises(ConfigError, match=r"training\.tta_confidence"):
        parse_config({"skill": "s", "training": {"tta": "hflip", "tta_confidence": 1.5}})


def test_trainer_arguments_carry_the_recipe_and_a_sane_warm_up(tmp_path):
    # GIVEN the make skill's config
    config = load_config(Path(__file__).parents[2] / "training" / "configs" / "car-make.json")
    _, profile = config.profile("laptop")
    # WHEN turned into trainer arguments
    args = trainer_arguments(config, profile, tmp_path / "data", tmp_path / "work")
    # THEN the recipe arrives as configured: cosine schedule, no bias warm-up kick, no accumulation
    assert args["epochs"] == config.training.epochs
    assert args["cos_lr"] is True
    assert args["warmup_bias_lr"] <= config.training.lr0
    assert args["nbs"] == args["batch"]
    assert args["scale"] == config.training.crop_scale
    assert args["fliplr"] == 0.0 and args["flipud"] == 0.0


def test_a_cpu_profile_trains_on_every_core_unless_it_names_a_thread_count():
    # GIVEN a local CPU profile without a thread count, and one that names 3
    config = parse_config(
        {
            "skill": "s",
            "profiles": {
                "laptop": {"kind": "local"},
                "shared-box": {"kind": "local", "threads": 3},
            },
        }
    )
    # WHEN each is asked for its torch thread count
    _, default = config.profile("laptop")
    _, named = config.profile("shared-box")
    # THEN the default is every core this process may use (Ultralytics alone would leave one idle)
    assert default.cpu_threads() == len(os.sched_getaffinity(0))
    # AND a named count is kept
    assert named.cpu_threads() == 3


def test_a_skill_ships_its_best_validation_epoch_unless_told_the_last(tmp_path):
    # GIVEN a run that saved both checkpoints
    best, last = tmp_path / "best.pt", tmp_path / "last.pt"
    best.write_bytes(b"best")
    last.write_bytes(b"last")
    # WHEN the rule is 'best' (the default) THEN the best epoch ships; with 'last' the last one does
    assert parse_config({"skill": "x"}).training.checkpoint == "best"
    assert shipped_checkpoint("best", best, last) == best
    assert shipped_checkpoint("last", best, last) == last
    # AND without a best checkpoint saved, the last one ships
    best.unlink()
    assert shipped_checkpoint("best", best, last) == last


def test_test_input_size_defaults_to_the_training_size():
    # GIVEN a config without test_imgsz and one with it
    plain = parse_config({"skill": "x", "training": {"imgsz": 256}})
    larger = parse_config({"skill": "x", "training": {"imgsz": 256, "test_imgsz": 320}})
    # THEN the version is tested and served at the training size, or at test_imgsz when set
    assert plain.training.served_imgsz == 256
    assert larger.training.served_imgsz == 320
