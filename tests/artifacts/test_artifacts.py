"""Every function as `cdk synth` packages it imports and handles its sample event with only its artifact.

Slow on a cold cache (the requirement sets are downloaded once into .work/wheels and installed once per
content hash into .work/artifacts); later runs reuse them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from infra.artifacts import EVALUATE_IMAGE, TRAINING_IMAGE, ZIP_LAYER
from infra.config import REPO_ROOT
from scripts.artifacts_check import (
    PIPELINE_ORDER,
    Outcome,
    PackagedFunction,
    check,
    missing_packages,
    packaged_functions,
    requirement_names,
    resolved_distributions,
    synthesize,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def outcomes(synthesized: Path) -> Iterator[dict[str, Outcome]]:
    yield {outcome.function: outcome for outcome in check(synthesized)}


@pytest.fixture(scope="module")
def functions(synthesized: Path) -> dict[str, PackagedFunction]:
    return {function.name: function for function in packaged_functions(synthesized)}


def test_every_function_of_the_stack_is_checked(functions: dict[str, PackagedFunction]) -> None:
    # GIVEN the synthesized stack / THEN its functions are exactly the project's handlers
    assert sorted(functions) == sorted(PIPELINE_ORDER)


@pytest.mark.parametrize("name", PIPELINE_ORDER)
def test_the_handler_imports_and_handles_its_sample_event_with_only_its_artifact(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    # GIVEN the function's artifact installed for its platform (or resolved, for the torch image)
    outcome = outcomes[name]
    # THEN every module its handler can import is in the artifact
    assert outcome.imports_ok, outcome.line()
    # AND run in an isolated interpreter with only that artifact and the code, it handles a real event
    # (the torch images, whose torch comes from another wheel index or the base, are checked by imports)
    if outcome.artifact not in {EVALUATE_IMAGE.name, TRAINING_IMAGE.name}:
        assert outcome.handled.startswith("yes: "), outcome.line()


def test_the_light_detect_image_ships_no_torch(functions: dict[str, PackagedFunction]) -> None:
    # GIVEN the detect function's artifact
    artifact = functions["detect"].artifact
    # THEN it is the OpenVINO image, whose requirement set (and its dependencies) hold no torch
    names = {name.lower() for name in requirement_names(artifact)}
    assert artifact.dockerfile == "functions/detect/Dockerfile" and "openvino" in names
    resolved = resolved_distributions(artifact)
    assert not {"torch", "torchvision", "ultralytics"} & resolved, resolved


def _without(requirements: str, package: str, folder: Path) -> str:
    """A copy of a requirement set (its -r includes inlined) without one package."""
    lines: list[str] = []
    pending = [REPO_ROOT / requirements]
    while pending:
        for line in pending.pop(0).read_text().splitlines():
            if line.startswith("-r "):
                pending.append(REPO_ROOT / line.split()[1])
            elif not line.lower().startswith(f"{package}=="):
                lines.append(line)
    target = folder / f"without-{package}.txt"
    target.write_text("\n".join(lines) + "\n")
    return str(target)


def test_a_package_removed_from_the_zip_layer_fails_the_functions_that_import_it(
    functions: dict[str, PackagedFunction], tmp_path: Path
) -> None:
    # GIVEN the zip layer's requirement set without numpy
    artifact = replace(ZIP_LAYER, requirements=_without(ZIP_LAYER.requirements, "numpy", tmp_path))
    # WHEN the extract handler is checked against it
    missing = missing_packages(functions["extract"], artifact)
    # THEN numpy is reported missing, imported at import time
    assert any(line.startswith("numpy (at import") for line in missing), missing


def test_a_package_removed_from_the_evaluate_image_fails_evaluate(
    functions: dict[str, PackagedFunction], tmp_path: Path
) -> None:
    # GIVEN the evaluate image's requirement set without fpdf2 (the PDF report)
    artifact = replace(EVALUATE_IMAGE, requirements=_without(EVALUATE_IMAGE.requirements, "fpdf2", tmp_path))
    # WHEN the evaluate handler is checked against it / THEN fpdf (imported lazily by the report) is missing
    missing = missing_packages(functions["evaluate"], artifact)
    assert any(line.startswith("fpdf (lazily") for line in missing), missing
