"""`skillforge drift --catalog FILE`: the table on stdout; an empty day says "no data"."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.cli import main
from tests.unit.test_drift import DAY0, darker, record, scene


def write_export(path: Path) -> None:
    lines = []
    for n in range(60):
        image = record(scene(n), n, f"train-{n}", day=-5)
        lines.append({**image.model_dump(mode="json"), "kind": "image"})
        lines.append({"kind": "group", "group_id": f"train-{n}", "split": "train"})
    for n in range(30):
        image = record(darker(scene(500 + n)), n, f"new-{n}", day=0)
        lines.append({**image.model_dump(mode="json"), "kind": "image"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_the_table_shows_the_darkened_day_and_an_empty_day(tmp_path, capsys):
    # GIVEN an export with reference photos and one day of darkened uploads
    export = tmp_path / "catalog.jsonl"
    write_export(export)
    day, empty = DAY0.date().isoformat(), "2030-05-02"
    # WHEN the drift table is asked for that day and the next
    code = main(["drift", "--catalog", str(export), "--day", day, "--day", empty])
    lines = capsys.readouterr().out.splitlines()
    # THEN the darkened day is "drift" and the next day "no data"
    assert code == 0
    assert lines[0].split()[:5] == ["day", "images", "crops", "status", "score"]
    assert lines[1].split()[:4] == [day, "30", "0", "drift"]
    assert lines[2].split()[:5] == [empty, "0", "0", "no", "data"]


def test_a_missing_export_is_a_clear_error(tmp_path, capsys):
    code = main(["drift", "--catalog", str(tmp_path / "nope.jsonl")])
    assert code == 2
    assert "catalog export" in capsys.readouterr().err
