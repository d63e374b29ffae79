"""Demo stage after the gate: new photos uploaded and answered by the skills deployed now.

The detect function serves the cascade of the deployed skills (one stage per deployed skill, versions
read from the local stage's parameters, TTL 0 so the promotion just made is served at once): a few
photos the training never saw go through upload → S3 event → queue → detect + serve, and their crop
records are printed with the answer and the skill version that gave it. `summary["serving"]`.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropRecord
from functions.core.serving.config import CascadeConfig, CascadeStage
from functions.core.skills.deployment import DeploymentStore
from scripts.local.delivery import drain_queue
from scripts.local.demo_run import DEFAULT_IMAGES, IMAGE_SUFFIXES, DemoRun
from scripts.local.stages.training import demo_photos, shared_subset

SAMPLE_PHOTOS = 3  # without the subset: the bundled road scenes (cars, not labelled)
SAMPLE_FOLDER = DEFAULT_IMAGES / "road-scenes"
KEY_PREFIX = "serving"


def new_photos() -> list[tuple[str, Path]]:
    """(hint, path) of photos not used for training: the next Stanford photos of the demo classes,
    else the bundled road scenes."""
    subset = shared_subset()
    if subset is not None:
        return [(photo.label, photo.path) for photo in demo_photos(subset)[1]]
    files = sorted(p for p in SAMPLE_FOLDER.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [(p.parent.name, p) for p in files[:SAMPLE_PHOTOS]]


@contextmanager
def serving_env(cascade: CascadeConfig) -> Iterator[None]:
    """The detect function configured to serve `cascade` (what the stack's environment does)."""
    from functions.detect import handler as detect_handler

    names = {"SKILLFORGE_CASCADE": cascade.model_dump_json(), "SKILLFORGE_DEPLOYMENT_TTL_S": "0"}
    previous = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    detect_handler.deps.cache_clear()
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        detect_handler.deps.cache_clear()


def run(demo: DemoRun) -> None:
    from functions.detect import handler as detect_handler

    emulator = demo.emulator
    deployed = DeploymentStore(emulator.client("ssm"), emulator.names.stage, ttl_s=0).all()
    if not deployed:
        demo.summary["serving"] = {"images": 0, "cars": 0, "cars_classified": 0, "skill_versions": {}}
        demo.summary["serving"]["detail"] = "no skill is deployed in the local stage: nothing to serve"
        demo.progress("serving: no deployed skill")
        return
    cascade = CascadeConfig(stages=[CascadeStage(skill=skill) for skill in deployed])
    photos = new_photos()
    s3 = emulator.client("s3")
    keys = {f"{KEY_PREFIX}/{hint}/{path.name}": hint for hint, path in photos}
    with serving_env(cascade):
        started = time.perf_counter()
        detect_handler.deps()
        cold_s = time.perf_counter() - started
        for (_hint, path), key in zip(photos, keys, strict=True):
            s3.put_object(Bucket=emulator.names.raw_bucket, Key=key, Body=path.read_bytes())
        started = time.perf_counter()
        stats = drain_queue(
            emulator.client("sqs"), emulator.queues["detect_queue_url"], detect_handler.handler
        )
        elapsed = time.perf_counter() - started
    catalog = DynamoCatalog(emulator.resource("dynamodb").Table(emulator.names.catalog_table))
    rows: list[tuple[str, CropRecord]] = []
    images = [i for i in catalog.iter_images() if i.key in keys]
    crops = catalog.get_crops([c for image in images for c in image.crop_ids])
    for image in sorted(images, key=lambda i: i.key):
        rows.extend((image.key, crops[c]) for c in image.crop_ids if c in crops)
    answers = [crop.served for _, crop in rows if crop.served is not None]
    versions: dict[str, set[int]] = {}
    for answer in answers:
        for stage in answer.stages:
            versions.setdefault(stage.skill, set()).add(stage.skill_version)
    demo.summary["serving"] = {
        "images": len(images),
        "uploaded": len(keys),
        "cars": len(rows),
        "cars_classified": sum(a.status == "classified" for a in answers),
        "not_classified": dict(Counter(str(a.reason) for a in answers if a.status == "not_classified")),
        "skill_versions": {skill: sorted(v) for skill, v in sorted(versions.items())},
        "deployed": {skill: d.version for skill, d in deployed.items()},
        "hint_matches_answer": sum(
            1 for key, crop in rows if crop.served and crop.served.final_label == keys[key]
        ),
        "ms_per_image": round(elapsed * 1000 / max(1, len(keys)), 1),
        "cold_start_s": round(cold_s, 2),
        "delivery_failures": stats.failures,
    }
    _print(rows)


def _print(rows: list[tuple[str, CropRecord]]) -> None:
    print()
    print("  serving: new photos answered by the deployed skills")
    print(f"  {'photo':<44} {'car':>3}  {'answer':<28} {'score':>6}  skill@version")
    for key, crop in rows:
        served = crop.served
        if served is None or served.status != "classified":
            reason = served.reason if served else "not served"
            print(f"  {key[-44:]:<44} {crop.index:>3}  (not classified: {reason})")
            continue
        last = served.stages[-1]
        print(
            f"  {key[-44:]:<44} {crop.index:>3}  {str(served.final_label)[:28]:<28} {last.score:>6.2f}  "
            f"{last.skill}@{last.skill_version}"
        )
    print()
