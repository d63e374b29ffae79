"""Sample events of the artifact check (samples/events/<function>.json) and the emulator state they need.

The events are real shapes (SQS batch of an S3 notification, EventBridge, Ground Truth, API Gateway,
Step Functions payloads) with `$name` placeholders for the emulator's resource names. Seeding puts
what each one reads where it reads it: a photo in the raw bucket, verified crops in the catalog, a
model.tar.gz from training, a Ground Truth consolidation payload, a Slack secret and an email topic.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from string import Template
from typing import Any

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord, CropStatus, ImageRecord, ImageStatus, utc_now
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.registry import SkillRegistry
from infra.config import REPO_ROOT
from scripts.local.emulator import Emulator

EVENTS = REPO_ROOT / "samples" / "events"
PHOTO = REPO_ROOT / "samples" / "images" / "road-scenes" / "test2.jpg"
PHOTO_KEY = "uploads/artifact-check/test2.jpg"
MODEL_KEY = "skills/colour/artifact-check/output/model.tar.gz"
PAYLOAD_KEY = "/".join(
    [
        "labelling/output/skillforge-dev-artifact-check/annotations",
        "consolidation-request/iteration-1/payload.json",
    ]
)


def _verified_crops(catalog: DynamoCatalog, bucket: str) -> None:
    """Three verified crops of each of two classes, each its own group (enough for a tiny data set)."""
    for label in ("red", "blue"):
        for n in range(3):
            crop_id = f"{label}-{n}"
            catalog.put_image_if_absent(
                ImageRecord(
                    image_id=f"img-{crop_id}", bucket=bucket, key=f"uploads/{crop_id}.jpg",
                    group_id=f"g-{crop_id}", status=ImageStatus.CARS_FOUND, skill="car-detector",
                    skill_version=1, code_version="artifact-check",
                )
            )  # fmt: skip
            catalog.put_crop(
                CropRecord(
                    crop_id=crop_id, image_id=f"img-{crop_id}", crop_bucket=bucket,
                    crop_key=f"crops/{crop_id}.jpg", index=0, box=Box(x1=0, y1=0, x2=10, y2=10),
                    confidence=0.9, label="car", group_id=f"g-{crop_id}", status=CropStatus.VERIFIED,
                    skill="car-detector", skill_version=1, code_version="artifact-check", final_class=label,
                )
            )  # fmt: skip


def _model_archive() -> bytes:
    """What training/train.py leaves in model.tar.gz: skill.json and lineage.json (weights not read)."""
    skill = {
        "skill": "colour", "skill_version": 1, "code_version": "artifact-check", "dataset_version": "d1",
        "config_hash": "c1", "hardware_profile": "cpu", "classes": ["blue", "red"], "imgsz": 64,
        "weights": "weights.pt", "created_at": utc_now().isoformat(),
    }  # fmt: skip
    lineage = {
        "skill": "colour", "skill_version": 1, "dataset_version": "d1",
        "crop_ids": {"train": ["red-0", "blue-0"]}, "image_ids": {"train": ["img-red-0", "img-blue-0"]},
        "created_at": utc_now().isoformat(),
    }  # fmt: skip
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in (("skill.json", skill), ("lineage.json", lineage)):
            data = json.dumps(body).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def seed(emulator: Emulator) -> dict[str, str]:
    """Put what the sample events read; the placeholder values of the events and the extra environment."""
    names = emulator.names
    s3 = emulator.client("s3")
    photo = s3.put_object(Bucket=names.raw_bucket, Key=PHOTO_KEY, Body=PHOTO.read_bytes())
    s3.put_object(Bucket=names.artifacts_bucket, Key=MODEL_KEY, Body=_model_archive())
    s3.put_object(Bucket=names.artifacts_bucket, Key=PAYLOAD_KEY, Body=b"[]")
    _verified_crops(
        DynamoCatalog(emulator.resource("dynamodb").Table(names.catalog_table)), names.crops_bucket
    )
    _registered_make_skill(emulator)
    secret = emulator.client("secretsmanager").create_secret(
        Name="skillforge-dev-slack", SecretString="http://127.0.0.1:9/unreachable-webhook"
    )
    topic = emulator.client("sns").create_topic(Name="skillforge-dev-email")
    return {
        "raw_bucket": names.raw_bucket,
        "crops_bucket": names.crops_bucket,
        "artifacts_bucket": names.artifacts_bucket,
        "photo_size": str(PHOTO.stat().st_size),
        "photo_etag": photo["ETag"].strip('"'),
        "photo_version": photo.get("VersionId") or "null",
        "SKILLFORGE_SLACK_SECRET_ID": secret["ARN"],
        "SKILLFORGE_EMAIL_TOPIC_ARN": topic["TopicArn"],
        "SKILLFORGE_SLACK_ATTEMPTS": "1",
        "SKILLFORGE_SLACK_TIMEOUT_S": "1",
    }


def _registered_make_skill(emulator: Emulator) -> None:
    """car-make v1 in the registry: the version the reprocess sample event pins (its crop is missing)."""
    names = emulator.names
    manifest = SkillManifest(
        skill="car-make", skill_version=1, code_version="artifact-check", dataset_version="none",
        config_hash="none", hardware_profile="laptop", classes=["Audi", "BMW"], imgsz=64, weights="w.pt",
    )  # fmt: skip
    registry = SkillRegistry(emulator.resource("dynamodb").Table(names.catalog_table))
    registry.register(manifest, f"s3://{names.artifacts_bucket}/skills/car-make/v1/")


def sample_event(function: str, values: dict[str, str]) -> dict[str, Any]:
    """samples/events/<function>.json with its placeholders filled in."""
    text = (EVENTS / f"{function}.json").read_text(encoding="utf-8")
    event: dict[str, Any] = json.loads(Template(text).substitute(values))
    return event


def seeded_events(emulator: Emulator, folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Seed the emulator; every sample event written to `folder`, and the environment they need."""
    values = seed(emulator)
    events: dict[str, Path] = {}
    for path in sorted(EVENTS.glob("*.json")):
        target = folder / path.name
        target.write_text(json.dumps(sample_event(path.stem, values)), encoding="utf-8")
        events[path.stem] = target
    environment = {key: value for key, value in values.items() if key.startswith("SKILLFORGE_")}
    return events, environment
