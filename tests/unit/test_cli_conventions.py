"""The CLI's conventions: results alone on stdout, --version, one-line errors with documented exit codes,
and where the models are looked for."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from scripts.cli import main
from scripts.commands import models as models_command
from scripts.commands.output import (
    EXIT_AWS,
    EXIT_BAD_INPUT,
    emit_json,
    progress,
    results_on_stdout,
)

NO_AWS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_SECURITY_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "SKILLFORGE_AWS_ENDPOINT_URL": None,
}


def _env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_only_results_reach_stdout_while_a_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    # GIVEN a command body that logs through powertools, flushes an EMF metric, prints chatter and shows
    # a progress bar, with --verbose so that logs and metrics are on
    with results_on_stdout(level=1):
        logger = Logger(service="cli-test")
        logger.info("a log line")
        metrics = Metrics(namespace="cli-test", service="cli-test")
        metrics.add_metric(name="Things", unit=MetricUnit.Count, value=3)
        metrics.flush_metrics()
        print("epoch=1; loss=0.5;")
        with progress("working", total=2) as bar:
            bar.advance()
            bar.advance()
        # WHEN the command emits its result
        emit_json({"image": "a.jpg", "cars": 1})
    captured = capsys.readouterr()

    # THEN stdout holds only the result, as JSON, and everything else went to stderr
    assert [json.loads(line) for line in captured.out.splitlines()] == [{"image": "a.jpg", "cars": 1}]
    assert "a log line" in captured.err and '"Things"' in captured.err and "epoch=1;" in captured.err


def test_version_prints_package_and_code_version(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN `skillforge --version` runs
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    # THEN it exits 0 with the package and code version on stdout
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("skillforge ")


def test_gate_without_stack_names_or_state_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no AWS credentials, no stack names and no --state
    _env(monkeypatch, NO_AWS | {"SKILLFORGE_CATALOG_TABLE": None, "SKILLFORGE_ARTIFACTS_BUCKET": None})
    # WHEN `skillforge gate` runs
    code = main(["gate", "car-make", "2"])
    # THEN it fails with one line that names the missing settings and local mode, and no traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT
    assert len(err) == 1 and "Traceback" not in err[0]
    assert "SKILLFORGE_CATALOG_TABLE" in err[0] and "--state" in err[0]


def test_aws_without_credentials_is_one_line_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the stack's names but no credentials anywhere
    _env(monkeypatch, NO_AWS | {"SKILLFORGE_CATALOG_TABLE": "t", "SKILLFORGE_ARTIFACTS_BUCKET": "b"})
    from functions.core.base.aws import _session

    _session.cache_clear()
    # WHEN a command that reads AWS runs
    code = main(["skills", "list"])
    _session.cache_clear()
    # THEN one line says the credentials are missing, exit code 4, no traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_AWS
    assert len(err) == 1 and "no usable AWS credentials" in err[0]


def test_models_are_found_beside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a clone with ../shared/models beside it, holding the detector, and no environment variable
    repo = tmp_path / "skillforge"
    (tmp_path / "shared" / "models" / "yolo11n_int8_openvino_model").mkdir(parents=True)
    monkeypatch.setattr(models_command, "REPO", repo)
    _env(monkeypatch, {"SKILLFORGE_MODELS_DIR": None, "XDG_DATA_HOME": str(tmp_path / "xdg")})
    # WHEN `skillforge models` lists what it found
    code = main(["models", "--format", "jsonl"])
    rows = {r["model"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    # THEN the detector is found there, and the missing training weights come with the command making them
    assert rows["yolo11n_int8_openvino_model"]["path"] == str(
        (tmp_path / "shared" / "models" / "yolo11n_int8_openvino_model").resolve()
    )
    missing = rows["yolov5n-coco-state-dict.pt"]
    assert missing["status"] == "missing" and "torch.save" in missing["produce"]
    assert str(Path(sys.executable).parent) in missing["produce"]
    assert code == 1  # a required model is missing


def test_detect_with_no_model_anywhere_names_the_folders_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no models folder at all
    monkeypatch.setattr(models_command, "REPO", tmp_path / "skillforge")
    _env(monkeypatch, {"SKILLFORGE_MODELS_DIR": None, "XDG_DATA_HOME": str(tmp_path / "xdg")})
    # WHEN `skillforge detect` runs
    code = main(["detect", str(tmp_path)])
    # THEN one line names the model, where it looked and `skillforge models`
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT and len(err) == 1
    assert "yolo11n_int8_openvino_model" in err[0] and "skillforge models" in err[0]
    assert str(tmp_path / "xdg" / "skillforge" / "models") in err[0]


@pytest.mark.slow
@pytest.mark.isolated  # in the parallel run its test worker was lost after it (not reproduced alone)
def test_readme_detect_example_works_without_environment_variables() -> None:
    import os
    import subprocess

    # GIVEN a clone with ../shared beside it and no SKILLFORGE_* variable (as a new user has it)
    repo = Path(__file__).resolve().parents[2]
    photo = repo.parent / "shared" / "data" / "cars" / "stanfordcars_00022.jpg"
    if (
        not (repo.parent / "shared" / "models" / "yolo11n_int8_openvino_model").is_dir()
        or not photo.is_file()
    ):
        pytest.skip(f"{repo.parent / 'shared'} with models and photos is not beside the repository")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLFORGE_", "POWERTOOLS_"))}
    # WHEN the README's example runs (plus a folder without cars), as a separate process
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.cli",
            "detect",
            "--format",
            "jsonl",
            str(photo),
            "samples/images/not-cars",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it succeeds, every stdout line is JSON, and the car photo has a car
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 9 and rows[0]["status"] == "cars_found"
    assert {r["status"] for r in rows[1:]} <= {"no_car", "cars_found"}
