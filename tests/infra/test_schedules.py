"""Every EventBridge schedule of the stack comes from the one declaration `skillforge up` runs too."""

from __future__ import annotations

from typing import Any

from functions.core.base.schedules import SCHEDULES
from infra.config import CONTEXT_KEY, cdk_json_context
from tests.infra.conftest import STAGE, Synthesized


def _stage_minutes() -> int:
    minutes: int = cdk_json_context()[CONTEXT_KEY]["stages"][STAGE]["labellingHandoffEveryMinutes"]
    return minutes


def test_the_stacks_schedules_are_the_declared_ones(synthesized: Synthesized) -> None:
    # GIVEN the synthesized dev stage
    functions = synthesized.of_type("AWS::Lambda::Function")
    # WHEN its scheduled rules are read, with the module of the function each one invokes
    scheduled: dict[str, str] = {}
    for rule in synthesized.of_type("AWS::Events::Rule").values():
        props: dict[str, Any] = rule["Properties"]
        if "ScheduleExpression" not in props:
            continue
        (target,) = props["Targets"]
        handler = functions[target["Arn"]["Fn::GetAtt"][0]]["Properties"]["Handler"]
        module = handler.removeprefix("functions.").removesuffix(".handler.handler")
        assert module not in scheduled, f"two schedules invoke functions/{module}"
        scheduled[module] = props["ScheduleExpression"]
    # THEN they are exactly the declared schedules, each at its declared (or the stage's) interval
    expected = {
        d.module: d.expression(_stage_minutes() if d.every_minutes is not None else None) for d in SCHEDULES
    }
    assert scheduled == expected
