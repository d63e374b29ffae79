"""Demo stage `labelling` on crops already in the local emulator (no detector needed)."""

from __future__ import annotations

import json
from pathlib import Path

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from scripts.local.demo_run import DemoOptions, DemoRun
from scripts.local.emulator import running_emulator
from scripts.local.stages import labelling
from tests.support.labelling import add_crop


def test_labelling_stage_hands_off_simulates_imports_and_auto_approves(tmp_path: Path) -> None:
    with running_emulator(stage="e2e") as emulator:
        # GIVEN three detected crops (two wide cars with a hint, one tiny) in the emulator
        aws = {
            "names": emulator.names,
            "s3": emulator.client("s3"),
            "table": emulator.resource("dynamodb").Table(emulator.names.catalog_table),
        }
        add_crop(aws, 1, hint="audi-a4", size=(260, 150))
        add_crop(aws, 2, hint="audi-a4", size=(240, 140))
        add_crop(aws, 3, hint="bmw-3", size=(36, 30))
        demo = DemoRun(emulator=emulator, options=DemoOptions(out_dir=tmp_path))
        # WHEN the stage runs with a crowd that never errs
        demo.options.extra["crowd"] = {"error_rate": 0.0, "sloppy_workers": 0}
        labelling.run(demo)
        demo.write_summary()
        # THEN the summary counts what happened and the catalog agrees
        figures = json.loads((tmp_path / "summary.json").read_text())["labelling"]
        assert figures["crops_sent"] == 3 and figures["labelled"] == 3
        assert figures["in_review"] == 2 and figures["reviewed"] == 2 and figures["verified"] == 2
        assert figures["not_reviewable"] == 1 and figures["background"] == 0
        assert figures["reward_per_task_usd"] == "0.012"
        catalog = DynamoCatalog(aws["table"])
        verified = [c for c in catalog.iter_crops() if c.status is CropStatus.VERIFIED]
        assert {c.final_class for c in verified} == {"audi-a4"}
        assert {c.reviewer for c in verified} == {"auto-approve"}
