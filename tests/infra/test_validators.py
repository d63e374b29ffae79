"""External validators on the synthesized template: cfn-lint, asl-validator; checkov acknowledgements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from infra.checkov import CHECKOV_METADATA, skip_check
from scripts.validate_templates import asl_validator, cfn_lint, state_machine_definitions
from tests.infra.conftest import Synthesized


@pytest.fixture(scope="module")
def template_paths(synthesized: Synthesized) -> list[Path]:
    return sorted(synthesized.outdir.glob("*.template.json"))


def test_cfn_lint_finds_no_error_in_the_synthesized_templates(template_paths: list[Path]) -> None:
    # GIVEN the synthesized templates / WHEN cfn-lint checks them / THEN it reports no error
    report = cfn_lint(template_paths)
    assert report.ok, report.details


def test_every_state_machine_is_valid_amazon_states_language(template_paths: list[Path]) -> None:
    # GIVEN the state machines of the stack (make-skill, train-and-gate, reprocess)
    machines = len(state_machine_definitions(template_paths))
    assert machines >= 3
    # WHEN asl-validator checks their definitions
    report = asl_validator(template_paths)
    # THEN every one is valid
    assert report.ok and report.summary.startswith(f"{machines} of {machines}"), report.details


def test_asl_validator_rejects_a_broken_definition(template_paths: list[Path], tmp_path: Path) -> None:
    # GIVEN a synthesized definition whose first state points to a state that does not exist
    name, definition = next(iter(state_machine_definitions(template_paths).items()))
    definition["States"][definition["StartAt"]]["Next"] = "NoSuchState"
    definition["States"][definition["StartAt"]].pop("End", None)
    broken = tmp_path / "broken.template.json"
    body = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"DefinitionString": json.dumps(definition)},
    }
    broken.write_text(json.dumps({"Resources": {name: body}}))
    # WHEN it is validated / THEN the validator refuses it, naming the state machine
    report = asl_validator([broken])
    assert not report.ok and report.details[0].startswith(name)


def test_a_checkov_skip_needs_a_written_reason() -> None:
    # GIVEN a queue / WHEN a check is skipped without a reason / THEN that is refused
    queue = sqs.Queue(Stack(App(), "S"), "Q")
    with pytest.raises(ValueError, match="needs a written reason"):
        skip_check(queue, "CKV_AWS_27", " ")


def test_a_checkov_skip_lands_in_the_resource_metadata_with_its_reason() -> None:
    # GIVEN a queue / WHEN a check is skipped with a reason
    stack = Stack(App(), "S")
    queue = sqs.Queue(stack, "Q")
    skip_check(queue, "CKV_AWS_27", "because")
    # THEN the template carries it where checkov reads it
    metadata = queue.node.default_child.get_metadata(CHECKOV_METADATA)  # type: ignore[union-attr]
    assert metadata == {"skip": [{"id": "CKV_AWS_27", "comment": "because"}]}
