"""The benchmark's arithmetic: Lambda cost, requirement sets, and the PASS/GAP verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.bench import BenchContext, optional_sections, targets_section
from scripts.benchlib.cost import LAMBDA_USD_PER_REQUEST, LAMBDA_X86_USD_PER_GB_SECOND, lambda_cost_per_1000
from scripts.benchlib.sizes import closure_size, requirement_names


def test_lambda_cost_counts_gb_seconds_and_one_request_per_batch() -> None:
    # GIVEN 100 ms per image at 2,048 MB, 10 images per invocation
    estimate = lambda_cost_per_1000(100.0, 2048, 10)
    # THEN 1,000 images cost 200 GB-s plus 100 requests, compared with Rekognition's $1.00
    expected = 200 * LAMBDA_X86_USD_PER_GB_SECOND + 100 * LAMBDA_USD_PER_REQUEST
    assert estimate.usd_per_1000_images == pytest.approx(expected)
    assert estimate.times_cheaper_than_rekognition == pytest.approx(1.0 / expected)


def test_requirement_names_follow_included_files(tmp_path: Path) -> None:
    # GIVEN a requirements file including another one, with comments
    (tmp_path / "base.txt").write_text("# base\nNumPy==2.4.6\n")
    (tmp_path / "light.txt").write_text("-r base.txt\nPyYAML==6.0.3  # names\n")
    # WHEN its names are read
    names = requirement_names(tmp_path / "light.txt")
    # THEN both files count, with canonical names
    assert names == ["numpy", "pyyaml"]


def test_closure_size_sums_installed_distributions_and_lists_missing_ones(tmp_path: Path) -> None:
    # GIVEN a set with an installed package (and its dependencies) and one that is not installed
    (tmp_path / "r.txt").write_text("pydantic==2.14.3\nnot-a-real-package-xyz==1.0\n")
    # WHEN sized
    report = closure_size(tmp_path / "r.txt")
    # THEN pydantic and its dependency pydantic-core are counted, and the missing one is named
    assert {"pydantic", "pydantic-core"} <= set(report.by_distribution)
    assert report.total_bytes > 1_000_000
    assert report.missing == ["not-a-real-package-xyz"]


def _context(light_ms: float, light_cold: float, light_rss: float, cheaper: float) -> BenchContext:
    context = BenchContext(
        photos=[],
        backends=["ultralytics", "openvino"],
        repeats=1,
        lambda_memory_mb=2048,
        images_per_invocation=10,
        models_dir=None,
    )
    context.results["detectors"] = {
        "ultralytics": {"ms_median": 90.0, "cold_start_s": 9.0, "peak_rss_mb": 1000.0},
        "openvino": {"ms_median": light_ms, "cold_start_s": light_cold, "peak_rss_mb": light_rss},
    }
    context.results["cost"] = {"openvino": {"times_cheaper_than_rekognition": cheaper}}
    return context


def test_targets_pass_when_every_ratio_is_met() -> None:
    # GIVEN a light backend 2× faster, 4× faster to start, at 30% of the memory and 300× cheaper
    verdicts = targets_section(_context(45.0, 2.25, 300.0, 300.0))["openvino"]
    # THEN every target passes
    assert {name: v["status"] for name, v in verdicts.items()} == dict.fromkeys(verdicts, "PASS")


def test_targets_report_a_gap_instead_of_hiding_it() -> None:
    # GIVEN a light backend that is slower per image and too big in memory
    verdicts = targets_section(_context(100.0, 2.25, 600.0, 300.0))["openvino"]
    # THEN those two are GAPs with their measured ratios
    assert verdicts["speed"]["status"] == "GAP"
    assert verdicts["speed"]["value"] == pytest.approx(0.9)
    assert verdicts["memory"]["status"] == "GAP"
    assert verdicts["cold_start"]["status"] == "PASS"


def test_optional_sections_only_include_modules_that_exist() -> None:
    # GIVEN the optional dataset-extraction section module may or may not exist on this branch
    from importlib.util import find_spec

    # WHEN the optional sections are collected
    found = optional_sections()
    # THEN it is present exactly when its module is
    assert ("dataset_extraction" in found) == (find_spec("scripts.bench_extract") is not None)
