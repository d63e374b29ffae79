"""The production stack's state machines and functions on moto, as `cdk synth` writes them.

`synthesize_stage()` builds the app of app.py (cdk.json's context, one stage, no asset bundling) and
keeps what running it on the emulator needs: the state machine definitions and each function's
environment, with CloudFormation intrinsics (`Ref`, `Fn::GetAtt ... Arn`, `Fn::Join`, pseudo
parameters) resolved against the resources the test creates. `InProcessLambda` is the Lambda runtime:
moto would start a container per invoke; here an invoke runs the function's real handler module
in-process with the function's environment from the template (what Lambda sets, plus the Dockerfile
ENV of an image function), each invoke a cold start of the module's cached wiring.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.local.delivery import FakeLambdaContext

REGION, ACCOUNT = "us-east-1", "123456789012"


@dataclass
class Synthesized:
    """What the emulator needs of one synthesized stage."""

    template: dict[str, Any]
    logical: dict[str, str]  # role in the test → logical id (functions, machines, resources)

    def resource(self, role: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.template["Resources"][self.logical[role]]
        return resource

    def definition(self, machine: str) -> Any:
        return self.resource(machine)["Properties"]["DefinitionString"]

    def environment(self, function: str) -> dict[str, Any]:
        variables: dict[str, Any] = self.resource(function)["Properties"]["Environment"]["Variables"]
        return variables


def synthesize_stage(outdir: Path, stage: str = "dev") -> Synthesized:
    """app.py's app for `stage` (cdk.json context, cdk-nag on), without bundling assets."""
    from infra.application import build_app
    from infra.config import STAGE_CONTEXT_KEY, cdk_json_context
    from infra.stacks.skillforge_stack import SkillforgeStack, stack_name

    context = {**cdk_json_context(), STAGE_CONTEXT_KEY: stage, "aws:cdk:bundling-stacks": []}
    app = build_app(context=context, outdir=str(outdir))
    app.synth()
    stack = app.node.find_child(stack_name(stage))
    assert isinstance(stack, SkillforgeStack)
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text(encoding="utf-8"))

    def logical(construct: Any) -> str:
        value: str = stack.get_logical_id(construct.node.default_child)
        return value

    training, gate, notifications = stack.training, stack.train_and_gate, stack.notifications
    return Synthesized(
        template=template,
        logical={
            "extract": logical(training.extract_fn),
            "register": logical(training.register_fn),
            "evaluate": logical(gate.evaluate_function),
            "promote": logical(gate.promote_function),
            "notify": logical(notifications.function),
            "make-skill": logical(training.state_machine),
            "train-and-gate": logical(gate.state_machine),
            "training-role": logical(training.training_role),
            "table": logical(stack.catalog_table),
            "artifacts": logical(stack.artifacts_bucket),
            "crops": logical(stack.crops_bucket),
            "raw": logical(stack.raw_bucket),
            "slack-secret": logical(notifications.slack_secret),
            "email-topic": logical(notifications.topic),
        },
    )


@dataclass
class Intrinsics:
    """Physical values of logical ids: `refs` for `Ref`, `arns` for `Fn::GetAtt [id, Arn]`."""

    refs: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(self.resolve(part) for part in parts)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", f"unexpected attribute {value}"
            return self.arns[logical_id]
        if "Ref" in value:
            pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
            ref = value["Ref"]
            if ref in pseudo:
                return pseudo[ref]
            assert ref in self.refs, f"no physical value for Ref {ref} (give it to Intrinsics.refs)"
            return self.refs[ref]
        raise AssertionError(f"unexpected intrinsic {value}")


@dataclass
class Function:
    module: str  # functions.<name>.handler
    environment: dict[str, str]


class InProcessLambda:
    """moto's Lambda invoke → the function's handler module, in its environment, in this process."""

    def __init__(self) -> None:
        self.functions: dict[str, Function] = {}
        self.calls: list[str] = []

    def invoke(
        self,
        function_name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        name = function_name.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        self.calls.append(name)
        function = self.functions[name]
        event = json.loads(body) if body else {}
        with environment(function.environment):
            module = importlib.import_module(function.module)
            deps: Callable[[], Any] | None = getattr(module, "deps", None)
            if deps is not None and hasattr(deps, "cache_clear"):
                deps.cache_clear()  # a cold start: wiring built from this function's environment
            try:
                result = module.handler(event, FakeLambdaContext(function_name=name))
            except Exception as exc:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
            finally:
                if deps is not None and hasattr(deps, "cache_clear"):
                    deps.cache_clear()
        return json.dumps(result).encode()


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """os.environ with `variables` set (and restored afterwards)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
