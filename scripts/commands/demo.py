"""`skillforge demo`: the local end-to-end pipeline against the embedded AWS emulator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scripts.commands.output import emit_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the whole pipeline locally (no AWS account needed)")
    parser.add_argument(
        "--images", type=Path, default=None, help="folder of photos (subfolder = variant hint)"
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out/)")
    parser.add_argument(
        "--review",
        action="store_true",
        help="review on the real page (URL and token printed) instead of auto-approving the hints",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scripts.local.demo import run_demo
    from scripts.local.demo_run import DEFAULT_IMAGES, DemoOptions

    options = DemoOptions(
        images_dir=args.images or DEFAULT_IMAGES, out_dir=args.out, auto_approve=not args.review
    )
    summary = run_demo(options)
    emit_json(
        {
            "summary": str(args.out / "summary.json"),
            "stages_completed": summary["stages_completed"],
            "total_seconds": summary["total_seconds"],
        }
    )
    return 0
