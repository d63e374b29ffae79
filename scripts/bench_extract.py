"""Benchmark: dataset extraction of 1,000,000 synthetic catalog records vs scikit-learn GroupShuffleSplit.

`python -m scripts.bench_extract [--records N]` (also the `dataset_extraction` section of
`make bench`) prints records/s of (1) the group-aware split alone,
(2) the whole extraction (split + min count + balance + data file + content hash), and (3)
scikit-learn's GroupShuffleSplit on the same records, run side by side, with the ratios.
GroupShuffleSplit is a one-off random split: it cannot keep earlier assignments (once test,
always test), which is why the pipeline hashes group ids instead; the comparison is about speed.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np


def synthetic_records(n: int, groups: int, classes: int, seed: int = 0) -> object:
    from functions.core.dataset.build import RecordTable

    rng = np.random.default_rng(seed)
    group_of = rng.integers(0, groups, size=n)
    class_of_group = rng.integers(0, classes, size=groups)
    table = RecordTable()
    table.crop_ids = [f"crop-{i:08d}" for i in range(n)]
    table.image_ids = [f"img-{i:08d}" for i in range(n)]
    table.group_ids = [f"advert-{g:07d}" for g in group_of.tolist()]
    table.labels = [f"variant-{c:03d}" for c in class_of_group[group_of].tolist()]
    table.buckets = ["crops"] * n
    table.keys = [f"crops/{i % 256:02x}/crop-{i:08d}.jpg" for i in range(n)]
    return table


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(
    records: int = 1_000_000, groups: int = 250_000, classes: int = 64, compare: bool = True
) -> dict[str, Any]:
    """Time the split, the whole extraction and (with `compare`) GroupShuffleSplit on the same records."""

    from functions.core.dataset.build import RecordTable, extract
    from functions.core.dataset.spec import DatasetSpec
    from functions.core.dataset.split import SplitPolicy, resolve_group_splits

    started = time.perf_counter()
    table = synthetic_records(records, groups, classes)
    assert isinstance(table, RecordTable)
    generate_s = time.perf_counter() - started
    n = len(table)

    started = time.perf_counter()
    resolved, _ = resolve_group_splits(table.group_ids, {}, SplitPolicy(test_fraction=0.2, salt="bench"))
    sides = np.fromiter((resolved[g] == "test" for g in table.group_ids), dtype=bool, count=n)
    split_s = time.perf_counter() - started

    started = time.perf_counter()
    extraction, _ = extract(table, DatasetSpec(min_images_per_class=1000), {}, "bench")
    extract_s = time.perf_counter() - started

    peak_mb = peak_rss_mb()
    if not compare:
        return {
            "records": n,
            "groups": groups,
            "classes": classes,
            "generate_s": round(generate_s, 2),
            "split_s": round(split_s, 2),
            "extract_s": round(extract_s, 2),
            "extract_records_per_s": round(n / extract_s),
            "peak_rss_mb": peak_mb,
            "test_share": round(float(sides.mean()), 4),
            "dataset_version": extraction.dataset_version,
        }
    from sklearn.model_selection import GroupShuffleSplit

    started = time.perf_counter()
    splitter = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    _, test_idx = next(splitter.split(np.zeros(n), groups=np.asarray(table.group_ids)))
    sklearn_s = time.perf_counter() - started

    return {
        "peak_rss_mb_before_group_shuffle_split": peak_mb,
        "records": n,
        "groups": groups,
        "classes": classes,
        "generate_s": round(generate_s, 2),
        "split_s": round(split_s, 2),
        "split_records_per_s": round(n / split_s),
        "extract_s": round(extract_s, 2),
        "extract_records_per_s": round(n / extract_s),
        "group_shuffle_split_s": round(sklearn_s, 2),
        "group_shuffle_split_records_per_s": round(n / sklearn_s),
        "split_speed_vs_group_shuffle_split": round(sklearn_s / split_s, 2),
        "extract_speed_vs_group_shuffle_split": round(sklearn_s / extract_s, 2),
        "test_share": round(float(sides.mean()), 4),
        "group_shuffle_split_test_share": round(len(test_idx) / n, 4),
        "dataset_version": extraction.dataset_version,
    }


def run(context: Any) -> dict[str, Any]:
    """The `dataset_extraction` section of `make bench` (scripts/bench.py)."""
    return measure()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=250_000)
    parser.add_argument("--classes", type=int, default=64)
    parser.add_argument(
        "--no-compare", action="store_true", help="skip GroupShuffleSplit (large runs: time and peak memory)"
    )
    args = parser.parse_args()
    if args.no_compare:
        print(json.dumps(measure(args.records, args.groups, args.classes, compare=False)))
        return 0
    result = measure(args.records, args.groups, args.classes)
    print(
        f"extraction of {result['records']:,} records: {result['extract_records_per_s']:,} records/s "
        f"({result['extract_s']:.2f} s)"
    )
    split_rate, split_s = result["split_records_per_s"], result["split_s"]
    print(f"group-aware split alone:     {split_rate:,} records/s ({split_s:.2f} s)")
    print(
        f"sklearn GroupShuffleSplit:   {result['group_shuffle_split_records_per_s']:,} records/s "
        f"({result['group_shuffle_split_s']:.2f} s)"
    )
    print(
        f"ratio (GroupShuffleSplit time / ours): split {result['split_speed_vs_group_shuffle_split']}x, "
        f"whole extraction {result['extract_speed_vs_group_shuffle_split']}x"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
