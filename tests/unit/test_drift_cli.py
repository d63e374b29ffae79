"""`skillforge drift --catalog FILE`: the table on stdout, the chart's path on stderr; an empty day says
"no data"; an export without the deployed version's lineage says "no reference"."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from functions.core.monitoring.charts import worst_features
from functions.core.monitoring.drift import FEATURES
from functions.core.monitoring.monitor import DriftDeps, monitor
from functions.core.monitoring.settings import DriftSettings
from scripts.cli import main
from scripts.local.catalog_export import ExportedCatalog
from tests.unit.test_drift import DAY0, darker, record, scene


def write_export(path: Path, with_lineage: bool = True) -> None:
    lines = []
    train = []
    for n in range(60):
        image = record(scene(n), n, f"train-{n}", day=-5)
        train.append(image.image_id)
        lines.append({**image.model_dump(mode="json"), "kind": "image"})
        lines.append({"kind": "group", "group_id": f"train-{n}", "split": "train"})
    for n in range(30):
        image = record(darker(scene(500 + n)), n, f"new-{n}", day=0)
        lines.append({**image.model_dump(mode="json"), "kind": "image"})
    if with_lineage:
        lineage = {
            "kind": "lineage",
            "skill": "car-make",
            "skill_version": 3,
            "dataset_version": "abc123",
            "crop_ids": {"train": [], "val": [], "test": []},
            "image_ids": {"train": train, "val": [], "test": []},
            "created_at": DAY0.isoformat(),
        }
        lines.insert(0, lineage)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_the_table_shows_the_darkened_day_and_an_empty_day(tmp_path, capsys):
    # GIVEN an export with the deployed version's training photos and one day of darkened uploads
    export = tmp_path / "catalog.jsonl"
    write_export(export)
    day, empty = DAY0.date().isoformat(), "2030-05-02"
    # WHEN the drift table is asked for that day and the next
    code = main(["drift", "--catalog", str(export), "--day", day, "--day", empty])
    out = capsys.readouterr()
    lines = out.out.splitlines()
    # THEN the darkened day is "drift" and the next day "no data", against car-make v3's training photos
    assert code == 0
    assert lines[0].split()[:5] == ["day", "images", "crops", "status", "score"]
    assert lines[1].split()[:4] == [day, "30", "0", "drift"]
    assert lines[2].split()[:5] == [empty, "0", "0", "no", "data"]
    assert "car-make v3 (data set abc123), 60 of its 60 training photos" in out.err
    assert f"drift chart: {tmp_path / 'drift.png'}" in out.err


def test_the_chart_is_a_png_of_every_feature_and_the_worst_ones(tmp_path, capsys):
    # GIVEN the same export
    export = tmp_path / "catalog.jsonl"
    write_export(export)
    chart = tmp_path / "charts" / "day.png"
    # WHEN the chart is asked at a path of its own, with the JSON rows
    code = main(
        ["drift", "--catalog", str(export), "--day", DAY0.date().isoformat(), "--json", "--chart", str(chart)]
    )
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # THEN a PNG is there, drawn from that run: every feature, brightness among the worst
    assert code == 0
    with Image.open(chart) as picture:
        assert picture.format == "PNG" and picture.width > 600
    exported = ExportedCatalog(export)
    run = monitor(DriftDeps(exported, exported, DriftSettings(), "local", "car-make"), [DAY0.date()], DAY0)
    assert set(run.rows[0].features) == set(FEATURES) == set(row["features"])
    worst = worst_features(run)
    assert ("brightness", DAY0.date().isoformat()) in worst and len(worst) == 3
    assert worst[0][0] == max(row["features"], key=lambda f: row["features"][f] or 0.0)


def test_an_export_without_the_deployed_lineage_gives_no_reference(tmp_path, capsys):
    # GIVEN an export without any lineage record
    export = tmp_path / "catalog.jsonl"
    write_export(export, with_lineage=False)
    # WHEN the day is scored
    code = main(["drift", "--catalog", str(export), "--day", DAY0.date().isoformat(), "--no-chart"])
    out = capsys.readouterr()
    # THEN it is "no reference", with the reason, and not an error
    assert code == 0
    assert out.out.splitlines()[1].split()[:5] == [DAY0.date().isoformat(), "30", "0", "no", "reference"]
    assert "no reference: the export holds no lineage of a deployed car-make version" in out.err
    assert not (tmp_path / "drift.png").exists()


def test_a_missing_export_is_a_clear_error(tmp_path, capsys):
    code = main(["drift", "--catalog", str(tmp_path / "nope.jsonl")])
    assert code == 2
    assert "catalog export" in capsys.readouterr().err
