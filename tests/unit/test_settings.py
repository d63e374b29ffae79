from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.core.base.resources import ResourceNames
from functions.core.base.settings import AwsSettings
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


def test_region_comes_from_lambdas_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a Lambda environment: AWS_REGION set by the runtime, no SKILLFORGE_AWS_REGION
    monkeypatch.delenv("SKILLFORGE_AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    # WHEN settings load / THEN the function talks to that region, not us-east-1
    assert AwsSettings().aws_region == "eu-west-1"


def test_an_explicit_skillforge_region_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN both variables / WHEN settings load / THEN the project's own setting is used
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("SKILLFORGE_AWS_REGION", "ap-south-1")
    assert AwsSettings().aws_region == "ap-south-1"
