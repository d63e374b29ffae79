"""Majority vote vs Dawid-Skene on the simulated crowd, with a known sloppy worker.

Crops are the shared labelled photos and degraded copies of them (dark, blurred, tiny, a cut-off
part), so the honest answers cover every view and quality; the simulated crowd answers each (one
worker of the pool is sloppy), both consolidations decide, and each is scored against the honest
answer: per question, and for the routing that matters (review queue, labelled, background).
`python -m scripts.local.crowd_study [--photos N]` prints the table (docs/labelling.md has it).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance, ImageFilter
from pydantic import BaseModel

from functions.core.base.records import CropStatus
from functions.core.labelling.consolidation import WorkerAnswer, consolidate_all, parse_form_output
from functions.core.labelling.handoff import Quality, View
from functions.core.labelling.local_jobs import CropLook, CrowdSettings, SimulatedCrowd, look_at
from functions.core.labelling.settings import ConsolidationMethod as Method


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def variants(image: Image.Image) -> list[Image.Image]:
    """The photo and degraded copies: what a detector's crops look like across a real stream."""
    w, h = image.size
    return [
        image,
        ImageEnhance.Brightness(image).enhance(0.15),
        image.filter(ImageFilter.GaussianBlur(6)),
        image.resize((max(8, w // 8), max(8, h // 8))),
        image.crop((0, 0, w // 3, h)),
    ]


def looks_of(photos: list[Path]) -> list[CropLook]:
    return [look_at(_jpeg(v)) for path in photos for v in variants(Image.open(path).convert("RGB"))]


def _status(view: View | None, quality: Quality | None) -> CropStatus:
    if view is None or view == View.UNSURE or quality is None:
        return CropStatus.BACKGROUND
    if view == View.EXTERIOR_MORE and quality == Quality.GOOD:
        return CropStatus.IN_REVIEW
    return CropStatus.LABELLED


class MethodScore(BaseModel):
    method: str
    view_accuracy: float
    quality_accuracy: float
    routing_accuracy: float
    undecided: int


def score(looks: list[CropLook], crowd: CrowdSettings, per_object: int = 3) -> list[MethodScore]:
    simulated = SimulatedCrowd(None, None, "", crowd)  # type: ignore[arg-type]  # only answers, no I/O
    parsed: list[tuple[list[WorkerAnswer], int]] = []
    for n, look in enumerate(looks):
        annotations = simulated.annotations(look, f"crop-{n}", per_object)
        parsed.append(
            ([parse_form_output(a["workerId"], a["annotationData"]["content"]) for a in annotations], 0)
        )
    truth = [look.honest_answer() for look in looks]
    scores = []
    methods: tuple[Method, ...] = ("majority", "dawid-skene")
    for method in methods:
        results = consolidate_all(parsed, method)
        n = len(results)
        scores.append(
            MethodScore(
                method=method,
                view_accuracy=round(sum(r.view == t[0] for r, t in zip(results, truth, strict=True)) / n, 4),
                quality_accuracy=round(
                    sum(r.quality == t[1] for r, t in zip(results, truth, strict=True)) / n, 4
                ),
                routing_accuracy=round(
                    sum(r.status == _status(*t) for r, t in zip(results, truth, strict=True)) / n, 4
                ),
                undecided=sum(r.view is None or r.quality is None for r in results),
            )
        )
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/stanford-cars-subset/images"))
    args = parser.parse_args(argv)
    photos = sorted(args.data.glob("*.jpg"))[: args.photos]
    if not photos:
        print(f"no photos in {args.data}", file=sys.stderr)
        return 2
    looks = looks_of(photos)
    table: list[dict[str, Any]] = []
    for sloppy_rate in (0.5, 0.8):
        for per_object in (3, 5):
            crowd = CrowdSettings(sloppy_error_rate=sloppy_rate)
            for s in score(looks, crowd, per_object):
                table.append(
                    {"crops": len(looks), "sloppy_error_rate": sloppy_rate, "workers_per_crop": per_object}
                    | s.model_dump()
                )
    for row in table:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
