"""`make skills` results updated for some skills only (`scripts.real_skills --direct --update`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.real_skills import merge_run, previous_results, write_summary_csv

INGEST = {
    "photos": 3,
    "images": {"cars_found": 2, "no_car": 1},
    "review": {"verified": 2},
    "detect_seconds": 9.0,
}


def _run(skill: str, start: str, top1: float) -> dict[str, object]:
    return {"skill": skill, "start": start, "top1": top1}


def _write_summary(folder: Path, ingest: dict[str, object]) -> None:
    runs = [_run("make", "pretrained", 0.9), _run("variant", "pretrained", 0.5)]
    per_class: dict[str, dict[str, object]] = {"make/pretrained": {"A": {}}, "variant/pretrained": {"a1": {}}}
    summary = {"ingest": ingest, "runs": runs, "per_class": per_class}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "dataset-make.json").write_text(json.dumps({"exclusion_reasons": {}}), encoding="utf-8")


def test_a_retrained_run_replaces_its_row_in_place_and_keeps_the_others() -> None:
    # GIVEN results of three runs
    results = [
        _run("make", "pretrained", 0.9),
        _run("variant", "pretrained", 0.5),
        _run("make", "scratch", 0.3),
    ]
    # WHEN the variant is trained again
    merged = merge_run(results, _run("variant", "pretrained", 0.7))
    # THEN its row is replaced where it stood and the other rows are unchanged
    assert merged == [results[0], _run("variant", "pretrained", 0.7), results[2]]


def test_a_new_run_is_added_after_the_earlier_ones() -> None:
    # GIVEN one run WHEN another skill is trained THEN it follows
    merged = merge_run([_run("make", "pretrained", 0.9)], _run("variant", "pretrained", 0.7))
    assert [row["skill"] for row in merged] == ["make", "variant"]


def test_the_earlier_results_are_read_with_their_data_set_reports(tmp_path: Path) -> None:
    # GIVEN results written by an earlier run on the same detections
    _write_summary(tmp_path, INGEST)
    # WHEN read for an update (this run's detection time differs: cached crops)
    earlier = previous_results(tmp_path, {**INGEST, "detect_seconds": 0.1})
    # THEN runs, per-class figures, data set reports and the earlier ingest come back
    assert [run["skill"] for run in earlier["runs"]] == ["make", "variant"]
    assert set(earlier["per_class"]) == {"make/pretrained", "variant/pretrained"}
    assert earlier["datasets"] == {"make": {"exclusion_reasons": {}}}
    assert earlier["ingest"]["detect_seconds"] == 9.0


def test_results_from_other_detections_are_refused_with_both_counts(tmp_path: Path) -> None:
    # GIVEN results from a run that found another number of cars
    _write_summary(tmp_path, {**INGEST, "images": {"cars_found": 1, "no_car": 2}})
    # WHEN read for an update THEN the error says so and shows both
    with pytest.raises(ValueError, match=r"other photos or detections.*cars_found': 1.*cars_found': 2"):
        previous_results(tmp_path, INGEST)


def test_an_update_without_earlier_results_says_to_run_every_skill(tmp_path: Path) -> None:
    # GIVEN an empty results folder WHEN read for an update THEN the error names the file and the fix
    with pytest.raises(ValueError, match=r"summary\.json.*make skills"):
        previous_results(tmp_path, INGEST)


def test_the_summary_csv_has_every_column_when_a_kept_row_lacks_a_newer_one(tmp_path: Path) -> None:
    # GIVEN a row kept from an earlier run and a new row with a column the earlier code did not write
    kept = _run("make", "pretrained", 0.9)
    new = {**_run("variant", "pretrained", 0.7), "served_same_answer": "9/9"}
    # WHEN the summary CSV is written
    write_summary_csv(tmp_path / "summary.csv", [kept, new])
    # THEN it has the new column, empty for the kept row
    lines = (tmp_path / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert lines == [
        "skill,start,top1,served_same_answer",
        "make,pretrained,0.9,",
        "variant,pretrained,0.7,9/9",
    ]
