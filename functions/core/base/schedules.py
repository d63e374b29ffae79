"""The stack's scheduled functions, declared once: the CDK constructs build their EventBridge rules
from these entries, and `skillforge up` runs the same handlers on its own (short) interval.

Plain data (no clients, no loggers): synth imports it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Cron(BaseModel):
    """EventBridge cron fields (UTC); omitted fields are EventBridge's defaults (`*` / `?`)."""

    model_config = ConfigDict(frozen=True)

    minute: str | None = None
    hour: str | None = None
    day: str | None = None
    month: str | None = None
    week_day: str | None = None
    year: str | None = None

    def fields(self) -> dict[str, str]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


class ScheduledFunction(BaseModel):
    """One function the stack runs on a schedule: `functions/<module>/handler.py`, rate or cron."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    module: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    every_minutes: int | None = Field(default=None, ge=1, le=1440, description="rate(N minutes)")
    cron: Cron | None = None

    def expression(self, every_minutes: int | None = None) -> str:
        """The EventBridge schedule expression (a stage may give the rate its own minutes)."""
        minutes = every_minutes or self.every_minutes
        if minutes is not None:
            return f"rate({minutes} minute{'s' if minutes > 1 else ''})"
        assert self.cron is not None
        fields = self.cron.fields()
        day, week_day = fields.get("day"), fields.get("week_day")
        parts = [
            fields.get("minute", "*"),
            fields.get("hour", "*"),
            day if day is not None else ("?" if week_day is not None else "*"),
            fields.get("month", "*"),
            week_day if week_day is not None else "?",
            fields.get("year", "*"),
        ]
        return f"cron({' '.join(parts)})"

    def event(self, region: str = "us-east-1", account: str = "000000000000") -> dict[str, Any]:
        """The event EventBridge sends a scheduled target (what `skillforge up` passes the handler)."""
        from functions.core.base.records import utc_now

        return {
            "version": "0",
            "id": f"skillforge-local-{self.name}",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account,
            "time": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [f"arn:aws:events:{region}:{account}:rule/skillforge-{self.name}"],
            "detail": {},
        }


HANDOFF_EVERY_MINUTES = 15  # the default; a stage sets its own (cdk.json labellingHandoffEveryMinutes)
HANDOFF = ScheduledFunction(
    name="labelling-handoff",
    module="handoff",
    description="send waiting crops to labelling",
    every_minutes=HANDOFF_EVERY_MINUTES,
)
DRIFT = ScheduledFunction(
    name="drift-monitor",
    module="drift",
    description="score yesterday's photos and answers for drift",
    cron=Cron(minute="0", hour="1"),
)
SCHEDULES: tuple[ScheduledFunction, ...] = (HANDOFF, DRIFT)
