"""The stack's schedules in local mode (`skillforge up`): declared once, run on a local interval."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.base.schedules import DRIFT, HANDOFF, SCHEDULES, Cron, ScheduledFunction
from scripts.local.schedules import LocalSchedules, intervals_for, parse_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recording(calls: list[tuple[str, dict[str, Any]]], fail: set[str] | None = None) -> Any:
    def handlers(declared: ScheduledFunction) -> Any:
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            calls.append((declared.name, event))
            if fail and declared.name in fail:
                raise RuntimeError("boom")
            return {"ok": True}

        return handler

    return handlers


def test_durations_are_read_with_their_units() -> None:
    # GIVEN the forms --schedule-every accepts  THEN each is read in seconds, off/0 meaning not run
    assert [parse_duration(t) for t in ("30s", "5m", "1h", "500ms", "2", "off", "0")] == [
        30.0,
        300.0,
        3600.0,
        0.5,
        2.0,
        None,
        None,
    ]
    # AND anything else is refused, naming the value
    with pytest.raises(ValueError, match="not a duration: '5 minutes'"):
        parse_duration("5 minutes")


def test_every_declared_schedule_runs_at_the_interval_and_an_override_wins() -> None:
    # GIVEN every schedule every 10 s, the drift monitor off
    intervals = intervals_for(10.0, ["drift-monitor=off"])
    assert intervals == {HANDOFF.name: 10.0, DRIFT.name: None}
    calls: list[tuple[str, dict[str, Any]]] = []
    clock = Clock()
    schedules = LocalSchedules(intervals, clock=clock, handlers=recording(calls), log=lambda _: None)
    # WHEN time passes
    assert schedules.due() == []  # not at start: one interval after up starts
    clock.now += 10
    assert schedules.due() == [HANDOFF.name]
    clock.now += 5
    assert schedules.due() == []
    clock.now += 5
    assert schedules.due() == [HANDOFF.name]
    # THEN the hand-off handler got EventBridge's scheduled event, twice; the drift monitor never ran
    assert [name for name, _ in calls] == [HANDOFF.name, HANDOFF.name]
    assert calls[0][1]["detail-type"] == "Scheduled Event" and calls[0][1]["source"] == "aws.events"


def test_a_failing_run_is_logged_and_run_again_at_the_next_interval() -> None:
    # GIVEN a drift monitor that fails
    calls: list[tuple[str, dict[str, Any]]] = []
    logged: list[str] = []
    clock = Clock()
    schedules = LocalSchedules(
        {DRIFT.name: 1.0}, clock=clock, handlers=recording(calls, fail={DRIFT.name}), log=logged.append
    )
    # WHEN two intervals pass
    for _ in range(2):
        clock.now += 1
        schedules.due()
    # THEN it was tried each time, its failure on the log, and the loop went on
    assert [name for name, _ in calls] == [DRIFT.name, DRIFT.name]
    assert logged == [f"schedule {DRIFT.name}: failed: RuntimeError: boom"] * 2
    assert schedules.entries[0].failures == 2


def test_unknown_schedule_names_are_refused() -> None:
    # GIVEN a name the stack does not declare  THEN it is refused with the declared names
    with pytest.raises(ValueError, match="unknown schedule 'reconcile'"):
        intervals_for(30.0, ["reconcile=5m"])
    with pytest.raises(ValueError, match="NAME=DURATION"):
        intervals_for(30.0, ["drift-monitor"])


def test_schedule_expressions_are_eventbridges() -> None:
    # GIVEN a rate and a cron declaration  THEN their expressions are what EventBridge takes
    assert HANDOFF.expression() == f"rate({HANDOFF.every_minutes} minutes)"
    assert HANDOFF.expression(1) == "rate(1 minute)"
    assert DRIFT.expression() == "cron(0 1 * * ? *)"
    weekly = ScheduledFunction(
        name="weekly", module="drift", description="", cron=Cron(minute="5", week_day="MON")
    )
    assert weekly.expression() == "cron(5 * ? * MON *)"
    assert {d.module for d in SCHEDULES} == {"handoff", "drift"}
