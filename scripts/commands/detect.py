"""`skillforge detect PATH...`: the detection core on local files, one JSON object per image."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scripts.commands.models import require_model
from scripts.commands.output import emit, emit_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("detect", help="detect cars in local image files or folders")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    parser.add_argument("--format", choices=["jsonl", "table"], default="jsonl")
    parser.add_argument("--confidence", type=float, default=None, help="override the confidence threshold")
    parser.set_defaults(func=run)


def iter_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def run(args: argparse.Namespace) -> int:
    from functions.core.base.versions import code_version
    from functions.core.detection.detect import analyse_image
    from functions.core.detection.settings import DetectorSettings
    from functions.core.detection.wiring import build_detector

    overrides = {"confidence": args.confidence} if args.confidence is not None else {}
    settings = DetectorSettings(**overrides)
    if settings.detector_backend != "ultralytics":  # a hub name is Ultralytics' business
        require_model(settings.detector_model)
    detector = build_detector(settings)
    version = code_version()
    rows: list[dict[str, Any]] = []
    for path in iter_files(args.paths):
        row: dict[str, Any] = {"image": str(path)}
        try:
            data = path.read_bytes()
        except OSError as exc:
            row.update(status="quarantined", reason="unreadable_file", cars=[])
            row["detail"] = str(exc)
        else:
            analysis = analyse_image(data, detector, settings)
            row["status"] = analysis.status.value
            row["cars"] = [
                {"box": d.box.as_list(), "confidence": round(d.confidence, 4), "label": d.label}
                for d in analysis.cars
            ]
            if analysis.reason is not None:
                row["reason"] = analysis.reason.value
                row["detail"] = analysis.reason_detail
            row["ms"] = round(analysis.elapsed_ms, 1)
        row.update(
            skill=settings.detector_skill, skill_version=settings.detector_version, code_version=version
        )
        if args.format == "jsonl":
            emit_json(row)
        rows.append(row)
    if args.format == "table":
        _print_table(rows)
    return 0


def _print_table(rows: list[dict[str, Any]]) -> None:
    width = max((len(r["image"]) for r in rows), default=5)
    emit(f"{'image':<{width}}  {'status':<12} {'cars':>4}  reason / best confidence")
    for row in rows:
        best = max((c["confidence"] for c in row["cars"]), default=None)
        extra = row.get("reason") or (f"{best:.2f}" if best is not None else "")
        emit(f"{row['image']:<{width}}  {row['status']:<12} {len(row['cars']):>4}  {extra}")
