"""Synthesizes the CDK app once per test session (as `python app.py` does) for template assertions."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner for Node 20 (end of life for jsii, still what the project pins).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

STAGE = "dev"


@dataclass
class Synthesized:
    """The app as synthesized: its stack, the template, the assets manifest and cdk-nag's report."""

    app: Any
    stack: Any
    outdir: Path
    template: Any  # aws_cdk.assertions.Template
    resources: dict[str, dict[str, Any]]
    validation_error: str | None

    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report

    def assets(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads(
            (self.outdir / f"{self.stack.stack_name}.assets.json").read_text()
        )
        return manifest

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == cfn_type}

    def logical_id(self, construct: Any) -> str:
        logical: str = self.stack.get_logical_id(construct.node.default_child)
        return logical

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """One synthesis of the `dev` stage with cdk.json's context and the cdk-nag checks, like app.py."""
    from aws_cdk.assertions import Template

    from infra.application import build_app
    from infra.config import STAGE_CONTEXT_KEY, cdk_json_context
    from infra.stacks.skillforge_stack import SkillforgeStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(context={**cdk_json_context(), STAGE_CONTEXT_KEY: STAGE}, outdir=str(outdir))
    error: str | None = None
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings fail synthesis; the nag test reports them
        error = str(exc)
    stack = app.node.find_child(f"skillforge-{STAGE}")
    assert isinstance(stack, SkillforgeStack)
    template_json = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    yield Synthesized(
        app=app,
        stack=stack,
        outdir=outdir,
        template=Template.from_json(template_json),
        resources=template_json["Resources"],
        validation_error=error,
    )
