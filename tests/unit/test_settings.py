from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.core.base.resources import ResourceNames
from functions.core.detection.settings import DetectorSettings


def test_vehicle_classes_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the env lists classes as CSV
    monkeypatch.setenv("SKILLFORGE_VEHICLE_CLASSES", "car, bus")
    # WHEN settings load / THEN they are a clean list
    assert DetectorSettings().vehicle_classes == ["car", "bus"]


def test_bad_confidence_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a confidence outside (0, 1)
    monkeypatch.setenv("SKILLFORGE_CONFIDENCE", "1.5")
    # WHEN settings load / THEN the error names the field
    with pytest.raises(ValidationError, match="confidence"):
        DetectorSettings()


def test_stage_names_are_validated() -> None:
    # GIVEN an invalid stage name / THEN it is refused with the rule
    with pytest.raises(ValidationError, match="stage"):
        ResourceNames(stage="Prod_1")


def test_bucket_names_carry_the_suffix_in_the_cloud() -> None:
    names = ResourceNames(stage="prod", suffix="123456789012-eu-west-1")
    assert names.raw_bucket == "skillforge-prod-raw-123456789012-eu-west-1"
    assert names.catalog_table == "skillforge-prod-catalog"
