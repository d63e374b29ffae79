"""`skillforge`: the operator CLI. Each sub-command lives in scripts/commands/<name>.py.

stdout carries a command's result only (JSON lines or a table); logs, progress bars and library
output go to stderr (scripts/commands/output.py). Errors a person can fix end in one line on stderr
and a documented exit code (README "Exit codes"); --verbose adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

# Modules that expose `register(subparsers)`; heavy imports stay inside each command's run().
COMMAND_MODULES: tuple[str, ...] = (
    "scripts.commands.detect",
    "scripts.commands.demo",
    "scripts.commands.audit",
    "scripts.commands.review",
    "scripts.commands.labelling",
    "scripts.commands.extract",
    "scripts.commands.make_skill",
    "scripts.commands.classify",
    "scripts.commands.promote",
    "scripts.commands.gate",
    "scripts.commands.accept",
    "scripts.commands.report",
    "scripts.commands.harness",
    "scripts.commands.skills",
    "scripts.commands.models",
    "scripts.commands.up",
    "scripts.commands.records",
    "scripts.commands.reprocess",
    "scripts.commands.drift",
    "scripts.commands.feedback",
    "scripts.commands.label_noise",
)


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from functions.core.base.versions import code_version

    try:
        package = version("skillforge")
    except PackageNotFoundError:
        package = "unknown"
    return f"skillforge {package} (code {code_version()})"


class _VersionAction(argparse.Action):
    """--version, computed only when asked (it runs git)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skillforge", description="Vehicle photos → deployed, versioned recognition skills."
    )
    parser.add_argument("--version", action=_VersionAction)
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="only results and errors (no progress, no logs)"
    )
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="also logs, metrics and tracebacks (on stderr)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from scripts.commands.models import default_locations
    from scripts.commands.output import (
        EXIT_INTERRUPTED,
        EXIT_PROBLEM,
        NORMAL,
        QUIET,
        VERBOSE,
        describe_error,
        results_on_stdout,
    )

    args = build_parser().parse_args(argv)
    level = QUIET if args.quiet else VERBOSE if args.verbose else NORMAL
    with results_on_stdout(level), default_locations():
        try:
            code: int = args.func(args)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as exc:
            if level >= VERBOSE:
                traceback.print_exc(file=sys.stderr)
            known = describe_error(exc)
            if known is None:
                print(
                    f"skillforge {args.command}: internal error: {type(exc).__name__}: {exc}"
                    + ("" if level >= VERBOSE else " (--verbose shows the traceback)"),
                    file=sys.stderr,
                )
                return EXIT_PROBLEM
            exit_code, message = known
            print(f"skillforge {args.command}: error: {message}", file=sys.stderr)
            return exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())
