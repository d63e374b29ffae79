"""`skillforge`: the operator CLI. Each sub-command lives in scripts/commands/<name>.py."""

from __future__ import annotations

import argparse
import importlib
import sys
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
    "scripts.commands.records",
    "scripts.commands.reprocess",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skillforge", description="Vehicle photos → deployed, versioned recognition skills."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        print(f"skillforge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
