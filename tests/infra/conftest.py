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
BUNDLING_STACKS = "aws:cdk:bundling-stacks"  # cx-api BUNDLING_STACKS: stacks whose assets are bundled


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

    def granted(self, role: Any) -> dict[str, set[str]]:
        """The actions `role`'s identity policies allow, keyed by resource (JSON of its CloudFormation)."""
        role_ref = {"Ref": self.logical_id(role)}
        granted: dict[str, set[str]] = {}
        for policy in self.of_type("AWS::IAM::Policy").values():
            if role_ref not in policy["Properties"]["Roles"]:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow", statement
                resources = statement["Resource"]
                actions = statement["Action"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    granted.setdefault(json.dumps(resource, sort_keys=True), set()).update(
                        [actions] if isinstance(actions, str) else actions
                    )
        return granted

    def arn(self, construct: Any, suffix: str = "") -> str:
        """A granted() key: the construct's `Arn` attribute, optionally with a suffix (`/*`, `/index/x`)."""
        arn = {"Fn::GetAtt": [self.logical_id(construct), "Arn"]}
        return json.dumps({"Fn::Join": ["", [arn, suffix]]} if suffix else arn, sort_keys=True)

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
    # No asset bundling (the dependencies layer's pip install): synthesis stays fast and offline.
    context = {**cdk_json_context(), STAGE_CONTEXT_KEY: STAGE, BUNDLING_STACKS: []}
    app = build_app(context=context, outdir=str(outdir))
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
