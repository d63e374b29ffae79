"""Where the CLI writes: a command's result on stdout, everything else on stderr.

`results_on_stdout()` wraps a command: while it runs, `sys.stdout` points at stderr, so whatever else
prints (powertools JSON logs, EMF metric blobs, training's `epoch=` lines, library chatter) lands on
stderr; only `emit()` / `emit_json()` / `emit_table()` reach the real stdout. Progress bars
(`progress()`) draw on stderr and stay silent with --quiet.

Exit codes (README "Exit codes"): 0 done, 1 the command ran and found a problem (audit not clean,
labelling import problems), 2 bad input or configuration, 3 the gate did not promote, 4 AWS refused
or could not be reached (credentials, region, permissions, endpoint), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from pydantic import ValidationError

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_BAD_INPUT = 2
EXIT_GATE_HELD = 3
EXIT_AWS = 4
EXIT_INTERRUPTED = 130

QUIET, NORMAL, VERBOSE = -1, 0, 1

_results: TextIO | None = None
_verbosity = NORMAL


def emit(text: str) -> None:
    """One line (or block) of the command's result, on stdout."""
    print(text, file=_results or sys.stdout, flush=True)


def emit_json(value: Any, indent: int | None = None) -> None:
    emit(json.dumps(value, ensure_ascii=False, default=str, indent=indent))


def emit_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain, aligned text table on stdout (no colours: it is meant to be piped too)."""
    cells = [[str(c) for c in header], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        emit("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def info(message: str) -> None:
    """A progress/log line on stderr (hidden by --quiet)."""
    if _verbosity > QUIET:
        print(message, file=sys.stderr, flush=True)


def verbosity() -> int:
    return _verbosity


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar with ETA on stderr; yields an object with `advance(n=1)` and `update(text)`."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=sys.stderr)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=_verbosity == QUIET,
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield _Task(bar, task)


@contextlib.contextmanager
def progress_from_metric_lines(description: str, total: int, metric: str = "epoch") -> Iterator[Any]:
    """A progress bar advanced by the `<metric>=N;` lines that training prints for SageMaker's metric
    definitions (training stays free of any CLI import); the lines themselves still reach stderr."""
    with progress(description, total=total) as bar:
        tap = _MetricTap(sys.stdout, bar, f"{metric}=")
        with contextlib.redirect_stdout(tap):
            yield bar


class _MetricTap:
    def __init__(self, target: TextIO, bar: Any, prefix: str) -> None:
        self._target, self._bar, self._prefix = target, bar, prefix

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.startswith(self._prefix):
                with contextlib.suppress(ValueError):
                    self._bar.update(completed=float(line[len(self._prefix) :].rstrip(";")))
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()


class _Task:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def advance(self, steps: float = 1) -> None:
        self._bar.advance(self._task, steps)

    def update(self, description: str | None = None, completed: float | None = None) -> None:
        self._bar.update(self._task, description=description, completed=completed)

    def total(self, total: int) -> None:
        self._bar.update(self._task, total=total)


@contextlib.contextmanager
def results_on_stdout(level: int = NORMAL) -> Iterator[None]:
    """Run a command with stdout reserved for its result (see the module doc)."""
    global _results, _verbosity
    previous = (_results, _verbosity)
    _results, _verbosity = sys.stdout, level
    saved_env = {name: os.environ.get(name) for name in _POWERTOOLS_ENV}
    os.environ["POWERTOOLS_LOG_LEVEL"] = {QUIET: "ERROR", NORMAL: "WARNING"}.get(level, "INFO")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false" if level >= VERBOSE else "true"
    _point_stdout_handlers_at_stderr()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO if level >= VERBOSE else logging.WARNING)
    # --quiet: stray output (stage tables, library chatter) is dropped; errors still reach stderr
    chatter: TextIO = _Discard() if level == QUIET else sys.stderr
    try:
        with contextlib.redirect_stdout(chatter):
            yield
    finally:
        _results, _verbosity = previous
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Discard(io.StringIO):
    """A sink for --quiet: keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)


_POWERTOOLS_ENV = ("POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED")


def _point_stdout_handlers_at_stderr() -> None:
    """Loggers created before the command (powertools binds its handler to stdout) write to stderr too."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
                handler.setStream(sys.stderr)


# Error codes of AWS that mean "who you are / what you may do", not "what you asked for".
_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidSignatureException",
    }
)


def describe_error(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, one-line message) for the errors a person can fix without a traceback, else None."""
    from botocore import exceptions as aws

    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError | aws.TokenRetrievalError):
        return EXIT_AWS, (
            f"no usable AWS credentials ({_first_line(exc)}): configure a profile or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or add --state out/state for local mode"
        )
    if isinstance(exc, aws.NoRegionError):
        return EXIT_AWS, "no AWS region: set AWS_REGION (or SKILLFORGE_AWS_REGION)"
    if isinstance(exc, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        return EXIT_AWS, f"cannot reach AWS: {_first_line(exc)} (check the region and the network)"
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        operation = getattr(exc, "operation_name", "the call")
        if code in _AUTH_CODES:
            return EXIT_AWS, f"AWS refused {operation}: {code}: {message}".rstrip(": ")
        return EXIT_AWS, f"AWS error in {operation}: {code}: {message}".rstrip(": ")
    if isinstance(exc, ValidationError):
        return EXIT_BAD_INPUT, _settings_message(exc)
    if isinstance(exc, ValueError | FileNotFoundError | KeyError | PermissionError | IsADirectoryError):
        return EXIT_BAD_INPUT, _first_line(exc)
    return None


def _settings_message(exc: ValidationError) -> str:
    problems: list[str] = []
    missing: list[str] = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing" and exc.title.endswith("Settings"):
            missing.append(f"SKILLFORGE_{field.upper()}")
        else:
            problems.append(f"{field}: {error['msg']}")
    if missing:
        problems.insert(
            0,
            f"{', '.join(missing)} not set (the stack's names for cloud mode; "
            "or add --state out/state for local mode)",
        )
    return f"{exc.title}: " + "; ".join(problems)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) if len(lines) <= 3 else lines[0]
