"""The stack's schedules in local mode: each scheduled function of functions/core/base/schedules.py
(the list the CDK constructs build their EventBridge rules from) is called in-process, with an
EventBridge scheduled event, every `interval` seconds (short locally: `skillforge up --schedule-every`).

`due()` is called from the loop that delivers events (scripts/local/stack.py), so handlers never run
concurrently; a failing run is logged on stderr and retried at the next interval, as a scheduled
Lambda's would be at its next rate.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.core.base.schedules import SCHEDULES, ScheduledFunction
from scripts.local.delivery import FakeLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """`30s`, `5m`, `1h`, `500ms` or plain seconds → seconds; `off` (or 0) → None (not run)."""
    value = text.strip().lower()
    if value in {"off", "never", "0"}:
        return None
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 5m, 1h, or off)")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    return seconds if seconds > 0 else None


def handler_of(declared: ScheduledFunction) -> Handler:
    """functions/<module>/handler.py's `handler` (imported when first run, as a cold start)."""
    module = importlib.import_module(f"functions.{declared.module}.handler")
    handler: Handler = module.handler
    return handler


@dataclass
class Scheduled:
    declared: ScheduledFunction
    interval_s: float
    next_at: float
    runs: int = 0
    failures: int = 0


@dataclass
class LocalSchedules:
    """Runs each declared schedule every `intervals[name]` seconds (None: not run)."""

    intervals: dict[str, float | None]
    clock: Callable[[], float] = time.monotonic
    handlers: Callable[[ScheduledFunction], Handler] = handler_of
    log: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr, flush=True))
    declared: Sequence[ScheduledFunction] = SCHEDULES

    def __post_init__(self) -> None:
        unknown = set(self.intervals) - {d.name for d in self.declared}
        if unknown:
            known = ", ".join(d.name for d in self.declared)
            raise ValueError(f"unknown schedule(s): {', '.join(sorted(unknown))}; the stack's: {known}")
        start = self.clock()
        self.entries = [
            Scheduled(d, interval, start + interval)
            for d in self.declared
            if (interval := self.intervals.get(d.name)) is not None
        ]

    def describe(self) -> str:
        if not self.entries:
            return "schedules: none run"
        parts = [
            f"{e.declared.name} (functions/{e.declared.module}, cloud {e.declared.expression()}) "
            f"every {e.interval_s:g} s"
            for e in self.entries
        ]
        return "schedules: " + "; ".join(parts)

    def due(self) -> list[str]:
        """Run every schedule whose time has come; returns the names run."""
        ran: list[str] = []
        for entry in self.entries:
            now = self.clock()
            if now < entry.next_at:
                continue
            self._run(entry)
            ran.append(entry.declared.name)
            # the next run one interval after this one ended (a slow run is not run back to back)
            entry.next_at = self.clock() + entry.interval_s
        return ran

    def _run(self, entry: Scheduled) -> None:
        name = entry.declared.name
        context = FakeLambdaContext(function_name=f"skillforge-local-{entry.declared.module}")
        try:
            result = self.handlers(entry.declared)(entry.declared.event(), context)
        except Exception as exc:  # the next interval runs it again, as EventBridge's next rate would
            entry.failures += 1
            self.log(f"schedule {name}: failed: {type(exc).__name__}: {exc}")
            return
        entry.runs += 1
        self.log(f"schedule {name}: ran: {_short(result)}")


def intervals_for(every_s: float | None, overrides: Sequence[str] = ()) -> dict[str, float | None]:
    """Every declared schedule at `every_s`, then `NAME=DURATION` overrides (`--schedule NAME=5m`)."""
    intervals: dict[str, float | None] = {d.name: every_s for d in SCHEDULES}
    for override in overrides:
        name, sep, duration = override.partition("=")
        if not sep:
            raise ValueError(f"--schedule wants NAME=DURATION, not {override!r}")
        if name not in intervals:
            known = ", ".join(intervals)
            raise ValueError(f"unknown schedule {name!r}; the stack's: {known}")
        intervals[name] = parse_duration(duration)
    return intervals


def _short(result: Any, limit: int = 300) -> str:
    text = str(result)
    return text if len(text) <= limit else text[: limit - 1] + "…"
