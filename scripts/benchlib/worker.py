"""One detector backend measured in a fresh interpreter: cold start, warm ms/image, peak RSS.

Run as `python -m scripts.benchlib.worker BACKEND PHOTO...`; prints one JSON line. Only the standard
library is imported before the clock starts, so the cold start counts every import the backend needs.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

WARM_ROUNDS = 3


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(backend: str, photos: list[str]) -> dict[str, Any]:
    from PIL import Image, ImageOps

    from functions.core.detection.settings import DetectorSettings
    from functions.core.detection.wiring import build_detector

    settings = DetectorSettings(detector_backend=backend)  # type: ignore[arg-type]
    imported = time.perf_counter()
    detector = build_detector(settings)
    loaded = time.perf_counter()
    first = ImageOps.exif_transpose(Image.open(photos[0])).convert("RGB")
    detector.detect(first)
    first_done = time.perf_counter()

    images = [ImageOps.exif_transpose(Image.open(p)).convert("RGB") for p in photos]
    timings: list[float] = []
    cars = 0
    for round_index in range(WARM_ROUNDS):
        for image in images:
            started = time.perf_counter()
            found = detector.detect(image)
            timings.append((time.perf_counter() - started) * 1000)
            if round_index == 0:
                cars += len(found)
    return {
        "backend": backend,
        "import_s": imported - STARTED,
        "load_s": loaded - imported,
        "first_image_s": first_done - loaded,
        "cold_start_s": first_done - STARTED,
        "images": len(images),
        "detections": len(timings),
        "vehicles_found": cars,
        "ms_median": statistics.median(timings),
        "ms_p95": percentile(timings, 0.95),
        "ms_mean": statistics.fmean(timings),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_imported": "torch" in sys.modules,
        "ultralytics_imported": "ultralytics" in sys.modules,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2:])))
