"""Local mode: the demo's gate stage run twice; the second run compares the new version with the first."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from functions.core.base.artifacts import Artifacts
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord, CropStatus, ImageRecord, ImageStatus
from functions.core.base.storage import BlobStore
from functions.core.skills.model import read_manifest
from functions.core.skills.registry import SkillRegistry
from scripts.local.demo_run import DemoOptions, DemoRun
from scripts.local.emulator import running_emulator
from scripts.local.stages import gate
from tests.support.gate import CLASSES, BlobDetector, register_folder, skill_version_copy
from tests.support.tiny_skill import synthetic_image


def seed_verified_test_crops(emulator: Any, per_class: int = 3) -> None:
    """What detection + review + extraction leave: verified crops of the test split, with their photos."""
    names = emulator.names
    s3 = emulator.client("s3")
    catalog = DynamoCatalog(emulator.resource("dynamodb").Table(names.catalog_table))
    for c, label in enumerate(CLASSES):
        for n in range(per_class):
            image_id = f"img{c}{n}"
            photo = synthetic_image(label, 5000 + c * 10 + n)
            buffer = io.BytesIO()
            photo.save(buffer, format="PNG")
            s3.put_object(Bucket=names.raw_bucket, Key=f"{label}/{image_id}.png", Body=buffer.getvalue())
            s3.put_object(Bucket=names.crops_bucket, Key=f"crops/{image_id}/00.jpg", Body=buffer.getvalue())
            box = Box(x1=0, y1=0, x2=photo.width, y2=photo.height)
            catalog.put_image_if_absent(
                ImageRecord(
                    image_id=image_id,
                    bucket=names.raw_bucket,
                    key=f"{label}/{image_id}.png",
                    group_id=image_id,
                    status=ImageStatus.CARS_FOUND,
                    skill="car-detector",
                    skill_version=1,
                    code_version="t",
                )
            )
            catalog.put_crop(
                CropRecord(
                    crop_id=f"{image_id}-00",
                    image_id=image_id,
                    crop_bucket=names.crops_bucket,
                    crop_key=f"crops/{image_id}/00.jpg",
                    index=0,
                    box=box,
                    confidence=0.9,
                    label="car",
                    group_id=image_id,
                    status=CropStatus.VERIFIED,
                    final_class=label,
                    split="test",
                    skill="car-detector",
                    skill_version=1,
                    code_version="t",
                )
            )


def demo_run(out: Path, tiny: Path, tmp: Path) -> dict[str, Any]:
    """One demo run: restore → (what training does: reserve a version, register it) → gate."""
    with running_emulator() as emulator:
        demo = DemoRun(emulator=emulator, options=DemoOptions(out_dir=out))
        gate.restore(demo)
        seed_verified_test_crops(emulator)
        table = emulator.resource("dynamodb").Table(emulator.names.catalog_table)
        registry = SkillRegistry(table)
        version = registry.next_version("colour")
        folder = skill_version_copy(tiny, tmp / f"v{version}", version, dataset_version=f"ds{version}")
        register_folder(
            registry,
            Artifacts(BlobStore(emulator.client("s3")), tmp / "cache"),
            folder,
            emulator.names.artifacts_bucket,
        )
        gate.run(demo, detector=BlobDetector())
        demo.write_summary()
        return demo.summary


def test_second_demo_run_compares_the_new_version_with_the_first(
    tmp_path: Path, tiny_skill_folders: dict[str, Path]
) -> None:
    out = tmp_path / "out"
    assert read_manifest(tiny_skill_folders["good"]).skill == "colour"

    # GIVEN a first run whose training produced a good version 1
    first = demo_run(out, tiny_skill_folders["good"], tmp_path / "run1")

    # THEN it was gated as a first version and promoted; report, Slack message and state were written
    assert first["gate"]["skill_version"] == 1 and first["gate"]["current_version"] is None
    assert first["gate"]["outcome"] == "promote" and first["gate"]["promoted"] is True
    assert (out / "report.pdf").is_file() and (out / "state" / "items.jsonl").is_file()
    slack = json.loads((out / "slack.json").read_text())
    assert "colour v1 promoted in local" in slack["text"]
    assert json.loads((out / "state" / "skill_versions.json").read_text())["local"]["colour"]["version"] == 1

    # WHEN the demo runs again (a fresh, empty emulator) and training produces version 2
    second = demo_run(out, tiny_skill_folders["good"], tmp_path / "run2")

    # THEN the registry continued at 2 and version 2 was compared side by side with version 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gate"] == second["gate"]
    assert second["gate"]["skill_version"] == 2 and second["gate"]["current_version"] == 1
    assert second["gate"]["current_accuracy"] is not None
    # same weights → equal accuracy → not "better by the margin": needs investigation
    assert second["gate"]["outcome"] == "investigate" and second["gate"]["promoted"] is False
    text = "\n".join(page.extract_text() for page in PdfReader(out / "report.pdf").pages)
    assert "colour v2" in text and "NEEDS INVESTIGATION" in text and "ds1" in text and "ds2" in text
    assert "needs investigation" in json.loads((out / "slack.json").read_text())["text"]
    # AND the interval of the gain and the McNemar test are in the report and in Slack
    assert "interval" in text and "McNemar" in text
    assert "interval" in (out / "slack.json").read_text()  # in the message blocks
    assert "Training curves" in text


def test_a_person_accepts_a_held_back_version_and_rewrites_its_report(
    tmp_path: Path, tiny_skill_folders: dict[str, Path]
) -> None:
    from scripts.cli import main

    # GIVEN two demo runs: version 2 was held back ("needs investigation")
    out = tmp_path / "out"
    demo_run(out, tiny_skill_folders["good"], tmp_path / "run1")
    assert demo_run(out, tiny_skill_folders["good"], tmp_path / "run2")["gate"]["outcome"] == "investigate"

    # WHEN a person accepts it with the documented command (local mode state)
    state = str(out / "state")
    code = main(
        [
            "accept",
            "colour",
            "2",
            "--by",
            "alice",
            "--reason",
            "same accuracy, new data",
            "--stage",
            "local",
            "--state",
            state,
        ]
    )

    # THEN the override is recorded, version 2 is deployed and the mapping file says so
    assert code == 0
    items = [json.loads(line) for line in (out / "state" / "items.jsonl").read_text().splitlines()]
    gate_item = next(i for i in items if i["pk"] == "gate#colour#v000002")
    assert gate_item["override_by"] == "alice" and gate_item["decision"]["outcome"] == "investigate"
    parameters = json.loads((out / "state" / "parameters.json").read_text())
    assert json.loads(parameters["/skillforge/local/skills/colour"])["version"] == 2
    assert json.loads((out / "state" / "skill_versions.json").read_text())["local"]["colour"]["version"] == 2
    # AND the report of version 2 can be written again from the stored evaluation
    assert main(["report", "colour", "2", "--out", str(tmp_path / "again.pdf"), "--state", state]) == 0
    assert "colour v2" in PdfReader(tmp_path / "again.pdf").pages[0].extract_text()
