"""The production stack's state machines and functions on moto, as `cdk synth` writes them.

`synthesize_stage()` builds the app of app.py (cdk.json's context, one stage, no asset bundling) and
keeps what running it on the emulator needs: the state machine definitions and each function's
environment (intrinsics resolved with `tests.support.sfn.resolve` against the resources the test
creates), and the logical ids of the resources they name. `function_handler()` is what
`tests.support.sfn.InProcessLambda` runs for an invoke: the function's real handler module in its
environment from the template (what Lambda sets, plus the Dockerfile ENV of an image function).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def function_handler(module_name: str, variables: dict[str, str]) -> Callable[[dict[str, Any], Any], Any]:
    """A function as Lambda runs it, for `tests.support.sfn.InProcessLambda`: its handler module called
    in its environment (`variables`), each invoke a cold start of the module's cached wiring."""

    def invoke(event: dict[str, Any], context: Any) -> Any:
        with environment(variables):
            module = importlib.import_module(module_name)
            deps: Any = getattr(module, "deps", None)
            clear = getattr(deps, "cache_clear", None)
            if clear is not None:
                clear()
            try:
                return module.handler(event, context)
            finally:
                if clear is not None:
                    clear()

    return invoke


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
