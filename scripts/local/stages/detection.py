"""Demo stage 1: upload photos to the raw bucket; S3 events → queue → the detect handler."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import ImageRecord, ImageStatus
from functions.core.base.versions import code_version
from functions.core.detection.crops import crop_key
from scripts.local.delivery import drain_queue
from scripts.local.demo_run import IMAGE_SUFFIXES, DemoRun


def upload_images(demo: DemoRun) -> int:
    """Upload every image under the folder; its relative path is the key (`<hint>/<file>`)."""
    s3 = demo.emulator.client("s3")
    root = demo.options.images_dir
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for path in files:
        s3.put_object(
            Bucket=demo.emulator.names.raw_bucket,
            Key=path.relative_to(root).as_posix(),
            Body=path.read_bytes(),
        )
    return len(files)


def run(demo: DemoRun) -> None:
    from functions.detect import handler as detect_handler

    uploaded = upload_images(demo)
    demo.progress(f"uploaded {uploaded} photos to s3://{demo.emulator.names.raw_bucket}")
    done = 0

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        demo.progress(f"detect: {done} queue messages handled ({uploaded} uploads)")

    started = time.perf_counter()
    detect_handler.deps()  # cold start (model load) outside the per-image timing
    cold_s = time.perf_counter() - started
    started = time.perf_counter()
    stats = drain_queue(
        demo.emulator.client("sqs"),
        demo.emulator.queues["detect_queue_url"],
        detect_handler.handler,
        on_batch=on_batch,
    )
    elapsed = time.perf_counter() - started
    catalog = DynamoCatalog(demo.emulator.resource("dynamodb").Table(demo.emulator.names.catalog_table))
    images = list(catalog.iter_images())
    _save_crops(demo, images)
    statuses = Counter(record.status.value for record in images)
    demo.summary["detection"] = {
        "images": len(images),
        "uploaded": uploaded,
        "cars": sum(len(record.cars) for record in images),
        "cars_found": statuses.get(ImageStatus.CARS_FOUND.value, 0),
        "no_car": statuses.get(ImageStatus.NO_CAR.value, 0),
        "quarantined": statuses.get(ImageStatus.QUARANTINED.value, 0),
        "quarantine_reasons": dict(Counter(str(r.reason) for r in images if r.reason)),
        "ms_per_image": round(elapsed * 1000 / max(1, uploaded), 1),
        "detector_cold_start_s": round(cold_s, 2),
        "delivery_failures": stats.failures,
        "skill": images[0].skill if images else None,
        "skill_version": images[0].skill_version if images else None,
        "code_version": code_version(),
    }
    _print_table(demo)


def _save_crops(demo: DemoRun, images: list[ImageRecord]) -> None:
    s3 = demo.emulator.client("s3")
    crops_dir = demo.out_dir / "crops"
    for record in images:
        for index, crop_id in enumerate(record.crop_ids):
            key = crop_key(record.image_id, index)
            body = s3.get_object(Bucket=demo.emulator.names.crops_bucket, Key=key)["Body"].read()
            name = f"{Path(record.key).stem}-{crop_id[-2:]}.jpg"
            target = crops_dir / (record.variant_hint or "no-hint") / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)


def _print_table(demo: DemoRun) -> None:
    d = demo.summary["detection"]
    print()
    print("  detection summary")
    print("  -----------------------------")
    for label in ("images", "cars", "cars_found", "no_car", "quarantined", "ms_per_image"):
        print(f"  {label:<16} {d[label]:>10}")
    print(f"  {'code_version':<16} {d['code_version']:>10}")
    print()
