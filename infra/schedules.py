"""EventBridge schedules from the one declaration of the stack's scheduled functions
(functions/core/base/schedules.py; `skillforge up` runs the same list locally)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events

from functions.core.base.schedules import ScheduledFunction


def event_schedule(declared: ScheduledFunction, every_minutes: int | None = None) -> events.Schedule:
    """The rule's schedule: the declared rate (or the stage's own minutes), or the declared cron."""
    minutes = every_minutes or declared.every_minutes
    if minutes is not None:
        return events.Schedule.rate(Duration.minutes(minutes))
    assert declared.cron is not None, f"{declared.name}: neither a rate nor a cron"
    return events.Schedule.cron(**declared.cron.fields())
