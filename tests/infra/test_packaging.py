"""Zip Lambda packaging (infra/constructs/python_code.py): code asset, dependencies layer, pins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

from infra.config import REPO_ROOT
from infra.constructs.python_code import (
    ZIP_REQUIREMENTS,
    DependenciesLayer,
    LocalPipBundling,
    pip_install_command,
    pip_platform,
    python_version,
)
from tests.infra.conftest import Synthesized

# Pins that differ on purpose (see the header of requirements-lambda-zip.txt).
ZIP_ONLY_PINS = {"pillow", "numpy"}


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if match := re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", requirement):
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_zip_requirements_keep_the_lambda_pins_except_the_documented_ones() -> None:
    # GIVEN the zip layer's pins and the Lambda runtime pins
    zip_pins = _pins(REPO_ROOT / ZIP_REQUIREMENTS)
    lambda_pins = _pins(REPO_ROOT / "requirements-lambda.txt")
    # THEN every zip pin is a Lambda package, at the same version unless it is a documented exception
    assert zip_pins and set(zip_pins) <= set(lambda_pins)
    differing = {name for name, version in zip_pins.items() if lambda_pins[name] != version}
    assert differing == ZIP_ONLY_PINS


def test_pip_installs_wheels_for_the_lambda_platform_and_python() -> None:
    # GIVEN the runtime and architecture of the zip functions
    platform = pip_platform(lambda_.Architecture.ARM_64)
    version = python_version(lambda_.Runtime.PYTHON_3_11)
    # WHEN the pip arguments are built
    args = pip_install_command("req.txt", "/out/python", platform=platform, version=version)
    # THEN they ask for manylinux2014 aarch64 CPython 3.11 wheels only, into the target folder
    joined = " ".join(args)
    assert "--platform manylinux2014_aarch64" in joined
    assert "--only-binary=:all:" in args and "--python-version 3.11" in joined
    assert "--implementation cp" in joined and "-r req.txt -t /out/python" in joined


def test_a_non_python_runtime_is_refused_by_name() -> None:
    # GIVEN a Node.js runtime / THEN no pip version can be derived, and the error names it
    with pytest.raises(ValueError, match=r"nodejs20\.x"):
        python_version(lambda_.Runtime.NODEJS_20_X)


def test_local_bundling_reports_failure_so_cdk_can_fall_back_to_docker(tmp_path: Path) -> None:
    # GIVEN a requirements file pip cannot parse
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("this is not a requirement ===\n")
    bundler = LocalPipBundling(requirements, platform="manylinux2014_aarch64", version="3.11")
    # WHEN it tries to bundle
    # THEN it says it did not (CDK then uses the Docker image bundling), leaving nothing installed
    assert bundler.try_bundle(str(tmp_path / "out")) is False
    assert not (tmp_path / "out" / "python").exists()


def test_a_missing_requirements_file_is_refused_naming_it(tmp_path: Path) -> None:
    # GIVEN a folder without the requirements file
    # THEN the layer cannot be declared, and the error names the missing file
    with pytest.raises(ValueError, match=r"requirements-lambda-zip\.txt"):
        DependenciesLayer(Stack(App(), "Any"), "Deps", repo_root=tmp_path)


def test_function_code_asset_is_the_functions_folder_without_caches(synthesized: Synthesized) -> None:
    # GIVEN the staged assets of the synthesis
    staged = [p for p in synthesized.outdir.glob("asset.*") if (p / "functions").is_dir()]
    # WHEN the zip functions' asset is picked (the detect image's context also holds requirements files)
    zip_assets = [p for p in staged if {c.name for c in p.iterdir()} == {"functions"}]
    assert len(zip_assets) == 1, staged
    root = zip_assets[0]
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    # THEN it holds the handlers, the review page and the task template, and no caches
    for needed in ("functions/handoff/handler.py", "functions/review_api/handler.py"):
        assert needed in files
    assert any(f.startswith("functions/review_api/static/") for f in files)
    assert any(f.startswith("functions/core/labelling/templates/") for f in files)
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    assert "functions/core/base/CODE_VERSION" not in files


def test_layer_bundling_is_skipped_when_the_stack_is_not_in_bundling_stacks(synthesized: Synthesized) -> None:
    # GIVEN the test synthesis, which sets aws:cdk:bundling-stacks to []
    # THEN no bundling ran (no pip, no Docker): no bundled output in the cloud assembly
    assert not list(synthesized.outdir.glob("bundling-temp-*"))
    assert synthesized.stack.bundling_required is False
