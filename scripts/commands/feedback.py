"""`skillforge feedback CROP_OR_IMAGE --correct LABEL`: a user's correction of a served answer, recorded
against the skill version that answered and sent to expert review; `skillforge feedback --list` prints
the corrections and their count per version. Unknown crop or image, or a class the answering skills do
not have: an error, nothing recorded."""

from __future__ import annotations

import argparse
import getpass
from typing import Any


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser("feedback", help="record a correction of a served answer (goes to review)")
    parser.add_argument("target", nargs="?", help="crop id, or the id of an image with one car")
    parser.add_argument("--correct", help="the right class")
    parser.add_argument("--user", default=None, help="who says so (default: the login name)")
    parser.add_argument("--list", action="store_true", help="print the corrections and the count per version")
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.labelling.feedback import (
        CorrectionRequest,
        corrections,
        corrections_per_version,
        record_correction,
        registry_classes,
    )
    from functions.core.labelling.wiring import build_catalog
    from scripts.commands.output import emit, emit_json
    from scripts.local.state import aws_or_local

    if not args.list and (not args.target or not args.correct):
        raise ValueError("name the crop or image and the right class: feedback CROP_OR_IMAGE --correct LABEL")
    with aws_or_local(args.state):
        catalog = build_catalog()
        if args.list:
            items = corrections(catalog)
            for item in items:
                emit(item.model_dump_json())
            emit_json({"per_version": corrections_per_version(items)})
            return 0
        request = CorrectionRequest(target=args.target, correct=args.correct)
        correction = record_correction(
            catalog, request, args.user or getpass.getuser(), registry_classes(catalog)
        )
    emit(correction.model_dump_json())
    return 0
