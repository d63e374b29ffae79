"""The serving cache of skill versions never answers with a stale copy of a re-used artifact URI."""

from __future__ import annotations

import shutil
from pathlib import Path

from functions.core.base.artifacts import Artifacts
from functions.core.serving.skills import load_onnx_skill
from tests.support.serving import export_onnx
from tests.support.tiny_skill import build_tiny_skill


def test_a_new_training_under_the_same_artifact_uri_is_served_not_the_cached_one(tmp_path: Path) -> None:
    # GIVEN version 1 of a skill served once from its artifact folder (and so cached)
    uri = tmp_path / "bucket" / "skills" / "colour" / "v000001"
    build_tiny_skill(tmp_path / "first", "colour", 1, classes=["red", "green"])
    shutil.copytree(export_onnx(tmp_path / "first"), uri)
    cache = tmp_path / "cache"
    first = load_onnx_skill(Artifacts(None), f"{uri}/", cache)
    # WHEN another training's version 1 (other classes) replaces it under the same URI
    shutil.rmtree(uri)
    build_tiny_skill(tmp_path / "second", "colour", 1, classes=["red", "green", "blue"])
    shutil.copytree(export_onnx(tmp_path / "second"), uri)
    second = load_onnx_skill(Artifacts(None), f"{uri}/", cache)
    # THEN the new version answers, with its own classes
    assert first.classes == ["red", "green"]
    assert second.classes == ["red", "green", "blue"]
